/* psi: memory pressure stall information (/proc/pressure/memory). */
#pragma once

#include "density/snapshot.h"

/* Parse "some avg10=.. avg60=.. avg300=.. total=..\nfull ...". A missing
 * "full" line (older kernels) leaves has_full false. Return: 0 or -EINVAL. */
int psi_parse(const char *buf, PsiSample *ret);

/* Return: 0, -ENOENT when the kernel has no PSI (CONFIG_PSI off), or -errno. */
int psi_read(const char *proc_root, PsiSample *ret);

/* Kernel bounds on a PSI trigger's window (Documentation/accounting/psi.rst). */
#define PSI_WINDOW_MIN_USEC (500 * UINT64_C(1000))
#define PSI_WINDOW_MAX_USEC (10 * UINT64_C(1000000))
/* Windows a process without CAP_SYS_RESOURCE may ask for are multiples of this. */
#define PSI_WINDOW_UNPRIVILEGED_USEC (2 * UINT64_C(1000000))

/**
 * psi_trigger_open() - arm a PSI trigger: poll(2) on the returned fd
 * reports POLLPRI when tasks stalled for more than stall_usec within any
 * window_usec.
 * @path:  a pressure file (/proc/pressure/memory, a cgroup v2 memory.pressure)
 * @kind:  "some" or "full"
 * @ret_window_usec: the window in force
 *
 * Asks for window_usec first; the kernel refuses windows that are not
 * whole multiples of 2 s to a process without CAP_SYS_RESOURCE (root in a
 * container, for one), so on EINVAL it asks again with the window rounded
 * up to the next multiple of 2 s and the stall scaled with it (the same
 * share of the window).
 *
 * Return: an fd (O_CLOEXEC, O_NONBLOCK), -EINVAL (bad arguments, or both
 * windows refused), -ENOENT (no such file: a kernel without PSI), -ENOTSUP
 * (not a proc or cgroup2 file: a fixture tree) or -errno.
 */
int psi_trigger_open(const char *path, const char *kind, uint64_t stall_usec, uint64_t window_usec,
                     uint64_t *ret_window_usec);
