/* meminfo: see include/density/meminfo.h */
#include "density/meminfo.h"

#include <errno.h>
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
        if (read_file_at(proc_root, "vmstat", &vmstat, NULL) == 0 &&
            find_key_u64(vmstat, "oom_kill", &m.oom_kill_total) == 0)
                m.has_oom_kill = true;
        *ret = m;
        return 0;
}
