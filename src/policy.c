/* policy: see include/density/policy.h
 *
 * inih does the INI syntax. It does not pass line numbers to the handler in
 * Debian's build, so we feed it through our own line reader, which counts
 * lines (inih calls the handler for a line before it reads the next one)
 * and reports lines inih would silently reject or truncate. */
#include "density/policy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "density/util.h"

typedef enum KeyType {
        KEY_DURATION, /* "5", "5s", "500ms", "2min": uint64_t usec, bounds in usec */
        KEY_SIZE,     /* "512M", "1.5G", "1048576", and "25%" where .percent_ok: PolicySize */
        KEY_SIZE_OFF, /* a size in bytes as KEY_SIZE without percent, or "no"/"off"/"0": uint64_t, 0 = off */
        KEY_PERCENT,  /* "25%": double, bounds in whole percent */
        KEY_INTEGER,  /* decimal: unsigned, bounds as they are */
        KEY_BOOL,     /* bool */
        KEY_ENUM,     /* one of .words, stored as its index: an enum (int) */
        KEY_NAME,     /* 1..63 of [A-Za-z0-9_.-]: char[] */
        KEY_GLOBS,    /* white-space separated fnmatch(3) globs: Match= only */
        KEY_PATH,     /* absolute path: char[] */
        KEY_STRING,   /* char[] */
        KEY_STEP,     /* a size, a percent, or both: PolicyStep */
        KEY_SIGNED,   /* decimal, may be negative: int, bounds in .smin/.smax */
} KeyType;

/* Where a key lives: [Daemon] keys in Policy, [Class NAME] keys in the
 * PolicyClass of the section. */
typedef enum SectionKind {
        SECTION_NONE,   /* before any header, or after a bad one */
        SECTION_DAEMON,
        SECTION_KSM,
        SECTION_SHED,
        SECTION_BALLOON,
        SECTION_NUMA,
        SECTION_CLASS,
} SectionKind;

typedef struct KeySpec {
        SectionKind section;
        const char *key;
        KeyType type;
        size_t offset;             /* in Policy or PolicyClass, by section */
        size_t size;               /* of the field */
        uint64_t min, max;         /* durations: usec; sizes: bytes; integers; percents */
        int64_t smin, smax;        /* KEY_SIGNED */
        bool percent_ok;           /* sizes: "25%" of the base the key names */
        bool not_in_default;       /* refused in [Class default] */
        bool whole_msec;           /* durations: a whole number of milliseconds (sysfs takes ms) */
        const char *const *words;  /* enums: the words, in the enum's order ... */
        size_t n_words;            /* ... and how many */
} KeySpec;

/* offsetof() and sizeof() of a field, checked at build time to be of the
 * C type the key's parser stores: the table writes through offsets. */
#define FIELD(T, f, ctype)                                                                           \
        .offset = offsetof(T, f),                                                                    \
        .size = sizeof(((T *) 0)->f) +                                                               \
                0 * sizeof(struct {                                                                  \
                        _Static_assert(__builtin_types_compatible_p(__typeof__(((T *) 0)->f), ctype), \
                                       #T "." #f " is not " #ctype);                                 \
                        int dummy;                                                                   \
                })
#define DAEMON(f, ctype) .section = SECTION_DAEMON, FIELD(Policy, f, ctype)
#define KSM(f, ctype) .section = SECTION_KSM, FIELD(Policy, ksm.f, ctype)
#define SHED(f, ctype) .section = SECTION_SHED, FIELD(Policy, shed.f, ctype)
#define BALLOON(f, ctype) .section = SECTION_BALLOON, FIELD(Policy, balloon.f, ctype)
#define NUMA(f, ctype) .section = SECTION_NUMA, FIELD(Policy, numa.f, ctype)
#define CLASS(f, ctype) .section = SECTION_CLASS, FIELD(PolicyClass, f, ctype)

#define KIB UINT64_C(1024)
#define TIB (KIB * KIB * KIB * KIB)

static const char *const shed_mode_names[_SHED_MODE_MAX] = {
        [SHED_NEVER] = "never",
        [SHED_SAVE] = "save",
        [SHED_DESTROY] = "destroy",
};

static const char *const numa_memory_mode_names[_NUMA_MEMORY_MODE_MAX] = {
        [NUMA_MEMORY_PREFERRED] = "preferred",
        [NUMA_MEMORY_STRICT] = "strict",
};

static const char *const ksm_mode_names[_KSM_MODE_MAX] = {
        [KSM_MODE_AUTO] = "auto",
        [KSM_MODE_FIXED] = "fixed",
        [KSM_MODE_ADVISOR] = "advisor",
        [KSM_MODE_OFF] = "off",
};

/* KEY_ENUM stores the index as an int. */
_Static_assert(sizeof(ShedMode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(KsmMode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(NumaMemoryMode) == sizeof(int), "enums are stored as int");

static const KeySpec policy_keys[] = {
        { DAEMON(interval_usec, uint64_t), .key = "Interval", .type = KEY_DURATION,
          .min = 100 * USEC_PER_MSEC, .max = 3600 * USEC_PER_SEC },
        { DAEMON(stale_after_usec, uint64_t), .key = "StaleAfter", .type = KEY_DURATION,
          .min = 1 * USEC_PER_SEC, .max = 86400 * USEC_PER_SEC },
        { DAEMON(control_socket, char[108]), .key = "ControlSocket", .type = KEY_PATH },
        { DAEMON(textfile_directory, char[4096]), .key = "TextfileDirectory", .type = KEY_PATH },
        { DAEMON(libvirt_uri, char[512]), .key = "LibvirtURI", .type = KEY_STRING },
        { DAEMON(dry_run, bool), .key = "DryRun", .type = KEY_BOOL },
        { DAEMON(state_directory, char[4096]), .key = "StateDirectory", .type = KEY_PATH },
        { DAEMON(action_timeout_usec, uint64_t), .key = "ActionTimeout", .type = KEY_DURATION,
          .min = 1 * USEC_PER_SEC, .max = 3600 * USEC_PER_SEC },
        { DAEMON(record_bytes, uint64_t), .key = "Record", .type = KEY_SIZE_OFF, .min = 1024 * 1024,
          .max = 16 * TIB },

        { KSM(mode, KsmMode), .key = "Mode", .type = KEY_ENUM, .words = ksm_mode_names, .n_words = _KSM_MODE_MAX },
        { KSM(cpu_budget_percent, double), .key = "CpuBudget", .type = KEY_PERCENT, .min = 1, .max = 100 },
        { KSM(idle_cpu_percent, double), .key = "IdleCpu", .type = KEY_PERCENT, .min = 0, .max = 100 },
        { KSM(pages_to_scan_min, unsigned), .key = "PagesToScanMin", .type = KEY_INTEGER, .min = 1,
          .max = KSM_PAGES_TO_SCAN_MAX },
        { KSM(pages_to_scan_max, unsigned), .key = "PagesToScanMax", .type = KEY_INTEGER, .min = 1,
          .max = KSM_PAGES_TO_SCAN_MAX },
        { KSM(sleep_min_usec, uint64_t), .key = "SleepMin", .type = KEY_DURATION, .min = USEC_PER_MSEC,
          .max = KSM_SLEEP_MAX_USEC, .whole_msec = true },
        { KSM(sleep_max_usec, uint64_t), .key = "SleepMax", .type = KEY_DURATION, .min = USEC_PER_MSEC,
          .max = KSM_SLEEP_MAX_USEC, .whole_msec = true },
        { KSM(pages_to_scan, unsigned), .key = "PagesToScan", .type = KEY_INTEGER, .min = 1,
          .max = KSM_PAGES_TO_SCAN_MAX },
        { KSM(sleep_usec, uint64_t), .key = "Sleep", .type = KEY_DURATION, .min = USEC_PER_MSEC,
          .max = KSM_SLEEP_MAX_USEC, .whole_msec = true },
        { KSM(start_at_percent, double), .key = "StartAt", .type = KEY_PERCENT, .min = 0, .max = 100 },
        { KSM(stop_at_percent, double), .key = "StopAt", .type = KEY_PERCENT, .min = 0, .max = 100 },
        { KSM(use_zero_pages, bool), .key = "UseZeroPages", .type = KEY_BOOL },
        { KSM(max_page_sharing, unsigned), .key = "MaxPageSharing", .type = KEY_INTEGER, .min = 2, .max = 1 << 20 },
        { KSM(merge_across_nodes, bool), .key = "MergeAcrossNodes", .type = KEY_BOOL },
        { KSM(restore_on_exit, bool), .key = "RestoreOnExit", .type = KEY_BOOL },

        { SHED(enable, bool), .key = "Enable", .type = KEY_BOOL },
        { SHED(mem_available_below, PolicySize), .key = "MemAvailableBelow", .type = KEY_SIZE, .min = 0,
          .max = 16 * TIB, .percent_ok = true },
        { SHED(cgroup_usage_above_percent, double), .key = "CgroupUsageAbove", .type = KEY_PERCENT, .min = 1,
          .max = 100 },
        { SHED(psi_full_above_percent, double), .key = "PsiFullAbove", .type = KEY_PERCENT, .min = 1, .max = 100 },
        { SHED(restore_above, PolicySize), .key = "RestoreAbove", .type = KEY_SIZE, .min = 0, .max = 16 * TIB,
          .percent_ok = true },
        { SHED(cgroup_restore_below_percent, double), .key = "CgroupRestoreBelow", .type = KEY_PERCENT, .min = 0,
          .max = 100 },
        { SHED(restore_hold_usec, uint64_t), .key = "RestoreHold", .type = KEY_DURATION, .min = 0,
          .max = 86400 * USEC_PER_SEC },
        { SHED(cooldown_usec, uint64_t), .key = "Cooldown", .type = KEY_DURATION, .min = 0, .max = 3600 * USEC_PER_SEC },
        { SHED(save_timeout_usec, uint64_t), .key = "SaveTimeout", .type = KEY_DURATION, .min = 1 * USEC_PER_SEC,
          .max = 86400 * USEC_PER_SEC },
        { SHED(save_directory, char[4096]), .key = "SaveDirectory", .type = KEY_PATH },

        { BALLOON(enable, bool), .key = "Enable", .type = KEY_BOOL },
        { BALLOON(host_target_percent, double), .key = "HostTarget", .type = KEY_PERCENT, .min = 10, .max = 100 },
        { BALLOON(guest_free_target_percent, double), .key = "GuestFreeTarget", .type = KEY_PERCENT, .min = 5,
          .max = 90 },
        { BALLOON(step_max, PolicyStep), .key = "StepMax", .type = KEY_STEP, .min = 1024 * 1024, .max = 16 * TIB },
        { BALLOON(dead_band_percent, double), .key = "DeadBand", .type = KEY_PERCENT, .min = 0, .max = 20 },

        { NUMA(enable, bool), .key = "Enable", .type = KEY_BOOL },
        { NUMA(single_node, bool), .key = "SingleNode", .type = KEY_BOOL },
        { NUMA(max_moves_per_tick, unsigned), .key = "MaxMovesPerTick", .type = KEY_INTEGER, .min = 0, .max = 1000 },
        { NUMA(dwell_usec, uint64_t), .key = "Dwell", .type = KEY_DURATION, .min = 0, .max = 86400 * USEC_PER_SEC },
        { NUMA(balance_tolerance_percent, double), .key = "BalanceTolerance", .type = KEY_PERCENT, .min = 1,
          .max = 100 },
        { NUMA(memory_mode, NumaMemoryMode), .key = "MemoryMode", .type = KEY_ENUM, .words = numa_memory_mode_names,
          .n_words = _NUMA_MEMORY_MODE_MAX },

        { CLASS(match, char[POLICY_MATCH_MAX][POLICY_GLOB_MAX]), .key = "Match", .type = KEY_GLOBS,
          .not_in_default = true },
        { CLASS(priority, unsigned), .key = "Priority", .type = KEY_INTEGER, .min = 0, .max = 100 },
        { CLASS(floor, PolicySize), .key = "Floor", .type = KEY_SIZE, .min = 0, .max = 16 * TIB,
          .percent_ok = true },
        { CLASS(shares, unsigned), .key = "Shares", .type = KEY_INTEGER, .min = 0, .max = 50000 },
        { CLASS(shed, ShedMode), .key = "Shed", .type = KEY_ENUM, .words = shed_mode_names,
          .n_words = _SHED_MODE_MAX },
        { CLASS(ksm, bool), .key = "Ksm", .type = KEY_BOOL },
        { CLASS(ksm_trust_domain, char[DENSITY_POLICY_CLASS_NAME_MAX]), .key = "KsmTrustDomain",
          .type = KEY_NAME },
        { CLASS(oom_score_adj, int), .key = "OomScoreAdjust", .type = KEY_SIGNED, .smin = -1000, .smax = 1000 },
        { CLASS(numa, bool), .key = "Numa", .type = KEY_BOOL },
};

/* Every class starts from these, [Class default] included: a class section
 * says all there is to know about its guests (see densityd-policy(5)). The
 * whole struct is cleared first, so policies compare with memcmp(). */
static void policy_class_defaults(PolicyClass *c, const char *name) {
        memset(c, 0, sizeof(*c));
        c->priority = 50;
        c->floor.is_percent = true; /* field by field: the padding stays zero (memcmp) */
        c->floor.percent = 50.0;
        c->shares = 1000;
        c->shed = SHED_SAVE;
        c->ksm = true;
        c->numa = true;
        strscpy(c->name, sizeof(c->name), name);
        strscpy(c->ksm_trust_domain, sizeof(c->ksm_trust_domain), POLICY_DEFAULT_CLASS);
}

void policy_defaults(Policy *ret) {
        memset(ret, 0, sizeof(*ret));
        ret->interval_usec = 5 * USEC_PER_SEC;
        ret->stale_after_usec = 30 * USEC_PER_SEC;
        ret->action_timeout_usec = 120 * USEC_PER_SEC;
        ret->dry_run = false;
        strscpy(ret->control_socket, sizeof(ret->control_socket), "/run/densityd/densityd.sock");
        strscpy(ret->textfile_directory, sizeof(ret->textfile_directory), "/var/lib/prometheus/node-exporter");
        strscpy(ret->libvirt_uri, sizeof(ret->libvirt_uri), "qemu:///system");
        strscpy(ret->state_directory, sizeof(ret->state_directory), "/var/lib/densityd");
        ret->record_bytes = 0; /* off: it costs CPU per guest on every tick */
        /* Field by field, not compound literals: the struct was cleared
         * with its padding, and a policy read from a file compares equal
         * (memcmp) only if the padding stays zero. */
        PolicyKsm *k = &ret->ksm;
        k->mode = KSM_MODE_AUTO;
        k->cpu_budget_percent = 50.0;
        k->idle_cpu_percent = 0.1;
        k->pages_to_scan_min = 100;
        k->pages_to_scan_max = 5000;
        k->sleep_min_usec = 10 * USEC_PER_MSEC;
        k->sleep_max_usec = 1000 * USEC_PER_MSEC;
        k->pages_to_scan = 100;
        k->sleep_usec = 20 * USEC_PER_MSEC;
        k->start_at_percent = 40.0;
        k->stop_at_percent = 30.0;
        k->restore_on_exit = true;
        PolicyShed *sh = &ret->shed;
        sh->enable = true;
        sh->mem_available_below.is_percent = true;
        sh->mem_available_below.percent = 5.0;
        sh->cgroup_usage_above_percent = 95.0;
        sh->psi_full_above_percent = 10.0;
        sh->restore_above.is_percent = true;
        sh->restore_above.percent = 20.0;
        sh->cgroup_restore_below_percent = 80.0;
        sh->restore_hold_usec = 60 * USEC_PER_SEC;
        sh->cooldown_usec = 10 * USEC_PER_SEC;
        sh->save_timeout_usec = 120 * USEC_PER_SEC;
        strscpy(ret->shed.save_directory, sizeof(ret->shed.save_directory), "/var/lib/libvirt/qemu/save");
        PolicyBalloon *b = &ret->balloon;
        b->enable = true;
        b->host_target_percent = 80.0;
        b->guest_free_target_percent = 20.0;
        b->step_max.has_bytes = true;
        b->step_max.bytes = 128 * 1024 * 1024;
        b->step_max.has_percent = true;
        b->step_max.percent = 10.0;
        b->dead_band_percent = 2.0;
        PolicyNuma *n = &ret->numa;
        n->enable = true;
        n->single_node = false;
        n->max_moves_per_tick = 1;
        n->dwell_usec = 600 * USEC_PER_SEC;
        n->balance_tolerance_percent = 10.0;
        n->memory_mode = NUMA_MEMORY_PREFERRED;
        ret->n_classes = 1;
        policy_class_defaults(&ret->classes[0], POLICY_DEFAULT_CLASS);
}

uint64_t policy_size_bytes(const PolicySize *s, uint64_t base_bytes) {
        return s->is_percent ? policy_percent_bytes(base_bytes, s->percent) : s->bytes;
}

uint64_t policy_percent_bytes(uint64_t base_bytes, double percent) {
        double v = (double) base_bytes * percent / 100.0 + 0.5;
        /* 100% of nearly 2^64 rounds up to 2^64 as a double: casting that
         * (or a NaN) is undefined. */
        if (!(v >= 0.0))
                return 0;
        if (v >= 18446744073709551616.0)
                return UINT64_MAX;
        return (uint64_t) v;
}

uint64_t policy_step_bytes(const PolicyStep *s, uint64_t base_bytes) {
        uint64_t b = s->has_bytes ? s->bytes : UINT64_MAX;
        if (s->has_percent) {
                uint64_t v = policy_percent_bytes(base_bytes, s->percent);
                if (v < b)
                        b = v;
        }
        return b == UINT64_MAX ? 0 : b;
}

int policy_parse_step(const char *s, PolicyStep *ret) {
        PolicyStep step;
        memset(&step, 0, sizeof(step)); /* padding zero: policies compare with memcmp() */
        size_t n = 0;
        for (const char *p = s + strspn(s, " \t"); *p; p += strspn(p, " \t")) {
                size_t len = strcspn(p, " \t");
                char word[64];
                if (len >= sizeof(word) || ++n > 2)
                        return -EINVAL;
                memcpy(word, p, len);
                word[len] = '\0';
                p += len;
                PolicySize v;
                int r = policy_parse_size(word, &v);
                if (r < 0)
                        return r;
                if (v.is_percent) {
                        if (step.has_percent)
                                return -EINVAL;
                        if (v.percent <= 0.0)
                                return -ERANGE;
                        step.has_percent = true;
                        step.percent = v.percent;
                } else {
                        if (step.has_bytes)
                                return -EINVAL;
                        step.has_bytes = true;
                        step.bytes = v.bytes;
                }
        }
        if (n == 0)
                return -EINVAL;
        *ret = step;
        return 0;
}

const char *numa_memory_mode_name(NumaMemoryMode m) {
        return m < _NUMA_MEMORY_MODE_MAX ? numa_memory_mode_names[m] : "?";
}

const char *ksm_mode_name(KsmMode m) {
        return m < _KSM_MODE_MAX ? ksm_mode_names[m] : "?";
}

const char *shed_mode_name(ShedMode m) {
        return (unsigned) m < _SHED_MODE_MAX ? shed_mode_names[m] : "?";
}

int shed_mode_from_name(const char *s, ShedMode *ret) {
        for (unsigned i = 0; i < _SHED_MODE_MAX; i++)
                if (strcmp(s, shed_mode_names[i]) == 0) {
                        *ret = (ShedMode) i;
                        return 0;
                }
        return -EINVAL;
}

const PolicyClass *policy_class_find(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->n_classes; i++)
                if (strcmp(p->classes[i].name, name) == 0)
                        return &p->classes[i];
        return NULL;
}

bool policy_name_valid(const char *s) {
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
        return n >= 1 && n < DENSITY_POLICY_CLASS_NAME_MAX && s[n] == '\0';
}

/* The length of "[-]DIGITS[.DIGITS]" at the start of s, 0 if there is none.
 * strtod() alone would also take "+5", " 5", hex, exponents, "inf" and
 * "nan"; none of those is a policy number. */
static size_t scan_decimal(const char *s, bool *ret_negative, bool *ret_fraction) {
        size_t n = 0;
        bool negative = s[0] == '-';
        if (negative)
                n++;
        size_t digits = strspn(s + n, "0123456789");
        if (digits == 0)
                return 0;
        n += digits;
        bool fraction = s[n] == '.';
        if (fraction) {
                digits = strspn(s + n + 1, "0123456789");
                if (digits == 0)
                        return 0; /* "5." */
                n += 1 + digits;
        }
        *ret_negative = negative;
        *ret_fraction = fraction;
        return n;
}

/* s[0..len) as a double; the characters were checked by scan_decimal(). */
static double decimal_value(const char *s, size_t len) {
        char buf[64];
        if (len >= sizeof(buf))
                return HUGE_VAL; /* 60 digits: out of any range */
        memcpy(buf, s, len);
        buf[len] = '\0';
        return strtod(buf, NULL);
}

int policy_parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "us", 1 },           { "ms", USEC_PER_MSEC },       { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
        };
        bool negative, fraction;
        size_t n = scan_decimal(s, &negative, &fraction);
        if (n == 0)
                return -EINVAL;
        const char *unit_text = s + n;
        while (isspace((unsigned char) *unit_text))
                unit_text++;
        uint64_t unit = USEC_PER_SEC;
        if (*unit_text != '\0') {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (strcmp(unit_text, units[i].suffix) == 0)
                                break;
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                unit = units[i].usec;
        }
        if (negative)
                return -ERANGE;
        /* Rounded, not truncated: 2.01 * 10^6 is 2009999.9999999998 in a double. */
        double usec = decimal_value(s, n) * (double) unit + 0.5;
        if (usec > 1e15)
                return -ERANGE;
        *ret_usec = (uint64_t) usec;
        return 0;
}

int policy_parse_percent(const char *s, double *ret) {
        bool negative, fraction;
        size_t n = scan_decimal(s, &negative, &fraction);
        if (n == 0 || strcmp(s + n + strspn(s + n, " \t"), "%") != 0)
                return -EINVAL;
        double v = decimal_value(s, n);
        if (negative || v > 100.0)
                return -ERANGE;
        *ret = v;
        return 0;
}

int policy_parse_size(const char *s, PolicySize *ret) {
        static const struct {
                const char *suffix;
                uint64_t bytes;
        } units[] = {
                { "K", KIB },        { "KiB", KIB },       { "M", KIB * KIB },         { "MiB", KIB * KIB },
                { "G", KIB * KIB * KIB }, { "GiB", KIB * KIB * KIB }, { "T", TIB }, { "TiB", TIB },
        };
        if (strchr(s, '%')) {
                double percent;
                int r = policy_parse_percent(s, &percent);
                if (r < 0)
                        return r;
                *ret = (PolicySize) { .is_percent = true, .percent = percent };
                return 0;
        }

        bool negative, fraction;
        size_t n = scan_decimal(s, &negative, &fraction);
        if (n == 0)
                return -EINVAL;
        const char *unit_text = s + n;
        while (isspace((unsigned char) *unit_text))
                unit_text++;
        uint64_t unit = 1;
        if (*unit_text != '\0') {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (strcmp(unit_text, units[i].suffix) == 0)
                                break;
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                unit = units[i].bytes;
        } else if (fraction)
                return -EINVAL; /* "1.5": a fraction of a byte */
        if (negative)
                return -ERANGE;

        uint64_t bytes;
        if (!fraction) {
                /* Whole numbers stay exact, beyond a double's 53 bits. */
                char *end;
                errno = 0;
                unsigned long long v = strtoull(s, &end, 10);
                if (errno == ERANGE || v > UINT64_MAX / unit)
                        return -ERANGE;
                bytes = (uint64_t) v * unit;
        } else {
                double v = decimal_value(s, n) * (double) unit + 0.5;
                if (v >= 18446744073709551616.0) /* 2^64 */
                        return -ERANGE;
                bytes = (uint64_t) v;
        }
        *ret = (PolicySize) { .bytes = bytes };
        return 0;
}

int policy_parse_integer(const char *s, int64_t min, int64_t max, int64_t *ret) {
        bool negative, fraction;
        size_t n = scan_decimal(s, &negative, &fraction);
        if (n == 0 || fraction || s[n] != '\0')
                return -EINVAL;
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int policy_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

void policy_format_size(uint64_t bytes, char *buf, size_t size) {
        static const struct {
                char suffix;
                uint64_t bytes;
        } units[] = { { 'T', TIB }, { 'G', KIB * KIB * KIB }, { 'M', KIB * KIB }, { 'K', KIB } };
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes != 0 && bytes % units[i].bytes == 0) {
                        snprintf(buf, size, "%llu%c", (unsigned long long) (bytes / units[i].bytes),
                                 units[i].suffix);
                        return;
                }
        snprintf(buf, size, "%llu", (unsigned long long) bytes);
}

void policy_errors_clear(PolicyErrors *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->lines[i]);
        free(e->lines);
        *e = (PolicyErrors) {};
}

void policy_errors_print(PolicyErrors *e, FILE *f) {
        for (size_t i = 0; i < e->n; i++)
                fprintf(f, "%s\n", e->lines[i]);
        policy_errors_clear(e);
}

typedef struct ParseState {
        const char *filename;
        const char *pos;      /* reader position in the buffer */
        unsigned line;        /* number of the line inih is handling */
        Policy policy;
        PolicyErrors *errors;
        unsigned n_errors;
        bool oom;
        /* Where each key was set: [0] for [Daemon], [1 + i] for classes[i]. */
        unsigned seen_line[1 + POLICY_CLASSES_MAX][ELEMENTSOF(policy_keys)];
        bool in_section;      /* the reader saw a section header */
        SectionKind section;  /* ... and the keys below it go here (NONE: a bad header, reported) */
        size_t class_index;   /* SECTION_CLASS: which of policy.classes */
        char section_name[INI_MAX_LINE]; /* as written, for messages (inih cuts it at 50) */
        bool said_no_section;
} ParseState;

__attribute__((format(printf, 3, 4))) static void parse_error(ParseState *st, unsigned line, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        st->n_errors++;
        char *s = NULL;
        if (asprintf(&s, "%s:%u: %s", st->filename, line, msg) < 0) {
                st->oom = true;
                return;
        }
        char **n = realloc(st->errors->lines, (st->errors->n + 1) * sizeof(char *));
        if (!n) {
                free(s);
                st->oom = true;
                return;
        }
        st->errors->lines = n;
        st->errors->lines[st->errors->n++] = s;
}

void policy_format_duration(uint64_t usec, char *buf, size_t size) {
        if (usec % USEC_PER_SEC == 0)
                snprintf(buf, size, "%llus", (unsigned long long) (usec / USEC_PER_SEC));
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%llums", (unsigned long long) (usec / USEC_PER_MSEC));
        else
                snprintf(buf, size, "%lluus", (unsigned long long) usec);
}

static size_t key_index(SectionKind section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(policy_keys); i++)
                if (policy_keys[i].section == section && strcmp(policy_keys[i].key, key) == 0)
                        return i;
        return SIZE_MAX;
}

#define NAME_RULE "1..63 characters: A-Z a-z 0-9 _ . -"

/* Match=: globs separated by white space, all or none. */
static void parse_globs(ParseState *st, const KeySpec *k, const char *value, PolicyClass *c) {
        char globs[POLICY_MATCH_MAX][POLICY_GLOB_MAX] = {}; /* unused slots stay zero: policies compare with memcmp() */
        size_t n = 0;
        for (const char *p = value + strspn(value, " \t"); *p; p += strspn(p, " \t")) {
                size_t len = strcspn(p, " \t");
                if (n == POLICY_MATCH_MAX) {
                        parse_error(st, st->line, "%s=: too many globs (at most %d)", k->key, POLICY_MATCH_MAX);
                        return;
                }
                if (len >= POLICY_GLOB_MAX) {
                        parse_error(st, st->line, "%s=: glob '%.*s' is too long (at most %d characters)", k->key,
                                    (int) len, p, POLICY_GLOB_MAX - 1);
                        return;
                }
                memcpy(globs[n], p, len);
                globs[n][len] = '\0';
                n++;
                p += len;
        }
        _Static_assert(sizeof(globs) == sizeof(c->match), "Match= buffer");
        memcpy(c->match, globs, sizeof(globs));
        c->n_match = n;
}

/* Parse one value of key k into field; on an error, report it and leave
 * the field alone. */
static void parse_value(ParseState *st, const KeySpec *k, const char *value, void *field) {
        const char *name = k->key;
        char lo[32], hi[32];
        int r;

        switch (k->type) {
        case KEY_DURATION: {
                uint64_t usec;
                r = policy_parse_duration(value, &usec);
                if (r == -EINVAL) {
                        parse_error(st, st->line, "%s=%s: not a duration (examples: 5s, 500ms, 2min)", name, value);
                        return;
                }
                if (r < 0 || usec < k->min || usec > k->max) {
                        policy_format_duration(k->min, lo, sizeof(lo));
                        policy_format_duration(k->max, hi, sizeof(hi));
                        parse_error(st, st->line, "%s=%s: out of range %s..%s", name, value, lo, hi);
                        return;
                }
                if (k->whole_msec && usec % USEC_PER_MSEC != 0) {
                        parse_error(st, st->line, "%s=%s: must be a whole number of milliseconds", name, value);
                        return;
                }
                memcpy(field, &usec, sizeof(usec));
                return;
        }
        case KEY_SIZE: {
                PolicySize size;
                r = policy_parse_size(value, &size);
                if (r == -EINVAL) {
                        parse_error(st, st->line, "%s=%s: not a size (examples: 512M, 2G, 64K%s)", name, value,
                                    k->percent_ok ? ", 25%" : "");
                        return;
                }
                if (r < 0 && strchr(value, '%')) {
                        parse_error(st, st->line, "%s=%s: percent out of range 0..100", name, value);
                        return;
                }
                if (r == 0 && size.is_percent && !k->percent_ok) {
                        parse_error(st, st->line, "%s=%s: not a size: a percent has no base here (examples: 512M, 2G, 64K)", name, value);
                        return;
                }
                if (r < 0 || (!size.is_percent && (size.bytes < k->min || size.bytes > k->max))) {
                        policy_format_size(k->min, lo, sizeof(lo));
                        policy_format_size(k->max, hi, sizeof(hi));
                        parse_error(st, st->line, "%s=%s: out of range %s..%s", name, value, lo, hi);
                        return;
                }
                /* Through a cleared copy: the padding must stay zero for
                 * policies to compare with memcmp(). */
                PolicySize clean;
                memset(&clean, 0, sizeof(clean));
                clean.is_percent = size.is_percent;
                clean.bytes = size.bytes;
                clean.percent = size.percent;
                memcpy(field, &clean, sizeof(clean));
                return;
        }
        case KEY_SIZE_OFF: {
                PolicySize size;
                bool on;
                if (policy_parse_bool(value, &on) == 0 && !on) {
                        uint64_t zero = 0;
                        memcpy(field, &zero, sizeof(zero));
                        return;
                }
                r = policy_parse_size(value, &size);
                if (r == -EINVAL || (r == 0 && size.is_percent)) {
                        parse_error(st, st->line, "%s=%s: not a size or no (examples: 64M, 1G, no)", name, value);
                        return;
                }
                if (r < 0 || (size.bytes != 0 && (size.bytes < k->min || size.bytes > k->max))) {
                        policy_format_size(k->min, lo, sizeof(lo));
                        policy_format_size(k->max, hi, sizeof(hi));
                        parse_error(st, st->line, "%s=%s: out of range %s..%s (or 0, no: off)", name, value, lo, hi);
                        return;
                }
                memcpy(field, &size.bytes, sizeof(size.bytes));
                return;
        }
        case KEY_STEP: {
                PolicyStep step;
                r = policy_parse_step(value, &step);
                if (r == -EINVAL) {
                        parse_error(st, st->line, "%s=%s: not a size, a percent or one of each (examples: 64M, 10%%, 10%% 64M)",
                                    name, value);
                        return;
                }
                if (r < 0 || (step.has_bytes && (step.bytes < k->min || step.bytes > k->max))) {
                        policy_format_size(k->min, lo, sizeof(lo));
                        policy_format_size(k->max, hi, sizeof(hi));
                        parse_error(st, st->line, "%s=%s: out of range %s..%s, or above 0%% up to 100%%", name, value,
                                    lo, hi);
                        return;
                }
                memcpy(field, &step, sizeof(step));
                return;
        }
        case KEY_PERCENT: {
                double percent;
                r = policy_parse_percent(value, &percent);
                if (r == -EINVAL) {
                        parse_error(st, st->line, "%s=%s: not a percent (examples: 25%%, 12.5%%)", name, value);
                        return;
                }
                if (r < 0 || percent < (double) k->min || percent > (double) k->max) {
                        parse_error(st, st->line, "%s=%s: percent out of range %llu..%llu", name, value,
                                    (unsigned long long) k->min, (unsigned long long) k->max);
                        return;
                }
                memcpy(field, &percent, sizeof(percent));
                return;
        }
        case KEY_INTEGER: {
                int64_t v;
                r = policy_parse_integer(value, (int64_t) k->min, (int64_t) k->max, &v);
                if (r == -EINVAL) {
                        parse_error(st, st->line, "%s=%s: not an integer", name, value);
                        return;
                }
                if (r < 0) {
                        parse_error(st, st->line, "%s=%s: out of range %llu..%llu", name, value,
                                    (unsigned long long) k->min, (unsigned long long) k->max);
                        return;
                }
                unsigned u = (unsigned) v;
                memcpy(field, &u, sizeof(u));
                return;
        }
        case KEY_SIGNED: {
                int64_t v;
                r = policy_parse_integer(value, k->smin, k->smax, &v);
                if (r == -EINVAL) {
                        parse_error(st, st->line, "%s=%s: not an integer", name, value);
                        return;
                }
                if (r < 0) {
                        parse_error(st, st->line, "%s=%s: out of range %lld..%lld", name, value, (long long) k->smin,
                                    (long long) k->smax);
                        return;
                }
                int i = (int) v;
                memcpy(field, &i, sizeof(i));
                return;
        }
        case KEY_BOOL: {
                bool b;
                if (policy_parse_bool(value, &b) < 0) {
                        parse_error(st, st->line, "%s=%s: not a boolean (yes, no, true, false, 1, 0)", name, value);
                        return;
                }
                memcpy(field, &b, sizeof(b));
                return;
        }
        case KEY_ENUM: {
                char words[256] = "";
                for (int i = 0; (size_t) i < k->n_words; i++)
                        if (strcmp(value, k->words[i]) == 0) {
                                memcpy(field, &i, sizeof(i));
                                return;
                        }
                for (size_t i = 0; i < k->n_words; i++) {
                        size_t len = strlen(words);
                        snprintf(words + len, sizeof(words) - len, "%s%s", i ? ", " : "", k->words[i]);
                }
                parse_error(st, st->line, "%s=%s: must be one of %s", name, value, words);
                return;
        }
        case KEY_NAME:
                if (!policy_name_valid(value)) {
                        parse_error(st, st->line, "%s=%s: not a valid name (" NAME_RULE ")", name, value);
                        return;
                }
                strscpy(field, k->size, value);
                return;
        case KEY_GLOBS:
                /* Only in [Class]: the count lives beside the globs. */
                parse_globs(st, k, value, &st->policy.classes[st->class_index]);
                return;
        case KEY_PATH:
                if (value[0] != '/') {
                        parse_error(st, st->line, "%s=%s: must be an absolute path", name, value);
                        return;
                }
                /* fall through */
        case KEY_STRING:
                if (strlen(value) >= k->size) {
                        parse_error(st, st->line, "%s=: too long (at most %zu characters)", name, k->size - 1);
                        return;
                }
                strscpy(field, k->size, value);
                return;
        }
}

static int policy_handler(void *user, const char *section, const char *name, const char *value) {
        ParseState *st = user;
        (void) section; /* the reader knows it better: inih cuts names at 50 characters */

        if (st->section == SECTION_NONE)
                return 1; /* reported once, at the section header (or the first key) */

        size_t i = key_index(st->section, name);
        if (i == SIZE_MAX) {
                parse_error(st, st->line, "unknown key '%s' in section [%s]", name, st->section_name);
                return 1;
        }
        const KeySpec *k = &policy_keys[i];
        bool in_class = st->section == SECTION_CLASS;
        unsigned *seen = &st->seen_line[in_class ? 1 + st->class_index : 0][i];
        if (*seen) {
                parse_error(st, st->line, "%s= is set twice (first at line %u)", name, *seen);
                return 1;
        }
        *seen = st->line;

        if (k->not_in_default && in_class && st->class_index == 0) {
                parse_error(st, st->line,
                            "%s= is not allowed in [Class " POLICY_DEFAULT_CLASS "]: it matches every guest no other "
                            "class matches",
                            name);
                return 1;
        }
        if (value[0] == '\0') {
                parse_error(st, st->line, "%s= must not be empty", name);
                return 1;
        }
        char *base = in_class ? (char *) &st->policy.classes[st->class_index] : (char *) &st->policy;
        parse_value(st, k, value, base + k->offset);
        return 1;
}

/* "[Class NAME]": NAME starts after "Class" and its white space. */
static void reader_class_section(ParseState *st, char *name) {
        name += strspn(name, " \t");
        char *e = name + strlen(name);
        while (e > name && isspace((unsigned char) e[-1]))
                *--e = '\0';
        if (*name == '\0') {
                parse_error(st, st->line, "[Class] without a name (write [Class NAME])");
                return;
        }
        if (!policy_name_valid(name)) {
                parse_error(st, st->line, "[Class %s]: not a valid class name (" NAME_RULE ")", name);
                return;
        }

        Policy *p = &st->policy;
        const PolicyClass *found = policy_class_find(p, name);
        size_t i;
        if (found) {
                if (found->line != 0) {
                        parse_error(st, st->line, "class '%s' is defined twice (first at line %u)", name, found->line);
                        return;
                }
                i = (size_t) (found - p->classes); /* the built-in default, overridden */
        } else {
                if (p->n_classes == POLICY_CLASSES_MAX) {
                        parse_error(st, st->line, "[Class %s]: too many classes (at most %d, default included)", name,
                                    POLICY_CLASSES_MAX);
                        return;
                }
                i = p->n_classes++;
                policy_class_defaults(&p->classes[i], name);
        }
        p->classes[i].line = st->line;
        st->section = SECTION_CLASS;
        st->class_index = i;
}

static void reader_section(ParseState *st, char *header) {
        st->in_section = true;
        st->section = SECTION_NONE;
        strscpy(st->section_name, sizeof(st->section_name), header);
        if (strcmp(header, "Daemon") == 0)
                st->section = SECTION_DAEMON;
        else if (strcmp(header, "Ksm") == 0)
                st->section = SECTION_KSM;
        else if (strcmp(header, "Shed") == 0)
                st->section = SECTION_SHED;
        else if (strcmp(header, "Balloon") == 0)
                st->section = SECTION_BALLOON;
        else if (strcmp(header, "Numa") == 0)
                st->section = SECTION_NUMA;
        else if (strncmp(header, "Class", 5) == 0 && (header[5] == '\0' || isspace((unsigned char) header[5])))
                reader_class_section(st, header + 5);
        else
                parse_error(st, st->line, "unknown section [%s]", header);
}

static void reader_check_line(ParseState *st, const char *line, size_t len) {
        char buf[INI_MAX_LINE + 1];
        size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
        memcpy(buf, line, n);
        buf[n] = '\0';
        char *p = buf;
        while (isspace((unsigned char) *p))
                p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char) e[-1]))
                *--e = '\0';

        if (*p == '\0' || *p == ';' || *p == '#')
                return;
        if (*p == '[') {
                char *close = strchr(p, ']');
                if (!close) {
                        parse_error(st, st->line, "section header without ']'");
                        st->section = SECTION_NONE;
                        return;
                }
                *close = '\0';
                reader_section(st, p + 1);
                return;
        }
        if (!strchr(p, '=') && !strchr(p, ':')) {
                parse_error(st, st->line, "expected 'Key=value', '[Section]' or a comment");
                return;
        }
        if (!st->in_section && !st->said_no_section) {
                parse_error(st, st->line, "key outside any section (start with [Daemon])");
                st->said_no_section = true;
        }
}

/* inih's line reader: one line per call, counting and checking as we go. */
static char *policy_reader(char *str, int num, void *stream) {
        ParseState *st = stream;
        if (*st->pos == '\0')
                return NULL;
        if (st->line == 0 && strncmp(st->pos, "\xEF\xBB\xBF", 3) == 0)
                st->pos += 3; /* UTF-8 byte-order mark */
        const char *nl = strchr(st->pos, '\n');
        size_t len = nl ? (size_t) (nl - st->pos) : strlen(st->pos);
        st->line++;
        /* Leading white space is dropped: inih would take an indented line
         * as the continuation of the previous value. */
        while (len > 0 && (*st->pos == ' ' || *st->pos == '\t')) {
                st->pos++;
                len--;
        }
        reader_check_line(st, st->pos, len);
        if (len + 2 > (size_t) num) {
                parse_error(st, st->line, "line too long (at most %d characters)", num - 2);
                str[0] = '\n';
                str[1] = '\0';
        } else {
                memcpy(str, st->pos, len);
                str[len] = '\n';
                str[len + 1] = '\0';
        }
        st->pos += len + (nl ? 1 : 0);
        return str;
}

/* The line a [Ksm] or [Daemon] key was set on, 0 if not set. */
static unsigned seen_at(const ParseState *st, SectionKind section, const char *key) {
        return st->seen_line[0][key_index(section, key)];
}

/* Pairs of [Ksm] keys that bound each other, reported at the line of the
 * later one; and which start-up knobs the file sets at all. */
static void policy_check_ksm(ParseState *st) {
        PolicyKsm *k = &st->policy.ksm;
        const struct {
                const char *low, *high;
                bool bad;
        } pairs[] = {
                { "PagesToScanMin", "PagesToScanMax", k->pages_to_scan_min > k->pages_to_scan_max },
                { "SleepMin", "SleepMax", k->sleep_min_usec > k->sleep_max_usec },
                { "StopAt", "StartAt", k->stop_at_percent > k->start_at_percent },
                { "IdleCpu", "CpuBudget", k->idle_cpu_percent > k->cpu_budget_percent },
        };
        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                if (!pairs[i].bad)
                        continue;
                unsigned a = seen_at(st, SECTION_KSM, pairs[i].low), b = seen_at(st, SECTION_KSM, pairs[i].high);
                parse_error(st, a > b ? a : b, "%s=%s is above %s=%s", pairs[i].low, a ? "" : " (the default)",
                            pairs[i].high, b ? "" : " (the default)");
        }
        k->has_use_zero_pages = seen_at(st, SECTION_KSM, "UseZeroPages") > 0;
        k->has_max_page_sharing = seen_at(st, SECTION_KSM, "MaxPageSharing") > 0;
        k->has_merge_across_nodes = seen_at(st, SECTION_KSM, "MergeAcrossNodes") > 0;
}

/* [Shed]: restoring must want more room than shedding does, or a restore
 * would bring on the next shed. Sizes of different kinds (bytes, percent)
 * compare only against a host, at run time. */
static void policy_check_shed(ParseState *st) {
        const PolicyShed *sh = &st->policy.shed;
        const PolicySize *lo = &sh->mem_available_below, *hi = &sh->restore_above;
        if (lo->is_percent == hi->is_percent &&
            (lo->is_percent ? lo->percent >= hi->percent : lo->bytes >= hi->bytes)) {
                unsigned a = seen_at(st, SECTION_SHED, "MemAvailableBelow"), b = seen_at(st, SECTION_SHED, "RestoreAbove");
                parse_error(st, a > b ? a : b, "RestoreAbove=%s is not above MemAvailableBelow=%s", b ? "" : " (the default)",
                            a ? "" : " (the default)");
        }
        if (sh->cgroup_restore_below_percent >= sh->cgroup_usage_above_percent) {
                unsigned a = seen_at(st, SECTION_SHED, "CgroupRestoreBelow"),
                         b = seen_at(st, SECTION_SHED, "CgroupUsageAbove");
                parse_error(st, a > b ? a : b, "CgroupRestoreBelow=%s is not below CgroupUsageAbove=%s",
                            a ? "" : " (the default)", b ? "" : " (the default)");
        }
}

/* [Balloon]: balloons must act before the shedder does, and the band below
 * HostTarget= must exist. */
/* Which classes set OomScoreAdjust= (unset: their guests' scores are
 * left as found). */
static void policy_mark_oom_score_adj(ParseState *st) {
        size_t k = key_index(SECTION_CLASS, "OomScoreAdjust");
        for (size_t i = 0; i < st->policy.n_classes; i++)
                st->policy.classes[i].has_oom_score_adj = st->seen_line[1 + i][k] > 0;
}

static void policy_check_balloon(ParseState *st) {
        const PolicyBalloon *b = &st->policy.balloon;
        if (b->enable && st->policy.shed.enable && b->host_target_percent >= st->policy.shed.cgroup_usage_above_percent) {
                unsigned a = seen_at(st, SECTION_BALLOON, "HostTarget"), c = seen_at(st, SECTION_SHED, "CgroupUsageAbove");
                parse_error(st, a > c ? a : c,
                            "[Balloon] HostTarget=%s is not below [Shed] CgroupUsageAbove=%s: balloons would act only "
                            "after guests are shed",
                            a ? "" : " (the default)", c ? "" : " (the default)");
        }
        if (b->dead_band_percent >= b->host_target_percent) {
                unsigned a = seen_at(st, SECTION_BALLOON, "DeadBand"), c = seen_at(st, SECTION_BALLOON, "HostTarget");
                parse_error(st, a > c ? a : c, "DeadBand=%s is not below HostTarget=%s", a ? "" : " (the default)",
                            c ? "" : " (the default)");
        }
}

int policy_parse(const char *buf, const char *filename, Policy *ret, PolicyErrors *errors) {
        ParseState st = { .filename = filename, .pos = buf, .errors = errors };
        policy_defaults(&st.policy);

        /* inih's own syntax errors are already reported by the reader. */
        (void) ini_parse_stream(policy_reader, &st, policy_handler, &st);
        if (st.oom)
                return -ENOMEM;
        policy_check_ksm(&st);
        policy_check_shed(&st);
        policy_check_balloon(&st);
        policy_mark_oom_score_adj(&st);
        if (st.n_errors == 0 && st.policy.stale_after_usec < st.policy.interval_usec) {
                char a[32], b[32];
                policy_format_duration(st.policy.stale_after_usec, a, sizeof(a));
                policy_format_duration(st.policy.interval_usec, b, sizeof(b));
                unsigned line = seen_at(&st, SECTION_DAEMON, "StaleAfter");
                if (line == 0)
                        line = seen_at(&st, SECTION_DAEMON, "Interval");
                parse_error(&st, line ? line : 1, "StaleAfter=%s is shorter than Interval=%s", a, b);
        }
        if (st.n_errors > 0)
                return (int) st.n_errors;
        *ret = st.policy;
        return 0;
}

int policy_load(const char *path, Policy *ret, PolicyErrors *errors) {
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(NULL, path, &buf, NULL);
        if (r < 0) {
                char *s = NULL;
                if (asprintf(&s, "%s: cannot read: %s", path, strerror(-r)) < 0)
                        return -ENOMEM;
                char **n = realloc(errors->lines, (errors->n + 1) * sizeof(char *));
                if (!n) {
                        free(s);
                        return -ENOMEM;
                }
                errors->lines = n;
                errors->lines[errors->n++] = s;
                return 1;
        }
        return policy_parse(buf, path, ret, errors);
}
