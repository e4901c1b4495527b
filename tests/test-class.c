/* Tests for class: which [Class] a guest belongs to. The metadata element
 * first, then the first Match= in file order, then default; and
 * class_assign() on a literal snapshot. */
#include "density/class.h"
#include "density/policy.h"
#include "density/util.h"
#include "test-helpers.h"

static const char policy_text[] = "[Class critical]\n"       /* metadata only */
                                  "Priority=90\n"
                                  "Shed=never\n"
                                  "[Class batch]\n"
                                  "Match=batch-* ci-?\n"
                                  "Priority=10\n"
                                  "[Class ci-special]\n"     /* after batch: ci-? wins for ci-x */
                                  "Match=ci-* [ab]-web\n"
                                  "[Class default]\n"
                                  "Priority=40\n"
                                  "[Class tenant-x]\n"
                                  "Match=tx-*\n"
                                  "KsmTrustDomain=tenant-x\n";

static Policy parse_policy(const char *text) {
        Policy p;
        PolicyErrors e = {};
        int r = policy_parse(text, "test.conf", &p, &e);
        if (r != 0)
                TEST_FAIL("policy_parse returned %d, first error: %s", r, e.n ? e.lines[0] : "-");
        policy_errors_clear(&e);
        return p;
}

/* Resolve and check the class name and the source. */
static void expect(const Policy *p, const char *guest, const char *metadata, const char *class_name,
                   ClassSource source) {
        ClassSource got = (ClassSource) 99;
        const PolicyClass *c = class_resolve(p, guest, metadata, &got);
        CHECK(c);
        if (strcmp(c->name, class_name) != 0 || got != source)
                TEST_FAIL("guest '%s' metadata '%s': class %s (%s), expected %s (%s)", guest,
                          metadata ? metadata : "(null)", c->name, class_source_name(got), class_name,
                          class_source_name(source));
        /* The answer is the policy's own class, not a copy. */
        CHECK(c == policy_class_find(p, class_name));
}

static void test_globs(void) {
        Policy p = parse_policy(policy_text);
        expect(&p, "batch-1", NULL, "batch", CLASS_SOURCE_MATCH);
        expect(&p, "batch-", NULL, "batch", CLASS_SOURCE_MATCH);
        expect(&p, "batch-a/b", NULL, "batch", CLASS_SOURCE_MATCH); /* no FNM_PATHNAME */
        expect(&p, "xbatch-1", NULL, "default", CLASS_SOURCE_DEFAULT);
        expect(&p, "batch", NULL, "default", CLASS_SOURCE_DEFAULT);
        expect(&p, "Batch-1", NULL, "default", CLASS_SOURCE_DEFAULT); /* case-sensitive */
        expect(&p, "a-web", NULL, "ci-special", CLASS_SOURCE_MATCH);
        expect(&p, "b-web", NULL, "ci-special", CLASS_SOURCE_MATCH);
        expect(&p, "c-web", NULL, "default", CLASS_SOURCE_DEFAULT);
        expect(&p, "tx-1", NULL, "tenant-x", CLASS_SOURCE_MATCH);
        expect(&p, "", NULL, "default", CLASS_SOURCE_DEFAULT);
        /* A class without Match= is never reached by name. */
        expect(&p, "critical", NULL, "default", CLASS_SOURCE_DEFAULT);
}

static void test_first_match_wins(void) {
        Policy p = parse_policy(policy_text);
        /* ci-? (batch) and ci-* (ci-special) both fit ci-x: batch comes first. */
        expect(&p, "ci-x", NULL, "batch", CLASS_SOURCE_MATCH);
        expect(&p, "ci-xy", NULL, "ci-special", CLASS_SOURCE_MATCH);

        /* The same globs, the sections the other way round. */
        p = parse_policy("[Class second]\nMatch=web-*\n[Class first]\nMatch=web-1*\n");
        expect(&p, "web-10", NULL, "second", CLASS_SOURCE_MATCH);
        p = parse_policy("[Class first]\nMatch=web-1*\n[Class second]\nMatch=web-*\n");
        expect(&p, "web-10", NULL, "first", CLASS_SOURCE_MATCH);
        expect(&p, "web-20", NULL, "second", CLASS_SOURCE_MATCH);

        /* Within a class the glob order does not matter; the class does. */
        p = parse_policy("[Class a]\nMatch=x y z-*\n[Class b]\nMatch=z-1\n");
        expect(&p, "z-1", NULL, "a", CLASS_SOURCE_MATCH);
}

static void test_metadata(void) {
        Policy p = parse_policy(policy_text);
        /* The metadata wins over a fitting glob. */
        expect(&p, "batch-7", "critical", "critical", CLASS_SOURCE_METADATA);
        expect(&p, "anything", "critical", "critical", CLASS_SOURCE_METADATA);
        expect(&p, "batch-7", "tenant-x", "tenant-x", CLASS_SOURCE_METADATA);
        /* Naming the default is a choice too. */
        expect(&p, "batch-7", "default", "default", CLASS_SOURCE_METADATA);
        /* No metadata: "" is the same as NULL. */
        expect(&p, "batch-7", "", "batch", CLASS_SOURCE_MATCH);

        /* A class the policy lacks: what Match=/default gives, and says so. */
        expect(&p, "batch-7", "gone", "batch", CLASS_SOURCE_METADATA_UNKNOWN);
        expect(&p, "web-1", "gone", "default", CLASS_SOURCE_METADATA_UNKNOWN);
        expect(&p, "web-1", "Critical", "default", CLASS_SOURCE_METADATA_UNKNOWN); /* case-sensitive */

        /* ret_source may be NULL. */
        CHECK(class_resolve(&p, "batch-1", "critical", NULL) == policy_class_find(&p, "critical"));
        CHECK(class_resolve(&p, "batch-1", NULL, NULL) == policy_class_find(&p, "batch"));
        CHECK(class_resolve(&p, "web", "gone", NULL) == &p.classes[0]);
        CHECK(class_resolve(&p, NULL, NULL, NULL) == &p.classes[0]);
}

static void test_default_class(void) {
        /* The defaults alone: every guest is "default", whatever its name. */
        Policy p;
        policy_defaults(&p);
        expect(&p, "batch-1", NULL, "default", CLASS_SOURCE_DEFAULT);
        expect(&p, "batch-1", "batch", "default", CLASS_SOURCE_METADATA_UNKNOWN);
        expect(&p, "batch-1", "default", "default", CLASS_SOURCE_METADATA);
        const PolicyClass *c = class_resolve(&p, "x", NULL, NULL);
        CHECK_U64(c->priority, 50);
        CHECK(c->shed == SHED_SAVE);

        /* [Class default] overrides it in place, wherever it stands. */
        p = parse_policy(policy_text);
        c = class_resolve(&p, "web-1", NULL, NULL);
        CHECK(c == &p.classes[0]);
        CHECK_U64(c->priority, 40);
}

static void test_source_names(void) {
        CHECK_STR(class_source_name(CLASS_SOURCE_DEFAULT), "default");
        CHECK_STR(class_source_name(CLASS_SOURCE_MATCH), "match");
        CHECK_STR(class_source_name(CLASS_SOURCE_METADATA), "metadata");
        CHECK_STR(class_source_name(CLASS_SOURCE_METADATA_UNKNOWN), "metadata-unknown");
        CHECK_STR(class_source_name((ClassSource) 99), "?");
}

static void test_assign(void) {
        Policy p = parse_policy(policy_text);
        GuestSample guests[] = {
                { .name = "db-1", .facts = { .known = true, .metadata_class = "critical" } },
                { .name = "batch-42", .facts = { .known = true } },
                { .name = "ci-z", .facts = { .known = true, .metadata_class = "retired" } },
                { .name = "web-1", .facts = { .known = true } },
                { .name = "tx-9", .facts = { .known = false } },
                /* Judged again: what a previous policy assigned is replaced. */
                { .name = "web-2", .class_name = "stale", .class_source = CLASS_SOURCE_METADATA },
        };
        static const struct {
                const char *class_name;
                ClassSource source;
        } want[] = {
                { "critical", CLASS_SOURCE_METADATA },
                { "batch", CLASS_SOURCE_MATCH },
                { "batch", CLASS_SOURCE_METADATA_UNKNOWN },
                { "default", CLASS_SOURCE_DEFAULT },
                { "tenant-x", CLASS_SOURCE_MATCH },
                { "default", CLASS_SOURCE_DEFAULT },
        };
        _Static_assert(ELEMENTSOF(guests) == ELEMENTSOF(want), "one answer per guest");
        Snapshot s = { .n_guests = ELEMENTSOF(guests), .guests = guests };
        class_assign(&p, &s);
        for (size_t i = 0; i < ELEMENTSOF(guests); i++) {
                if (strcmp(guests[i].class_name, want[i].class_name) != 0 || guests[i].class_source != want[i].source)
                        TEST_FAIL("%s: class %s (%s), expected %s (%s)", guests[i].name, guests[i].class_name,
                                  class_source_name(guests[i].class_source), want[i].class_name,
                                  class_source_name(want[i].source));
        }
        /* Nothing else in the guest changes. */
        CHECK_STR(guests[0].name, "db-1");
        CHECK_STR(guests[0].facts.metadata_class, "critical");

        /* A reload with another policy judges again. */
        Policy d;
        policy_defaults(&d);
        class_assign(&d, &s);
        for (size_t i = 0; i < ELEMENTSOF(guests); i++)
                CHECK_STR(guests[i].class_name, "default");
        CHECK(guests[0].class_source == CLASS_SOURCE_METADATA_UNKNOWN);
        CHECK(guests[1].class_source == CLASS_SOURCE_DEFAULT);

        /* No guests. */
        Snapshot empty = {};
        class_assign(&p, &empty);
}

int main(void) {
        RUN(test_globs);
        RUN(test_first_match_wins);
        RUN(test_metadata);
        RUN(test_default_class);
        RUN(test_source_names);
        RUN(test_assign);
        return 0;
}
