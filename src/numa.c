/* numa: see include/density/numa.h */
#include "density/numa.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "density/util.h"

int numa_node_meminfo_parse(const char *buf, NumaNode *node) {
        bool total = false, free_ = false;
        for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                int id;
                char key[64];
                unsigned long long kib;
                if (sscanf(l, "Node %d %63[^:]: %llu kB", &id, key, &kib) != 3)
                        continue;
                if (strcmp(key, "MemTotal") == 0) {
                        node->mem_total_bytes = kib * 1024;
                        total = true;
                } else if (strcmp(key, "MemFree") == 0) {
                        node->mem_free_bytes = kib * 1024;
                        free_ = true;
                }
        }
        return total && free_ ? 0 : -EINVAL;
}

int numa_distance_parse(const char *buf, NumaNode *node) {
        uint16_t d[DENSITY_MAX_NODES];
        size_t n = 0;
        const char *p = buf;
        while (*p && n < DENSITY_MAX_NODES) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(p, &end, 10);
                if (end == p)
                        break;
                if (errno || v > UINT16_MAX)
                        return -EINVAL;
                d[n++] = (uint16_t) v;
                p = end;
        }
        p += strspn(p, " \t\n");
        if (*p && n < DENSITY_MAX_NODES)
                return -EINVAL;
        memcpy(node->distance, d, n * sizeof(d[0]));
        node->n_distances = n;
        return 0;
}

static int numa_node_cmp(const void *a, const void *b) {
        return ((const NumaNode *) a)->id - ((const NumaNode *) b)->id;
}

int numa_read(const char *sys_root, NumaSample *ret) {
        char dir[PATH_MAX];
        int r = path_join(dir, sizeof(dir), sys_root, "devices/system/node");
        if (r < 0)
                return r;

        NumaSample s = {};
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                *ret = s;
                return 0;
        }
        struct dirent *de;
        while ((de = readdir(d)) && s.n_nodes < DENSITY_MAX_NODES) {
                int id;
                char tail;
                if (sscanf(de->d_name, "node%d%c", &id, &tail) != 1 || id < 0)
                        continue;
                NumaNode n = { .id = id };
                char rel[PATH_MAX];
                _cleanup_free_ char *mem = NULL, *cpus = NULL;

                snprintf(rel, sizeof(rel), "%s/meminfo", de->d_name);
                r = read_file_at(dir, rel, &mem, NULL);
                if (r == -ENOENT)
                        continue;
                if (r == 0)
                        r = numa_node_meminfo_parse(mem, &n);
                if (r < 0)
                        return r;
                _cleanup_free_ char *dist = NULL;
                snprintf(rel, sizeof(rel), "%s/distance", de->d_name);
                if (read_file_at(dir, rel, &dist, NULL) == 0)
                        numa_distance_parse(dist, &n);
                snprintf(rel, sizeof(rel), "%s/cpulist", de->d_name);
                r = read_file_at(dir, rel, &cpus, NULL);
                if (r == 0) {
                        strscpy(n.cpulist, sizeof(n.cpulist), cpus);
                        n.cpulist[strcspn(n.cpulist, "\n")] = '\0';
                } else if (r != -ENOENT)
                        return r;
                s.nodes[s.n_nodes++] = n;
        }
        qsort(s.nodes, s.n_nodes, sizeof(s.nodes[0]), numa_node_cmp);
        *ret = s;
        return 0;
}
