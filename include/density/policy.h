/* policy: the policy file (POLICY_DEFAULT_PATH in config.h: sysconfdir's
 * densityd/policy.conf, /etc/densityd/policy.conf when packaged), INI-style sections.
 * Keys are table-driven; every error is reported as "file:line: message"
 * and parsing goes on, so one run shows all of them. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define DENSITY_POLICY_CLASS_NAME_MAX 64 /* = DENSITY_CLASS_MAX in snapshot.h */

#define POLICY_CLASSES_MAX 32      /* [Class NAME] sections, the built-in default included */
#define POLICY_MATCH_MAX 16        /* globs in one Match= */
#define POLICY_GLOB_MAX 128        /* bytes for one glob, NUL included: 127 characters */
#define POLICY_DEFAULT_CLASS "default"

/* A size, or where a key allows it, a percent of a base the key names
 * (Floor=: the guest's maximum memory). */
typedef struct PolicySize {
        bool is_percent;
        uint64_t bytes;    /* when !is_percent */
        double percent;    /* when is_percent: 0..100 */
} PolicySize;

/* percent (0..100) of base_bytes, rounded to the nearest byte. */
uint64_t policy_percent_bytes(uint64_t base_bytes, double percent);

/* The size in bytes against base_bytes (used only for a percent; rounded
 * to the nearest byte). */
uint64_t policy_size_bytes(const PolicySize *s, uint64_t base_bytes);

/* What a class says may happen to its guests when memory runs out. */
typedef enum ShedMode {
        SHED_NEVER,    /* never set aside */
        SHED_SAVE,     /* managed save (state kept), restored later */
        SHED_DESTROY,  /* destroyed: state lost; only where the operator says so */
        _SHED_MODE_MAX,
} ShedMode;

/* "never", "save", "destroy"; "?" for anything else. */
const char *shed_mode_name(ShedMode m);
/* The mode a word names (as shed_mode_name() writes it). Return: 0 or -EINVAL. */
int shed_mode_from_name(const char *s, ShedMode *ret);

#define KSM_PAGES_TO_SCAN_MAX 1000000u              /* PagesToScan*= upper bound */
#define KSM_SLEEP_MAX_USEC (60 * UINT64_C(1000000)) /* Sleep*= upper bound: 60 s */

/* [Ksm] Mode=: how densityd drives ksmd. */
typedef enum KsmMode {
        KSM_MODE_AUTO,     /* scan as fast as merging pays, within CpuBudget=; idle or stop when it does not */
        KSM_MODE_FIXED,    /* PagesToScan= and Sleep= whenever merging is wanted */
        KSM_MODE_ADVISOR,  /* the kernel's advisor (advisor_mode=scan-time, 6.8+); auto where it is absent */
        KSM_MODE_OFF,      /* never write a KSM knob */
        _KSM_MODE_MAX,
} KsmMode;

/* "auto", "fixed", "advisor", "off"; "?" for anything else. */
const char *ksm_mode_name(KsmMode m);

/* [Ksm]: the KSM controller. Percents of capacity: the memory guests may
 * use (the host's, or the VMs' cgroup budget when one is set). */
typedef struct PolicyKsm {
        KsmMode mode;                     /* Mode= (default auto) */
        double cpu_budget_percent;        /* CpuBudget=: ksmd's most, of one core, while merging pays */
        double idle_cpu_percent;          /* IdleCpu=: ksmd's most while it does not */
        unsigned pages_to_scan_min;       /* PagesToScanMin=/Max=: auto's bounds */
        unsigned pages_to_scan_max;
        uint64_t sleep_min_usec;          /* SleepMin=/SleepMax=: auto's bounds, whole milliseconds */
        uint64_t sleep_max_usec;
        unsigned pages_to_scan;           /* PagesToScan=, Sleep=: fixed mode */
        uint64_t sleep_usec;
        double start_at_percent;          /* StartAt=: guests' committed memory, percent of capacity */
        double stop_at_percent;           /* StopAt= */
        /* Start-up only knobs; unset: left as found. */
        bool has_use_zero_pages;
        bool use_zero_pages;              /* UseZeroPages= */
        bool has_max_page_sharing;
        unsigned max_page_sharing;        /* MaxPageSharing= */
        bool has_merge_across_nodes;
        bool merge_across_nodes;          /* MergeAcrossNodes= */
        bool restore_on_exit;             /* RestoreOnExit=: knobs back as found on a clean stop */
} PolicyKsm;

/* [Shed]: setting guests aside before the kernel's OOM killer acts.
 * Sizes may be a percent of the host's MemTotal. */
typedef struct PolicyShed {
        bool enable;                        /* Enable= (default yes) */
        PolicySize mem_available_below;     /* MemAvailableBelow=: shed under this (default 5%) */
        double cgroup_usage_above_percent;  /* CgroupUsageAbove=: shed over this share of the VMs' cgroup limit (95%) */
        double psi_full_above_percent;      /* PsiFullAbove=: shed while memory "full" stalls exceed this (10%) */
        PolicySize restore_above;           /* RestoreAbove=: restore only if MemAvailable stays above (20%) */
        double cgroup_restore_below_percent; /* CgroupRestoreBelow=: ... and the cgroup's usage below (80%) */
        uint64_t restore_hold_usec;         /* RestoreHold=: memory roomy this long before a restore (60 s) */
        uint64_t cooldown_usec;             /* Cooldown=: after a shed, before the next (10 s) */
        uint64_t save_timeout_usec;         /* SaveTimeout=: a managed save that runs longer is aborted (120 s) */
        char save_directory[4096];          /* SaveDirectory=: where libvirt writes managed saves (room check) */
} PolicyShed;

/* [Balloon] StepMax=: the most a balloon moves in one tick, a size, a
 * percent of the guest's maximum memory, or both (the smaller counts). */
typedef struct PolicyStep {
        bool has_bytes;
        uint64_t bytes;
        bool has_percent;
        double percent;
} PolicyStep;

/* The step in bytes for a guest whose maximum is base_bytes; 0 when
 * neither is set. */
uint64_t policy_step_bytes(const PolicyStep *s, uint64_t base_bytes);

/* "64M", "10%", "10% 64M" (either order, white space between). Return: 0,
 * -EINVAL (not of the type: err says what is wrong), -ERANGE (a percent
 * outside 0..100, or 0). */
int policy_parse_step(const char *s, PolicyStep *ret);

/* [Balloon]: the balloon controller. Capacity is the VMs' cgroup limit
 * when one is set, else the host's memory. */
typedef struct PolicyBalloon {
        bool enable;                        /* Enable= (default yes) */
        double host_target_percent;         /* HostTarget=: keep the guests' use under this share of capacity (80%) */
        double guest_free_target_percent;   /* GuestFreeTarget=: usable inside a guest, share of its maximum (20%) */
        PolicyStep step_max;                /* StepMax=: per guest and tick (10% 128M) */
        double dead_band_percent;           /* DeadBand=: of capacity (host) and of a guest's maximum (2%) */
} PolicyBalloon;

/* [Numa] MemoryMode=: how a guest's memory is bound to its node. */
typedef enum NumaMemoryMode {
        NUMA_MEMORY_PREFERRED,  /* from its node while it has room, else elsewhere (no OOM kill for a full node) */
        NUMA_MEMORY_STRICT,     /* from its node only */
        _NUMA_MEMORY_MODE_MAX,
} NumaMemoryMode;

/* "preferred", "strict". */
const char *numa_memory_mode_name(NumaMemoryMode m);

/* [Numa]: the NUMA controller. */
typedef struct PolicyNuma {
        bool enable;                   /* Enable= (default yes) */
        bool single_node;              /* SingleNode=: place guests on a one-node host too (default no) */
        unsigned max_moves_per_tick;   /* MaxMovesPerTick= (1) */
        uint64_t dwell_usec;           /* Dwell=: a guest stays where it was placed at least this long (10 min) */
        double balance_tolerance_percent; /* BalanceTolerance=: free memory may differ this much between nodes (10%) */
        NumaMemoryMode memory_mode;    /* MemoryMode= (preferred) */
} PolicyNuma;

/* [Class NAME]: what the controllers need to know per guest. */
typedef struct PolicyClass {
        char name[DENSITY_POLICY_CLASS_NAME_MAX];
        unsigned line;                  /* where its section starts; 0: built in */
        size_t n_match;                 /* Match=: libvirt name globs (fnmatch(3), no flags); 0: the
                                         * class is reached only through the domain's metadata
                                         * (or, for "default", by every guest no other class takes) */
        char match[POLICY_MATCH_MAX][POLICY_GLOB_MAX];
        unsigned priority;              /* Priority= 0..100: higher is kept longer (default 50) */
        PolicySize floor;               /* Floor=: balloon never below (default 50% of the maximum) */
        unsigned shares;                /* Shares= 0..50000: weight when memory is handed out (default 1000) */
        ShedMode shed;                  /* Shed= (default save) */
        bool ksm;                       /* Ksm=: may its memory be merged (default yes) */
        char ksm_trust_domain[DENSITY_POLICY_CLASS_NAME_MAX]; /* KsmTrustDomain= (default "default") */
        bool has_oom_score_adj;         /* OomScoreAdjust= set: its guests' qemu get it */
        int oom_score_adj;              /* -1000..1000: lower is killed later by the kernel's OOM killer */
        bool numa;                      /* Numa=: may the NUMA controller place its guests (default yes) */
} PolicyClass;

typedef struct Policy {
        /* [Daemon] */
        uint64_t interval_usec;     /* Interval=: tick period */
        uint64_t stale_after_usec;  /* StaleAfter=: guest stats older than this are not trusted */
        char control_socket[108];   /* ControlSocket=: sun_path holds 108 bytes */
        char textfile_directory[4096]; /* TextfileDirectory=: node_exporter's textfile collector */
        char libvirt_uri[512];      /* LibvirtURI= */
        bool dry_run;               /* DryRun=: plan and journal every action as "would", change nothing */
        char state_directory[4096]; /* StateDirectory=: state that survives a restart */
        uint64_t action_timeout_usec; /* ActionTimeout=: a hypervisor action not done by then is reported timed out */
        uint64_t record_bytes;      /* Record=: the recording's cap (StateDirectory=/record.jsonl and .1); 0: off */

        PolicyKsm ksm;              /* [Ksm] */
        PolicyShed shed;            /* [Shed] */
        PolicyBalloon balloon;      /* [Balloon] */
        PolicyNuma numa;            /* [Numa] */

        /* [Class NAME] sections; classes[0] is always "default" (built in,
         * its keys overridable by a [Class default] section), the others in
         * file order, which is the order Match= is tried in. Every class
         * starts from the built-in defaults, not from [Class default]: a
         * section says all there is to know about its guests, and changing
         * the default never changes another class (a [Class default]
         * Shed=destroy must not make every class destroyable). Entries from
         * n_classes on are zero. */
        size_t n_classes;
        PolicyClass classes[POLICY_CLASSES_MAX];
} Policy;

/* The defaults: what an empty file means. The whole struct is cleared
 * first, padding and unused classes included. */
void policy_defaults(Policy *ret);

/* Errors collected while parsing, each "file:line: message". */
typedef struct PolicyErrors {
        char **lines;
        size_t n;
} PolicyErrors;

void policy_errors_clear(PolicyErrors *e);

/* Print every error line to f (one per line, as they are: each names the
 * file and line), then clear e. For the command-line tools. */
void policy_errors_print(PolicyErrors *e, FILE *f);

/**
 * policy_parse() - parse policy text.
 * @buf: the file's contents (NUL-terminated)
 * @filename: used in error messages
 * @ret: the parsed policy; written only when there are no errors
 * @errors: every error found is appended
 *
 * Return: 0 when the text is valid, the number of errors (> 0), or -ENOMEM.
 */
int policy_parse(const char *buf, const char *filename, Policy *ret, PolicyErrors *errors);

/* Read and parse a file. A file that cannot be read is one error
 * ("file: cannot read: ..."). Return: as policy_parse(). */
int policy_load(const char *path, Policy *ret, PolicyErrors *errors);

/* Format a duration in usec as the policy writes it ("5s", "500ms"). */
void policy_format_duration(uint64_t usec, char *buf, size_t size);

/* Format bytes as the policy writes a size: the largest of T, G, M, K that
 * divides it exactly ("16T", "512M"), else plain bytes ("1000"). */
void policy_format_size(uint64_t bytes, char *buf, size_t size);

/* The value parsers behind the keys, one per value type; densityd-policy(5)
 * describes each. Each takes the whole value (inih has already removed the
 * white space around it) and checks only what the type itself allows; the
 * bounds of a particular key are the caller's. A negative number is of the
 * type but out of its range.
 *
 * Return: 0; -EINVAL when the text is not of the type; -ERANGE when it is,
 * but outside what the type can hold. *ret is written only on success. */

/* "5", "1.5s", "500ms", "2min", "1h", "250us" (a plain number is seconds),
 * rounded to the nearest microsecond; at most 10^15 us (about 31 years). */
int policy_parse_duration(const char *s, uint64_t *ret_usec);

/* "1048576" (bytes), "512M", "1.5G", "64KiB": K, M, G, T (or KiB, MiB, GiB,
 * TiB) are powers of 1024; a fraction needs a unit and is rounded to the
 * nearest byte. Also "25%", "12.5%" (0..100): is_percent is set, and the
 * caller refuses it where the key has no base for it. */
int policy_parse_size(const char *s, PolicySize *ret);

/* "25%", "12.5%", "0%", "100%": the sign is required. 0..100. */
int policy_parse_percent(const char *s, double *ret);

/* A decimal integer, optionally negative: "-3", "0", "100". -ERANGE: it
 * does not fit int64_t, or lies outside min..max. */
int policy_parse_integer(const char *s, int64_t min, int64_t max, int64_t *ret);

/* yes, no, true, false, on, off, 1, 0 (lower case). */
int policy_parse_bool(const char *s, bool *ret);

/* A class or trust domain name: 1..63 characters of A-Z a-z 0-9 _ . - */
bool policy_name_valid(const char *s);

/* The class named name (case-sensitive), or NULL. */
const PolicyClass *policy_class_find(const Policy *p, const char *name);
