/* Tests for policy: defaults, every shipped file under policies/, and one
 * error per kind of mistake, each "file:line: message" with the right line. */
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
        RUN(test_each_error);
        RUN(test_broken_section_header);
        RUN(test_three_mistakes);
        test_load(policies);
        RUN(test_format_duration);
        return 0;
}
