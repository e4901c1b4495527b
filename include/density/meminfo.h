/* meminfo: host memory totals. The live host is read through libproc2
 * (procps); an injected proc root (fixture tree) is parsed directly, so the
 * same figures come out of both (tests compare them on the live host). */
#pragma once

#include "density/snapshot.h"

/* Parse /proc/meminfo text. Return: 0, or -EINVAL if MemTotal is missing. */
int meminfo_parse(const char *buf, MeminfoSample *ret);

/* Read meminfo below proc_root ("/proc" uses libproc2), and the host's OOM
 * kill counter from vmstat (4.13+; has_oom_kill false before).
 * Return: 0 or -errno. */
int meminfo_read(const char *proc_root, MeminfoSample *ret);
