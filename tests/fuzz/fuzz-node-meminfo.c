/* Fuzz target: a NUMA node's meminfo (numa_node_meminfo_parse). */
#include "density/numa.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        NumaNode n = { 0 };
        (void) numa_node_meminfo_parse(s, &n);
        free(s);
        return 0;
}
