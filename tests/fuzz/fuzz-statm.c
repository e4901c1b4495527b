/* Fuzz target: /proc/PID/statm (statm_parse), 4 KiB and 64 KiB pages. */
#include "density/sample.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        uint64_t v;
        (void) statm_parse(s, 4096, &v);
        (void) statm_parse(s, 65536, &v);
        free(s);
        return 0;
}
