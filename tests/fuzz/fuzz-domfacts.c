/* Fuzz target: the domain XML facts reader (balloon, pinning, numatune, metadata). */
#include "density/domfacts.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DomainFacts f;
        char err[256];
        (void) domain_facts_parse((const char *) data, size, size % 2, &f, err, sizeof(err));
        return 0;
}
