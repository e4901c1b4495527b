/* meminfo: see include/density/meminfo.h */
#include "density/meminfo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libproc2/meminfo.h>

#include "density/util.h"

#define KIB UINT64_C(1024)

int meminfo_parse(const char *buf, MeminfoSample *ret) {
        MeminfoSample m = {};
        uint64_t v;

        if (find_key_u64(buf, "MemTotal", &v) < 0)
                return -EINVAL;
        m.mem_total_bytes = v * KIB;
        /* MemAvailable appeared in 3.14; without it, use MemFree. */
        if (find_key_u64(buf, "MemAvailable", &v) == 0 || find_key_u64(buf, "MemFree", &v) == 0)
                m.mem_available_bytes = v * KIB;
        if (find_key_u64(buf, "AnonPages", &v) == 0)
                m.anon_bytes = v * KIB;
        if (find_key_u64(buf, "SwapTotal", &v) == 0)
                m.swap_total_bytes = v * KIB;
        if (find_key_u64(buf, "SwapFree", &v) == 0)
                m.swap_free_bytes = v * KIB;
        *ret = m;
        return 0;
}

int vmstat_parse(const char *buf, uint64_t *ret_oom_kills) {
        return find_key_u64(buf, "oom_kill", ret_oom_kills) < 0 ? -ENOENT : 0;
}

uint64_t meminfo_available_bytes(const MeminfoSample *m) {
        uint64_t a = m->mem_available_bytes;
        if (m->has_zfs_arc && m->zfs_arc_bytes > m->zfs_arc_min_bytes)
                a += m->zfs_arc_bytes - m->zfs_arc_min_bytes;
        return m->mem_total_bytes && a > m->mem_total_bytes ? m->mem_total_bytes : a;
}

int zfs_arcstats_parse(const char *buf, uint64_t *ret_size_bytes, uint64_t *ret_min_bytes) {
        bool has_size = false, has_min = false;
        uint64_t size = 0, min = 0;
        for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                char name[64];
                unsigned type;
                uint64_t v;
                if (sscanf(l, "%63s %u %" SCNu64, name, &type, &v) != 3)
                        continue; /* the kstat header rows */
                if (strcmp(name, "size") == 0)
                        size = v, has_size = true;
                else if (strcmp(name, "c_min") == 0)
                        min = v, has_min = true;
        }
        if (!has_size || !has_min)
                return -EINVAL;
        *ret_size_bytes = size;
        *ret_min_bytes = min;
        return 0;
}

static void meminfo_unrefp(struct meminfo_info **info) {
        if (*info)
                procps_meminfo_unref(info);
}

static int meminfo_read_libproc2(MeminfoSample *ret) {
        __attribute__((cleanup(meminfo_unrefp))) struct meminfo_info *info = NULL;
        int r = procps_meminfo_new(&info);
        if (r < 0)
                return r;

        MeminfoSample m = {
                .mem_total_bytes = MEMINFO_GET(info, MEMINFO_MEM_TOTAL, ul_int) * KIB,
                .mem_available_bytes = MEMINFO_GET(info, MEMINFO_MEM_AVAILABLE, ul_int) * KIB,
                .anon_bytes = MEMINFO_GET(info, MEMINFO_MEM_ANON, ul_int) * KIB,
                .swap_total_bytes = MEMINFO_GET(info, MEMINFO_SWAP_TOTAL, ul_int) * KIB,
                .swap_free_bytes = MEMINFO_GET(info, MEMINFO_SWAP_FREE, ul_int) * KIB,
        };
        if (m.mem_total_bytes == 0)
                return -EINVAL;
        *ret = m;
        return 0;
}

int meminfo_read(const char *proc_root, MeminfoSample *ret) {
        MeminfoSample m;
        int r;
        if (strcmp(proc_root, "/proc") == 0)
                r = meminfo_read_libproc2(&m);
        else {
                _cleanup_free_ char *buf = NULL;
                r = read_file_at(proc_root, "meminfo", &buf, NULL);
                if (r == 0)
                        r = meminfo_parse(buf, &m);
        }
        if (r < 0)
                return r;

        /* On cgroup v1 a memcg's own oom_kill counts only kills of tasks
         * directly in it, and a killed guest's cgroup is removed with it:
         * the host-wide counter is the one that does not lose kills. */
        _cleanup_free_ char *vmstat = NULL;
        if (read_file_at(proc_root, "vmstat", &vmstat, NULL) == 0 && vmstat_parse(vmstat, &m.oom_kill_total) == 0)
                m.has_oom_kill = true;
        /* ZFS hosts lose guests to the OOM killer when the ARC is taken for
         * used memory: it is not in MemAvailable, yet it shrinks on demand. */
        _cleanup_free_ char *arc = NULL;
        if (read_file_at(proc_root, "spl/kstat/zfs/arcstats", &arc, NULL) == 0 &&
            zfs_arcstats_parse(arc, &m.zfs_arc_bytes, &m.zfs_arc_min_bytes) == 0)
                m.has_zfs_arc = true;
        *ret = m;
        return 0;
}
