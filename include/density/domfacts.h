/* domfacts: what a guest's libvirt domain XML says that densityd needs
 * (DomainFacts in snapshot.h): balloon device and stats period, hand-set
 * vCPU/emulator pinning and numatune, maximum memory, and the densityd
 * metadata element that names the guest's class:
 *
 *   <metadata>
 *     <densityd:guest xmlns:densityd="https://densityd.org/xmlns/1" class="batch"/>
 *   </metadata>
 *
 * Parsing is split from reading (the XML comes from the hypervisor thread)
 * and never trusts its input: it is fuzzed. */
#pragma once

#include <stddef.h>

#include "density/snapshot.h"

#define DOMFACTS_NAMESPACE "https://densityd.org/xmlns/1"

/**
 * domain_facts_parse() - read the facts out of a domain's XML.
 * @xml: the XML text (not necessarily NUL-terminated)
 * @len: its length
 * @persistent: whether the domain is persistent (not in the XML; the caller
 *     asks the hypervisor)
 * @ret: filled with known = true on success; untouched on failure
 * @err: on failure, why (one line)
 *
 * A class name in the metadata that is not a valid class name ([A-Za-z0-9_.-],
 * 1..63 characters) is an error: the facts stay unknown, and err says so.
 *
 * Return: 0, or -EINVAL (not a domain XML, bad metadata), -ENOMEM.
 */
int domain_facts_parse(const char *xml, size_t len, bool persistent, DomainFacts *ret, char *err, size_t err_size);
