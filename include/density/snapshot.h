/* snapshot: the plain data one tick samples, host and guests. Every
 * controller and reporter is a function of this; tests build it literally.
 * All sizes are bytes; "has_*" flags say whether the kernel or hypervisor
 * provided a figure at all (older kernels lack files, guests lack drivers). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DENSITY_NAME_MAX   256 /* libvirt domain names can be long */
#define DENSITY_UUID_LEN   37  /* 36 characters + NUL */
#define DENSITY_MAX_NODES  64  /* NUMA nodes we report */
#define DENSITY_KSM_MAX    40  /* KSM sysfs files we keep */
#define DENSITY_CLASS_MAX  64  /* class names, 63 characters + NUL */

typedef struct MeminfoSample {
        uint64_t mem_total_bytes;
        uint64_t mem_available_bytes;
        uint64_t anon_bytes;
        uint64_t swap_total_bytes;
        uint64_t swap_free_bytes;
        bool has_oom_kill;
        uint64_t oom_kill_total;  /* /proc/vmstat oom_kill: every OOM kill on the host */
        /* The ZFS ARC (/proc/spl/kstat/zfs/arcstats), which MemAvailable
         * does not count though it shrinks to its minimum under pressure. */
        bool has_zfs_arc;
        uint64_t zfs_arc_bytes;      /* size */
        uint64_t zfs_arc_min_bytes;  /* c_min */
} MeminfoSample;

typedef struct PsiLine {
        double avg10;         /* percent of wall time, 10 s average */
        double avg60;
        double avg300;
        uint64_t total_usec;  /* cumulative stall time */
} PsiLine;

typedef struct PsiSample {
        bool has_some, has_full;
        PsiLine some, full;
} PsiSample;

typedef struct CgroupSample {
        int version;             /* 0: no VMs' cgroup found, 1 or 2 */
        char path[256];          /* below the cgroup root, e.g. "memory/machine" */
        bool has_limit;          /* false: unlimited */
        uint64_t limit_bytes;
        uint64_t usage_bytes;
        bool has_oom_kill;
        uint64_t oom_kill_total; /* OOM kills inside the VMs' cgroup */
} CgroupSample;

typedef struct KsmValue {
        char name[48];     /* sysfs file name, e.g. "pages_sharing" */
        bool numeric;
        int64_t value;     /* when numeric */
        char text[48];     /* otherwise: the selected word, e.g. advisor_mode "scan-time" */
} KsmValue;

typedef struct KsmSample {
        bool present;      /* /sys/kernel/mm/ksm exists */
        size_t n_values;
        KsmValue values[DENSITY_KSM_MAX];
        /* The ksmd kernel thread's CPU time (schedstat, or utime + stime),
         * and its share of one core since the sampler's previous tick. */
        bool has_ksmd_cpu;
        uint64_t ksmd_cpu_usec;
        bool has_ksmd_cpu_percent;
        double ksmd_cpu_percent;
} KsmSample;

typedef struct NumaNode {
        int id;
        uint64_t mem_total_bytes;
        uint64_t mem_free_bytes;
        char cpulist[128];
        /* nodeN/distance: to each node, in the order of nodes[] (both
         * ascending ids); 0 entries: the file is missing. */
        size_t n_distances;
        uint16_t distance[DENSITY_MAX_NODES];
} NumaNode;

typedef struct NumaSample {
        size_t n_nodes;
        NumaNode nodes[DENSITY_MAX_NODES];
} NumaSample;

/* Why a host file that exists could not be read (not "absent": a kernel
 * without PSI, KSM or NUMA, or no VMs' cgroup yet, gives 0 here). A part
 * with an error is left zero: unknown, not empty. */
typedef struct HostReadErrors {
        int psi;     /* 0 or -errno (-EACCES, -EINVAL for unparsable text, ...) */
        int cgroup;
        int ksm;
        int numa;
} HostReadErrors;

typedef struct HostSample {
        size_t page_size_bytes;  /* the host's page size: every page count is converted with it;
                                  * 0 only in a HostSample not made by sample_host() */
        HostReadErrors errors;
        MeminfoSample mem;
        PsiSample psi;
        CgroupSample cgroup;
        KsmSample ksm;
        NumaSample numa;
        /* Free space where managed saves go ([Shed] SaveDirectory=), read
         * by the daemon; has_save_free false: unknown. */
        bool has_save_free;
        uint64_t save_free_bytes;
} HostSample;

typedef struct GuestNodeBytes {
        int node;
        uint64_t bytes;
} GuestNodeBytes;

/* What a guest's domain XML says, read once per domain definition in the
 * hypervisor thread (domfacts.h). known = false: not read yet, or the read
 * failed (error says why); unknown facts never count as "free to act on". */
typedef struct DomainFacts {
        bool known;
        char error[128];              /* why the facts are unknown, "" if none */
        bool persistent;              /* defined, not transient: can be managed-saved */
        bool has_balloon;             /* a <memballoon> whose model is not 'none' */
        char balloon_model[32];       /* "virtio", "virtio-transitional", "none", "" (no element) */
        unsigned balloon_period_sec;  /* <stats period='N'/>; 0: the guest reports no stats */
        bool free_page_reporting;     /* <memballoon freePageReporting='on'> */
        bool autodeflate;             /* <memballoon autodeflate='on'>: deflate-on-oom */
        bool vcpu_pinned;             /* <vcpu cpuset=..> or <cputune><vcpupin>: pinned by hand */
        bool emulator_pinned;         /* <cputune><emulatorpin> */
        unsigned vcpus;               /* vCPUs it runs (<vcpu current=..>, else <vcpu>); 0: unknown */
        char vcpu_cpuset[128];        /* the CPUs its vCPUs are pinned to, when all alike; "" none or mixed */
        char emulator_cpuset[128];    /* <emulatorpin cpuset=..>, "" none */
        bool nosharepages;            /* <memoryBacking><nosharepages/>: KSM never merges its memory */
        bool numatune;                /* <numatune><memory ..>: memory placed by hand */
        char numatune_mode[16];       /* strict, preferred, interleave, restrictive */
        char numatune_nodeset[64];
        uint64_t max_memory_bytes;    /* <memory>: the most the guest can have */
        char metadata_class[DENSITY_CLASS_MAX]; /* <densityd:guest class='..'/>, "" if none */
} DomainFacts;

/* Where a guest's class came from. */
typedef enum ClassSource {
        CLASS_SOURCE_DEFAULT,   /* no metadata, no Match= fits: [Class default] */
        CLASS_SOURCE_MATCH,     /* the first [Class] whose Match= fits the name */
        CLASS_SOURCE_METADATA,  /* the domain's densityd metadata element */
        CLASS_SOURCE_METADATA_UNKNOWN, /* metadata names a class the policy lacks: Match=/default used */
} ClassSource;

typedef struct GuestSample {
        char name[DENSITY_NAME_MAX];
        char uuid[DENSITY_UUID_LEN];
        int id;                       /* libvirt domain id */
        pid_t pid;                    /* qemu process */

        bool has_rss;                 /* false: the pid file or statm exists but could not be read (sample_error) */
        uint64_t rss_bytes;           /* host-side, /proc/PID/statm */
        bool has_oom_score_adj;
        int oom_score_adj;            /* its qemu's /proc/PID/oom_score_adj, -1000..1000 */
        /* The first file of this guest that exists but could not be read
         * or parsed, and why ("cannot read /run/libvirt/qemu/a.pid:
         * Permission denied"), "" if none. Its figures are left out. */
        char sample_error[256];
        bool sample_error_new;        /* sample_error is set and was not this guest's error on the tick before */

        bool has_balloon;             /* balloon figures below are from the guest */
        uint64_t balloon_actual_bytes;
        uint64_t balloon_maximum_bytes;
        bool has_unused, has_available, has_usable, has_disk_caches;
        uint64_t unused_bytes;
        uint64_t available_bytes;
        uint64_t usable_bytes;
        uint64_t disk_caches_bytes;
        bool has_swap_in, has_major_faults;
        uint64_t swap_in_bytes;       /* swapped in since the guest booted (a counter) */
        uint64_t major_faults;        /* major page faults since the guest booted (a counter) */
        int64_t balloon_last_update;  /* guest clock, seconds; 0 unknown */
        uint64_t stats_age_usec;      /* since the hypervisor last answered for it */
        bool stale;                   /* stats stopped updating: do not trust them */

        bool has_ksm;
        uint64_t ksm_merging_bytes;   /* ksm_merging_pages * page size */
        bool has_ksm_profit;
        int64_t ksm_profit_bytes;     /* ksm_process_profit, may be negative */

        size_t n_nodes;               /* per-NUMA-node memory, from cgroup numa_stat */
        GuestNodeBytes nodes[DENSITY_MAX_NODES];

        DomainFacts facts;            /* from the domain XML */

        /* Judged after sampling, not sampled (so a replay with another
         * policy judges again): the guest's class under the policy in
         * force, and the kinds of action in flight for it (bit 1 << kind,
         * plan.h), so planners do not plan them again. */
        char class_name[DENSITY_CLASS_MAX];
        ClassSource class_source;
        uint32_t actions_in_flight;
} GuestSample;

typedef struct Snapshot {
        uint64_t timestamp_usec;      /* CLOCK_REALTIME when sampled */
        uint64_t sample_duration_usec;
        HostSample host;
        bool hypervisor_connected;
        char hypervisor_error[256];   /* last connection error, "" if none */
        uint64_t hypervisor_round_running_usec; /* how long the bulk stats round in progress has run, 0 if none */
        /* The daemon's own cost (set by the daemon, not sampled): its
         * previous tick's CPU time in the event loop (sample, plan, apply,
         * textfile) and that tick's textfile write, wall time; 0 unknown. */
        uint64_t tick_cpu_usec;
        uint64_t textfile_write_usec;
        size_t slow_reads_every_ticks; /* each guest's ksm_stat, numa_stat and pid file are read every so many ticks (sample.h); 0 unknown */
        size_t n_guests;
        GuestSample *guests;          /* sorted by rss_bytes, largest first */
} Snapshot;

/* Free the guest array and reset; accepts NULL. */
void snapshot_clear(Snapshot *s);

/* The guest with this uuid in s, or NULL. */
const GuestSample *snapshot_guest_by_uuid(const Snapshot *s, const char *uuid);

/* Bytes KSM saves: (pages_sharing + ksm_zero_pages) * h->page_size_bytes
 * (ksm_zero_pages: empty pages merged with the zero page under
 * use_zero_pages, 0 on kernels without the file); 0 if KSM is absent,
 * and 0 when h->page_size_bytes is 0 (a HostSample not made by
 * sample_host(): a page count without a page size is no figure in bytes, and
 * counting KSM as saving nothing errs on the safe side). */
uint64_t snapshot_ksm_saved_bytes(const HostSample *h);

/* The KSM value of a file, numeric or not, or NULL. */
const KsmValue *ksm_sample_find(const KsmSample *k, const char *name);

/* Look up a numeric KSM value by file name. Return: 0 or -ENOENT. */
int ksm_sample_get(const KsmSample *k, const char *name, int64_t *ret);

/* Pages ksmd may scan per second as set: pages_to_scan per sleep_millisecs,
 * 0 while run is not 1. Return: 0, or -ENOENT (a knob is missing). */
int ksm_scan_rate(const KsmSample *k, double *ret_pages_per_sec);
