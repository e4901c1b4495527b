/* meminfo: host memory totals. The live host is read through libproc2
 * (procps); an injected proc root (fixture tree) is parsed directly, so the
 * same figures come out of both (tests compare them on the live host). */
#pragma once

#include "density/snapshot.h"

/* Parse /proc/meminfo text. Return: 0, or -EINVAL if MemTotal is missing. */
int meminfo_parse(const char *buf, MeminfoSample *ret);

/* The OOM kill count of /proc/vmstat text. Return: 0, or -ENOENT (a
 * kernel before 4.13 has no such line). */
int vmstat_parse(const char *buf, uint64_t *ret_oom_kills);

/* MemAvailable plus what the ZFS ARC would give back (its size above its
 * minimum), at most MemTotal: what the host can still hand out. */
uint64_t meminfo_available_bytes(const MeminfoSample *m);

/* Parse /proc/spl/kstat/zfs/arcstats text ("name type data" rows) for the
 * ARC's size and c_min. Return: 0, or -EINVAL if either is missing. */
int zfs_arcstats_parse(const char *buf, uint64_t *ret_size_bytes, uint64_t *ret_min_bytes);

/* Read meminfo below proc_root ("/proc" uses libproc2), the host's OOM
 * kill counter from vmstat (4.13+; has_oom_kill false before), and the ZFS
 * ARC where ZFS is loaded (has_zfs_arc false elsewhere, and when the file
 * does not parse).
 * Return: 0 or -errno. */
int meminfo_read(const char *proc_root, MeminfoSample *ret);
