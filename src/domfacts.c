/* Placeholder until the libxml2 reader lands (wt-virt): facts stay unknown. */
#include "density/domfacts.h"

#include <errno.h>
#include <stdio.h>

int domain_facts_parse(const char *xml, size_t len, bool persistent, DomainFacts *ret, char *err, size_t err_size) {
        (void) xml, (void) len, (void) persistent, (void) ret;
        snprintf(err, err_size, "domain XML reader not built");
        return -ENOTSUP;
}
