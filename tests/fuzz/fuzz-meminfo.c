/* Fuzz target: /proc/meminfo (meminfo_parse). */
#include "density/meminfo.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        MeminfoSample m;
        (void) meminfo_parse(s, &m);
        free(s);
        return 0;
}
