/* Fuzz target: CPU and node lists (cpulist_parse, then cpulist_format). */
#include "density/cpulist.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        uint8_t map[CPULIST_MAP_BYTES(4096)];
        size_t count;
        char back[2048];
        if (cpulist_parse(s, map, 4096, &count) == 0)
                (void) cpulist_format(map, 4096, back, sizeof(back));
        free(s);
        return 0;
}
