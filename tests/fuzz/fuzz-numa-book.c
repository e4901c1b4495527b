/* Fuzz target: the NUMA controller's book (StateDirectory=/numa.json). */
#include "density/numa-controller.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        NumaPlace *p = NULL;
        size_t n;
        char err[256];
        if (numa_book_parse(s, &p, &n, err, sizeof(err)) == 0)
                free(p);
        free(s);
        return 0;
}
