/* sample: one tick's Snapshot. Host figures from /proc, /sys and the cgroup
 * mount; guest membership and balloon figures from the refresh table; each
 * guest's RSS, KSM and NUMA figures from /proc and its cgroup, every tick. */
#pragma once

#include "density/refresh.h"
#include "density/snapshot.h"

/* Where the kernel's files are; tests point these at fixture trees. */
typedef struct Roots {
        const char *proc;        /* "/proc" */
        const char *sys;         /* "/sys" */
        const char *cgroup;      /* "/sys/fs/cgroup" */
        const char *libvirt_run; /* "/run/libvirt/qemu": NAME.pid files */
        size_t page_size;        /* bytes; 0: the running kernel's (tests of other page sizes set it) */
} Roots;

extern const Roots roots_default;

/* Host figures. Files a kernel lacks leave their part zero ("has_*" false);
 * only a missing meminfo is an error. Return: 0 or -errno. */
int sample_host(const Roots *roots, HostSample *ret);

/* A guest's qemu PID from libvirt's pid file. Return: 0, -ENOENT, -errno. */
int sample_guest_pid(const Roots *roots, const char *name, pid_t *ret);

/* Host-side RSS of a process (/proc/PID/statm). Return: 0, -ENOENT, -errno. */
int sample_pid_rss(const char *proc_root, pid_t pid, uint64_t *ret);

typedef struct Sampler Sampler;

int sampler_new(const Roots *roots, Sampler **ret);
Sampler *sampler_free(Sampler *s);

/**
 * sampler_tick() - build a snapshot.
 * @table: the latest hypervisor table (refresh.h)
 * @stale_after_usec: balloon figures whose guest-side last_update has not
 *     moved, or that the hypervisor has not answered, for this long are stale;
 *     a hypervisor call running longer than this counts as disconnected
 * @ret: filled on success; previous contents are not freed
 *
 * Guests whose qemu process is gone are left out (they stopped between the
 * hypervisor's answer and now). Return: 0 or -errno (host meminfo unreadable).
 */
int sampler_tick(Sampler *s, const GuestTable *table, uint64_t stale_after_usec, Snapshot *ret);
