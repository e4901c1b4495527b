/* Fuzz target: a cgroup's memory.numa_stat, v1 (pages) and v2 (bytes). */
#include "density/cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        GuestNodeBytes nodes[DENSITY_MAX_NODES];
        size_t n;
        (void) cgroup_numa_stat_parse(s, 1, 4096, nodes, DENSITY_MAX_NODES, &n);
        (void) cgroup_numa_stat_parse(s, 2, 65536, nodes, DENSITY_MAX_NODES, &n);
        free(s);
        return 0;
}
