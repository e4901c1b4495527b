/* ksm: see include/density/ksm.h */
#include "density/ksm.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

int ksm_sample_get(const KsmSample *k, const char *name, int64_t *ret) {
        for (size_t i = 0; i < k->n_values; i++)
                if (k->values[i].numeric && strcmp(k->values[i].name, name) == 0) {
                        *ret = k->values[i].value;
                        return 0;
                }
        return -ENOENT;
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
        int64_t sharing;
        if (!h->ksm.present || ksm_sample_get(&h->ksm, "pages_sharing", &sharing) < 0 || sharing < 0)
                return 0;
        return (uint64_t) sharing * h->page_size_bytes;
}
