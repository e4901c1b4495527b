/* Tests for prom: the textfile rendered from a literal snapshot. Checks the
 * exposition format's rules we rely on line by line; `test-prom --dump`
 * prints the text for promtool (test-prom-promtool.sh). */
#include <ctype.h>
#include <limits.h>

#include "density/prom.h"
#include "density/util.h"
#include "test-helpers.h"

#define KIB UINT64_C(1024)
#define MIB (1024 * KIB)

static KsmValue ksm_num(const char *name, int64_t v) {
        KsmValue k = { .numeric = true, .value = v };
        strscpy(k.name, sizeof(k.name), name);
        return k;
}

/* Two guests: one with every figure and a name that needs escaping, one
 * without balloon, KSM and NUMA figures. */
static Snapshot *snapshot_literal(void) {
        static GuestSample guests[2];
        static Snapshot s;

        s = (Snapshot) {
                .timestamp_usec = UINT64_C(1700000000123456),
                .sample_duration_usec = 1234,
                .tick_cpu_usec = 2500,
                .textfile_write_usec = 1200,
                .hypervisor_connected = true,
                .host = {
                        .page_size_bytes = 65536, /* a 64 KiB-page ARM64 host: not the running kernel's */
                        .mem = { .mem_total_bytes = 16 * 1024 * MIB, .mem_available_bytes = 8 * 1024 * MIB,
                                 .anon_bytes = 6 * 1024 * MIB, .swap_total_bytes = 0, .swap_free_bytes = 0 },
                        .psi = { .has_some = true, .has_full = true,
                                 .some = { .avg10 = 1.5, .avg60 = 0.5, .avg300 = 0.25, .total_usec = 5000000 },
                                 .full = { .avg10 = 0.5, .avg60 = 0.1, .avg300 = 0.0, .total_usec = 1000 } },
                        .cgroup = { .version = 2, .path = "machine.slice", .has_limit = true,
                                    .limit_bytes = 12 * 1024 * MIB, .usage_bytes = 6 * 1024 * MIB,
                                    .has_oom_kill = true, .oom_kill_total = 3 },
                        .numa = { .n_nodes = 2,
                                  .nodes = { { .id = 0, .mem_total_bytes = 8 * 1024 * MIB, .mem_free_bytes = MIB,
                                               .cpulist = "0-1" },
                                             { .id = 1, .mem_total_bytes = 8 * 1024 * MIB,
                                               .mem_free_bytes = 2 * MIB, .cpulist = "2-3" } } },
                },
        };
        KsmSample *k = &s.host.ksm;
        k->present = true;
        k->values[k->n_values++] = ksm_num("full_scans", 7);
        k->values[k->n_values++] = ksm_num("general_profit", -8192);
        k->values[k->n_values++] = ksm_num("pages_sharing", 5000);
        k->values[k->n_values++] = ksm_num("run", 1);
        k->values[k->n_values++] = ksm_num("sleep_millisecs", 20);
        k->values[k->n_values++] = ksm_num("advisor_max_cpu", 70);
        k->values[k->n_values++] = ksm_num("advisor_target_scan_time", 200);
        KsmValue mode = { .numeric = false, .name = "advisor_mode", .text = "none" };
        k->values[k->n_values++] = mode;

        guests[0] = (GuestSample) {
                .name = "we\"ird\\name", .uuid = "00000000-0000-0000-0000-00000000000a", .id = 1, .pid = 1001,
                .has_rss = true, .rss_bytes = 900 * MIB,
                .has_balloon = true, .balloon_actual_bytes = 1024 * MIB, .balloon_maximum_bytes = 2048 * MIB,
                .has_unused = true, .unused_bytes = 100 * MIB,
                .has_available = true, .available_bytes = 1000 * MIB,
                .has_usable = true, .usable_bytes = 500 * MIB,
                .has_disk_caches = true, .disk_caches_bytes = 50 * MIB,
                .balloon_last_update = 1700000000, .stats_age_usec = 2500000,
                .has_ksm = true, .ksm_merging_bytes = 300 * MIB,
                .has_ksm_profit = true, .ksm_profit_bytes = -4096,
                .n_nodes = 2, .nodes = { { .node = 0, .bytes = 600 * MIB }, { .node = 1, .bytes = 300 * MIB } },
        };
        guests[1] = (GuestSample) {
                .name = "plain", .uuid = "00000000-0000-0000-0000-00000000000b", .id = 2, .pid = 1002,
                .has_rss = true, .rss_bytes = 100 * MIB, .stale = true,
        };
        s.guests = guests;
        s.n_guests = 2;
        return &s;
}

static char *render(const Snapshot *s) {
        char *text = NULL;
        size_t len = 0;
        CHECK_OK(prom_render(s, NULL, 0, NULL, 0, &text, &len));
        CHECK(text);
        CHECK_U64(strlen(text), len);
        CHECK(len > 0 && text[len - 1] == '\n');
        return text;
}

typedef struct Family {
        char name[128];
        char type[16];
        bool help, done;
} Family;

/* Walk the text: every sample belongs to the family whose HELP and TYPE
 * came just before it; families are contiguous and appear once; names
 * start with density_; counters end in _total, nothing else does. */
static void check_exposition(const char *text) {
        Family fam[128];
        size_t n_fam = 0;
        Family *cur = NULL;
        char *copy = strdup(text);
        CHECK(copy);

        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[128];
                if (strncmp(line, "# HELP ", 7) == 0) {
                        CHECK(sscanf(line + 7, "%127s", name) == 1);
                        CHECK(strchr(line + 7 + strlen(name), ' ')); /* help text follows */
                        for (size_t i = 0; i < n_fam; i++)
                                if (strcmp(fam[i].name, name) == 0)
                                        TEST_FAIL("family %s described twice", name);
                        if (cur)
                                cur->done = true;
                        CHECK(n_fam < ELEMENTSOF(fam));
                        cur = &fam[n_fam++];
                        *cur = (Family) { .help = true };
                        strscpy(cur->name, sizeof(cur->name), name);
                        continue;
                }
                if (strncmp(line, "# TYPE ", 7) == 0) {
                        char type[16];
                        CHECK(sscanf(line + 7, "%127s %15s", name, type) == 2);
                        if (!cur || strcmp(cur->name, name) != 0 || cur->type[0])
                                TEST_FAIL("TYPE without HELP just before it: %s", line);
                        CHECK(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0);
                        strscpy(cur->type, sizeof(cur->type), type);
                        continue;
                }
                CHECK(line[0] != '#');
                size_t k = strcspn(line, "{ ");
                CHECK(k > 0 && k < sizeof(name));
                memcpy(name, line, k);
                name[k] = '\0';
                if (strncmp(name, "density_", 8) != 0)
                        TEST_FAIL("metric %s does not start with density_", name);
                for (const char *p = name; *p; p++)
                        CHECK(isalnum((unsigned char) *p) || *p == '_');
                if (!cur || strcmp(cur->name, name) != 0 || !cur->type[0])
                        TEST_FAIL("sample without its HELP and TYPE just before: %s", line);
                bool total = strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0;
                if (strcmp(cur->type, "counter") == 0 && !total)
                        TEST_FAIL("counter %s does not end in _total", name);
                if (strcmp(cur->type, "counter") != 0 && total)
                        TEST_FAIL("%s %s ends in _total", cur->type, name);
                /* A value after the (optional) labels. */
                const char *v = line[k] == '{' ? strstr(line + k, "} ") : line + k;
                CHECK(v);
                v += (line[k] == '{') ? 2 : 1;
                char *end;
                (void) strtod(v, &end);
                if (end == v || *end != '\0')
                        TEST_FAIL("bad value in: %s", line);
        }
        for (size_t i = 0; i < n_fam; i++)
                if (!fam[i].type[0])
                        TEST_FAIL("family %s has HELP but no TYPE", fam[i].name);
        free(copy);
}

static void test_render(void) {
        char *text = render(snapshot_literal());
        check_exposition(text);

        /* Label values escape backslash and double quote. */
        CHECK_CONTAINS(text, "density_guest_rss_bytes{domain=\"we\\\"ird\\\\name\"} 943718400\n");
        CHECK_CONTAINS(text, "density_guest_rss_bytes{domain=\"plain\"} 104857600\n");

        /* Figures a guest did not give are left out, not written as 0. */
        CHECK_CONTAINS(text, "density_guest_balloon_actual_bytes{domain=\"we\\\"ird\\\\name\"} 1073741824\n");
        CHECK_NOT_CONTAINS(text, "density_guest_balloon_actual_bytes{domain=\"plain\"}");
        CHECK_NOT_CONTAINS(text, "density_guest_usable_bytes{domain=\"plain\"}");
        CHECK_NOT_CONTAINS(text, "density_guest_ksm_merging_bytes{domain=\"plain\"}");
        CHECK_NOT_CONTAINS(text, "density_guest_numa_memory_bytes{domain=\"plain\"");
        CHECK_CONTAINS(text, "density_guest_ksm_profit_bytes{domain=\"we\\\"ird\\\\name\"} -4096\n");
        CHECK_CONTAINS(text, "density_guest_stats_age_seconds{domain=\"we\\\"ird\\\\name\"} 2.5\n");
        CHECK_CONTAINS(text, "density_guest_stale{domain=\"plain\"} 1\n");
        CHECK_CONTAINS(text, "density_guest_numa_memory_bytes{domain=\"we\\\"ird\\\\name\",node=\"1\"} 314572800\n");

        /* Host. */
        CHECK_CONTAINS(text, "density_host_memory_total_bytes 17179869184\n");
        CHECK_CONTAINS(text, "density_tick_cpu_seconds 0.002500\n");
        CHECK_CONTAINS(text, "density_textfile_write_seconds 0.001200\n");
        CHECK_CONTAINS(text, "density_machine_memory_limit_bytes 12884901888\n");
        CHECK_CONTAINS(text, "density_machine_oom_kills_total 3\n");
        CHECK_CONTAINS(text, "# TYPE density_machine_oom_kills_total counter\n");
        CHECK_CONTAINS(text, "density_host_memory_pressure_ratio{kind=\"some\",window=\"10s\"} 0.0150\n");
        CHECK_CONTAINS(text, "density_ksm_present 1\n");
        CHECK_CONTAINS(text, "density_ksm_general_profit_bytes -8192\n");
        CHECK_CONTAINS(text, "density_ksm_sleep_seconds 0.02\n");
        CHECK_CONTAINS(text, "density_ksm_full_scans_total 7\n");
        CHECK_CONTAINS(text, "density_host_page_size_bytes 65536\n");
        CHECK_CONTAINS(text, "density_ksm_saved_bytes 327680000\n"); /* 5000 pages of 64 KiB */
        CHECK_CONTAINS(text, "density_numa_node_memory_free_bytes{node=\"1\"} 2097152\n");
        CHECK_CONTAINS(text, "density_guests 2\n");
        CHECK_CONTAINS(text, "density_hypervisor_up 1\n");
        CHECK_NOT_CONTAINS(text, "advisor_mode"); /* a word, not a number */
        free(text);
}

static void test_render_bare_host(void) {
        /* No PSI, no cgroup, no KSM, no NUMA, no guests, hypervisor down. */
        Snapshot s = { .host.mem.mem_total_bytes = 1024 * MIB };
        char *text = render(&s);
        check_exposition(text);
        CHECK_CONTAINS(text, "density_ksm_present 0\n");
        CHECK_CONTAINS(text, "density_guests 0\n");
        CHECK_CONTAINS(text, "density_hypervisor_up 0\n");
        CHECK_NOT_CONTAINS(text, "pressure");
        CHECK_NOT_CONTAINS(text, "density_machine_");
        CHECK_NOT_CONTAINS(text, "density_numa_");
        CHECK_NOT_CONTAINS(text, "density_guest_");

        /* cgroup without a limit: no limit metric at all. */
        s.host.cgroup = (CgroupSample) { .version = 1, .path = "memory/machine", .usage_bytes = 5 };
        free(text);
        text = render(&s);
        check_exposition(text);
        CHECK_CONTAINS(text, "density_machine_memory_usage_bytes 5\n");
        CHECK_NOT_CONTAINS(text, "density_machine_memory_limit_bytes");
        CHECK_NOT_CONTAINS(text, "density_machine_oom_kills_total");
        free(text);
}

static void test_shed_metrics(void) {
        Snapshot *s = snapshot_literal();
        ShedBook book = {};
        ShedEntry e = { .uuid = "u-1", .name = "gone \"1\"", .class_name = "default", .priority = 50,
                        .action = SHED_SAVE, .stage = SHED_STAGE_RESTORING, .bytes = 1 };
        CHECK_OK(shed_book_put(&book, &e));
        ControllerReport r[1] = { { .name = "shed", .status = { .state = "restoring" }, .shed_book = &book } };
        JournalCounter c[4] = {
                { .controller = "shed", .kind = ACTION_SAVE, .result = RESULT_DONE, .count = 3 },
                { .controller = "shed", .kind = ACTION_SAVE, .result = RESULT_FAILED, .count = 5 },
                { .controller = "shed", .kind = ACTION_RESTORE, .result = RESULT_DONE, .count = 2 },
                { .controller = "shed", .kind = ACTION_DESTROY, .result = RESULT_DONE, .count = 1 },
        };
        char *text = NULL;
        size_t len = 0;
        CHECK_OK(prom_render(s, c, 4, r, 1, &text, &len));
        CHECK_CONTAINS(text, "density_shed_total{action=\"save\"} 3\n");
        CHECK_CONTAINS(text, "density_shed_total{action=\"destroy\"} 1\n");
        CHECK_CONTAINS(text, "density_restore_total 2\n");
        CHECK_CONTAINS(text, "density_shed_guests 1\n");
        CHECK_CONTAINS(text, "density_guest_shed{domain=\"gone \\\"1\\\"\",stage=\"restoring\",action=\"save\"} 1\n");
        free(text);
        /* Without the shed controller: none of these. */
        CHECK_OK(prom_render(s, c, 4, NULL, 0, &text, &len));
        CHECK(strstr(text, "density_shed") == NULL);
        free(text);
        shed_book_clear(&book);
}

static void test_balloon_metrics(void) {
        Snapshot *s = snapshot_literal();
        BalloonGuest g[2] = {
                { .name = "a", .state = "shrinking", .target_bytes = 300, .target_usec = 1, .lower_bytes = 200,
                  .overhead_bytes = 50, .has_rss = true },
                { .name = "b \"x\"", .state = "left" },
        };
        ControllerReport r[1] = { { .name = "balloon", .status = { .state = "shrinking" }, .has_balloon = true,
                                    .balloon = { .n_guests = 2, .guests = g, .inflated_bytes_total = 7,
                                                 .deflated_bytes_total = 3, .has_host = true, .capacity_bytes = 100,
                                                 .target_use_bytes = 80 } } };
        char *text = NULL;
        size_t len = 0;
        CHECK_OK(prom_render(s, NULL, 0, r, 1, &text, &len));
        check_exposition(text);
        CHECK_CONTAINS(text, "density_balloon_inflated_bytes_total 7\n");
        CHECK_CONTAINS(text, "density_balloon_deflated_bytes_total 3\n");
        CHECK_CONTAINS(text, "density_balloon_capacity_bytes 100\n");
        CHECK_CONTAINS(text, "density_balloon_target_use_bytes 80\n");
        CHECK_CONTAINS(text, "density_guest_balloon_target_bytes{domain=\"a\"} 300\n");
        CHECK_CONTAINS(text, "density_guest_balloon_lower_bytes{domain=\"a\"} 200\n");
        CHECK_CONTAINS(text, "density_guest_qemu_overhead_bytes{domain=\"a\"} 50\n");
        CHECK_CONTAINS(text, "density_guest_balloon_state{domain=\"b \\\"x\\\"\",state=\"left\"} 1\n");
        CHECK_NOT_CONTAINS(text, "density_guest_balloon_target_bytes{domain=\"b");
        free(text);
}

static void test_write(void) {
        char *dir = test_mkdtemp();
        const Snapshot *s = snapshot_literal();
        CHECK_OK(prom_write(dir, s, NULL, 0, NULL, 0));
        CHECK_OK(prom_write(dir, s, NULL, 0, NULL, 0)); /* again, over the first */
        CHECK(test_count_entries(dir) == 1);

        char *file = NULL;
        CHECK_OK(read_file_at(dir, PROM_FILENAME, &file, NULL));
        char *text = render(s);
        CHECK_STR(file, text);
        free(file);
        free(text);

        char missing[PATH_MAX];
        CHECK_OK(path_join(missing, sizeof(missing), dir, "nope"));
        CHECK(prom_write(missing, s, NULL, 0, NULL, 0) == -ENOENT);
        test_rm_rf(dir);
}

int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
                /* For promtool: every family, the shed controller's too. */
                ShedBook book = {};
                ShedEntry e = { .uuid = "u-1", .name = "gone-1", .class_name = "default", .action = SHED_SAVE,
                                .stage = SHED_STAGE_SHED, .bytes = 1 };
                CHECK_OK(shed_book_put(&book, &e));
                BalloonGuest g = { .name = "a", .state = "reduced", .target_bytes = 3, .target_usec = 1,
                                   .lower_bytes = 2, .overhead_bytes = 1, .has_rss = true };
                ControllerReport r[2] = {
                        { .name = "shed", .status = { .state = "watching" }, .shed_book = &book },
                        { .name = "balloon", .status = { .state = "steady" }, .has_balloon = true,
                          .balloon = { .n_guests = 1, .guests = &g, .has_host = true, .capacity_bytes = 9 } },
                };
                JournalCounter c[1] = { { .controller = "shed", .kind = ACTION_SAVE, .result = RESULT_DONE, .count = 1 } };
                char *text = NULL;
                size_t len = 0;
                CHECK_OK(prom_render(snapshot_literal(), c, 1, r, 2, &text, &len));
                fputs(text, stdout);
                free(text);
                shed_book_clear(&book);
                return 0;
        }
        RUN(test_render);
        RUN(test_render_bare_host);
        RUN(test_shed_metrics);
        RUN(test_balloon_metrics);
        RUN(test_write);
        return 0;
}
