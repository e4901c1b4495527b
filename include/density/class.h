/* class: which [Class] of the policy a guest belongs to. The domain's
 * densityd metadata element decides first, then the first [Class] (in file
 * order) whose Match= globs fit the libvirt name, then [Class default].
 * Pure: no I/O. */
#pragma once

#include "density/policy.h"
#include "density/snapshot.h"

/**
 * class_resolve() - the class of one guest.
 * @p: the policy in force
 * @guest_name: libvirt domain name
 * @metadata_class: the class the domain's metadata names, "" or NULL if none
 * @ret_source: where the answer came from (may be NULL); a metadata class
 *     the policy does not define gives CLASS_SOURCE_METADATA_UNKNOWN and
 *     the class Match=/default would give
 *
 * Return: the class (never NULL: the default class always exists).
 */
const PolicyClass *class_resolve(const Policy *p, const char *guest_name, const char *metadata_class,
                                 ClassSource *ret_source);

/* Set class_name and class_source of every guest in the snapshot from its
 * name and facts.metadata_class (whatever facts.known says: facts not yet
 * read have no metadata class, so such a guest is placed by its name until
 * they are). Run it after each sample and after each reload: the class is
 * judged under the policy in force, never carried over. */
void class_assign(const Policy *p, Snapshot *s);

/* The class class_assign() gave a guest, or the default class when its
 * class_name names none in this policy (never NULL). */
const PolicyClass *class_of(const Policy *p, const GuestSample *g);

/* "default", "match", "metadata", "metadata-unknown". */
const char *class_source_name(ClassSource s);
