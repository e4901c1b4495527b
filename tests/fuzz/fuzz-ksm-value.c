/* Fuzz target: KSM sysfs values (numbers, and words like advisor_mode's). */
#include "density/ksm.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The first line names the file, the rest is its content. */
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        char *nl = strchr(s, 10);
        KsmValue v;
        if (nl) {
                *nl = 0;
                (void) ksm_value_parse(s, nl + 1, &v);
        } else
                (void) ksm_value_parse("advisor_mode", s, &v);
        free(s);
        return 0;
}
