/* ksm: see include/density/ksm.h */
#include "density/ksm.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "density/util.h"

int ksm_value_parse(const char *name, const char *buf, KsmValue *ret) {
        KsmValue v = {};
        strscpy(v.name, sizeof(v.name), name);

        char text[256];
        strscpy(text, sizeof(text), buf);
        text[strcspn(text, "\n")] = '\0';
        if (text[0] == '\0')
                return -EINVAL;

        if (parse_i64(text, &v.value) == 0) {
                v.numeric = true;
        } else {
                const char *open = strchr(text, '['), *close = open ? strchr(open, ']') : NULL;
                if (open && close) {
                        size_t n = (size_t) (close - open - 1);
                        if (n >= sizeof(v.text))
                                n = sizeof(v.text) - 1;
                        memcpy(v.text, open + 1, n);
                        v.text[n] = '\0';
                } else
                        strscpy(v.text, sizeof(v.text), text);
        }
        *ret = v;
        return 0;
}

static int ksm_value_cmp(const void *a, const void *b) {
        return strcmp(((const KsmValue *) a)->name, ((const KsmValue *) b)->name);
}

/* Whether a KSM sysfs entry that could not be read is no sample at all: not
 * a regular file, or a knob nobody may read (write-only). */
static bool ksm_entry_skippable(DIR *d, const char *name) {
        struct stat st;
        if (fstatat(dirfd(d), name, &st, 0) < 0)
                return errno == ENOENT; /* vanished */
        return !S_ISREG(st.st_mode) || (st.st_mode & 0444) == 0;
}

int ksm_read(const char *sys_root, KsmSample *ret) {
        char dir[PATH_MAX];
        int r = path_join(dir, sizeof(dir), sys_root, "kernel/mm/ksm");
        if (r < 0)
                return r;

        KsmSample k = {};
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                *ret = k;
                return 0;
        }
        k.present = true;
        struct dirent *de;
        while ((de = readdir(d)) && k.n_values < DENSITY_KSM_MAX) {
                if (de->d_name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
                        continue;
                _cleanup_free_ char *buf = NULL;
                r = read_file_at(dir, de->d_name, &buf, NULL);
                if (r < 0) {
                        if (r == -ENOENT || ksm_entry_skippable(d, de->d_name))
                                continue;
                        return r;
                }
                r = ksm_value_parse(de->d_name, buf, &k.values[k.n_values]);
                if (r < 0)
                        return r;
                k.n_values++;
        }
        qsort(k.values, k.n_values, sizeof(k.values[0]), ksm_value_cmp);
        *ret = k;
        return 0;
}

const KsmValue *ksm_sample_find(const KsmSample *k, const char *name) {
        for (size_t i = 0; i < k->n_values; i++)
                if (strcmp(k->values[i].name, name) == 0)
                        return &k->values[i];
        return NULL;
}

int ksm_sample_get(const KsmSample *k, const char *name, int64_t *ret) {
        const KsmValue *v = ksm_sample_find(k, name);
        if (!v || !v->numeric)
                return -ENOENT;
        *ret = v->value;
        return 0;
}

int ksm_scan_rate(const KsmSample *k, double *ret_pages_per_sec) {
        int64_t run, pages, sleep_ms;
        if (ksm_sample_get(k, "run", &run) < 0 || ksm_sample_get(k, "pages_to_scan", &pages) < 0 ||
            ksm_sample_get(k, "sleep_millisecs", &sleep_ms) < 0)
                return -ENOENT;
        *ret_pages_per_sec = run == 1 && sleep_ms > 0 ? (double) pages * 1000.0 / (double) sleep_ms : 0.0;
        return 0;
}

int ksm_stat_parse(const char *buf, KsmProcess *ret) {
        KsmProcess p = {};
        uint64_t v;
        if (find_key_u64(buf, "ksm_merging_pages", &v) == 0) {
                p.has_merging = true;
                p.merging_pages = v;
        }
        /* ksm_process_profit can be negative (metadata outweighs merging). */
        const char *pp = strstr(buf, "ksm_process_profit ");
        if (pp) {
                char line[64];
                strscpy(line, sizeof(line), pp + strlen("ksm_process_profit "));
                line[strcspn(line, "\n")] = '\0';
                if (parse_i64(line, &p.profit_bytes) == 0)
                        p.has_profit = true;
        }
        if (!p.has_merging && !p.has_profit)
                return -EINVAL;
        *ret = p;
        return 0;
}

int ksm_process_read(const char *proc_root, pid_t pid, KsmProcess *ret, const char **failed_file) {
        _cleanup_free_ char *buf = NULL, *pages_buf = NULL;
        KsmProcess p = {};

        int r = read_pid_file(proc_root, pid, "ksm_stat", &buf);
        if (r == 0)
                (void) ksm_stat_parse(buf, &p); /* 6.1 .. 6.3: only ksm_rmap_items */
        else if (r != -ENOENT) {
                if (failed_file && r != -ESRCH)
                        *failed_file = "ksm_stat";
                return r;
        }

        /* Before 6.4 merging pages are in their own file (5.19+). */
        if (!p.has_merging) {
                uint64_t pages;
                int k = read_pid_file(proc_root, pid, "ksm_merging_pages", &pages_buf);
                if (k == 0)
                        k = parse_u64(pages_buf, &pages);
                if (k == 0) {
                        p.has_merging = true;
                        p.merging_pages = pages;
                } else if (!p.has_profit) {
                        if (failed_file && k != -ENOENT && k != -ESRCH)
                                *failed_file = "ksm_merging_pages";
                        return k;
                }
        }
        *ret = p;
        return 0;
}

uint64_t snapshot_ksm_saved_bytes(const HostSample *h) {
        int64_t sharing, zero = 0;
        if (!h->ksm.present || ksm_sample_get(&h->ksm, "pages_sharing", &sharing) < 0 || sharing < 0)
                return 0;
        if (ksm_sample_get(&h->ksm, "ksm_zero_pages", &zero) < 0 || zero < 0)
                zero = 0; /* before 6.10 the file is absent (or without use_zero_pages, 0) */
        return ((uint64_t) sharing + (uint64_t) zero) * h->page_size_bytes;
}

int schedstat_parse(const char *buf, uint64_t *ret_usec) {
        char text[32];
        strscpy(text, sizeof(text), buf);
        text[strcspn(text, " \n")] = '\0';
        uint64_t nsec;
        int r = parse_u64(text, &nsec);
        if (r < 0)
                return r;
        *ret_usec = nsec / NSEC_PER_USEC;
        return 0;
}

int pid_stat_parse(const char *buf, long clk_tck, char *ret_comm, size_t comm_size, uint64_t *ret_cpu_usec) {
        /* "PID (COMM) STATE PPID ...": COMM may hold spaces and ')', so it
         * ends at the last ')'. utime and stime are fields 14 and 15. */
        const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        if (!open || !close || close < open || clk_tck <= 0)
                return -EINVAL;
        const char *p = close + 1;
        uint64_t utime = 0, stime = 0;
        for (int field = 3; field <= 15; field++) {
                while (*p == ' ')
                        p++;
                if (*p == '\0' || *p == '\n')
                        return -EINVAL;
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p, &end, 10);
                if (field == 14 || field == 15) {
                        if (end == p || errno != 0)
                                return -EINVAL;
                        if (field == 14)
                                utime = v;
                        else
                                stime = v;
                }
                p += strcspn(p, " \n");
        }
        if (ret_comm) {
                size_t n = (size_t) (close - open - 1);
                if (n >= comm_size)
                        n = comm_size - 1;
                memcpy(ret_comm, open + 1, n);
                ret_comm[n] = '\0';
        }
        *ret_cpu_usec = (utime + stime) * (USEC_PER_SEC / (uint64_t) clk_tck);
        return 0;
}

/* Whether /proc/PID is the ksmd kernel thread: its name, and no command line
 * (a user process may call itself "ksmd"; a kernel thread has no argv). */
static bool pid_is_ksmd(const char *proc_root, pid_t pid) {
        _cleanup_free_ char *comm = NULL, *cmdline = NULL;
        if (read_pid_file(proc_root, pid, "comm", &comm) < 0)
                return false;
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, "ksmd") != 0)
                return false;
        size_t len = 0;
        char rel[64];
        snprintf(rel, sizeof(rel), "%d/cmdline", (int) pid);
        if (read_file_at(proc_root, rel, &cmdline, &len) < 0)
                return false;
        return len == 0;
}

int ksmd_find(const char *proc_root, pid_t *ret) {
        _cleanup_closedir_ DIR *d = opendir(proc_root);
        if (!d)
                return -errno;
        /* Kernel threads started at boot have small PIDs, and /proc lists
         * processes in PID order: ksmd is among the first entries. */
        struct dirent *de;
        while ((de = readdir(d))) {
                uint64_t pid;
                if (de->d_name[0] < '1' || de->d_name[0] > '9' || parse_u64(de->d_name, &pid) < 0 || pid > INT_MAX)
                        continue;
                if (pid_is_ksmd(proc_root, (pid_t) pid)) {
                        *ret = (pid_t) pid;
                        return 0;
                }
        }
        return -ENOENT;
}

int ksmd_cpu_read(const char *proc_root, pid_t pid, uint64_t *ret_usec) {
        _cleanup_free_ char *stat = NULL, *schedstat = NULL;
        int r = read_pid_file(proc_root, pid, "stat", &stat);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        char comm[32];
        uint64_t usec;
        r = pid_stat_parse(stat, sysconf(_SC_CLK_TCK), comm, sizeof(comm), &usec);
        if (r < 0)
                return r;
        if (strcmp(comm, "ksmd") != 0)
                return -ESRCH; /* the PID now belongs to someone else */
        /* schedstat counts nanoseconds; utime + stime only whole ticks. */
        if (read_pid_file(proc_root, pid, "schedstat", &schedstat) == 0)
                (void) schedstat_parse(schedstat, &usec);
        *ret_usec = usec;
        return 0;
}
