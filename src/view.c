/* view: see include/density/view.h */
#include "density/view.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "density/util.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)

static json_object *jget(json_object *o, const char *k) {
        json_object *v = NULL;
        if (!o || !json_object_object_get_ex(o, k, &v))
                return NULL;
        return v;
}

static bool jnum(json_object *o, const char *k, double *ret) {
        json_object *v = jget(o, k);
        if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
                return false;
        *ret = json_object_get_double(v);
        return true;
}

/* Human size: "512 B", "12.3 MiB", "20.1 GiB"; "-" when absent. */
static const char *fmt_bytes(char *buf, size_t size, json_object *o, const char *k) {
        double v;
        if (!jnum(o, k, &v))
                snprintf(buf, size, "-");
        else if (v >= GIB)
                snprintf(buf, size, "%.1f GiB", v / GIB);
        else if (v >= MIB)
                snprintf(buf, size, "%.1f MiB", v / MIB);
        else
                snprintf(buf, size, "%.0f KiB", v / 1024.0);
        return buf;
}

static const char *fmt_mib(char *buf, size_t size, json_object *o, const char *k) {
        double v;
        if (!jnum(o, k, &v))
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.0f", v / MIB);
        return buf;
}

static const char *jstr(json_object *o, const char *k, const char *def) {
        json_object *v = jget(o, k);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : def;
}

/* Host memory; brief (top): without the word total and swap's size. */
static const char *host_memory(char *buf, size_t size, json_object *h, bool brief) {
        char a[32], b[32], c[32], d[32], e[32], oom[32] = "-";
        double v;
        if (jnum(h, "oom_kills", &v))
                snprintf(oom, sizeof(oom), "%.0f", v);
        snprintf(buf, size, "%s%s, available %s, anon %s, swap free %s%s%s, OOM kills %s", brief ? "" : "total ",
                 fmt_bytes(a, sizeof(a), h, "mem_total_bytes"), fmt_bytes(b, sizeof(b), h, "mem_available_bytes"),
                 fmt_bytes(c, sizeof(c), h, "anon_bytes"), fmt_bytes(d, sizeof(d), h, "swap_free_bytes"),
                 brief ? "" : " of ", brief ? "" : fmt_bytes(e, sizeof(e), h, "swap_total_bytes"), oom);
        return buf;
}

/* The VMs' cgroup, as the status table and top show it. */
static const char *host_budget(char *buf, size_t size, json_object *h) {
        char a[32], b[32], oom[32] = "-";
        json_object *cg = jget(h, "cgroup");
        double v;
        if (!cg || json_object_is_type(cg, json_type_null)) {
                snprintf(buf, size, "no VMs' cgroup yet");
                return buf;
        }
        if (jnum(cg, "oom_kills", &v))
                snprintf(oom, sizeof(oom), "%.0f", v);
        snprintf(buf, size, "cgroup v%d %s: usage %s, limit %s, OOM kills %s", json_object_get_int(jget(cg, "version")),
                 jstr(cg, "path", "?"), fmt_bytes(a, sizeof(a), cg, "usage_bytes"),
                 jnum(cg, "limit_bytes", &v) ? fmt_bytes(b, sizeof(b), cg, "limit_bytes") : "none", oom);
        return buf;
}

/* PSI memory, "some" and "full", 10 and 60 second averages. */
static const char *host_pressure(char *buf, size_t size, json_object *h) {
        json_object *psi = jget(h, "psi");
        if (!psi || json_object_is_type(psi, json_type_null)) {
                snprintf(buf, size, "PSI not available");
                return buf;
        }
        json_object *some = jget(psi, "some"), *full = jget(psi, "full");
        double s10 = 0, s60 = 0, f10 = 0, f60 = 0;
        jnum(some, "avg10", &s10);
        jnum(some, "avg60", &s60);
        jnum(full, "avg10", &f10);
        jnum(full, "avg60", &f60);
        snprintf(buf, size, "some %.2f%% / %.2f%%, full %.2f%% / %.2f%% (avg10 / avg60)", s10, s60, f10, f60);
        return buf;
}

/* KSM's run state, from its "run" file. */
static const char *ksm_run_name(double run) {
        return run == 1 ? "running" : run == 2 ? "unmerging" : "stopped";
}

/* KSM's figures, from the status document's host.ksm. */
typedef struct KsmFigures {
        double run, pages_to_scan, sleep_msec, full_scans, pages_per_second;
        bool has_cpu;
        double cpu_percent; /* ksmd's, of one core */
} KsmFigures;

/* ", ksmd 1.2% of a core" (brief: "... CPU"), "" when not known. */
static const char *ksm_cpu(char *buf, size_t size, const KsmFigures *k, bool brief) {
        buf[0] = '\0';
        if (k->has_cpu)
                snprintf(buf, size, ", ksmd %.1f%% %s", k->cpu_percent, brief ? "CPU" : "of a core");
        return buf;
}

/* Return: false when the host has no KSM. */
static bool ksm_figures(json_object *ksm, KsmFigures *ret) {
        json_object *files = jget(ksm, "files");
        KsmFigures k = {};
        if (!json_object_get_boolean(jget(ksm, "present")))
                return false;
        jnum(files, "run", &k.run);
        jnum(files, "pages_to_scan", &k.pages_to_scan);
        jnum(files, "sleep_millisecs", &k.sleep_msec);
        jnum(files, "full_scans", &k.full_scans);
        k.pages_per_second = k.sleep_msec > 0 && k.run == 1 ? k.pages_to_scan * 1000.0 / k.sleep_msec : 0.0;
        k.has_cpu = jnum(ksm, "ksmd_cpu_percent", &k.cpu_percent);
        *ret = k;
        return true;
}

/* What an operator should know about a guest before trusting the figures
 * or expecting densityd to act on it, separated by commas, "" when
 * nothing. Return: how many notes. */
static size_t guest_notes(char *buf, size_t size, json_object *g) {
        json_object *facts = jget(g, "facts");
        const char *note[8];
        size_t k = 0;
        if (!json_object_get_boolean(jget(facts, "known")))
                note[k++] = "facts unknown";
        else {
                if (!json_object_get_boolean(jget(facts, "balloon")))
                        note[k++] = "no balloon";
                if (!json_object_get_boolean(jget(facts, "persistent")))
                        note[k++] = "transient";
                if (json_object_get_boolean(jget(facts, "vcpus_pinned")) ||
                    json_object_get_boolean(jget(facts, "emulator_pinned")) || jget(facts, "numatune"))
                        note[k++] = "pinned by hand";
        }
        if (json_object_is_type(jget(g, "ksm_mergeable"), json_type_boolean) &&
            !json_object_get_boolean(jget(g, "ksm_mergeable")))
                note[k++] = "not mergeable";
        if (jget(g, "sample_error"))
                note[k++] = "unreadable";
        if (json_object_get_boolean(jget(g, "stale")))
                note[k++] = "stale";
        if (json_object_array_length(jget(g, "actions_in_flight")) > 0)
                note[k++] = "acting";
        if (!strcmp(jstr(g, "class_source", ""), "metadata-unknown"))
                note[k++] = "metadata class undefined";
        buf[0] = '\0';
        for (size_t x = 0; x < k; x++)
                snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", x ? ", " : "", note[x]);
        return k;
}

/* One journal entry as a line (without its newline): time (with_date:
 * and date), controller, result, what, reason, message. */
static const char *entry_line(char *buf, size_t size, json_object *e, bool with_date) {
        double t = 0;
        char when[32] = "-";
        if (jnum(e, "time", &t)) {
                time_t tt = (time_t) t;
                struct tm tm;
                if (localtime_r(&tt, &tm))
                        strftime(when, sizeof(when), with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
        }
        char result[48];
        snprintf(result, sizeof(result), "%s%s", json_object_get_boolean(jget(e, "late")) ? "late " : "",
                 jstr(e, "result", "?"));
        const char *msg = jstr(e, "message", NULL);
        snprintf(buf, size, "%s %-8s %-8s %s: %s%s%s", when, jstr(e, "controller", "?"), result, jstr(e, "what", "?"),
                 jstr(e, "reason", ""), msg ? "; " : "", msg ? msg : "");
        return buf;
}

static void print_host(FILE *f, json_object *st) {
        char a[32], b[32];
        json_object *dm = jget(st, "daemon"), *hv = jget(dm, "hypervisor"), *h = jget(st, "host");

        fprintf(f, "densityd %s, pid %d, interval %gs, policy %s\n", jstr(dm, "version", "?"),
                json_object_get_int(jget(dm, "pid")), json_object_get_double(jget(dm, "interval_seconds")),
                jstr(dm, "policy", "?"));
        double every;
        if (jnum(dm, "slow_reads_every_ticks", &every) && every > 1)
                fprintf(f, "Sampling    RSS every tick; pid files, ksm_stat and numa_stat in turns, each guest's "
                           "every %.0f ticks\n",
                        every);
        bool connected = json_object_get_boolean(jget(hv, "connected"));
        fprintf(f, "Hypervisor  %s: %s%s%s\n", jstr(hv, "uri", "?"), connected ? "connected" : "NOT CONNECTED",
                connected ? "" : ": ", connected ? "" : jstr(hv, "error", "no answer yet"));
        char line[256], cpu[48];
        fprintf(f, "Memory      %s\n", host_memory(line, sizeof(line), h, false));
        fprintf(f, "VM budget   %s\n", host_budget(line, sizeof(line), h));
        fprintf(f, "Pressure    %s\n", host_pressure(line, sizeof(line), h));

        KsmFigures k;
        if (ksm_figures(jget(h, "ksm"), &k))
                fprintf(f, "KSM         %s, %.0f pages every %.0f ms (%.0f pages/s), %.0f full scans%s, saved %s\n",
                        ksm_run_name(k.run), k.pages_to_scan, k.sleep_msec, k.pages_per_second, k.full_scans,
                        ksm_cpu(cpu, sizeof(cpu), &k, false), fmt_bytes(a, sizeof(a), jget(h, "ksm"), "saved_bytes"));
        else
                fprintf(f, "KSM         not available\n");

        json_object *ctl = jget(st, "controllers");
        size_t nc = ctl && json_object_is_type(ctl, json_type_array) ? json_object_array_length(ctl) : 0;
        for (size_t i = 0; i < nc; i++) {
                json_object *co = json_object_array_get_idx(ctl, i);
                const char *mode = jstr(co, "mode", NULL), *reason = jstr(co, "reason", "");
                fprintf(f, "%-11s %s%s%s%s%s\n", i == 0 ? "Controllers" : "", jstr(co, "name", "?"),
                        mode ? " " : "", mode ? mode : "", ": ", jstr(co, "state", "?"));
                if (reason[0])
                        fprintf(f, "%-11s   %s\n", "", reason);
        }

        json_object *numa = jget(h, "numa");
        size_t nn = numa ? json_object_array_length(numa) : 0;
        for (size_t i = 0; i < nn; i++) {
                json_object *n = json_object_array_get_idx(numa, i);
                fprintf(f, "%s node%d total %s, free %s, cpus %s\n", i == 0 ? "NUMA       " : "           ",
                        json_object_get_int(jget(n, "node")), fmt_bytes(a, sizeof(a), n, "mem_total_bytes"),
                        fmt_bytes(b, sizeof(b), n, "mem_free_bytes"), jstr(n, "cpulist", "?"));
        }
}

/* The guest table: one line a running guest. */
static void print_guests(FILE *f, json_object *guests, size_t n, int w) {
        int wc = 5;
        for (size_t i = 0; i < n; i++) {
                int l = (int) strlen(jstr(json_object_array_get_idx(guests, i), "class", ""));
                if (l > wc)
                        wc = l;
        }
        fprintf(f, "%-*s %8s %15s %8s %8s %-6s %-*s %s\n", w, "NAME", "RSS", "BALLOON", "USABLE", "KSM", "NODES", wc,
                "CLASS", "NOTES");
        fprintf(f, "%-*s %8s %15s %8s %8s %-6s %-*s %s\n", w, "", "MiB", "actual/max MiB", "MiB", "MiB", "", wc, "", "");
        for (size_t i = 0; i < n; i++) {
                json_object *g = json_object_array_get_idx(guests, i);
                char rss[32], act[32], max[32], usable[32], ksm[32], balloon[64], nodes[64] = "", notes[256] = "";
                json_object *na = jget(g, "numa_nodes");
                size_t nn = na ? json_object_array_length(na) : 0;
                for (size_t k = 0; k < nn && strlen(nodes) < sizeof(nodes) - 8; k++)
                        snprintf(nodes + strlen(nodes), sizeof(nodes) - strlen(nodes), "%s%d", k ? "," : "",
                                 json_object_get_int(jget(json_object_array_get_idx(na, k), "node")));
                snprintf(balloon, sizeof(balloon), "%s/%s", fmt_mib(act, sizeof(act), g, "balloon_actual_bytes"),
                         fmt_mib(max, sizeof(max), g, "balloon_maximum_bytes"));

                size_t k = guest_notes(notes, sizeof(notes), g);
                fprintf(f, "%-*s %8s %15s %8s %8s %-6s %-*s %s\n", w, jstr(g, "name", "?"),
                        fmt_mib(rss, sizeof(rss), g, "rss_bytes"), balloon,
                        fmt_mib(usable, sizeof(usable), g, "usable_bytes"),
                        fmt_mib(ksm, sizeof(ksm), g, "ksm_merging_bytes"), nn ? nodes : "-", wc,
                        jstr(g, "class", "-"), k ? notes : "-");
        }
}

/* What the balloon controller makes of each guest. */
static void print_balloons(FILE *f, json_object *guests, size_t n, int w) {
        json_object *b0 = NULL;
        for (size_t i = 0; i < n && !b0; i++)
                b0 = jget(json_object_array_get_idx(guests, i), "balloon");
        if (!b0)
                return;
        fprintf(f, "\nBalloons\n%-*s %-9s %7s %7s %7s %7s %7s %s\n", w, "NAME", "STATE", "ACTUAL", "TARGET", "FLOOR",
                "LOWER", "QEMU+", "WHY");
        fprintf(f, "%-*s %-9s %7s %7s %7s %7s %7s\n", w, "", "", "MiB", "MiB", "MiB", "MiB", "MiB");
        for (size_t i = 0; i < n; i++) {
                json_object *g = json_object_array_get_idx(guests, i), *b = jget(g, "balloon");
                if (!b)
                        continue;
                char act[32], tgt[32], flo[32], low[32], over[32];
                fprintf(f, "%-*s %-9s %7s %7s %7s %7s %7s %s\n", w, jstr(g, "name", "?"), jstr(b, "state", "?"),
                        fmt_mib(act, sizeof(act), g, "balloon_actual_bytes"), fmt_mib(tgt, sizeof(tgt), b, "target_bytes"),
                        fmt_mib(flo, sizeof(flo), b, "floor_bytes"), fmt_mib(low, sizeof(low), b, "lower_bytes"),
                        fmt_mib(over, sizeof(over), b, "overhead_bytes"), jstr(b, "reason", ""));
        }
}

/* The guests densityd shed: not running, so not in the table above. */
static void print_shed(FILE *f, json_object *st) {
        json_object *shed = jget(st, "shed");
        size_t n = shed && json_object_is_type(shed, json_type_array) ? json_object_array_length(shed) : 0;
        if (n == 0)
                return;
        int w = 4;
        for (size_t i = 0; i < n; i++) {
                int l = (int) strlen(jstr(json_object_array_get_idx(shed, i), "name", ""));
                if (l > w)
                        w = l;
        }
        fprintf(f, "\n%zu guest%s shed\n", n, n == 1 ? "" : "s");
        fprintf(f, "%-*s %-9s %-7s %8s %-19s %s\n", w, "NAME", "STAGE", "ACTION", "MiB", "SINCE", "WHY");
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(shed, i);
                char mib[32], when[32] = "-";
                double t;
                if (jnum(e, "since", &t)) {
                        time_t tt = (time_t) t;
                        struct tm tm;
                        if (localtime_r(&tt, &tm))
                                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                }
                fprintf(f, "%-*s %-9s %-7s %8s %-19s %s\n", w, jstr(e, "name", "?"), jstr(e, "stage", "?"),
                        jstr(e, "action", "?"), fmt_mib(mib, sizeof(mib), e, "memory_bytes"), when,
                        jstr(e, "reason", ""));
        }
}

/* The table and log lines go through this: the daemon's strings (guest
 * names, reasons, libvirt's messages) reach the terminal with their control
 * characters as '?', so a guest named with an escape sequence cannot drive
 * the operator's terminal (top filters its own cells). */
static ssize_t safe_write(void *cookie, const char *buf, size_t size) {
        FILE *f = cookie;
        for (size_t i = 0; i < size; i++) {
                unsigned char c = (unsigned char) buf[i];
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                        c = '?';
                if (fputc(c, f) == EOF)
                        return i > 0 ? (ssize_t) i : -1;
        }
        return (ssize_t) size;
}

/* Run print on f through the filter (on f itself if out of memory). */
static int safe_print(FILE *f, int (*print)(FILE *, json_object *), json_object *o) {
        FILE *safe = fopencookie(f, "w", (cookie_io_functions_t) { .write = safe_write });
        if (!safe)
                return print(f, o);
        int r = print(safe, o);
        if (fclose(safe) != 0 && r == 0)
                r = -EIO;
        return r;
}

static int log_print(FILE *f, json_object *entries);

static int status_print(FILE *f, json_object *st) {
        json_object *guests = jget(st, "guests");
        if (!jget(st, "host") || !guests || !json_object_is_type(guests, json_type_array))
                return -EINVAL;
        print_host(f, st);

        size_t n = json_object_array_length(guests);
        int w = 4;
        for (size_t i = 0; i < n; i++) {
                int l = (int) strlen(jstr(json_object_array_get_idx(guests, i), "name", ""));
                if (l > w)
                        w = l;
        }
        fprintf(f, "\n%zu guest%s\n", n, n == 1 ? "" : "s");
        if (n > 0)
                print_guests(f, guests, n, w);
        print_balloons(f, guests, n, w);
        print_shed(f, st);
        json_object *dec = jget(jget(st, "decisions"), "entries");
        if (dec && json_object_array_length(dec) > 0) {
                fprintf(f, "\nRecent decisions%s\n",
                        json_object_get_boolean(jget(jget(st, "daemon"), "dry_run")) ? " (dry run: nothing changed)"
                                                                                     : "");
                log_print(f, dec);
        }
        return 0;
}

static int log_print(FILE *f, json_object *entries) {
        if (!entries || !json_object_is_type(entries, json_type_array))
                return -EINVAL;
        size_t n = json_object_array_length(entries);
        for (size_t i = 0; i < n; i++) {
                char line[4096];
                fprintf(f, "%s\n", entry_line(line, sizeof(line), json_object_array_get_idx(entries, i), true));
        }
        return 0;
}

int view_status_print(FILE *f, json_object *st) {
        return safe_print(f, status_print, st);
}

int view_log_print(FILE *f, json_object *entries) {
        return safe_print(f, log_print, entries);
}

/* densityctl top: one screen at a time. */

static const char *const view_sorts[_VIEW_SORT_MAX] = {
        [VIEW_SORT_NAME] = "name",       [VIEW_SORT_RSS] = "rss", [VIEW_SORT_BALLOON] = "balloon",
        [VIEW_SORT_USABLE] = "usable",   [VIEW_SORT_KSM] = "ksm", [VIEW_SORT_CLASS] = "class",
};

/* The figure each numeric column sorts by. */
static const char *const view_sort_keys[_VIEW_SORT_MAX] = {
        [VIEW_SORT_RSS] = "rss_bytes",
        [VIEW_SORT_BALLOON] = "balloon_actual_bytes",
        [VIEW_SORT_USABLE] = "usable_bytes",
        [VIEW_SORT_KSM] = "ksm_merging_bytes",
};

const char *view_sort_name(ViewSort s) {
        return s < _VIEW_SORT_MAX ? view_sorts[s] : NULL;
}

int view_sort_from_name(const char *name, ViewSort *ret) {
        for (int i = 0; i < _VIEW_SORT_MAX; i++)
                if (strcmp(view_sorts[i], name) == 0) {
                        *ret = (ViewSort) i;
                        return 0;
                }
        return -EINVAL;
}

#define TOP_HEADER_ROWS 8   /* title, 4 host lines, blank, guests title, column names */
#define TOP_DECISIONS_MIN 3 /* decisions kept on screen however many guests there are */
#define TOP_GUESTS_MIN 5    /* guest rows kept before there are any decisions */
#define TOP_NAME_MIN 4      /* columns */
#define TOP_CLASS_MAX 12    /* columns */
#define TOP_NOTES_MIN 8     /* columns */
#define TOP_FIXED_COLUMNS 34 /* " RSS" 7, " BALLOON" 12, " USABLE" 7, " KSM" 7, one before CLASS */

/* The next character of s: its length in bytes, and whether it may go to
 * the terminal as it is (not a control character, C0 or C1, and in UTF-8
 * mode a well-formed sequence; outside UTF-8 mode ASCII only). Every
 * character counts as one cell. */
static size_t next_char(const unsigned char *s, bool utf8, bool *ret_printable) {
        size_t len = 1;
        bool ok = s[0] >= 0x20 && s[0] != 0x7f;
        if (s[0] >= 0x80) {
                len = !utf8 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                                : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 1;
                ok = len > 1;
                for (size_t i = 1; i < len && ok; i++)
                        ok = (s[i] & 0xc0) == 0x80;
                if (!ok)
                        len = 1;
                else if (s[0] == 0xc2 && s[1] < 0xa0)
                        ok = false; /* C1 controls, U+0080..U+009F */
        }
        *ret_printable = ok;
        return len;
}

static size_t text_width(const char *s, bool utf8) {
        size_t n = 0;
        bool ok;
        for (const unsigned char *p = (const unsigned char *) s; *p; p += next_char(p, utf8, &ok))
                n++;
        return n;
}

/* Copy s into buf, at most width cells: control characters as '?', and
 * when s is wider, its last cell "…" ("~" outside UTF-8); pad: with spaces
 * to exactly width. */
static const char *cell(char *buf, size_t size, const char *s, size_t width, bool pad, bool utf8) {
        const char *mark = utf8 ? "\u2026" : "~";
        size_t total = text_width(s, utf8), keep = total > width ? (width > 0 ? width - 1 : 0) : total, o = 0, n = 0;
        const unsigned char *p = (const unsigned char *) s;
        bool ok;
        buf[0] = '\0';
        for (; n < keep && *p; n++) {
                size_t len = next_char(p, utf8, &ok);
                if (o + len + 1 > size)
                        return buf;
                if (ok)
                        memcpy(buf + o, p, len);
                else
                        buf[o] = '?';
                o += ok ? len : 1;
                buf[o] = '\0';
                p += len;
        }
        if (total > width && width > 0 && o + strlen(mark) + 1 <= size) {
                strcpy(buf + o, mark);
                o += strlen(mark);
                n++;
        }
        for (; pad && n < width && o + 2 <= size; n++) {
                buf[o++] = ' ';
                buf[o] = '\0';
        }
        return buf;
}

/* The screen being written: lines go out fitted to its width until it is
 * full. */
typedef struct Screen {
        FILE *f;
        const ViewScreen *v;
        unsigned lines;
} Screen;

static void screen_line(Screen *sc, const char *text) {
        char buf[4096];
        if (sc->lines >= sc->v->rows)
                return;
        fprintf(sc->f, "%s\n", cell(buf, sizeof(buf), text, sc->v->columns, false, sc->v->utf8));
        sc->lines++;
}

static void screen_printf(Screen *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void screen_printf(Screen *sc, const char *fmt, ...) {
        char buf[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        screen_line(sc, buf);
}

/* Rows for the guests and for the decisions. */
typedef struct TopLayout {
        size_t guest_rows;    /* the last one "… N more" when more is set */
        bool more;
        size_t decision_rows; /* 0: no decisions section */
} TopLayout;

static TopLayout top_layout(size_t n_guests, size_t n_decisions, unsigned rows) {
        TopLayout l = {};
        size_t avail = rows > TOP_HEADER_ROWS ? rows - TOP_HEADER_ROWS : 0, dec = 0;
        size_t guests_min = n_guests < TOP_GUESTS_MIN ? n_guests : TOP_GUESTS_MIN;
        /* Decisions (a blank line and a heading above them) only where
         * the guests keep their few rows. */
        if (n_decisions > 0 && avail >= 2 + TOP_DECISIONS_MIN + guests_min)
                dec = TOP_DECISIONS_MIN;
        size_t g = avail - (dec ? dec + 2 : 0);
        if (n_guests <= g) {
                l.guest_rows = n_guests;
                if (dec)
                        dec += g - n_guests;
        } else {
                l.guest_rows = g;
                l.more = g > 0;
        }
        l.decision_rows = dec < n_decisions ? dec : n_decisions;
        return l;
}

unsigned view_top_decision_rows(json_object *st, const ViewScreen *v) {
        json_object *guests = jget(st, "guests");
        size_t n = guests && json_object_is_type(guests, json_type_array) ? json_object_array_length(guests) : 0;
        return (unsigned) top_layout(n, SIZE_MAX, v->rows).decision_rows;
}

static int guest_cmp(const void *a, const void *b, void *userdata) {
        const ViewScreen *v = userdata;
        json_object *ga = *(json_object *const *) a, *gb = *(json_object *const *) b;
        int r = 0;
        if (v->sort == VIEW_SORT_CLASS)
                r = strcmp(jstr(ga, "class", ""), jstr(gb, "class", ""));
        else if (v->sort != VIEW_SORT_NAME) {
                double x = 0, y = 0;
                bool hx = jnum(ga, view_sort_keys[v->sort], &x), hy = jnum(gb, view_sort_keys[v->sort], &y);
                if (hx != hy)
                        return hx ? -1 : 1; /* no figure: last, either way round */
                r = x > y ? -1 : x < y ? 1 : 0;
        }
        if (r == 0)
                r = strcmp(jstr(ga, "name", ""), jstr(gb, "name", ""));
        return v->reverse ? -r : r;
}

static void top_title(Screen *sc, json_object *st) {
        json_object *dm = jget(st, "daemon"), *hv = jget(dm, "hypervisor");
        char when[16] = "--:--:--", hyp[512];
        double t;
        if (jnum(st, "timestamp", &t)) {
                time_t tt = (time_t) t;
                struct tm tm;
                if (localtime_r(&tt, &tm))
                        strftime(when, sizeof(when), "%H:%M:%S", &tm);
        }
        if (json_object_get_boolean(jget(hv, "connected")))
                snprintf(hyp, sizeof(hyp), "connected");
        else
                snprintf(hyp, sizeof(hyp), "NOT CONNECTED: %s", jstr(hv, "error", "no answer yet"));
        screen_printf(sc, "%s %s%sdensityd %s, pid %d, %g s tick, %s %s", when, sc->v->paused ? "PAUSED " : "",
                      json_object_get_boolean(jget(dm, "dry_run")) ? "DRY RUN " : "", jstr(dm, "version", "?"),
                      json_object_get_int(jget(dm, "pid")), json_object_get_double(jget(dm, "interval_seconds")),
                      jstr(hv, "uri", "?"), hyp);
}

static void top_host(Screen *sc, json_object *h) {
        char a[32], line[256], cpu[48];
        screen_printf(sc, "Memory   %s", host_memory(line, sizeof(line), h, true));
        screen_printf(sc, "Budget   %s", host_budget(line, sizeof(line), h));
        screen_printf(sc, "Pressure %s", host_pressure(line, sizeof(line), h));
        KsmFigures k;
        if (ksm_figures(jget(h, "ksm"), &k))
                screen_printf(sc, "KSM      saved %s, %s, %.0f pages/s, %.0f full scans%s",
                              fmt_bytes(a, sizeof(a), jget(h, "ksm"), "saved_bytes"), ksm_run_name(k.run),
                              k.pages_per_second, k.full_scans, ksm_cpu(cpu, sizeof(cpu), &k, true));
        else
                screen_line(sc, "KSM      not available");
}

static void top_guests(Screen *sc, json_object *st, json_object **g, size_t n, const TopLayout *l) {
        const ViewScreen *v = sc->v;
        json_object *shed = jget(st, "shed");
        size_t n_shed = shed && json_object_is_type(shed, json_type_array) ? json_object_array_length(shed) : 0;
        bool numbers = v->sort != VIEW_SORT_NAME && v->sort != VIEW_SORT_CLASS;
        char left[256], shed_text[32] = "", line[4096];
        if (n_shed)
                snprintf(shed_text, sizeof(shed_text), " (%zu shed)", n_shed);
        snprintf(left, sizeof(left), "%zu guest%s%s, MiB, by %s, %s", n, n == 1 ? "" : "s", shed_text,
                 view_sort_name(v->sort),
                 numbers ? (v->reverse ? "smallest first" : "largest first") : (v->reverse ? "Z to A" : "A to Z"));
        const char *keys = "s/S sort  r reverse  p pause  q quit";
        size_t lw = text_width(left, v->utf8), kw = strlen(keys);
        if (lw + 2 + kw <= v->columns)
                screen_printf(sc, "%s%*s%s", left, (int) (v->columns - lw - kw), "", keys);
        else
                screen_line(sc, left);

        size_t wn = TOP_NAME_MIN, wc = 5;
        for (size_t i = 0; i < n; i++) {
                size_t w = text_width(jstr(g[i], "name", ""), v->utf8), c = text_width(jstr(g[i], "class", ""), v->utf8);
                wn = w > wn ? w : wn;
                wc = c > wc ? c : wc;
        }
        wc = wc < TOP_CLASS_MAX ? wc : TOP_CLASS_MAX;
        size_t room = v->columns > TOP_FIXED_COLUMNS + wc + 1 + TOP_NOTES_MIN
                              ? v->columns - TOP_FIXED_COLUMNS - wc - 1 - TOP_NOTES_MIN
                              : TOP_NAME_MIN;
        wn = wn < room ? wn : room > TOP_NAME_MIN ? room : TOP_NAME_MIN;

        char name[1024], class[256];
        screen_printf(sc, "%s %6s %11s %6s %6s %s %s", cell(name, sizeof(name), "NAME", wn, true, v->utf8), "RSS",
                      "BALLOON", "USABLE", "KSM", cell(class, sizeof(class), "CLASS", wc, true, v->utf8), "NOTES");
        size_t shown = l->more ? l->guest_rows - 1 : l->guest_rows;
        for (size_t i = 0; i < shown && i < n; i++) {
                char rss[32], act[32], max[32], balloon[64], usable[32], ksm[32], notes[256];
                snprintf(balloon, sizeof(balloon), "%s/%s", fmt_mib(act, sizeof(act), g[i], "balloon_actual_bytes"),
                         fmt_mib(max, sizeof(max), g[i], "balloon_maximum_bytes"));
                size_t k = guest_notes(notes, sizeof(notes), g[i]);
                snprintf(line, sizeof(line), "%s %6s %11s %6s %6s %s %s",
                         cell(name, sizeof(name), jstr(g[i], "name", "?"), wn, true, v->utf8),
                         fmt_mib(rss, sizeof(rss), g[i], "rss_bytes"), balloon,
                         fmt_mib(usable, sizeof(usable), g[i], "usable_bytes"),
                         fmt_mib(ksm, sizeof(ksm), g[i], "ksm_merging_bytes"),
                         cell(class, sizeof(class), jstr(g[i], "class", "-"), wc, true, v->utf8), k ? notes : "-");
                screen_line(sc, line);
        }
        if (l->more)
                screen_printf(sc, "%s %zu more", v->utf8 ? "\u2026" : "...", n - shown);
}

static void top_decisions(Screen *sc, json_object *st, json_object *entries, size_t rows) {
        size_t n = json_object_array_length(entries);
        char line[4096];
        screen_line(sc, "");
        screen_printf(sc, "Recent decisions%s",
                      json_object_get_boolean(jget(jget(st, "daemon"), "dry_run")) ? " (dry run: nothing changed)" : "");
        for (size_t i = n > rows ? n - rows : 0; i < n; i++)
                screen_line(sc, entry_line(line, sizeof(line), json_object_array_get_idx(entries, i), false));
}

int view_top_render(FILE *f, json_object *st, json_object *decisions, const ViewScreen *v) {
        Screen sc = { .f = f, .v = v };
        if (v->problem) {
                screen_printf(&sc, "densityctl top: %s", v->problem);
                screen_printf(&sc, "trying again every %g s; q quits", v->interval_seconds);
                return (int) sc.lines;
        }
        json_object *guests = jget(st, "guests"), *h = jget(st, "host");
        if (!h || !guests || !json_object_is_type(guests, json_type_array))
                return -EINVAL;
        if (!decisions)
                decisions = jget(jget(st, "decisions"), "entries");
        size_t n = json_object_array_length(guests);
        size_t nd = decisions && json_object_is_type(decisions, json_type_array) ? json_object_array_length(decisions)
                                                                                  : 0;
        _cleanup_free_ json_object **g = calloc(n ? n : 1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                g[i] = json_object_array_get_idx(guests, i);
        qsort_r(g, n, sizeof(*g), guest_cmp, (void *) v);

        TopLayout l = top_layout(n, nd, v->rows);
        top_title(&sc, st);
        top_host(&sc, h);
        screen_line(&sc, "");
        top_guests(&sc, st, g, n, &l);
        if (l.decision_rows)
                top_decisions(&sc, st, decisions, l.decision_rows);
        return (int) sc.lines;
}
