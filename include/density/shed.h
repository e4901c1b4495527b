/* shed: setting guests aside before the kernel's OOM killer acts, and
 * bringing them back when memory returns. The pure parts the shed
 * controller stands on:
 *
 * - shed_pressure(): is memory short (shed now), roomy enough for a
 *   restore, or in between, judged from one host sample and [Shed];
 * - shed_refusal() and shed_rank(): which guests may be shed, in the order
 *   they would be: lowest class priority first, then the guest whose
 *   shedding frees the most;
 * - shed_pick_restore(): which shed guest comes back next, and whether it
 *   fits yet;
 * - the book of the guests densityd shed (ShedBook), kept in
 *   StateDirectory= so that a restarted daemon, or a rebooted host, still
 *   restores them, and so that densityd never restores a guest it did not
 *   shed: shed_book_format()/shed_book_parse() (pure), shed_book_store()/
 *   shed_book_load() (the file, written durably).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "density/policy.h"
#include "density/snapshot.h"

#define SHED_BOOK_FILE "shed.json"  /* in StateDirectory= */
#define SHED_BOOK_VERSION 1
#define SHED_REASON_MAX 256

/* Where a guest densityd shed stands. */
typedef enum ShedStage {
        SHED_STAGE_SHEDDING,   /* the save (or destroy) was started: a crash now leaves it to be found */
        SHED_STAGE_SHED,       /* saved (or destroyed): waits for room */
        SHED_STAGE_RESTORING,  /* the restore (or start) was started */
        _SHED_STAGE_MAX,
} ShedStage;

/* "shedding", "shed", "restoring"; "?" for anything else. */
const char *shed_stage_name(ShedStage s);

typedef struct ShedEntry {
        char uuid[DENSITY_UUID_LEN];
        char name[DENSITY_NAME_MAX];
        char class_name[DENSITY_CLASS_MAX];
        unsigned priority;              /* its class's Priority= when shed */
        ShedMode action;                /* SHED_SAVE (managed save) or SHED_DESTROY */
        ShedStage stage;
        uint64_t bytes;                 /* shed_guest_bytes() when shed: what bringing it back takes */
        uint64_t since_usec;            /* CLOCK_REALTIME when it was shed */
        uint64_t stage_usec;            /* ... when its stage began */
        unsigned failures;              /* restores that did not bring it back */
        bool by_hand;                   /* shed by an operator (densityctl shed): comes back only by hand */
        char reason[SHED_REASON_MAX];
        bool adopted;                   /* read from the book at start (not stored): an action this
                                         * process did not start may still be under way in libvirtd */
        uint64_t prev_stage_usec;       /* stage_usec before the last change (not stored) */
} ShedEntry;

typedef struct ShedBook {
        size_t n, allocated;
        ShedEntry *entries;
} ShedBook;

void shed_book_clear(ShedBook *b);
/* The entry for a guest, or NULL. */
ShedEntry *shed_book_find(const ShedBook *b, const char *uuid);
/* Add an entry, or replace the one with its UUID. Return: 0 or -ENOMEM. */
int shed_book_put(ShedBook *b, const ShedEntry *e);
/* Remove the entry for a guest. Return: 0, or -ENOENT. */
int shed_book_remove(ShedBook *b, const char *uuid);

/* The book as JSON text (malloc'ed, NUL-terminated). Return: 0 or -ENOMEM. */
int shed_book_format(const ShedBook *b, char **ret);
/**
 * shed_book_parse() - read a book from its JSON text.
 * @err: why the text is refused ("guests[2].stage: unknown stage 'gone'")
 *
 * A book with an entry it cannot make sense of is refused whole: one
 * guest wrongly restored or forgotten is worse than a clear error.
 *
 * Return: 0 (ret filled), -EINVAL (err says why) or -ENOMEM; ret is
 * untouched on failure.
 */
int shed_book_parse(const char *text, ShedBook *ret, char *err, size_t err_size);
/* Write the book to DIR/shed.json, synced to disk. Return: 0 or -errno. */
int shed_book_store(const char *dir, const ShedBook *b);
/* Read DIR/shed.json. Return: 0, -ENOENT (no book: nothing shed),
 * -EINVAL (err says why, with the file name), or another -errno. */
int shed_book_load(const char *dir, ShedBook *ret, char *err, size_t err_size);

/* How short memory is. */
typedef enum ShedLevel {
        SHED_LEVEL_UNKNOWN,  /* no MemTotal/MemAvailable: never shed or restore on no data */
        SHED_LEVEL_SHORT,    /* past a shed threshold: shed */
        SHED_LEVEL_TIGHT,    /* between the thresholds: neither */
        SHED_LEVEL_ROOMY,    /* past every restore threshold: a restore may follow */
} ShedLevel;

typedef struct ShedPressure {
        ShedLevel level;
        char reason[SHED_REASON_MAX];   /* what decided it, with the figures */
        uint64_t mem_available_bytes;
        uint64_t shed_below_bytes;      /* MemAvailableBelow= in bytes on this host */
        uint64_t restore_above_bytes;   /* RestoreAbove= in bytes on this host */
} ShedPressure;

/* "unknown", "short", "tight", "roomy". */
const char *shed_level_name(ShedLevel l);

/* Judge the host: short when MemAvailable is below MemAvailableBelow=, the
 * VMs' cgroup uses more than CgroupUsageAbove= of its limit, or memory
 * "full" stalls (avg10) exceed PsiFullAbove=; roomy when MemAvailable is
 * at least RestoreAbove=, the cgroup under CgroupRestoreBelow= and the
 * stalls under half of PsiFullAbove=. Percent sizes are of MemTotal. */
void shed_pressure(const HostSample *h, const PolicyShed *p, ShedPressure *ret);

/* The memory a guest holds, as its own cgroup is charged for it (the sum
 * of its per-node figures, numa_stat) where known, else its RSS (which also
 * counts the shared pages of qemu's binary and libraries: about 55 MiB more
 * under TCG). What it needs to come back. */
uint64_t shed_guest_bytes(const GuestSample *g);

/* What shedding the guest frees: shed_guest_bytes() less the pages KSM
 * merged (their twins in other guests keep them). */
uint64_t shed_frees_bytes(const GuestSample *g);

/* Why a guest may not be shed, or NULL if it may: its class says
 * Shed=never, its domain XML is unknown, it is transient and its class
 * says save (a managed save needs a defined domain), its RSS is unknown,
 * or a save, restore or destroy is in flight for it. */
const char *shed_refusal(const GuestSample *g, const Policy *p);

/* Whether a guest's managed save fits where saves go: its RSS and 5%
 * more, plus 64 MiB. True when the free space is unknown (the save itself
 * then fails cleanly and the next step follows) and for a destroy. */
bool shed_save_fits(const HostSample *h, const GuestSample *g, ShedMode action);

/* The guests that may be shed, in the order they would be: lowest class
 * priority first, then the most freed, then by name (a stable order).
 * Writes up to max indexes into s->guests to order[]; returns how many
 * guests may be shed (which may exceed max). */
size_t shed_rank(const Snapshot *s, const Policy *p, size_t *order, size_t max);

/* Bytes between the host and the nearest shed threshold: MemAvailable
 * above MemAvailableBelow=, and the VMs' cgroup usage under
 * CgroupUsageAbove= of its limit; 0 when past one. */
uint64_t shed_headroom_bytes(const HostSample *h, const PolicyShed *p);

/* When to look at memory again between ticks (as earlyoom does): half the
 * time the headroom lasts at the rate memory fills (bytes per second; 0 or
 * less: not filling), within SHED_CHECK_MIN_USEC and max_usec. */
#define SHED_CHECK_MIN_USEC (100 * UINT64_C(1000))
uint64_t shed_check_interval_usec(uint64_t headroom_bytes, double fill_bytes_per_sec, uint64_t max_usec);

/**
 * shed_pick_restore() - the shed guest to bring back next.
 *
 * Guests come back highest priority first, then the earliest shed, one
 * after the other: a guest that does not fit yet holds back those after
 * it (a big important guest is not starved by small ones). It fits when
 * MemAvailable less its bytes is still at least RestoreAbove=, and the
 * VMs' cgroup usage plus its bytes is at most CgroupRestoreBelow= of the
 * limit. Only entries in stage "shed" come back; while one is restoring,
 * none other does.
 *
 * A guest whose restores failed waits out its back-off
 * (shed_restore_backoff_usec()) and holds back no other meanwhile: one
 * guest that cannot come back must not keep the rest away.
 *
 * Return: 0 (*ret_index: it fits), -ENOSPC (*ret_index: the next one, which
 * does not fit yet), -EBUSY (a restore is under way), -ENOENT (nothing to
 * restore now) or -ENODATA (host memory unknown).
 */
int shed_pick_restore(const HostSample *h, const PolicyShed *p, const ShedBook *b, uint64_t now_usec,
                      size_t *ret_index);

/* After this many failed restores, how long before the next try: 1 min,
 * doubling up to 30 min. */
#define SHED_RETRY_MIN_USEC (60 * UINT64_C(1000000))
#define SHED_RETRY_MAX_USEC (1800 * UINT64_C(1000000))
uint64_t shed_restore_backoff_usec(unsigned failures);
