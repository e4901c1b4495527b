/* Fuzz target: /proc/pressure/memory and a cgroup's memory.pressure. */
#include "density/psi.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        PsiSample p;
        (void) psi_parse(s, &p);
        free(s);
        return 0;
}
