/* Tests for view: the screens of densityctl top, on literal status
 * documents: they fit the terminal (rows, columns in cells), the guests
 * are sorted and truncated with "… N more", the daemon's strings cannot
 * reach the terminal as control characters. (The status table and log
 * lines are tested with the status document, in test-control.c.) */
#include <json-c/json.h>

#include "density/view.h"
#include "test-helpers.h"

#define MIB 1048576LL

static const char *status_base =
        "{\"version\":1,\"timestamp\":1796686481.347,"
        "\"daemon\":{\"version\":\"0.1.0\",\"pid\":42,\"interval_seconds\":5,\"dry_run\":false,"
        "  \"hypervisor\":{\"uri\":\"qemu:///system\",\"connected\":true}},"
        "\"host\":{\"mem_total_bytes\":25769803776,\"mem_available_bytes\":8589934592,\"anon_bytes\":1073741824,"
        "  \"swap_free_bytes\":0,\"oom_kills\":0,"
        "  \"psi\":{\"some\":{\"avg10\":1.5,\"avg60\":0.25},\"full\":{\"avg10\":0,\"avg60\":0}},"
        "  \"cgroup\":{\"version\":1,\"path\":\"machine\",\"limit_bytes\":17179869184,\"usage_bytes\":8589934592,"
        "    \"oom_kills\":0},"
        "  \"ksm\":{\"present\":true,\"saved_bytes\":1073741824,\"ksmd_cpu_percent\":12.5,"
        "    \"files\":{\"run\":1,\"pages_to_scan\":1000,\"sleep_millisecs\":20,\"full_scans\":3}}},"
        "\"guests\":[],\"decisions\":{\"entries\":[]},\"shed\":[]}";

static json_object *guest(const char *name, long long rss_mib, const char *class) {
        json_object *g = json_object_new_object();
        json_object_object_add(g, "name", json_object_new_string(name));
        json_object_object_add(g, "rss_bytes", rss_mib >= 0 ? json_object_new_int64(rss_mib * MIB) : NULL);
        json_object_object_add(g, "balloon_actual_bytes", json_object_new_int64(256 * MIB));
        json_object_object_add(g, "balloon_maximum_bytes", json_object_new_int64(256 * MIB));
        json_object_object_add(g, "class", json_object_new_string(class));
        json_object_object_add(g, "facts", json_tokener_parse("{\"known\":true,\"balloon\":true,\"persistent\":true}"));
        json_object_object_add(g, "actions_in_flight", json_object_new_array());
        return g;
}

/* A status document with n guests g-0 .. g-(n-1), RSS 100 + 10 i MiB, and
 * n_dec decisions. */
static json_object *status(size_t n, size_t n_dec) {
        json_object *st = json_tokener_parse(status_base);
        CHECK(st);
        json_object *guests = json_object_object_get(st, "guests");
        for (size_t i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof(name), "g-%zu", i);
                json_object_array_add(guests, guest(name, 100 + 10 * (long long) i, i % 2 ? "batch" : "default"));
        }
        json_object *entries = json_object_object_get(json_object_object_get(st, "decisions"), "entries");
        for (size_t i = 0; i < n_dec; i++) {
                char what[64];
                snprintf(what, sizeof(what), "balloon g-%zu to 200 MiB", i);
                json_object *e = json_object_new_object();
                json_object_object_add(e, "time", json_object_new_double(1796686400.0 + (double) i));
                json_object_object_add(e, "controller", json_object_new_string("balloon"));
                json_object_object_add(e, "result", json_object_new_string("done"));
                json_object_object_add(e, "what", json_object_new_string(what));
                json_object_object_add(e, "reason",
                                       json_object_new_string("host available 412 MiB < 600 MiB, and a reason long "
                                                              "enough to be cut at the edge of an 80 column screen"));
                json_object_array_add(entries, e);
        }
        return st;
}

static size_t cells(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char) *s & 0xc0) != 0x80;
        return n;
}

typedef struct Rendered {
        char *text;
        char *lines[256];
        size_t n;
        int r;
} Rendered;

static void render(Rendered *out, json_object *st, json_object *dec, const ViewScreen *v) {
        size_t len = 0;
        *out = (Rendered) {};
        FILE *f = open_memstream(&out->text, &len);
        CHECK(f);
        out->r = view_top_render(f, st, dec, v);
        CHECK(fclose(f) == 0);
        fputs(out->text, stderr);
        for (char *p = out->text, *nl; (nl = strchr(p, '\n')) && out->n < 256; p = nl + 1) {
                *nl = '\0';
                out->lines[out->n++] = p;
        }
        /* What is there fits the screen. */
        CHECK(out->n <= v->rows);
        for (size_t i = 0; i < out->n; i++) {
                if (cells(out->lines[i]) > v->columns)
                        TEST_FAIL("line %zu has %zu cells, the screen %u: %s", i, cells(out->lines[i]), v->columns,
                                  out->lines[i]);
                for (const char *p = out->lines[i]; *p; p++)
                        CHECK((unsigned char) *p >= 0x20 && *p != 0x7f);
        }
        if (out->r >= 0)
                CHECK_U64(out->r, out->n);
}

static bool starts(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The index of the first line starting with prefix, or -1. */
static int line_at(const Rendered *o, const char *prefix) {
        for (size_t i = 0; i < o->n; i++)
                if (starts(o->lines[i], prefix))
                        return (int) i;
        return -1;
}

static void test_sort_names(void) {
        for (int i = 0; i < _VIEW_SORT_MAX; i++) {
                ViewSort s = _VIEW_SORT_MAX;
                CHECK_OK(view_sort_from_name(view_sort_name((ViewSort) i), &s));
                CHECK(s == (ViewSort) i);
        }
        ViewSort s = VIEW_SORT_KSM;
        CHECK(view_sort_from_name("RSS", &s) == -EINVAL);
        CHECK(s == VIEW_SORT_KSM);
        CHECK(view_sort_name(_VIEW_SORT_MAX) == NULL);
}

static void test_80x24(void) {
        ViewScreen v = { .rows = 24, .columns = 80, .sort = VIEW_SORT_RSS, .utf8 = true };
        Rendered o;

        /* Few guests: they all show, the decisions take the rows left. */
        json_object *st = status(3, 20);
        CHECK_U64(view_top_decision_rows(st, &v), 24 - 8 - 2 - 3);
        render(&o, st, NULL, &v);
        CHECK_OK(o.r < 0);
        CHECK_CONTAINS(o.lines[1], "Memory   24.0 GiB, available 8.0 GiB");
        CHECK_CONTAINS(o.lines[2], "Budget   cgroup v1 machine: usage 8.0 GiB, limit 16.0 GiB");
        CHECK_CONTAINS(o.lines[3], "Pressure some 1.50% / 0.25%");
        CHECK_STR(o.lines[4], "KSM      saved 1.0 GiB, running, 50000 pages/s, 3 full scans, ksmd 12.5% CPU");
        int h = line_at(&o, "NAME ");
        CHECK(h == 7);
        CHECK(starts(o.lines[8], "g-2 ") && starts(o.lines[10], "g-0 ")); /* largest first */
        int d = line_at(&o, "Recent decisions");
        CHECK(d == 12);
        CHECK_U64(o.n, 24); /* 11 decisions: the status has 20, the last 11 show */
        CHECK_CONTAINS(o.lines[13], "balloon g-9 to 200 MiB");
        CHECK_CONTAINS(o.lines[23], "balloon g-19 to 200 MiB");
        CHECK_CONTAINS(o.lines[23], "\u2026"); /* cut at 80 columns */
        free(o.text);
        json_object_put(st);

        /* Many guests: the table ends in "… N more", three decisions stay. */
        st = status(40, 20);
        CHECK_U64(view_top_decision_rows(st, &v), 3);
        render(&o, st, NULL, &v);
        CHECK_STR(o.lines[18], "\u2026 30 more"); /* 11 rows: 10 guests and this */
        CHECK(starts(o.lines[8], "g-39 "));
        CHECK_CONTAINS(o.lines[6], "40 guests, MiB, by rss, largest first");
        CHECK_U64(o.n, 24);
        free(o.text);

        /* Reversed, ASCII only: smallest first, "..." and no byte above
         * 0x7f. */
        v.reverse = true;
        v.utf8 = false;
        render(&o, st, NULL, &v);
        CHECK(starts(o.lines[8], "g-0 "));
        CHECK_STR(o.lines[18], "... 30 more");
        for (size_t i = 0; i < o.n; i++)
                for (const char *p = o.lines[i]; *p; p++)
                        CHECK((unsigned char) *p < 0x80);
        free(o.text);

        /* By class: batch before default, then by name. */
        v.reverse = false;
        v.sort = VIEW_SORT_CLASS;
        render(&o, st, NULL, &v);
        CHECK(starts(o.lines[8], "g-1 ") && starts(o.lines[9], "g-11 "));
        free(o.text);
        json_object_put(st);
}

static void test_missing_figures_last(void) {
        json_object *st = status(0, 0), *guests = json_object_object_get(st, "guests");
        json_object_array_add(guests, guest("small", 10, "default"));
        json_object_array_add(guests, guest("unknown", -1, "default"));
        json_object_array_add(guests, guest("big", 900, "default"));
        ViewScreen v = { .rows = 24, .columns = 80, .sort = VIEW_SORT_RSS, .utf8 = true };
        Rendered o;
        for (int rev = 0; rev < 2; rev++) {
                v.reverse = rev;
                render(&o, st, NULL, &v);
                CHECK(starts(o.lines[8], rev ? "small " : "big "));
                CHECK(starts(o.lines[10], "unknown "));
                CHECK(line_at(&o, "Recent decisions") < 0); /* none: no section */
                free(o.text);
        }
        json_object_put(st);
}

static void test_hostile_strings(void) {
        json_object *st = status(0, 0), *guests = json_object_object_get(st, "guests");
        json_object_array_add(guests, guest("evil\033[2J\033]0;x\007", 10, "default"));
        json_object_array_add(guests, guest("c1\xc2\x9b" "31m", 9, "default"));
        json_object_array_add(guests, guest("bad-utf8-\xff\xc3", 8, "default"));
        json_object_array_add(guests, guest("a-rather-long-name-\u00e9\u00e9\u00e9-that-goes-on-and-on-and-on", 7,
                                            "a-class-name-too-long"));
        ViewScreen v = { .rows = 24, .columns = 80, .sort = VIEW_SORT_RSS, .utf8 = true };
        Rendered o;
        render(&o, st, NULL, &v); /* no control character: checked there */
        CHECK(starts(o.lines[8], "evil?[2J?]0;x? "));
        CHECK(starts(o.lines[9], "c1?31m "));
        CHECK(starts(o.lines[10], "bad-utf8-?? "));
        /* The long name is cut (the notes keep their columns), the class
         * at 12 columns. */
        CHECK(starts(o.lines[11], "a-rather-long-name-\u00e9\u00e9\u00e9-t\u2026 ")); /* 25 cells */
        CHECK_CONTAINS(o.lines[11], " a-class-nam\u2026 -");
        free(o.text);
        json_object_put(st);
}

/* The status table and log lines too: what the daemon sent is printed
 * with its control characters as '?', the table's own newlines kept. */
static void test_hostile_table(void) {
        json_object *st = status(0, 1), *guests = json_object_object_get(st, "guests");
        json_object_array_add(guests, guest("evil\033[2J\033]0;x\007", 10, "default"));
        json_object *e = json_object_array_get_idx(json_object_object_get(json_object_object_get(st, "decisions"),
                                                                          "entries"),
                                                   0);
        json_object_object_add(e, "reason", json_object_new_string("libvirt said \033[31mno\177"));
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        CHECK(f);
        CHECK_U64(view_status_print(f, st), 0);
        CHECK(fclose(f) == 0);
        fputs(text, stderr);
        for (const char *p = text; *p; p++)
                CHECK(*p == '\n' || ((unsigned char) *p >= 0x20 && *p != 0x7f));
        CHECK_CONTAINS(text, "\nevil?[2J?]0;x? ");
        CHECK_CONTAINS(text, "libvirt said ?[31mno?\n");
        CHECK(strstr(text, "Recent decisions\n"));
        free(text);
        json_object_put(st);
}

static void test_small_and_odd(void) {
        json_object *st = status(5, 5);
        Rendered o;
        /* Tiny terminals: what fits, nothing more. */
        ViewScreen tiny = { .rows = 3, .columns = 10, .utf8 = true };
        render(&o, st, NULL, &tiny);
        CHECK_U64(o.n, 3);
        free(o.text);
        ViewScreen one = { .rows = 1, .columns = 1 };
        render(&o, st, NULL, &one);
        CHECK_U64(o.n, 1);
        free(o.text);
        /* 10 rows: two for the guests, one of them "… 4 more". */
        ViewScreen ten = { .rows = 10, .columns = 60, .utf8 = true };
        render(&o, st, NULL, &ten);
        CHECK_STR(o.lines[9], "\u2026 4 more");
        CHECK_U64(view_top_decision_rows(st, &ten), 0);
        free(o.text);

        /* Decisions from the log instead of the status's. */
        ViewScreen v = { .rows = 30, .columns = 100, .utf8 = true };
        json_object *log = json_tokener_parse("[{\"time\":1796686400,\"controller\":\"shed\",\"result\":\"failed\","
                                              "\"late\":true,\"what\":\"save g-1 (managed save)\",\"reason\":\"r\","
                                              "\"message\":\"libvirt: boom\"}]");
        render(&o, st, log, &v);
        CHECK_CONTAINS(o.lines[o.n - 1], " shed     late failed save g-1 (managed save): r; libvirt: boom");
        free(o.text);
        json_object_put(log);

        /* A problem instead of a status; not a status document. */
        ViewScreen p = { .rows = 24, .columns = 80, .interval_seconds = 2,
                         .problem = "densityd is not running (nothing listens on /run/x.sock)" };
        render(&o, NULL, NULL, &p);
        CHECK_U64(o.n, 2);
        CHECK_STR(o.lines[0], "densityctl top: densityd is not running (nothing listens on /run/x.sock)");
        CHECK_STR(o.lines[1], "trying again every 2 s; q quits");
        free(o.text);
        json_object *bad = json_tokener_parse("{\"host\":{},\"guests\":{}}");
        render(&o, bad, NULL, &v);
        CHECK(o.r == -EINVAL && o.n == 0);
        free(o.text);
        render(&o, NULL, NULL, &v);
        CHECK(o.r == -EINVAL && o.n == 0);
        free(o.text);
        json_object_put(bad);
        json_object_put(st);
}

int main(void) {
        RUN(test_sort_names);
        RUN(test_80x24);
        RUN(test_missing_figures_last);
        RUN(test_hostile_strings);
        RUN(test_hostile_table);
        RUN(test_small_and_odd);
        return 0;
}
