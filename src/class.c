/* Placeholder until wt-policy lands. */
#include "density/class.h"

#include <fnmatch.h>
#include <string.h>

#include "density/util.h"

const PolicyClass *class_resolve(const Policy *p, const char *guest_name, const char *metadata_class,
                                 ClassSource *ret_source) {
        ClassSource src = CLASS_SOURCE_DEFAULT;
        const PolicyClass *c = &p->classes[0];
        for (size_t i = 1; i < p->n_classes; i++)
                for (size_t k = 0; k < p->classes[i].n_match; k++)
                        if (fnmatch(p->classes[i].match[k], guest_name, 0) == 0) {
                                c = &p->classes[i];
                                src = CLASS_SOURCE_MATCH;
                                goto matched;
                        }
matched:
        if (metadata_class && metadata_class[0]) {
                const PolicyClass *m = policy_class_find(p, metadata_class);
                if (m) {
                        c = m;
                        src = CLASS_SOURCE_METADATA;
                } else
                        src = CLASS_SOURCE_METADATA_UNKNOWN;
        }
        if (ret_source)
                *ret_source = src;
        return c;
}

void class_assign(const Policy *p, Snapshot *s) {
        for (size_t i = 0; i < s->n_guests; i++) {
                GuestSample *g = &s->guests[i];
                const PolicyClass *c = class_resolve(p, g->name, g->facts.metadata_class, &g->class_source);
                strscpy(g->class_name, sizeof(g->class_name), c->name);
        }
}

const char *class_source_name(ClassSource s) {
        static const char *const names[] = { "default", "match", "metadata", "metadata-unknown" };
        return s < ELEMENTSOF(names) ? names[s] : "?";
}
