/* virt-scale: VirtOps that ask tests/scale-world.c (a separate process, over
 * a Unix socket) for its simulated guests, as densityd asks libvirtd: the
 * benchmark's stand-in hypervisor lives outside the daemon's memory. Test
 * only (contrib/bench/scale.sh); never installed.
 *
 * Protocol, one request line each, answers in text:
 *   "stats"      -> "N\n", then N lines "ID UUID NAME CURRENT MAXIMUM UNUSED
 *                   AVAILABLE USABLE DISK_CACHES LAST_UPDATE" (KiB, seconds)
 *   "xml UUID"   -> "OK LEN\n" and LEN bytes of domain XML, or "ENOENT\n"
 *   "changed"    -> "0\n" (the world never changes)
 * Every write operation succeeds at once without asking (the benchmark runs
 * dry, so none should come). */
#pragma once

#include "density/virt.h"

#define SCALE_UUID_PREFIX "5ca1e000-0000-4000-8000-" /* + 12 hex digits: the guest's index */

extern const VirtOps virt_scale_ops; /* userdata: the socket's path (const char *) */
