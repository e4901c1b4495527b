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
 * and never trusts its input: it is fuzzed. libxml2 runs without network,
 * DTD loading or entity expansion, and a document with a DOCTYPE (libvirt
 * never writes one) is refused. libxml2 prints nothing: its error handlers
 * of the calling thread are set silent (and stay so).
 *
 * How libvirt's XML is read:
 * - <memory unit=..>: libvirt's units (b, bytes; k, KiB, M, MiB, G, GiB, T,
 *   TiB, P, PiB, E, EiB in powers of 1024; KB, MB, GB, TB, PB, EB in powers
 *   of 1000; case-insensitive; none: KiB), rounded up to whole KiB as
 *   libvirt keeps it; more than INT64_MAX bytes is an error, as in libvirt.
 * - <numatune><memory> without mode is "strict" (libvirt's default); with
 *   placement='auto' the nodeset is "". Only <memory> counts, not <memnode>.
 * - the densityd element is found by namespace URI, whatever its prefix;
 *   elements of other namespaces are ignored. Without a class attribute
 *   there is no class; two densityd elements are an error.
 * - a value longer than its DomainFacts field (model, nodeset) is an error,
 *   never cut short. */
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
 * Return: 0, or -EINVAL (not XML, not a domain XML, no <memory>, a value
 * out of range or too long, bad metadata), -ENOMEM.
 */
int domain_facts_parse(const char *xml, size_t len, bool persistent, DomainFacts *ret, char *err, size_t err_size);
