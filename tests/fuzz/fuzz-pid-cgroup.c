/* Fuzz target: /proc/PID/cgroup (cgroup_pid_parse), v1 and v2. */
#include "density/cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        char dir[256];
        int version;
        (void) cgroup_pid_parse(s, dir, sizeof(dir), &version);
        free(s);
        return 0;
}
