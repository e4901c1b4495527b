/* Fuzz target: the policy file (policy_parse), classes and every value type. */
#include "density/policy.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        Policy p;
        PolicyErrors e = {};
        (void) policy_parse(s, "fuzz.conf", &p, &e);
        policy_errors_clear(&e);
        free(s);
        return 0;
}
