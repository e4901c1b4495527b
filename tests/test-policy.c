/* Tests for policy: defaults, every value parser on its own, every shipped
 * file under policies/, [Class NAME] sections, and one error per kind of
 * mistake, each "file:line: message" with the right line. */
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "density/policy.h"
#include "density/util.h"
#include "test-helpers.h"

/* Parse text that must be valid. */
static Policy parse_ok(const char *text) {
        Policy p;
        PolicyErrors e = {};
        int r = policy_parse(text, "ok.conf", &p, &e);
        if (r != 0 || e.n != 0)
                TEST_FAIL("policy_parse returned %d with %zu errors for:\n%s\nfirst: %s", r, e.n, text,
                          e.n ? e.lines[0] : "-");
        policy_errors_clear(&e);
        return p;
}

/* Parse text with exactly one error, on line `line`, whose message contains
 * `what`; the policy passed in stays untouched. */
static void parse_one_error(const char *text, unsigned line, const char *what) {
        Policy p, before;
        POISON(p);
        before = p;
        PolicyErrors e = {};
        int r = policy_parse(text, "bad.conf", &p, &e);
        if (r != 1 || e.n != 1) {
                for (size_t i = 0; i < e.n; i++)
                        fprintf(stderr, "  error: %s\n", e.lines[i]);
                TEST_FAIL("policy_parse returned %d with %zu errors, expected 1 for:\n%s", r, e.n, text);
        }
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "bad.conf:%u: ", line);
        if (strncmp(e.lines[0], prefix, strlen(prefix)) != 0)
                TEST_FAIL("error \"%s\" does not start with \"%s\"", e.lines[0], prefix);
        CHECK_CONTAINS(e.lines[0], what);
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);
        policy_errors_clear(&e);
        CHECK(e.n == 0 && e.lines == NULL);
}

static void test_defaults(void) {
        Policy d;
        policy_defaults(&d);
        CHECK_U64(d.interval_usec, 5 * USEC_PER_SEC);
        CHECK_U64(d.stale_after_usec, 30 * USEC_PER_SEC);
        CHECK(d.stale_after_usec >= d.interval_usec);
        CHECK_STR(d.control_socket, "/run/densityd/densityd.sock");
        CHECK(d.textfile_directory[0] == '/');
        CHECK_STR(d.libvirt_uri, "qemu:///system");
        CHECK(!d.dry_run);
        CHECK_STR(d.state_directory, "/var/lib/densityd");
        CHECK_U64(d.action_timeout_usec, 120 * USEC_PER_SEC);

        /* The built-in class "default", always classes[0]. */
        CHECK_U64(d.n_classes, 1);
        const PolicyClass *c = &d.classes[0];
        CHECK_STR(c->name, POLICY_DEFAULT_CLASS);
        CHECK(c->line == 0);
        CHECK_U64(c->n_match, 0);
        CHECK_U64(c->priority, 50);
        CHECK(c->floor.is_percent && c->floor.percent == 50.0);
        CHECK_U64(c->shares, 1000);
        CHECK(c->shed == SHED_SAVE);
        CHECK(c->ksm);
        CHECK_STR(c->ksm_trust_domain, "default");
        CHECK(policy_class_find(&d, "default") == c);
        CHECK(policy_class_find(&d, "Default") == NULL);
        CHECK(policy_class_find(&d, "") == NULL);

        Policy p = parse_ok("");
        CHECK(memcmp(&p, &d, sizeof(p)) == 0);
        p = parse_ok("# only comments\n; and these\n\n[Daemon]\n");
        CHECK(memcmp(&p, &d, sizeof(p)) == 0);
}

static void test_values(void) {
        Policy p = parse_ok("[Daemon]\n"
                            "Interval=500ms\n"
                            "StaleAfter = 2min\n"
                            "ControlSocket=/run/x.sock\n"
                            "TextfileDirectory=/var/lib/node_exporter\n"
                            "LibvirtURI=qemu+ssh://root@h/system\n");
        CHECK_U64(p.interval_usec, 500 * USEC_PER_MSEC);
        CHECK_U64(p.stale_after_usec, 120 * USEC_PER_SEC);
        CHECK_STR(p.control_socket, "/run/x.sock");
        CHECK_STR(p.textfile_directory, "/var/lib/node_exporter");
        CHECK_STR(p.libvirt_uri, "qemu+ssh://root@h/system");

        /* A bare number is seconds. */
        p = parse_ok("[Daemon]\nInterval=5\n");
        CHECK_U64(p.interval_usec, 5 * USEC_PER_SEC);
        p = parse_ok("[Daemon]\nInterval=2min\nStaleAfter=1h\n");
        CHECK_U64(p.interval_usec, 120 * USEC_PER_SEC);
        CHECK_U64(p.stale_after_usec, 3600 * USEC_PER_SEC);
        p = parse_ok("[Daemon]\nInterval=100ms\nStaleAfter=1s\n"); /* both at their lower bound */
        CHECK_U64(p.interval_usec, 100 * USEC_PER_MSEC);
        CHECK_U64(p.stale_after_usec, USEC_PER_SEC);
        p = parse_ok("[Daemon]\nInterval=1.5s\nStaleAfter=10sec\n");
        CHECK_U64(p.interval_usec, 1500 * USEC_PER_MSEC);
        CHECK_U64(p.stale_after_usec, 10 * USEC_PER_SEC);
        /* Rounded to the nearest microsecond, not truncated. */
        p = parse_ok("[Daemon]\nInterval=2.01s\n");
        CHECK_U64(p.interval_usec, 2010000);

        p = parse_ok("[Daemon]\n"
                     "DryRun=yes\n"
                     "StateDirectory=/srv/densityd/state\n"
                     "ActionTimeout=90s\n");
        CHECK(p.dry_run);
        CHECK_STR(p.state_directory, "/srv/densityd/state");
        CHECK_U64(p.action_timeout_usec, 90 * USEC_PER_SEC);
        p = parse_ok("[Daemon]\nDryRun=no\nActionTimeout=1s\n"); /* lower bound */
        CHECK(!p.dry_run);
        CHECK_U64(p.action_timeout_usec, USEC_PER_SEC);
        p = parse_ok("[Daemon]\nDryRun=on\nActionTimeout=1h\n"); /* upper bound */
        CHECK(p.dry_run);
        CHECK_U64(p.action_timeout_usec, 3600 * USEC_PER_SEC);
}

/* A duration parser on its own: the forms, the rounding, the errors; *ret
 * is untouched by a failure. */
static void test_parse_duration(void) {
        static const struct {
                const char *text;
                uint64_t usec;
        } ok[] = {
                { "5", 5 * USEC_PER_SEC },      { "5s", 5 * USEC_PER_SEC },   { "5 s", 5 * USEC_PER_SEC },
                { "5sec", 5 * USEC_PER_SEC },   { "500ms", 500 * USEC_PER_MSEC }, { "250us", 250 },
                { "2min", 120 * USEC_PER_SEC }, { "1h", 3600 * USEC_PER_SEC }, { "0", 0 },
                { "1.5s", 1500000 },            { "0.1ms", 100 },             { "05s", 5 * USEC_PER_SEC },
                /* rounded to the nearest microsecond */
                { "2.01s", 2010000 },           { "0.29s", 290000 },          { "1.9999999s", 2000000 },
                { "0.4us", 0 },                 { "0.5us", 1 },               { "1.0000004s", 1000000 },
                { "0.000001s", 1 },             { "4.35s", 4350000 },         { "8.2min", 492000000 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                uint64_t usec = 42;
                int r = policy_parse_duration(ok[i].text, &usec);
                if (r != 0 || usec != ok[i].usec)
                        TEST_FAIL("\"%s\": r=%d usec=%" PRIu64 ", expected %" PRIu64, ok[i].text, r, usec,
                                  ok[i].usec);
        }

        static const char *const invalid[] = {
                "",   "s",     "5parsecs", "+5s", "0x10", "1e3", "inf", "nan", "5.", ".5",
                "5 5", "5S",   "5m",       "5d",  "5s ", " 5s", "5,5s", "--5", "-",   "5ss",
        };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                uint64_t usec = 42;
                int r = policy_parse_duration(invalid[i], &usec);
                if (r != -EINVAL || usec != 42)
                        TEST_FAIL("\"%s\": r=%d usec=%" PRIu64 ", expected -EINVAL", invalid[i], r, usec);
        }
        static const char *const range[] = { "-5s", "-0.5", "99999999999h", "1000000000000000000000" };
        for (size_t i = 0; i < ELEMENTSOF(range); i++) {
                uint64_t usec = 42;
                int r = policy_parse_duration(range[i], &usec);
                if (r != -ERANGE || usec != 42)
                        TEST_FAIL("\"%s\": r=%d usec=%" PRIu64 ", expected -ERANGE", range[i], r, usec);
        }
}

#define KIB UINT64_C(1024)
#define MIB (KIB * KIB)
#define GIB (MIB * KIB)
#define TIB (GIB * KIB)

static void test_parse_size(void) {
        static const struct {
                const char *text;
                uint64_t bytes;
        } ok[] = {
                { "1048576", MIB },     { "0", 0 },               { "1", 1 },
                { "64K", 64 * KIB },    { "64KiB", 64 * KIB },    { "512M", 512 * MIB },
                { "512MiB", 512 * MIB }, { "2G", 2 * GIB },       { "2GiB", 2 * GIB },
                { "1T", TIB },          { "1TiB", TIB },          { "2 G", 2 * GIB },
                { "1.5G", 3 * GIB / 2 }, { "0.5K", 512 },         { "0.25M", 256 * KIB },
                /* fractions are rounded to the nearest byte */
                { "0.1K", 102 },        { "0.0005K", 1 },         { "0.0004K", 0 },
                { "1.3T", 1429365116109 },
                /* whole numbers stay exact beyond 2^53 */
                { "18446744073709551615", UINT64_MAX },
                { "16777215T", 16777215 * TIB },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                PolicySize sz;
                POISON(sz);
                int r = policy_parse_size(ok[i].text, &sz);
                if (r != 0 || sz.is_percent || sz.bytes != ok[i].bytes)
                        TEST_FAIL("\"%s\": r=%d percent=%d bytes=%" PRIu64 ", expected %" PRIu64, ok[i].text, r,
                                  sz.is_percent, sz.bytes, ok[i].bytes);
        }

        PolicySize sz;
        CHECK_OK(policy_parse_size("25%", &sz));
        CHECK(sz.is_percent && sz.percent == 25.0 && sz.bytes == 0);
        CHECK_OK(policy_parse_size("12.5%", &sz));
        CHECK(sz.is_percent && sz.percent == 12.5);
        CHECK_OK(policy_parse_size("0%", &sz));
        CHECK(sz.is_percent && sz.percent == 0.0);
        CHECK_OK(policy_parse_size("100%", &sz));
        CHECK(sz.is_percent && sz.percent == 100.0);

        static const char *const invalid[] = {
                "",    "12Q", "1.5",  "M",   "1k",    "1m",   "1KB", "1.G", "0x10", "1e3",  "25%%",
                "%",   "5.%", "inf",  "nan", "1 .5G", "+1G",  "1GG", "1 G B", "1Gi", "G1",  "1,5G",
        };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                PolicySize before, after;
                POISON(before);
                after = before;
                int r = policy_parse_size(invalid[i], &after);
                if (r != -EINVAL || memcmp(&before, &after, sizeof(after)) != 0)
                        TEST_FAIL("\"%s\": r=%d, expected -EINVAL and *ret untouched", invalid[i], r);
        }
        static const char *const range[] = {
                "-1", "-1G", "-0.5K", "101%", "-5%", "100.5%",
                "18446744073709551616", "16777216T", "17179869184G", "16777216.0T",
        };
        for (size_t i = 0; i < ELEMENTSOF(range); i++) {
                PolicySize before, after;
                POISON(before);
                after = before;
                int r = policy_parse_size(range[i], &after);
                if (r != -ERANGE || memcmp(&before, &after, sizeof(after)) != 0)
                        TEST_FAIL("\"%s\": r=%d, expected -ERANGE and *ret untouched", range[i], r);
        }

        /* A percent of a base, rounded to the nearest byte. */
        PolicySize half = { .is_percent = true, .percent = 50.0 };
        CHECK_U64(policy_size_bytes(&half, 4 * GIB), 2 * GIB);
        CHECK_U64(policy_size_bytes(&half, 3), 2); /* 1.5 */
        PolicySize eighth = { .is_percent = true, .percent = 12.5 };
        CHECK_U64(policy_size_bytes(&eighth, 1000), 125);
        PolicySize fixed = { .bytes = 512 * MIB };
        CHECK_U64(policy_size_bytes(&fixed, 4 * GIB), 512 * MIB);
        CHECK_U64(policy_size_bytes(&fixed, 0), 512 * MIB);
        PolicySize all = { .is_percent = true, .percent = 100.0 };
        CHECK_U64(policy_size_bytes(&all, UINT64_MAX), UINT64_MAX); /* no overflow */
        CHECK_U64(policy_size_bytes(&all, 0), 0);
}

static void test_format_size(void) {
        static const struct {
                uint64_t bytes;
                const char *text;
        } cases[] = {
                { 0, "0" },           { 1, "1" },           { 1000, "1000" },      { 1536, "1536" },
                { KIB, "1K" },        { 64 * KIB, "64K" },  { 3 * MIB / 2, "1536K" }, { 512 * MIB, "512M" },
                { GIB, "1G" },        { 16 * TIB, "16T" },  { 1025 * GIB, "1025G" },
                { UINT64_MAX, "18446744073709551615" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[32];
                policy_format_size(cases[i].bytes, buf, sizeof(buf));
                CHECK_STR(buf, cases[i].text);
                /* and it parses back */
                PolicySize sz;
                CHECK_OK(policy_parse_size(buf, &sz));
                CHECK(!sz.is_percent);
                CHECK_U64(sz.bytes, cases[i].bytes);
        }
}

static void test_parse_percent(void) {
        static const struct {
                const char *text;
                double percent;
        } ok[] = {
                { "25%", 25.0 },  { "12.5%", 12.5 }, { "0%", 0.0 },   { "100%", 100.0 },
                { "100.0%", 100.0 }, { "50 %", 50.0 }, { "0.01%", 0.01 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                double v = -1;
                int r = policy_parse_percent(ok[i].text, &v);
                if (r != 0 || v != ok[i].percent)
                        TEST_FAIL("\"%s\": r=%d v=%g, expected %g", ok[i].text, r, v, ok[i].percent);
        }
        static const char *const invalid[] = { "", "25", "abc", "%", "25%x", "1e2%", "25%%", "0x10%", "+5%", "5.%" };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                double v = -1;
                int r = policy_parse_percent(invalid[i], &v);
                if (r != -EINVAL || v != -1)
                        TEST_FAIL("\"%s\": r=%d, expected -EINVAL and *ret untouched", invalid[i], r);
        }
        static const char *const range[] = { "100.1%", "-1%", "150%", "-0.5%", "-0%", "1000000000000000000000%" };
        for (size_t i = 0; i < ELEMENTSOF(range); i++) {
                double v = -1;
                int r = policy_parse_percent(range[i], &v);
                if (r != -ERANGE || v != -1)
                        TEST_FAIL("\"%s\": r=%d, expected -ERANGE and *ret untouched", range[i], r);
        }
}

static void test_parse_integer(void) {
        int64_t v = 42;
        CHECK_OK(policy_parse_integer("0", 0, 100, &v));
        CHECK_I64(v, 0);
        CHECK_OK(policy_parse_integer("100", 0, 100, &v));
        CHECK_I64(v, 100);
        CHECK_OK(policy_parse_integer("007", 0, 100, &v));
        CHECK_I64(v, 7);
        CHECK_OK(policy_parse_integer("-3", -5, 5, &v));
        CHECK_I64(v, -3);
        CHECK_OK(policy_parse_integer("9223372036854775807", 0, INT64_MAX, &v));
        CHECK_I64(v, INT64_MAX);

        static const char *const invalid[] = { "", "high", "1.5", "+1", "0x10", " 1", "1 ", "1e2", "-", "5%", "1K" };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                v = 42;
                int r = policy_parse_integer(invalid[i], 0, 100, &v);
                if (r != -EINVAL || v != 42)
                        TEST_FAIL("\"%s\": r=%d, expected -EINVAL and *ret untouched", invalid[i], r);
        }
        static const char *const range[] = { "101", "-1", "99999999999999999999", "-99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(range); i++) {
                v = 42;
                int r = policy_parse_integer(range[i], 0, 100, &v);
                if (r != -ERANGE || v != 42)
                        TEST_FAIL("\"%s\": r=%d, expected -ERANGE and *ret untouched", range[i], r);
        }
}

static void test_parse_bool(void) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                bool b = false;
                CHECK_OK(policy_parse_bool(yes[i], &b));
                CHECK(b);
                CHECK_OK(policy_parse_bool(no[i], &b));
                CHECK(!b);
        }
        static const char *const invalid[] = { "", "maybe", "Yes", "TRUE", "2", "y", "n", "01", "yes " };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                bool b = true;
                int r = policy_parse_bool(invalid[i], &b);
                if (r != -EINVAL || !b)
                        TEST_FAIL("\"%s\": r=%d, expected -EINVAL and *ret untouched", invalid[i], r);
        }
}

static void test_shed_mode_and_names(void) {
        for (ShedMode m = 0; m < _SHED_MODE_MAX; m++) {
                ShedMode back = _SHED_MODE_MAX;
                CHECK_OK(shed_mode_from_name(shed_mode_name(m), &back));
                CHECK(back == m);
        }
        CHECK_STR(shed_mode_name(SHED_NEVER), "never");
        CHECK_STR(shed_mode_name(SHED_SAVE), "save");
        CHECK_STR(shed_mode_name(SHED_DESTROY), "destroy");
        CHECK_STR(shed_mode_name(_SHED_MODE_MAX), "?");
        CHECK_STR(shed_mode_name((ShedMode) -1), "?");
        ShedMode m = SHED_NEVER;
        CHECK(shed_mode_from_name("kill", &m) == -EINVAL);
        CHECK(shed_mode_from_name("Save", &m) == -EINVAL);
        CHECK(shed_mode_from_name("?", &m) == -EINVAL);
        CHECK(m == SHED_NEVER);

        char name[80];
        memset(name, 'a', 63);
        name[63] = '\0';
        CHECK(policy_name_valid(name));
        name[63] = 'a';
        name[64] = '\0';
        CHECK(!policy_name_valid(name));
        CHECK(policy_name_valid("a"));
        CHECK(policy_name_valid("Tenant-X_1.prod"));
        CHECK(policy_name_valid("."));
        CHECK(!policy_name_valid(""));
        CHECK(!policy_name_valid("a b"));
        CHECK(!policy_name_valid("a/b"));
        CHECK(!policy_name_valid("a*"));
        CHECK(!policy_name_valid("caf\xc3\xa9"));
}

static void test_ksm_section(void) {
        Policy p;
        PolicyErrors e = {};
        policy_defaults(&p);
        CHECK(p.ksm.mode == KSM_MODE_AUTO);
        CHECK(p.ksm.restore_on_exit);
        CHECK(!p.ksm.has_use_zero_pages && !p.ksm.has_max_page_sharing && !p.ksm.has_merge_across_nodes);
        CHECK_OK(policy_parse("[Ksm]\nMode=fixed\nCpuBudget=80%\nIdleCpu=0.5%\nPagesToScanMin=64\n"
                              "PagesToScanMax=20000\nSleepMin=5ms\nSleepMax=2s\nPagesToScan=300\nSleep=15ms\n"
                              "StartAt=60%\nStopAt=50%\nUseZeroPages=yes\nMaxPageSharing=512\n"
                              "MergeAcrossNodes=no\nRestoreOnExit=no\n",
                              "t.conf", &p, &e));
        CHECK(p.ksm.mode == KSM_MODE_FIXED);
        CHECK_STR(ksm_mode_name(p.ksm.mode), "fixed");
        CHECK(p.ksm.cpu_budget_percent == 80.0 && p.ksm.idle_cpu_percent == 0.5);
        CHECK(p.ksm.pages_to_scan_min == 64 && p.ksm.pages_to_scan_max == 20000);
        CHECK_U64(p.ksm.sleep_min_usec, 5000);
        CHECK_U64(p.ksm.sleep_max_usec, 2000000);
        CHECK(p.ksm.pages_to_scan == 300);
        CHECK_U64(p.ksm.sleep_usec, 15000);
        CHECK(p.ksm.start_at_percent == 60.0 && p.ksm.stop_at_percent == 50.0);
        CHECK(p.ksm.has_use_zero_pages && p.ksm.use_zero_pages);
        CHECK(p.ksm.has_max_page_sharing && p.ksm.max_page_sharing == 512);
        CHECK(p.ksm.has_merge_across_nodes && !p.ksm.merge_across_nodes);
        CHECK(!p.ksm.restore_on_exit);
        policy_errors_clear(&e);
}

static void test_shed_section(void) {
        Policy p;
        PolicyErrors e = {};
        policy_defaults(&p);
        CHECK(p.shed.enable);
        CHECK(p.shed.mem_available_below.is_percent && p.shed.mem_available_below.percent == 5.0);
        CHECK(p.shed.restore_above.is_percent && p.shed.restore_above.percent == 20.0);
        CHECK(p.shed.cgroup_usage_above_percent == 95.0 && p.shed.cgroup_restore_below_percent == 80.0);
        CHECK(p.shed.psi_full_above_percent == 10.0);
        CHECK_U64(p.shed.restore_hold_usec, 60 * USEC_PER_SEC);
        CHECK_U64(p.shed.cooldown_usec, 10 * USEC_PER_SEC);
        CHECK_U64(p.shed.save_timeout_usec, 120 * USEC_PER_SEC);
        CHECK_STR(p.shed.save_directory, "/var/lib/libvirt/qemu/save");
        CHECK_OK(policy_parse("[Shed]\nEnable=no\nMemAvailableBelow=512M\nCgroupUsageAbove=90%\nPsiFullAbove=5%\n"
                              "RestoreAbove=2G\nCgroupRestoreBelow=70%\nRestoreHold=2min\nCooldown=5s\n"
                              "SaveTimeout=10min\nSaveDirectory=/srv/save\n",
                              "t.conf", &p, &e));
        CHECK(!p.shed.enable);
        CHECK(!p.shed.mem_available_below.is_percent);
        CHECK_U64(p.shed.mem_available_below.bytes, 512 * MIB);
        CHECK_U64(p.shed.restore_above.bytes, 2 * GIB);
        CHECK(p.shed.cgroup_usage_above_percent == 90.0 && p.shed.cgroup_restore_below_percent == 70.0);
        CHECK(p.shed.psi_full_above_percent == 5.0);
        CHECK_U64(p.shed.restore_hold_usec, 120 * USEC_PER_SEC);
        CHECK_U64(p.shed.cooldown_usec, 5 * USEC_PER_SEC);
        CHECK_U64(p.shed.save_timeout_usec, 600 * USEC_PER_SEC);
        CHECK_STR(p.shed.save_directory, "/srv/save");
        policy_errors_clear(&e);
        /* Sizes of different kinds compare only on a host: no error here. */
        CHECK_OK(policy_parse("[Shed]\nMemAvailableBelow=8G\n", "t.conf", &p, &e));
        policy_errors_clear(&e);
}

static void test_balloon_section(void) {
        Policy p;
        PolicyErrors e = {};
        policy_defaults(&p);
        CHECK(p.balloon.enable);
        CHECK(p.balloon.host_target_percent == 80.0 && p.balloon.guest_free_target_percent == 20.0);
        CHECK(p.balloon.dead_band_percent == 2.0);
        CHECK(p.balloon.step_max.has_bytes && p.balloon.step_max.bytes == 128 * MIB);
        CHECK(p.balloon.step_max.has_percent && p.balloon.step_max.percent == 10.0);
        /* The smaller of the two counts. */
        CHECK_U64(policy_step_bytes(&p.balloon.step_max, 256 * MIB), (uint64_t) (25.6 * MIB + 0.5));
        CHECK_U64(policy_step_bytes(&p.balloon.step_max, 4 * GIB), 128 * MIB);
        CHECK_OK(policy_parse("[Balloon]\nEnable=no\nHostTarget=70%\nGuestFreeTarget=25%\nStepMax=  32M \n"
                              "DeadBand=5%\n",
                              "t.conf", &p, &e));
        CHECK(!p.balloon.enable);
        CHECK(p.balloon.host_target_percent == 70.0 && p.balloon.guest_free_target_percent == 25.0);
        CHECK(p.balloon.dead_band_percent == 5.0);
        CHECK(p.balloon.step_max.has_bytes && !p.balloon.step_max.has_percent);
        CHECK_U64(policy_step_bytes(&p.balloon.step_max, 4 * GIB), 32 * MIB);
        policy_errors_clear(&e);
        CHECK_OK(policy_parse("[Balloon]\nStepMax=5%\n", "t.conf", &p, &e));
        CHECK(!p.balloon.step_max.has_bytes && p.balloon.step_max.has_percent);
        CHECK_U64(policy_step_bytes(&p.balloon.step_max, 4 * GIB), (uint64_t) (0.05 * 4 * GIB + 0.5));
        policy_errors_clear(&e);
        CHECK_OK(policy_parse("[Balloon]\nStepMax=1G\t5%\n", "t.conf", &p, &e));
        CHECK(p.balloon.step_max.has_bytes && p.balloon.step_max.has_percent);
        policy_errors_clear(&e);
        /* A shedder that is off does not bound HostTarget=. */
        CHECK_OK(policy_parse("[Shed]\nEnable=no\n[Balloon]\nHostTarget=99%\n", "t.conf", &p, &e));
        policy_errors_clear(&e);
        PolicyStep step;
        CHECK(policy_parse_step("", &step) == -EINVAL);
        CHECK(policy_parse_step("  ", &step) == -EINVAL);
        CHECK(policy_parse_step("120%", &step) == -ERANGE);
}

static void test_oom_score_adjust(void) {
        Policy p = parse_ok("[Class db]\nOomScoreAdjust=-1000\n[Class batch]\nOomScoreAdjust=1000\n[Class x]\n"
                            "[Class default]\nOomScoreAdjust=0\n");
        const PolicyClass *db = policy_class_find(&p, "db"), *b = policy_class_find(&p, "batch"),
                          *x = policy_class_find(&p, "x"), *d = policy_class_find(&p, "default");
        CHECK(db && db->has_oom_score_adj && db->oom_score_adj == -1000);
        CHECK(b && b->has_oom_score_adj && b->oom_score_adj == 1000);
        CHECK(x && !x->has_oom_score_adj && x->oom_score_adj == 0); /* unset: left as found */
        CHECK(d && d->has_oom_score_adj && d->oom_score_adj == 0);  /* set to 0: written */
        Policy q;
        policy_defaults(&q);
        CHECK(!q.classes[0].has_oom_score_adj);
}

static void test_each_error(void) {
        parse_one_error("[Nope]\nFoo=1\nBar=2\n", 1, "unknown section [Nope]");
        parse_one_error("[Daemon]\nFoo=1\n", 2, "unknown key 'Foo'");
        parse_one_error("[Daemon]\n\nInterval=abc\n", 3, "not a duration");
        parse_one_error("[Daemon]\nInterval=5parsecs\n", 2, "not a duration");
        parse_one_error("[Daemon]\nInterval=-5s\n", 2, "Interval=-5s");
        parse_one_error("[Daemon]\nInterval=50ms\n", 2, "out of range");
        parse_one_error("[Daemon]\nInterval=2h\nStaleAfter=3h\n", 2, "out of range");
        parse_one_error("[Daemon]\nStaleAfter=500ms\n", 2, "out of range");
        parse_one_error("[Daemon]\nTextfileDirectory=var/lib/prometheus\n", 2, "absolute path");
        parse_one_error("[Daemon]\nControlSocket=run/d.sock\n", 2, "absolute path");
        parse_one_error("[Daemon]\nLibvirtURI=\n", 2, "must not be empty");
        parse_one_error("[Daemon]\nInterval=5s\n# again:\nInterval=6s\n", 4, "first at line 2");
        parse_one_error("Interval=5s\n[Daemon]\n", 1, "outside any section");
        parse_one_error("[Daemon]\nInterval 5s\n", 2, "expected 'Key=value'");
        parse_one_error("[Daemon]\nInterval=10s\nStaleAfter=5s\n", 3, "shorter than Interval");

        /* 108 bytes do not fit sun_path. */
        char sock[256];
        snprintf(sock, sizeof(sock), "[Daemon]\nControlSocket=/%0120d\n", 0);
        parse_one_error(sock, 2, "too long");

        /* inih reads lines of at most 200 bytes; longer ones are an error,
         * not silently cut. */
        char text[1024];
        int n = snprintf(text, sizeof(text), "[Daemon]\n# fine\nLibvirtURI=qemu+ssh://");
        memset(text + n, 'x', 300);
        snprintf(text + n + 300, sizeof(text) - (size_t) n - 300, "/system\nInterval=5s\n");
        parse_one_error(text, 3, "line too long");

        /* The new [Daemon] keys, each error with the whole message. */
        parse_one_error("[Daemon]\nDryRun=maybe\n", 2, "DryRun=maybe: not a boolean (yes, no, true, false, 1, 0)");
        parse_one_error("[Daemon]\nDryRun=Yes\n", 2, "not a boolean");
        parse_one_error("[Daemon]\nDryRun=\n", 2, "DryRun= must not be empty");
        parse_one_error("[Daemon]\nStateDirectory=var/lib/densityd\n", 2, "must be an absolute path");
        parse_one_error("[Daemon]\n\nActionTimeout=500ms\n", 3, "ActionTimeout=500ms: out of range 1s..3600s");
        parse_one_error("[Daemon]\nActionTimeout=61min\n", 2, "out of range 1s..3600s");
        parse_one_error("[Daemon]\nActionTimeout=soon\n", 2, "ActionTimeout=soon: not a duration");
        parse_one_error("[Daemon]\nDryRun=no\nDryRun=yes\n", 3, "DryRun= is set twice (first at line 2)");

        /* [Ksm]: each key's errors, and the pairs that bound each other. */
        parse_one_error("[Ksm]\nMode=turbo\n", 2, "Mode=turbo: must be one of auto, fixed, advisor, off");
        parse_one_error("[Ksm]\nCpuBudget=0%\n", 2, "CpuBudget=0%: percent out of range 1..100");
        parse_one_error("[Ksm]\nCpuBudget=50\n", 2, "CpuBudget=50: not a percent");
        parse_one_error("[Ksm]\nPagesToScanMax=0\n", 2, "PagesToScanMax=0: out of range 1..1000000");
        parse_one_error("[Ksm]\nSleep=1500us\n", 2, "Sleep=1500us: must be a whole number of milliseconds");
        parse_one_error("[Ksm]\nSleepMax=2min\n", 2, "SleepMax=2min: out of range 1ms..60s");
        parse_one_error("[Ksm]\nPagesToScanMin=600\nPagesToScanMax=500\n", 3,
                        "PagesToScanMin= is above PagesToScanMax=");
        parse_one_error("[Ksm]\nSleepMin=2s\n", 2, "SleepMin= is above SleepMax= (the default)");
        parse_one_error("[Ksm]\nStartAt=20%\n", 2, "StopAt= (the default) is above StartAt=");
        parse_one_error("[Ksm]\nIdleCpu=5%\nCpuBudget=2%\n", 3, "IdleCpu= is above CpuBudget=");
        parse_one_error("[Ksm]\nMaxPageSharing=1\n", 2, "out of range 2..1048576");
        parse_one_error("[Ksm]\nRestoreOnExit=sometimes\n", 2, "not a boolean");
        parse_one_error("[Ksm]\nKsm=yes\n", 2, "unknown key 'Ksm' in section [Ksm]");
        parse_one_error("[Shed]\nMemAvailableBelow=25%\n", 2,
                        "RestoreAbove= (the default) is not above MemAvailableBelow=");
        parse_one_error("[Shed]\nRestoreAbove=1G\nMemAvailableBelow=2G\n", 3,
                        "RestoreAbove= is not above MemAvailableBelow=");
        parse_one_error("[Balloon]\nEnable=no\n[Shed]\nCgroupUsageAbove=70%\n", 4,
                        "CgroupRestoreBelow= (the default) is not below CgroupUsageAbove=");
        parse_one_error("[Shed]\nCgroupUsageAbove=85%\n[Balloon]\nHostTarget=90%\n", 4,
                        "HostTarget= is not below [Shed] CgroupUsageAbove=: balloons would act only after guests are shed");
        parse_one_error("[Balloon]\nHostTarget=20%\nDeadBand=20%\n", 3, "DeadBand= is not below HostTarget=");
        parse_one_error("[Balloon]\nStepMax=10% 20%\n", 2, "not a size, a percent or one of each");
        parse_one_error("[Balloon]\nStepMax=64M 1G\n", 2, "not a size, a percent or one of each");
        parse_one_error("[Balloon]\nStepMax=64M 10% 1G\n", 2, "not a size, a percent or one of each");
        parse_one_error("[Balloon]\nStepMax=0%\n", 2, "out of range 1M..16T");
        parse_one_error("[Balloon]\nStepMax=512K\n", 2, "out of range 1M..16T");
        parse_one_error("[Balloon]\nStepMax=fast\n", 2, "not a size, a percent or one of each");
        parse_one_error("[Balloon]\nGuestFreeTarget=2%\n", 2, "percent out of range 5..90");
        parse_one_error("[Balloon]\nStaleAfter=10s\n", 2, "unknown key 'StaleAfter' in section [Balloon]");
        parse_one_error("[Class db]\nOomScoreAdjust=-1001\n", 2, "OomScoreAdjust=-1001: out of range -1000..1000");
        parse_one_error("[Class db]\nOomScoreAdjust=low\n", 2, "OomScoreAdjust=low: not an integer");
        parse_one_error("[Shed]\nPsiFullAbove=0%\n", 2, "PsiFullAbove=0%: percent out of range 1..100");
        parse_one_error("[Shed]\nSaveDirectory=save\n", 2, "SaveDirectory=save");
        parse_one_error("[Shed]\nEnable=maybe\n", 2, "not a boolean");

        /* Class keys: each value type, its errors and its bounds. */
        parse_one_error("[Class a]\nFloor=12Q\n", 2, "Floor=12Q: not a size (examples: 512M, 2G, 64K, 25%)");
        parse_one_error("[Class a]\nFloor=1.5\n", 2, "not a size");
        parse_one_error("[Class a]\nFloor=150%\n", 2, "Floor=150%: percent out of range 0..100");
        parse_one_error("[Class a]\nFloor=-1%\n", 2, "percent out of range 0..100");
        parse_one_error("[Class a]\nFloor=17T\n", 2, "Floor=17T: out of range 0..16T");
        parse_one_error("[Class a]\nFloor=-1G\n", 2, "Floor=-1G: out of range 0..16T");
        parse_one_error("[Class a]\nFloor=99999999999999999999999\n", 2, "out of range 0..16T");
        parse_one_error("[Class a]\nPriority=101\n", 2, "Priority=101: out of range 0..100");
        parse_one_error("[Class a]\nPriority=-1\n", 2, "Priority=-1: out of range 0..100");
        parse_one_error("[Class a]\nPriority=high\n", 2, "Priority=high: not an integer");
        parse_one_error("[Class a]\nPriority=50.5\n", 2, "not an integer");
        parse_one_error("[Class a]\nShares=50001\n", 2, "Shares=50001: out of range 0..50000");
        parse_one_error("[Class a]\nShares=lots\n", 2, "Shares=lots: not an integer");
        parse_one_error("[Class a]\nShed=kill\n", 2, "Shed=kill: must be one of never, save, destroy");
        parse_one_error("[Class a]\nShed=Save\n", 2, "must be one of never, save, destroy");
        parse_one_error("[Class a]\nKsm=maybe\n", 2, "Ksm=maybe: not a boolean");
        parse_one_error("[Class a]\nKsmTrustDomain=tenant/x\n", 2, "KsmTrustDomain=tenant/x: not a valid name");
        parse_one_error("[Class a]\nKsmTrustDomain=\n", 2, "KsmTrustDomain= must not be empty");
        parse_one_error("[Class a]\nMatch=\n", 2, "Match= must not be empty");
        char domain[512];
        snprintf(domain, sizeof(domain), "[Class a]\nKsmTrustDomain=%064d\n", 0);
        parse_one_error(domain, 2, "not a valid name (1..63 characters");
}

/* [Class NAME] sections: order, defaults, override of the default. */
static void test_classes(void) {
        const char *text = "[Daemon]\n"                         /* 1 */
                           "DryRun=yes\n"                       /* 2 */
                           "\n"                                 /* 3 */
                           "[Class batch]\n"                    /* 4 */
                           "Match=batch-* \t ci-?  \n"          /* 5 */
                           "Priority=10\n"                      /* 6 */
                           "Floor=512M\n"                       /* 7 */
                           "Shares=0\n"                         /* 8 */
                           "Shed=destroy\n"                     /* 9 */
                           "\n"                                 /* 10 */
                           "[Class default]\n"                  /* 11 */
                           "Priority=40\n"                      /* 12 */
                           "Floor=12.5%\n"                      /* 13 */
                           "Ksm=no\n"                           /* 14 */
                           "KsmTrustDomain=host\n"              /* 15 */
                           "[Class critical]\n"                 /* 16: no Match=: metadata only */
                           "Priority=100\n"                     /* 17 */
                           "Shares=50000\n"                     /* 18 */
                           "Shed=never\n"                       /* 19 */
                           "[Class  tenant-x.1_b ]\n"           /* 20: white space around the name */
                           "Match=tx-*\n"                       /* 21 */
                           "KsmTrustDomain=tenant-x\n"          /* 22 */
                           "Ksm=on\n"                           /* 23 */
                           "[Daemon]\n"                         /* 24: a section again adds up */
                           "ActionTimeout=5min\n";              /* 25 */
        Policy p = parse_ok(text);
        CHECK(p.dry_run);
        CHECK_U64(p.action_timeout_usec, 300 * USEC_PER_SEC);
        CHECK_U64(p.n_classes, 4);

        /* [Class default] overrides the built-in default in place. */
        const PolicyClass *d = &p.classes[0];
        CHECK_STR(d->name, "default");
        CHECK(d->line == 11);
        CHECK_U64(d->n_match, 0);
        CHECK_U64(d->priority, 40);
        CHECK(d->floor.is_percent && d->floor.percent == 12.5);
        CHECK_U64(d->shares, 1000);
        CHECK(d->shed == SHED_SAVE);
        CHECK(!d->ksm);
        CHECK_STR(d->ksm_trust_domain, "host");

        /* The others in file order, each from the built-in defaults, not
         * from [Class default] (Ksm=, KsmTrustDomain=, Priority= above). */
        const PolicyClass *b = &p.classes[1];
        CHECK_STR(b->name, "batch");
        CHECK(b->line == 4);
        CHECK_U64(b->n_match, 2);
        CHECK_STR(b->match[0], "batch-*");
        CHECK_STR(b->match[1], "ci-?");
        CHECK_U64(b->priority, 10);
        CHECK(!b->floor.is_percent);
        CHECK_U64(b->floor.bytes, 512 * MIB);
        CHECK_U64(b->shares, 0);
        CHECK(b->shed == SHED_DESTROY);
        CHECK(b->ksm);
        CHECK_STR(b->ksm_trust_domain, "default");

        const PolicyClass *c = &p.classes[2];
        CHECK_STR(c->name, "critical");
        CHECK(c->line == 16);
        CHECK_U64(c->n_match, 0);
        CHECK_U64(c->priority, 100);
        CHECK(c->floor.is_percent && c->floor.percent == 50.0);
        CHECK_U64(c->shares, 50000);
        CHECK(c->shed == SHED_NEVER);
        CHECK(c->ksm);
        CHECK_STR(c->ksm_trust_domain, "default");

        const PolicyClass *t = &p.classes[3];
        CHECK_STR(t->name, "tenant-x.1_b");
        CHECK(t->line == 20);
        CHECK_U64(t->n_match, 1);
        CHECK_STR(t->match[0], "tx-*");
        CHECK_U64(t->priority, 50);
        CHECK(t->ksm);
        CHECK_STR(t->ksm_trust_domain, "tenant-x");

        CHECK(policy_class_find(&p, "batch") == b);
        CHECK(policy_class_find(&p, "critical") == c);
        CHECK(policy_class_find(&p, "default") == d);
        CHECK(policy_class_find(&p, "nope") == NULL);

        /* The same text gives the same bytes (a reload compares policies). */
        Policy again = parse_ok(text);
        CHECK(memcmp(&p, &again, sizeof(p)) == 0);

        /* A class with no keys at all is the built-in default under its name. */
        p = parse_ok("[Class empty]\n");
        CHECK_U64(p.n_classes, 2);
        Policy def;
        policy_defaults(&def);
        PolicyClass expect = def.classes[0];
        memset(expect.name, 0, sizeof(expect.name));
        strscpy(expect.name, sizeof(expect.name), "empty");
        expect.line = 1;
        CHECK(memcmp(&p.classes[1], &expect, sizeof(expect)) == 0);

        /* The same key in two classes is no "set twice". */
        p = parse_ok("[Class a]\nPriority=1\n[Class b]\nPriority=2\n[Class default]\nPriority=3\n");
        CHECK_U64(p.classes[0].priority, 3);
        CHECK_U64(p.classes[1].priority, 1);
        CHECK_U64(p.classes[2].priority, 2);

        /* Bounds, every value form. */
        p = parse_ok("[Class a]\nPriority=0\nShares=0\nFloor=0\nKsm=false\n"
                     "[Class b]\nPriority=100\nShares=50000\nFloor=16T\nKsm=1\n"
                     "[Class c]\nFloor=0%\nKsm=off\n"
                     "[Class d]\nFloor=100%\nKsm=true\n"
                     "[Class e]\nFloor=1.5GiB\nKsm=0\n"
                     "[Class f]\nFloor=1048576\n");
        CHECK_U64(p.classes[1].priority, 0);
        CHECK_U64(p.classes[1].floor.bytes, 0);
        CHECK(!p.classes[1].floor.is_percent && !p.classes[1].ksm);
        CHECK_U64(p.classes[2].priority, 100);
        CHECK_U64(p.classes[2].shares, 50000);
        CHECK_U64(p.classes[2].floor.bytes, 16 * TIB);
        CHECK(p.classes[2].ksm);
        CHECK(p.classes[3].floor.is_percent && p.classes[3].floor.percent == 0.0 && !p.classes[3].ksm);
        CHECK(p.classes[4].floor.is_percent && p.classes[4].floor.percent == 100.0 && p.classes[4].ksm);
        CHECK_U64(p.classes[5].floor.bytes, 3 * GIB / 2);
        CHECK(!p.classes[5].ksm);
        CHECK_U64(p.classes[6].floor.bytes, MIB);

        /* Limits: POLICY_MATCH_MAX globs of POLICY_GLOB_MAX - 1 characters,
         * and a name of 63; a line holds only 198 characters, so the globs
         * are checked for count and length separately. */
        p = parse_ok("[Class many]\nMatch=a b c d e f g h i j k l m n o p\n");
        CHECK_U64(p.classes[1].n_match, POLICY_MATCH_MAX);
        CHECK_STR(p.classes[1].match[POLICY_MATCH_MAX - 1], "p");
        char text2[512], glob[POLICY_GLOB_MAX], name[64];
        memset(glob, 'g', POLICY_GLOB_MAX - 1);
        glob[POLICY_GLOB_MAX - 1] = '\0';
        memset(name, 'n', 63);
        name[63] = '\0';
        snprintf(text2, sizeof(text2), "[Class %s]\nMatch=%s\n", name, glob);
        p = parse_ok(text2);
        CHECK_STR(p.classes[1].name, name);
        CHECK_U64(p.classes[1].n_match, 1);
        CHECK_STR(p.classes[1].match[0], glob);

        /* POLICY_CLASSES_MAX classes, the default included. */
        char *big = NULL;
        size_t big_size = 0;
        FILE *f = open_memstream(&big, &big_size);
        CHECK(f);
        for (int i = 1; i < POLICY_CLASSES_MAX; i++)
                fprintf(f, "[Class c%d]\nMatch=c%d-*\n", i, i);
        CHECK(fclose(f) == 0);
        p = parse_ok(big);
        CHECK_U64(p.n_classes, POLICY_CLASSES_MAX);
        CHECK_STR(p.classes[POLICY_CLASSES_MAX - 1].name, "c31");
        free(big);
}

static void test_class_errors(void) {
        parse_one_error("[Class]\nPriority=5\n", 1, "[Class] without a name");
        parse_one_error("[Class   ]\n", 1, "[Class] without a name");
        parse_one_error("[Classy]\nPriority=5\n", 1, "unknown section [Classy]");
        parse_one_error("[class a]\n", 1, "unknown section [class a]");
        parse_one_error("[Class a b]\nPriority=5\n", 1, "[Class a b]: not a valid class name");
        parse_one_error("[Class a/b]\n", 1, "not a valid class name (1..63 characters: A-Z a-z 0-9 _ . -)");
        parse_one_error("[Class a*]\n", 1, "not a valid class name");
        char text[512];
        snprintf(text, sizeof(text), "[Class %064d]\nPriority=5\n", 0);
        parse_one_error(text, 1, "not a valid class name");

        /* Twice: the second section is refused, its keys with it. */
        parse_one_error("[Class x]\nPriority=5\n\n[Class x]\nPriority=6\n", 4,
                        "class 'x' is defined twice (first at line 1)");
        parse_one_error("[Daemon]\n[Class default]\nPriority=5\n[Class default]\nPriority=6\n", 4,
                        "class 'default' is defined twice (first at line 2)");
        parse_one_error("[Class x]\nPriority=5\nShares=1\nPriority=6\n", 4, "Priority= is set twice (first at line 2)");
        parse_one_error("[Class x]\nMatch=a\nMatch=b\n", 3, "Match= is set twice (first at line 2)");
        parse_one_error("[Class x]\nInterval=5s\n", 2, "unknown key 'Interval' in section [Class x]");
        parse_one_error("[Daemon]\nPriority=5\n", 2, "unknown key 'Priority' in section [Daemon]");

        /* Match= in [Class default]: it takes every guest nobody else takes. */
        parse_one_error("[Class default]\nPriority=5\nMatch=web-*\n", 3,
                        "Match= is not allowed in [Class default]: it matches every guest no other class matches");

        /* Match= limits. */
        parse_one_error("[Class x]\nMatch=a b c d e f g h i j k l m n o p q\n", 2, "too many globs (at most 16)");
        char glob[POLICY_GLOB_MAX + 1];
        memset(glob, 'g', POLICY_GLOB_MAX);
        glob[POLICY_GLOB_MAX] = '\0';
        snprintf(text, sizeof(text), "[Class x]\nMatch=a %s\n", glob);
        parse_one_error(text, 2, "is too long (at most 127 characters)");

        /* One class too many: an error at its header, its keys skipped. */
        char *big = NULL;
        size_t big_size = 0;
        FILE *f = open_memstream(&big, &big_size);
        CHECK(f);
        for (int i = 1; i <= POLICY_CLASSES_MAX; i++)
                fprintf(f, "[Class c%d]\nPriority=%d\n", i, i);
        CHECK(fclose(f) == 0);
        parse_one_error(big, 2 * POLICY_CLASSES_MAX - 1, "[Class c32]: too many classes (at most 32, default included)");
        free(big);
}

/* Several mistakes in classes and [Daemon]: all reported, in line order,
 * nothing written. */
static void test_many_errors(void) {
        const char *text = "[Daemon]\n"            /* 1 */
                           "DryRun=perhaps\n"      /* 2 */
                           "[Class default]\n"     /* 3 */
                           "Match=x-*\n"           /* 4 */
                           "[Class b]\n"           /* 5 */
                           "Floor=12Q\n"           /* 6 */
                           "Priority=7\n"          /* 7: fine */
                           "Shed=kill\n"           /* 8 */
                           "[Class b]\n"           /* 9 */
                           "Shed=never\n"          /* 10: skipped with its section */
                           "[Class]\n"             /* 11 */
                           "[Class c]\n"           /* 12 */
                           "Floor=150%\n"          /* 13 */
                           "Shares=123456\n"       /* 14 */
                           "[Nope]\n";             /* 15 */
        const unsigned lines[] = { 2, 4, 6, 8, 9, 11, 13, 14, 15 };
        Policy p;
        POISON(p);
        Policy before = p;
        PolicyErrors e = {};
        int r = policy_parse(text, "many.conf", &p, &e);
        for (size_t i = 0; i < e.n; i++)
                fprintf(stderr, "  %s\n", e.lines[i]);
        CHECK(r == (int) ELEMENTSOF(lines));
        CHECK(e.n == ELEMENTSOF(lines));
        for (size_t i = 0; i < e.n; i++) {
                char prefix[64];
                snprintf(prefix, sizeof(prefix), "many.conf:%u: ", lines[i]);
                if (strncmp(e.lines[i], prefix, strlen(prefix)) != 0)
                        TEST_FAIL("error %zu \"%s\" does not start with \"%s\"", i, e.lines[i], prefix);
        }
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);
        policy_errors_clear(&e);
}

/* A broken section header is reported on its line; what follows it is not
 * taken into any section (a second "outside any section" error may follow). */
static void test_broken_section_header(void) {
        Policy p;
        POISON(p);
        Policy before = p;
        PolicyErrors e = {};
        int r = policy_parse("[Daemon\nInterval=5s\n", "bad.conf", &p, &e);
        for (size_t i = 0; i < e.n; i++)
                fprintf(stderr, "  error: %s\n", e.lines[i]);
        CHECK(r >= 1 && (size_t) r == e.n);
        CHECK(strncmp(e.lines[0], "bad.conf:1: ", 12) == 0);
        CHECK_CONTAINS(e.lines[0], "without ']'");
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);
        policy_errors_clear(&e);
}

static void test_three_mistakes(void) {
        const char *text = "# three mistakes\n"              /* 1 */
                           "[Daemon]\n"                      /* 2 */
                           "Interval=5x\n"                   /* 3: bad duration */
                           "StaleAfter=1min\n"               /* 4 */
                           "\n"                              /* 5 */
                           "Bogus=1\n"                       /* 6: unknown key */
                           "LibvirtURI=qemu:///system\n"     /* 7 */
                           "TextfileDirectory=relative\n";   /* 8: relative path */
        const unsigned lines[] = { 3, 6, 8 };
        Policy p;
        POISON(p);
        Policy before = p;
        PolicyErrors e = {};

        int r = policy_parse(text, "three.conf", &p, &e);
        CHECK(r == 3);
        CHECK(e.n == 3);
        for (size_t i = 0; i < e.n; i++) {
                char prefix[64];
                snprintf(prefix, sizeof(prefix), "three.conf:%u: ", lines[i]);
                if (strncmp(e.lines[i], prefix, strlen(prefix)) != 0)
                        TEST_FAIL("error %zu \"%s\" does not start with \"%s\"", i, e.lines[i], prefix);
        }
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);

        /* Errors append: a second parse adds to the same list. */
        r = policy_parse("[Daemon]\nX=1\n", "more.conf", &p, &e);
        CHECK(r == 1);
        CHECK(e.n == 4);
        CHECK_CONTAINS(e.lines[3], "more.conf:2: ");
        policy_errors_clear(&e);
        CHECK(e.n == 0);
        policy_errors_clear(&e); /* twice is fine */
}

static void test_load(const char *policies) {
        char *dir = test_mkdtemp();
        char path[PATH_MAX];
        CHECK_OK(path_join(path, sizeof(path), dir, "missing.conf"));

        Policy p;
        POISON(p);
        Policy before = p;
        PolicyErrors e = {};
        CHECK(policy_load(path, &p, &e) == 1);
        CHECK(e.n == 1);
        char prefix[PATH_MAX + 16];
        snprintf(prefix, sizeof(prefix), "%s: cannot read: ", path);
        CHECK(strncmp(e.lines[0], prefix, strlen(prefix)) == 0);
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);
        policy_errors_clear(&e);

        /* Errors from a file name the file. */
        CHECK_OK(path_join(path, sizeof(path), dir, "x.conf"));
        FILE *f = fopen(path, "we");
        CHECK(f);
        fputs("[Daemon]\nInterval=forever\n", f);
        CHECK(fclose(f) == 0);
        CHECK(policy_load(path, &p, &e) == 1);
        snprintf(prefix, sizeof(prefix), "%s:2: ", path);
        CHECK(strncmp(e.lines[0], prefix, strlen(prefix)) == 0);
        policy_errors_clear(&e);
        test_rm_rf(dir);

        /* Every shipped policy parses without a single error. */
        DIR *d = opendir(policies);
        if (!d)
                TEST_FAIL("cannot open %s: %s", policies, strerror(errno));
        unsigned n_files = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                CHECK_OK(path_join(path, sizeof(path), policies, de->d_name));
                struct stat st;
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                int r = policy_load(path, &p, &e);
                for (size_t i = 0; i < e.n; i++)
                        fprintf(stderr, "  %s\n", e.lines[i]);
                if (r != 0 || e.n != 0)
                        TEST_FAIL("%s: policy_load returned %d with %zu errors", path, r, e.n);
                CHECK(p.stale_after_usec >= p.interval_usec);
                if (strcmp(de->d_name, "default.conf") == 0) {
                        /* It says every key at its default; hold it to that. */
                        Policy defaults;
                        policy_defaults(&defaults);
                        p.classes[0].line = 0; /* [Class default] is written out in it */
                        CHECK(memcmp(&p, &defaults, sizeof(p)) == 0);
                }
                fprintf(stderr, "  %s: configuration OK\n", path);
                n_files++;
        }
        closedir(d);
        CHECK(n_files >= 1);
}

static void test_format_duration(void) {
        char buf[32];
        policy_format_duration(5 * USEC_PER_SEC, buf, sizeof(buf));
        CHECK_STR(buf, "5s");
        policy_format_duration(500 * USEC_PER_MSEC, buf, sizeof(buf));
        CHECK_STR(buf, "500ms");
        policy_format_duration(250, buf, sizeof(buf));
        CHECK_STR(buf, "250us");
        policy_format_duration(0, buf, sizeof(buf));
        CHECK_STR(buf, "0s");

        /* What it formats parses back to the same value. */
        const uint64_t values[] = { 100 * USEC_PER_MSEC, 1500 * USEC_PER_MSEC, 60 * USEC_PER_SEC };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char text[128], d[32];
                policy_format_duration(values[i], d, sizeof(d));
                snprintf(text, sizeof(text), "[Daemon]\nInterval=%s\nStaleAfter=1h\n", d);
                Policy p = parse_ok(text);
                CHECK_U64(p.interval_usec, values[i]);
        }
}

int main(int argc, char **argv) {
        const char *policies = test_fixtures(argc, argv);
        RUN(test_defaults);
        RUN(test_values);
        RUN(test_parse_duration);
        RUN(test_parse_size);
        RUN(test_format_size);
        RUN(test_parse_percent);
        RUN(test_parse_integer);
        RUN(test_parse_bool);
        RUN(test_shed_mode_and_names);
        RUN(test_ksm_section);
        RUN(test_shed_section);
        RUN(test_balloon_section);
        RUN(test_oom_score_adjust);
        RUN(test_each_error);
        RUN(test_classes);
        RUN(test_class_errors);
        RUN(test_many_errors);
        RUN(test_broken_section_header);
        RUN(test_three_mistakes);
        test_load(policies);
        RUN(test_format_duration);
        return 0;
}
