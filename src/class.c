/* class: see include/density/class.h */
#include "density/class.h"

#include <fnmatch.h>
#include <string.h>

#include "density/util.h"

_Static_assert(DENSITY_CLASS_MAX == DENSITY_POLICY_CLASS_NAME_MAX, "a class name fits GuestSample.class_name");

/* The first class after the default, in file order, with a glob that fits
 * the name; NULL if none. Globs are fnmatch(3) patterns without flags:
 * case-sensitive, and '*' also matches '/' and a leading '.'. */
static const PolicyClass *class_match(const Policy *p, const char *guest_name) {
        for (size_t i = 1; i < p->n_classes; i++) {
                const PolicyClass *c = &p->classes[i];
                for (size_t j = 0; j < c->n_match; j++)
                        if (fnmatch(c->match[j], guest_name, 0) == 0)
                                return c;
        }
        return NULL;
}

const PolicyClass *class_resolve(const Policy *p, const char *guest_name, const char *metadata_class,
                                 ClassSource *ret_source) {
        bool metadata_unknown = false;
        if (metadata_class && metadata_class[0]) {
                const PolicyClass *c = policy_class_find(p, metadata_class);
                if (c) {
                        if (ret_source)
                                *ret_source = CLASS_SOURCE_METADATA;
                        return c;
                }
                metadata_unknown = true;
        }

        const PolicyClass *c = class_match(p, guest_name ? guest_name : "");
        ClassSource source = c ? CLASS_SOURCE_MATCH : CLASS_SOURCE_DEFAULT;
        if (!c)
                c = &p->classes[0]; /* policy_defaults() puts "default" there, always */
        if (ret_source)
                *ret_source = metadata_unknown ? CLASS_SOURCE_METADATA_UNKNOWN : source;
        return c;
}

void class_assign(const Policy *p, Snapshot *s) {
        for (size_t i = 0; i < s->n_guests; i++) {
                GuestSample *g = &s->guests[i];
                ClassSource source;
                const PolicyClass *c = class_resolve(p, g->name, g->facts.metadata_class, &source);
                strscpy(g->class_name, sizeof(g->class_name), c->name);
                g->class_source = source;
        }
}

const char *class_source_name(ClassSource s) {
        switch (s) {
        case CLASS_SOURCE_DEFAULT:
                return "default";
        case CLASS_SOURCE_MATCH:
                return "match";
        case CLASS_SOURCE_METADATA:
                return "metadata";
        case CLASS_SOURCE_METADATA_UNKNOWN:
                return "metadata-unknown";
        }
        return "?";
}

const PolicyClass *class_of(const Policy *p, const GuestSample *g) {
        const PolicyClass *c = policy_class_find(p, g->class_name);
        return c ? c : &p->classes[0];
}
