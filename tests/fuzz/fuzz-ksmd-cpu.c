/* Fuzz target: ksmd's /proc/PID/schedstat and stat (schedstat_parse, pid_stat_parse). */
#include "density/ksm.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        uint64_t v;
        char comm[32];
        (void) schedstat_parse(s, &v);
        (void) pid_stat_parse(s, 100, comm, sizeof(comm), &v);
        free(s);
        return 0;
}
