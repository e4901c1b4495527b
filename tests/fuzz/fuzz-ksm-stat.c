/* Fuzz target: /proc/PID/ksm_stat (ksm_stat_parse). */
#include "density/ksm.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        KsmProcess k;
        (void) ksm_stat_parse(s, &k);
        free(s);
        return 0;
}
