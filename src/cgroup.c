/* cgroup: see include/density/cgroup.h */
#include "density/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "density/util.h"

/* v1 reports "no limit" as PAGE_COUNTER_MAX * page size (about 2^63). */
#define CGROUP_V1_UNLIMITED_BYTES (UINT64_C(1) << 60)

static bool dir_exists_at(const char *root, const char *rel) {
        char path[PATH_MAX];
        struct stat st;
        return path_join(path, sizeof(path), root, rel) == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The oom_kill counter of memory.oom_control (v1) or memory.events (v2).
 * A missing file or key (kernels before 4.13) leaves has_oom_kill false.
 * Return: 0 or -errno (the file exists but cannot be read or parsed). */
static int cgroup_oom_kill_read(const char *root, const char *rel, CgroupSample *c) {
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(root, rel, &buf, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        uint64_t v;
        r = find_key_u64(buf, "oom_kill", &v);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        c->has_oom_kill = true;
        c->oom_kill_total = v;
        return 0;
}

static int cgroup_machine_read_v1(const char *root, const char *dir, CgroupSample *c) {
        char rel[PATH_MAX];
        uint64_t v;
        int r;

        c->version = 1;
        strscpy(c->path, sizeof(c->path), dir);

        snprintf(rel, sizeof(rel), "%s/memory.usage_in_bytes", dir);
        r = read_u64_at(root, rel, &c->usage_bytes);
        if (r < 0)
                return r;

        snprintf(rel, sizeof(rel), "%s/memory.limit_in_bytes", dir);
        r = read_u64_at(root, rel, &v);
        if (r == 0 && v < CGROUP_V1_UNLIMITED_BYTES) {
                c->has_limit = true;
                c->limit_bytes = v;
        } else if (r < 0 && r != -ENOENT)
                return r;

        /* oom_kill in memory.oom_control appeared in 4.13. */
        snprintf(rel, sizeof(rel), "%s/memory.oom_control", dir);
        return cgroup_oom_kill_read(root, rel, c);
}

static int cgroup_machine_read_v2(const char *root, const char *dir, CgroupSample *c) {
        char rel[PATH_MAX];
        uint64_t v;
        int r;

        c->version = 2;
        strscpy(c->path, sizeof(c->path), dir);

        snprintf(rel, sizeof(rel), "%s/memory.current", dir);
        r = read_u64_at(root, rel, &c->usage_bytes);
        if (r < 0)
                return r;

        snprintf(rel, sizeof(rel), "%s/memory.max", dir);
        r = read_u64_at(root, rel, &v);
        if (r == 0) {
                c->has_limit = true;
                c->limit_bytes = v;
        } else if (r != -ERANGE && r != -ENOENT) /* "max" reads as -ERANGE: unlimited */
                return r;

        snprintf(rel, sizeof(rel), "%s/memory.events", dir);
        return cgroup_oom_kill_read(root, rel, c);
}

int cgroup_machine_read(const char *cgroup_root, CgroupSample *ret) {
        static const char *const v1_dirs[] = { "memory/machine.slice", "memory/machine" };
        CgroupSample c = {};
        int r = -ENOENT;

        if (dir_exists_at(cgroup_root, "memory")) {
                for (size_t i = 0; i < ELEMENTSOF(v1_dirs) && r == -ENOENT; i++)
                        if (dir_exists_at(cgroup_root, v1_dirs[i]))
                                r = cgroup_machine_read_v1(cgroup_root, v1_dirs[i], &c);
        } else if (dir_exists_at(cgroup_root, "machine.slice"))
                r = cgroup_machine_read_v2(cgroup_root, "machine.slice", &c);

        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

/* Drop libvirt's sub-groups: memory is charged below the guest's scope. */
static void cgroup_strip_libvirt_children(char *path) {
        static const char *const children[] = { "/emulator", "/libvirt" };
        for (size_t i = 0; i < ELEMENTSOF(children); i++) {
                size_t n = strlen(path), k = strlen(children[i]);
                if (n > k && strcmp(path + n - k, children[i]) == 0)
                        path[n - k] = '\0';
                else if (i == 0) {
                        char *slash = strrchr(path, '/');
                        if (slash && strncmp(slash, "/vcpu", 5) == 0)
                                *slash = '\0';
                }
        }
}

int cgroup_pid_parse(char *buf, char *ret, size_t size, int *ret_version) {
        char path[PATH_MAX] = "";
        int version = 0;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                /* "ID:controllers:/path"; v2 is "0::/path". */
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                const char *ctrls = c1 + 1, *p = c2 + 1;
                bool memory = false;
                char tmp[256];
                strscpy(tmp, sizeof(tmp), ctrls);
                for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        if (strcmp(t, "memory") == 0)
                                memory = true;
                if (memory) {
                        snprintf(path, sizeof(path), "memory%s", p);
                        version = 1;
                        break;
                }
                if (ctrls[0] == '\0' && version == 0) {
                        snprintf(path, sizeof(path), "%s", p[0] == '/' ? p + 1 : p);
                        version = 2;
                }
        }
        if (version == 0)
                return -ENOENT;
        cgroup_strip_libvirt_children(path);
        if (strlen(path) >= size)
                return -ENAMETOOLONG;
        strscpy(ret, size, path);
        *ret_version = version;
        return 0;
}

int cgroup_pid_memory_dir(const char *proc_root, pid_t pid, char *ret, size_t size, int *ret_version) {
        _cleanup_free_ char *buf = NULL;
        int r = read_pid_file(proc_root, pid, "cgroup", &buf);
        if (r < 0)
                return r;
        return cgroup_pid_parse(buf, ret, size, ret_version);
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool cgroup_is_guest_dir(const char *dir) {
        const char *last = strrchr(dir, '/');
        last = last ? last + 1 : dir;
        return strstr(last, "qemu") && (ends_with(last, ".libvirt-qemu") || ends_with(last, ".scope"));
}

static int node_bytes_add(GuestNodeBytes *nodes, size_t max, size_t *n, int node, uint64_t bytes) {
        for (size_t i = 0; i < *n; i++)
                if (nodes[i].node == node) {
                        nodes[i].bytes += bytes;
                        return 0;
                }
        if (*n >= max)
                return -E2BIG;
        nodes[(*n)++] = (GuestNodeBytes) { .node = node, .bytes = bytes };
        return 0;
}

/* Parse " N0=123 N1=456" into nodes, each value times scale. */
static int numa_fields_parse(const char *p, uint64_t scale, GuestNodeBytes *nodes, size_t max, size_t *n) {
        while (*p && *p != '\n') {
                while (*p == ' ')
                        p++;
                int node;
                unsigned long long v;
                int used;
                if (sscanf(p, "N%d=%llu%n", &node, &v, &used) != 2 || node < 0)
                        return -EINVAL;
                if (v > 0 && node_bytes_add(nodes, max, n, node, v * scale) < 0)
                        return -E2BIG;
                p += used;
        }
        return 0;
}

static const char *line_with_prefix(const char *buf, const char *prefix) {
        size_t k = strlen(prefix);
        for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, prefix, k) == 0)
                        return l + k;
        return NULL;
}

int cgroup_numa_stat_parse(const char *buf, int version, size_t page_size, GuestNodeBytes *ret, size_t max,
                           size_t *ret_n) {
        size_t n = 0;
        int r;
        if (version == 1) {
                const char *l = line_with_prefix(buf, "hierarchical_total=");
                if (!l)
                        l = line_with_prefix(buf, "total=");
                if (!l)
                        return -EINVAL;
                l = strchr(l, ' '); /* skip the sum */
                r = l ? numa_fields_parse(l, page_size, ret, max, &n) : 0;
        } else {
                const char *anon = line_with_prefix(buf, "anon ");
                const char *file = line_with_prefix(buf, "file ");
                if (!anon)
                        return -EINVAL;
                r = numa_fields_parse(anon, 1, ret, max, &n);
                if (r >= 0 && file)
                        r = numa_fields_parse(file, 1, ret, max, &n);
        }
        if (r < 0)
                return r;
        *ret_n = n;
        return 0;
}
