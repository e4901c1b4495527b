/* psi: memory pressure stall information (/proc/pressure/memory). */
#pragma once

#include "density/snapshot.h"

/* Parse "some avg10=.. avg60=.. avg300=.. total=..\nfull ...". A missing
 * "full" line (older kernels) leaves has_full false. Return: 0 or -EINVAL. */
int psi_parse(const char *buf, PsiSample *ret);

/* Return: 0, -ENOENT when the kernel has no PSI (CONFIG_PSI off), or -errno. */
int psi_read(const char *proc_root, PsiSample *ret);
