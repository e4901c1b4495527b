/* Fuzz target: ZFS arcstats (zfs_arcstats_parse). */
#include "density/meminfo.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        uint64_t a, b;
        (void) zfs_arcstats_parse(s, &a, &b);
        free(s);
        return 0;
}
