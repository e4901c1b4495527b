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

/* Host figures; ret->page_size_bytes is roots->page_size, or the running
 * kernel's when that is 0. Files a kernel lacks leave their part zero
 * ("has_*" false). PSI, cgroup, KSM and NUMA files that exist but cannot be
 * read or parsed leave their part zero too, and ret->errors says why; only
 * an unreadable meminfo fails the call. Return: 0 or -errno. */
int sample_host(const Roots *roots, HostSample *ret);

/* A guest's qemu PID from libvirt's pid file (roots->libvirt_run/NAME.pid).
 * Return: 0, -ENOENT (no pid file), -EINVAL (its text is not a PID), or
 * -errno. */
int sample_guest_pid(const Roots *roots, const char *name, pid_t *ret);

/* Parse /proc/PID/statm: resident pages (the second field) times page_size
 * (bytes). Return: 0, -EINVAL (not two unsigned numbers, or page_size 0), or
 * -ERANGE. */
int statm_parse(const char *buf, size_t page_size, uint64_t *ret_rss_bytes);

/* Host-side RSS of a process (/proc/PID/statm), pages converted with
 * page_size. Return: 0, -ENOENT or -ESRCH (the process is gone), -EINVAL
 * (statm does not parse), or -errno. */
int sample_pid_rss(const char *proc_root, pid_t pid, size_t page_size, uint64_t *ret);

typedef struct Sampler Sampler;

/* Ticks between a failed memory cgroup lookup of a guest and the next try
 * (50 s at the default 5 s interval). */
#define SAMPLE_CGROUP_RETRY_TICKS 10

/* Guests whose slow-changing files (the pid file read again, ksm_stat,
 * numa_stat) one tick reads at most: beyond that many guests they are read
 * in turns, each guest's every sample_slow_every() ticks (RSS stays every
 * tick). */
#define SAMPLE_SLOW_PER_TICK 250

/* File descriptors of RLIMIT_NOFILE's soft limit the sampler leaves for
 * the rest of the daemon when it holds guests' statm files open. */
#define SAMPLE_FDS_KEPT_FREE 256

int sampler_new(const Roots *roots, Sampler **ret);
Sampler *sampler_free(Sampler *s);

/* What the sampler reads beyond the defaults: slow_per_tick (0:
 * SAMPLE_SLOW_PER_TICK) and whether it reads each qemu's oom_score_adj (only
 * a policy with a class that sets OomScoreAdjust= needs it; off by default). */
void sampler_configure(Sampler *s, size_t slow_per_tick, bool read_oom_score_adj);

/* In how many ticks every one of n_guests guests has its slow files read
 * once, slow_per_tick at a time: 1 up to slow_per_tick guests (0: 1). */
size_t sample_slow_every(size_t n_guests, size_t slow_per_tick);

/**
 * sampler_tick() - build a snapshot.
 * @table: the latest hypervisor table (refresh.h)
 * @stale_after_usec: balloon figures whose guest-side last_update has not
 *     moved, or that the hypervisor has not answered, for this long are stale;
 *     a hypervisor call running longer than this counts as disconnected
 * @ret: filled on success; previous contents are not freed
 *
 * Absent and unreadable are kept apart. A guest whose pid file does not
 * exist (while the run directory does) or whose qemu process is gone stopped
 * between the hypervisor's answer and now: it is left out. A guest with a
 * file that exists but cannot be read or parsed (pid file, statm, KSM, cgroup
 * or numa_stat files) is kept without those figures (has_rss false for the
 * pid file and statm), sample_error says which file and why, and
 * sample_error_new is true on the tick the error first appears or changes,
 * so the caller can log it once.
 *
 * What the sampler remembers per guest (when its stats clock last moved,
 * its memory cgroup, its last error) lives as long as the table lists the
 * guest, whether or not its files could be read this tick. A guest's memory
 * cgroup is looked up once per qemu process; a lookup that fails is tried
 * again SAMPLE_CGROUP_RETRY_TICKS ticks later (reading /proc/PID/cgroup takes
 * the kernel's cgroup_mutex, so not every tick), while a cgroup shared by
 * many guests (not the guest's own) stays ignored for the process's life.
 *
 * The RSS is read every tick, from /proc/PID/statm held open between ticks
 * (one pread: no path lookup). The slow files are read when the guest is
 * new, and then in turns (sample_slow_every(); ret->slow_reads_every_ticks
 * says in how many ticks each guest has had its turn); between its turns a
 * guest keeps the figures (and the error) of its last read. The pid file is
 * read again out of turn when the domain's id changes or statm says the
 * process is gone.
 *
 * Return: 0 or -errno (host meminfo unreadable).
 */
int sampler_tick(Sampler *s, const GuestTable *table, uint64_t stale_after_usec, Snapshot *ret);
