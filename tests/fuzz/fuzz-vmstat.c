/* Fuzz target: /proc/vmstat (vmstat_parse). */
#include "density/meminfo.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        uint64_t v;
        (void) vmstat_parse(s, &v);
        free(s);
        return 0;
}
