/* ksm-controller: see include/density/ksm-controller.h */
#include "density/ksm-controller.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "density/class.h"
#include "density/meminfo.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)
/* Bytes of kernel metadata per page KSM tracks (struct ksm_rmap_item on
 * 64-bit), for the profit estimate on kernels without general_profit. */
#define KSM_RMAP_ITEM_BYTES 64
/* A rate within this fraction of the one in force is not rewritten while
 * boosting; idle, within this factor (ksmd's cost per page swings with
 * smart_scan's periodic re-checks, and a write every tick helps nobody). */
#define KSM_RATE_SLACK 0.15
#define KSM_IDLE_RATE_FACTOR 2.0
/* Idle's cost per page is the idle time's once ksmd scanned this many
 * pages in it; until then the boost's, and a tick over IdleCpu= by this
 * factor cuts the rate at once. */
#define KSM_IDLE_COST_MIN_PAGES 20000.0
#define KSM_IDLE_OVER_FACTOR 4.0
/* Newly merged pages below this in a tick are noise, not a reason to boost. */
#define KSM_REBOOST_MIN_MERGED_PAGES 256
/* Keep ksmd this far under a CPU ceiling: its CPU follows the rate roughly. */
#define KSM_CPU_MARGIN 0.9

typedef enum KsmKnob {
        KNOB_RUN,
        KNOB_PAGES_TO_SCAN,
        KNOB_SLEEP,
        KNOB_ADVISOR_MODE,
        KNOB_ADVISOR_MAX_CPU,
        KNOB_ADVISOR_MIN_PAGES,
        KNOB_ADVISOR_MAX_PAGES,
        KNOB_USE_ZERO_PAGES,
        KNOB_MAX_PAGE_SHARING,
        KNOB_MERGE_ACROSS_NODES,
        _KNOB_MAX,
} KsmKnob;

static const char *const knob_names[_KNOB_MAX] = {
        [KNOB_RUN] = "run",
        [KNOB_PAGES_TO_SCAN] = "pages_to_scan",
        [KNOB_SLEEP] = "sleep_millisecs",
        [KNOB_ADVISOR_MODE] = "advisor_mode",
        [KNOB_ADVISOR_MAX_CPU] = "advisor_max_cpu",
        [KNOB_ADVISOR_MIN_PAGES] = "advisor_min_pages_to_scan",
        [KNOB_ADVISOR_MAX_PAGES] = "advisor_max_pages_to_scan",
        [KNOB_USE_ZERO_PAGES] = "use_zero_pages",
        [KNOB_MAX_PAGE_SHARING] = "max_page_sharing",
        [KNOB_MERGE_ACROSS_NODES] = "merge_across_nodes",
};

typedef struct KnobTrack {
        bool found;             /* the kernel had it at the first plan */
        char found_value[48];   /* ... with this value */
        bool touched;           /* densityd planned a write to it */
        char planned[48];       /* the last value planned and not yet seen, "" if none */
        uint64_t planned_usec;
        unsigned tries;         /* times that value was planned */
} KnobTrack;

typedef enum KsmPhase {
        PHASE_NONE,          /* not planned yet */
        PHASE_OFF,           /* Mode=off */
        PHASE_ABSENT,        /* no KSM in this kernel */
        PHASE_HELD,          /* host memory unknown: knobs kept */
        PHASE_STOPPED,       /* not wanted, or refused (trust domains) */
        PHASE_BOOSTING,
        PHASE_IDLE,
        PHASE_UNPROFITABLE,  /* stopped: costs more than it saves */
        PHASE_FIXED,
        PHASE_ADVISOR,
} KsmPhase;

static const char *const phase_names[] = {
        [PHASE_NONE] = "starting",  [PHASE_OFF] = "off",         [PHASE_ABSENT] = "absent",
        [PHASE_HELD] = "held",      [PHASE_STOPPED] = "stopped", [PHASE_BOOSTING] = "boosting",
        [PHASE_IDLE] = "idle",      [PHASE_UNPROFITABLE] = "stopped", [PHASE_FIXED] = "fixed",
        [PHASE_ADVISOR] = "advisor",
};

typedef struct KsmState {
        bool captured;           /* knobs as found recorded */
        bool found_stored;       /* ... and kept in StateDirectory= (KSM_FOUND_FILE) */
        bool released;           /* a clean stop: the record is no longer needed */
        char boot_id[40];        /* the boot the record is of ("" unknown) */
        bool startup_done;       /* start-up only knobs handled */
        KnobTrack knobs[_KNOB_MAX];

        KsmMode mode;            /* the policy's, at the last plan */
        KsmPhase phase;
        bool held;               /* guests unknown this tick: nothing planned, phase kept */
        char reason[256];
        uint64_t since_usec;

        /* The previous tick's counters, for this tick's yield and cost. */
        bool have_prev;
        uint64_t prev_usec;
        int64_t prev_scanned, prev_merged, prev_run, prev_pages, prev_sleep_ms;
        uint64_t prev_cpu_usec;
        bool prev_has_cpu;

        double rate;                 /* pages per second planned (auto) */
        double cost_usec_per_page;   /* ksmd CPU per page scanned, smoothed; 0: unknown */
        /* ksmd CPU and pages scanned, summed over the valid intervals, and
         * their sums when idle began: idle's cost per page comes from the
         * whole idle time, as one tick at 0.1% of a core is too noisy. */
        double acc_cpu_usec, acc_scanned;
        double idle_cpu_usec0, idle_scanned0;
        int64_t boost_full_scans;    /* full_scans when the boost began */
        bool boost_paced;            /* its full scans are done, merging still paid: one scan a tick */
        size_t boost_guests;         /* the mergeable guests the boost scans for */
        uint64_t boost_bytes;
        /* The mergeable guests when merging last settled: more, or more
         * memory, starts a new boost. */
        size_t settled_guests;
        uint64_t settled_bytes;
} KsmState;

/* This tick's figures from the KSM files. */
typedef struct KsmObs {
        bool valid;           /* ksmd scanned through the whole interval */
        double seconds;
        double scanned;       /* pages scanned in the interval */
        double merged;        /* newly merged pages (may be negative) */
        double yield;         /* merged / scanned */
        double cpu_percent;   /* ksmd, of one core; < 0: unknown */
        int64_t full_scans;
} KsmObs;

static int64_t ksm_get(const KsmSample *k, const char *name, int64_t fallback) {
        int64_t v;
        return ksm_sample_get(k, name, &v) == 0 ? v : fallback;
}

/* The knob's value as sysfs shows it ("100", "scan-time"). */
static bool knob_current(const KsmSample *k, KsmKnob which, char *buf, size_t size) {
        const KsmValue *v = ksm_sample_find(k, knob_names[which]);
        if (!v)
                return false;
        if (v->numeric)
                snprintf(buf, size, "%lld", (long long) v->value);
        else
                strscpy(buf, size, v->text);
        return true;
}

/* KSM may merge the guest's memory: no <nosharepages/>. Facts not read yet
 * count as mergeable, the safe side for trust domains. */
static bool guest_mergeable(const GuestSample *g) {
        return !(g->facts.known && g->facts.nosharepages);
}

static void *ksm_state_new(void) {
        return calloc(1, sizeof(KsmState));
}

static void ksm_state_free(void *state) {
        free(state);
}

__attribute__((format(printf, 4, 5))) static void ksm_set_phase(KsmState *st, KsmPhase phase, uint64_t now,
                                                                const char *fmt, ...) {
        if (st->phase != phase)
                st->since_usec = now;
        st->phase = phase;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
        va_end(ap);
}

static uint64_t retry_backoff_usec(unsigned tries) {
        uint64_t b = KSM_RETRY_MIN_USEC;
        for (unsigned i = 1; i < tries && b < KSM_RETRY_MAX_USEC; i++)
                b *= 2;
        return b < KSM_RETRY_MAX_USEC ? b : KSM_RETRY_MAX_USEC;
}

/* Plan knob = value unless it already is; a value planned before that has
 * not taken (a failed write, or a dry run) waits out its back-off. */
static int ksm_want(KsmState *st, const KsmSample *k, uint64_t now, Plan *plan, KsmKnob which, const char *value,
                    const char *reason) {
        char cur[48];
        KnobTrack *t = &st->knobs[which];
        if (!knob_current(k, which, cur, sizeof(cur)))
                return 0; /* this kernel lacks it */
        if (strcmp(cur, value) == 0) {
                t->planned[0] = '\0';
                t->tries = 0;
                return 0;
        }
        if (strcmp(t->planned, value) == 0 && t->tries > 0) {
                if (now - t->planned_usec < retry_backoff_usec(t->tries))
                        return 0;
        } else {
                strscpy(t->planned, sizeof(t->planned), value);
                t->tries = 0;
        }
        t->tries++;
        t->planned_usec = now;
        t->touched = true;
        Action a = action_ksm_knob(ksm_controller.name, knob_names[which], value, "%s", reason);
        int r = plan_add(plan, &a);
        if (r < 0)
                return r;
        /* The next tick's yield and cost are for the interval these writes
         * start (this tick's sample predates them): a boost's first
         * interval counts. A write that fails skews one tick. */
        if (which == KNOB_RUN)
                st->prev_run = strtoll(value, NULL, 10);
        else if (which == KNOB_PAGES_TO_SCAN)
                st->prev_pages = strtoll(value, NULL, 10);
        else if (which == KNOB_SLEEP)
                st->prev_sleep_ms = strtoll(value, NULL, 10);
        return 0;
}

static int ksm_want_u64(KsmState *st, const KsmSample *k, uint64_t now, Plan *plan, KsmKnob which, uint64_t value,
                        const char *reason) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) value);
        return ksm_want(st, k, now, plan, which, buf, reason);
}

int ksm_commitment(const Snapshot *s, uint64_t *ret_committed, uint64_t *ret_capacity) {
        uint64_t committed = 0, rss = 0;
        for (size_t i = 0; i < s->n_guests; i++) {
                const GuestSample *g = &s->guests[i];
                uint64_t c = g->facts.known ? g->facts.max_memory_bytes : 0;
                if (g->has_balloon && g->balloon_maximum_bytes > c)
                        c = g->balloon_maximum_bytes;
                if (g->has_rss && g->rss_bytes > c)
                        c = g->rss_bytes;
                committed += c;
                rss += g->has_rss ? g->rss_bytes : 0;
        }
        const HostSample *h = &s->host;
        uint64_t capacity = h->mem.mem_total_bytes;
        if (h->cgroup.version > 0 && h->cgroup.has_limit && h->cgroup.limit_bytes < capacity)
                capacity = h->cgroup.limit_bytes;
        uint64_t reachable = rss + meminfo_available_bytes(&h->mem);
        if (reachable < capacity)
                capacity = reachable;
        if (capacity == 0)
                return -ENODATA;
        *ret_committed = committed;
        *ret_capacity = capacity;
        return 0;
}

/* Append ", word" (or the word alone) to a list, cut with "..." when full. */
static void text_append(char *buf, size_t size, const char *word) {
        size_t len = strlen(buf);
        if (len >= size - 1 || (len > 3 && strcmp(buf + len - 3, "...") == 0))
                return;
        int n = snprintf(buf + len, size - len, "%s%.*s", len ? ", " : "", (int) size, word);
        if (n < 0 || (size_t) n >= size - len)
                strscpy(buf + size - 4, 4, "...");
}

/* Whether KSM may merge the guests' memory at all: every guest whose memory
 * is mergeable (no <nosharepages/>; unknown facts count as mergeable) is of
 * a class with Ksm=yes, and all of one trust domain. Writes why not. */
static bool ksm_domains_agree(const Snapshot *s, const Policy *p, char *why, size_t size) {
        const char *domain[2] = {};
        char guests[2][40] = {}; /* names, cut to fit a reason */
        for (size_t i = 0; i < s->n_guests; i++) {
                const GuestSample *g = &s->guests[i];
                if (!guest_mergeable(g))
                        continue;
                const PolicyClass *c = class_of(p, g);
                if (!c->ksm) {
                        snprintf(why, size,
                                 "guest %.64s (class %.63s, Ksm=no) has mergeable memory: stopped so it is not "
                                 "merged (give it <memoryBacking><nosharepages/>)",
                                 g->name, c->name);
                        return false;
                }
                int slot = domain[0] == NULL || strcmp(domain[0], c->ksm_trust_domain) == 0 ? 0 : 1;
                if (slot == 1 && domain[1] && strcmp(domain[1], c->ksm_trust_domain) != 0)
                        continue; /* a third domain: two are enough to say why */
                domain[slot] = c->ksm_trust_domain;
                text_append(guests[slot], sizeof(guests[slot]), g->name);
        }
        if (!domain[1])
                return true;
        snprintf(why, size,
                 "mergeable guests of trust domains %.40s (%s) and %.40s (%s) run: stopped so they never "
                 "share pages",
                 domain[0], guests[0], domain[1], guests[1]);
        return false;
}

/* The mergeable guests and their memory, for the re-boost check. */
static void ksm_mergeable(const Snapshot *s, size_t *ret_n, uint64_t *ret_bytes) {
        size_t n = 0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < s->n_guests; i++) {
                const GuestSample *g = &s->guests[i];
                if (!guest_mergeable(g))
                        continue;
                n++;
                bytes += g->has_rss ? g->rss_bytes : 0;
        }
        *ret_n = n;
        *ret_bytes = bytes;
}

static int64_t ksm_merged_pages(const KsmSample *k) {
        return ksm_get(k, "pages_sharing", 0) + ksm_get(k, "ksm_zero_pages", 0);
}

/* This tick's yield and cost from the counters' growth since the last. */
static KsmObs ksm_observe(KsmState *st, const Snapshot *s) {
        const KsmSample *k = &s->host.ksm;
        KsmObs o = { .cpu_percent = k->has_ksmd_cpu_percent ? k->ksmd_cpu_percent : -1.0,
                     .full_scans = ksm_get(k, "full_scans", 0) };
        int64_t run = ksm_get(k, "run", 0), pages = ksm_get(k, "pages_to_scan", 0),
                sleep_ms = ksm_get(k, "sleep_millisecs", 0);
        bool has_scanned = ksm_sample_find(k, "pages_scanned") != NULL;
        int64_t scanned = ksm_get(k, "pages_scanned", 0), merged = ksm_merged_pages(k);

        if (st->have_prev && st->prev_run == 1 && run == 1 && s->timestamp_usec > st->prev_usec) {
                o.seconds = (double) (s->timestamp_usec - st->prev_usec) / (double) USEC_PER_SEC;
                if (has_scanned)
                        o.scanned = (double) (scanned - st->prev_scanned);
                else if (st->prev_sleep_ms > 0)
                        /* 6.1 has no pages_scanned: what the knobs allowed. */
                        o.scanned = (double) st->prev_pages * o.seconds * 1000.0 / (double) st->prev_sleep_ms;
                o.merged = (double) (merged - st->prev_merged);
                if (o.scanned > 0) {
                        o.valid = true;
                        o.yield = o.merged > 0 ? o.merged / o.scanned : 0.0;
                        if (k->has_ksmd_cpu && st->prev_has_cpu && k->ksmd_cpu_usec >= st->prev_cpu_usec) {
                                double cpu_usec = (double) (k->ksmd_cpu_usec - st->prev_cpu_usec);
                                double cost = cpu_usec / o.scanned;
                                st->acc_cpu_usec += cpu_usec;
                                st->acc_scanned += o.scanned;
                                st->cost_usec_per_page = st->cost_usec_per_page > 0
                                                                 ? 0.7 * st->cost_usec_per_page + 0.3 * cost
                                                                 : cost;
                        }
                }
        }
        st->have_prev = true;
        st->prev_usec = s->timestamp_usec;
        st->prev_scanned = scanned;
        st->prev_merged = merged;
        st->prev_run = run;
        st->prev_pages = pages;
        st->prev_sleep_ms = sleep_ms;
        st->prev_has_cpu = k->has_ksmd_cpu;
        st->prev_cpu_usec = k->ksmd_cpu_usec;
        return o;
}

/* Memory KSM saves net of its metadata: general_profit where the kernel
 * has it (6.7+), else the same estimate from the page counters. */
static int64_t ksm_profit_bytes(const HostSample *h) {
        int64_t v;
        if (ksm_sample_get(&h->ksm, "general_profit", &v) == 0)
                return v;
        const KsmSample *k = &h->ksm;
        int64_t items = ksm_get(k, "pages_shared", 0) + ksm_get(k, "pages_sharing", 0) +
                        ksm_get(k, "pages_unshared", 0) + ksm_get(k, "pages_volatile", 0);
        return ksm_merged_pages(k) * (int64_t) h->page_size_bytes - items * KSM_RMAP_ITEM_BYTES;
}

static double ksm_max_rate(const PolicyKsm *p) {
        return (double) p->pages_to_scan_max * 1e6 / (double) p->sleep_min_usec;
}

static double ksm_min_rate(const PolicyKsm *p) {
        return (double) p->pages_to_scan_min * 1e6 / (double) p->sleep_max_usec;
}

static double clamp(double v, double lo, double hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

/* Pages per wake-up and sleep for a rate, within the bounds. Boosting:
 * the shortest sleep that keeps pages_to_scan at or above its minimum
 * (ksmd sees new work soonest). Idle: the longest sleep that keeps
 * pages_to_scan at or below its maximum, as each wake-up costs ksmd more
 * than a page does (measured: 10 pages per 20 ms took 0.5% of a core). */
static void ksm_rate_knobs(const PolicyKsm *p, double rate, bool idle, unsigned *ret_pages, unsigned *ret_sleep_ms) {
        double min_sleep_ms = (double) p->sleep_min_usec / 1000.0, max_sleep_ms = (double) p->sleep_max_usec / 1000.0;
        double sleep_ms, pages;
        if (rate <= 0)
                sleep_ms = idle ? max_sleep_ms : min_sleep_ms;
        else if (idle)
                sleep_ms = clamp((double) p->pages_to_scan_max * 1000.0 / rate, min_sleep_ms, max_sleep_ms);
        else
                sleep_ms = clamp((double) p->pages_to_scan_min * 1000.0 / rate, min_sleep_ms, max_sleep_ms);
        pages = clamp(rate * sleep_ms / 1000.0, (double) p->pages_to_scan_min, (double) p->pages_to_scan_max);
        *ret_pages = (unsigned) (pages + 0.5);
        *ret_sleep_ms = (unsigned) (sleep_ms + 0.5);
}

/* Write pages_to_scan, sleep_millisecs and run=1 for st->rate, unless the
 * rate in force is already close (and the phase did not just change). */
static int ksm_want_rate(KsmState *st, const Snapshot *s, const PolicyKsm *pk, Plan *plan, bool force) {
        const KsmSample *k = &s->host.ksm;
        unsigned pages, sleep_ms;
        ksm_rate_knobs(pk, st->rate, st->phase == PHASE_IDLE, &pages, &sleep_ms);
        int64_t cur_pages = ksm_get(k, "pages_to_scan", 0), cur_sleep = ksm_get(k, "sleep_millisecs", 0);
        double cur_rate = cur_sleep > 0 ? (double) cur_pages * 1000.0 / (double) cur_sleep : 0;
        bool in_bounds = cur_pages >= pk->pages_to_scan_min && cur_pages <= pk->pages_to_scan_max &&
                         cur_sleep * 1000 >= (int64_t) pk->sleep_min_usec &&
                         cur_sleep * 1000 <= (int64_t) pk->sleep_max_usec;
        double lo = st->phase == PHASE_IDLE ? st->rate / KSM_IDLE_RATE_FACTOR : st->rate * (1 - KSM_RATE_SLACK);
        double hi = st->phase == PHASE_IDLE ? st->rate * KSM_IDLE_RATE_FACTOR : st->rate * (1 + KSM_RATE_SLACK);
        int r = 0;
        if (force || !in_bounds || cur_rate < lo || cur_rate > hi) {
                char why[300];
                snprintf(why, sizeof(why), "%s: %.0f pages/s", st->reason, (double) pages * 1000.0 / sleep_ms);
                r = ksm_want_u64(st, k, s->timestamp_usec, plan, KNOB_PAGES_TO_SCAN, pages, why);
                if (r == 0)
                        r = ksm_want_u64(st, k, s->timestamp_usec, plan, KNOB_SLEEP, sleep_ms, why);
        }
        if (r == 0)
                r = ksm_want(st, k, s->timestamp_usec, plan, KNOB_RUN, "1", st->reason);
        return r;
}

/* More mergeable guests than before, or their memory grew by
 * KSM_REBOOST_GROWTH and KSM_REBOOST_MIN_BYTES. */
static bool ksm_grew(size_t n, uint64_t bytes, size_t was_n, uint64_t was_bytes) {
        return n > was_n || (bytes > was_bytes + KSM_REBOOST_MIN_BYTES &&
                             (double) bytes > (double) was_bytes * (1.0 + KSM_REBOOST_GROWTH));
}

/* A boost starts, or must scan again for guests that joined it: count its
 * full scans from now. */
static void ksm_boost_scans_restart(KsmState *st, const KsmObs *o, size_t n_mergeable, uint64_t mergeable_bytes) {
        st->boost_full_scans = o->full_scans;
        st->boost_paced = false;
        st->boost_guests = n_mergeable;
        st->boost_bytes = mergeable_bytes;
}

/* Auto mode: boost while merging pays, idle when it does not. */
static int ksm_plan_auto(KsmState *st, const Snapshot *s, const PolicyKsm *pk, uint64_t interval_usec, const KsmObs *o,
                         Plan *plan) {
        const KsmSample *k = &s->host.ksm;
        uint64_t now = s->timestamp_usec;
        KsmPhase before = st->phase;
        size_t n_mergeable;
        uint64_t mergeable_bytes;
        ksm_mergeable(s, &n_mergeable, &mergeable_bytes);
        double max_rate = ksm_max_rate(pk), min_rate = ksm_min_rate(pk);

        bool grew = ksm_grew(n_mergeable, mergeable_bytes, st->settled_guests, st->settled_bytes);
        if (st->phase == PHASE_IDLE || st->phase == PHASE_UNPROFITABLE) {
                /* Guests that stop lower the mark, so a new one boosts. */
                if (n_mergeable < st->settled_guests)
                        st->settled_guests = n_mergeable;
                if (mergeable_bytes < st->settled_bytes)
                        st->settled_bytes = mergeable_bytes;
        }

        /* Why a boost starts now, "" if it does not. */
        char boost[160] = "";
        if (st->phase != PHASE_BOOSTING && st->phase != PHASE_IDLE && st->phase != PHASE_UNPROFITABLE)
                snprintf(boost, sizeof(boost), "merging wanted");
        else if (st->phase != PHASE_BOOSTING && grew)
                snprintf(boost, sizeof(boost), "%zu mergeable guests with %.0f MiB (were %zu with %.0f MiB)",
                         n_mergeable, (double) mergeable_bytes / MIB, st->settled_guests,
                         (double) st->settled_bytes / MIB);
        else if (st->phase == PHASE_IDLE && o->valid && o->yield >= KSM_YIELD_PAYS &&
                 o->merged >= KSM_REBOOST_MIN_MERGED_PAGES)
                snprintf(boost, sizeof(boost), "merging pays again (%.1f newly merged per 1000 scanned)",
                         o->yield * 1000.0);

        if (boost[0]) {
                st->rate = max_rate;
                ksm_boost_scans_restart(st, o, n_mergeable, mergeable_bytes);
                ksm_set_phase(st, PHASE_BOOSTING, now, "%s: boosting", boost);
        } else if (st->phase == PHASE_BOOSTING &&
                   ksm_grew(n_mergeable, mergeable_bytes, st->boost_guests, st->boost_bytes)) {
                /* Guests started or grew during the boost: their pages need
                 * the full scans too. */
                ksm_boost_scans_restart(st, o, n_mergeable, mergeable_bytes);
                st->rate = max_rate;
        } else if (st->phase == PHASE_BOOSTING && o->full_scans - st->boost_full_scans >= KSM_BOOST_MIN_FULL_SCANS) {
                /* The boost's full scans are done: a page merges in the
                 * second scan that finds it unchanged. If merging still paid
                 * in this interval (it may have been those scans, or guests
                 * still booting), scan on at one full scan a tick, so the
                 * next tick's yield is one scan's; a full-rate boost would
                 * spend ksmd on pages that do not merge (measured: 0.4 s of
                 * CPU a second). Once a scan yields nothing: idle. */
                if (o->valid && o->yield < KSM_YIELD_PAYS) {
                        st->settled_guests = n_mergeable;
                        st->settled_bytes = mergeable_bytes;
                        ksm_set_phase(st, PHASE_IDLE, now,
                                      "merging stopped paying (%.2f newly merged per 1000 scanned after %lld full "
                                      "scans): idle within IdleCpu=%.3g%%",
                                      o->yield * 1000.0, (long long) (o->full_scans - st->boost_full_scans),
                                      pk->idle_cpu_percent);
                } else if (!st->boost_paced) {
                        st->boost_paced = true;
                        ksm_set_phase(st, PHASE_BOOSTING, now,
                                      "%lld full scans done, merging still paid (%.1f newly merged per 1000 "
                                      "scanned): one full scan a tick until it does not",
                                      (long long) (o->full_scans - st->boost_full_scans), o->yield * 1000.0);
                }
        }

        int64_t profit = st->phase == PHASE_IDLE ? ksm_profit_bytes(&s->host) : 0;
        if (profit < 0) {
                ksm_set_phase(st, PHASE_UNPROFITABLE, now,
                              "not profitable: KSM's metadata outweighs what it saves by %.1f MiB: stopped, merged "
                              "pages kept",
                              (double) -profit / MIB);
        }

        if (st->phase == PHASE_UNPROFITABLE || (st->phase == PHASE_IDLE && pk->idle_cpu_percent <= 0))
                return ksm_want(st, k, now, plan, KNOB_RUN, "0", st->reason);

        if (st->phase == PHASE_BOOSTING && st->boost_paced) {
                /* One full scan a tick: the pages KSM tracks per interval,
                 * never faster than a boost. */
                double tracked = (double) (ksm_get(k, "pages_shared", 0) + ksm_get(k, "pages_sharing", 0) +
                                           ksm_get(k, "pages_unshared", 0) + ksm_get(k, "pages_volatile", 0) +
                                           ksm_get(k, "ksm_zero_pages", 0));
                double interval = (double) (interval_usec > 0 ? interval_usec : USEC_PER_SEC) / 1e6;
                st->rate = clamp(tracked / interval, min_rate, st->rate);
        } else if (st->phase == PHASE_BOOSTING) {
                /* Keep ksmd under CpuBudget=: its CPU follows the rate. */
                double budget = pk->cpu_budget_percent;
                if (o->cpu_percent > budget)
                        st->rate *= budget * KSM_CPU_MARGIN / o->cpu_percent;
                else if (o->cpu_percent >= 0 && o->cpu_percent < budget * 0.7 && st->rate < max_rate)
                        st->rate *= clamp(budget * KSM_CPU_MARGIN / (o->cpu_percent > 1.0 ? o->cpu_percent : 1.0),
                                          1.0, 2.0);
        } else {
                /* Idle: what IdleCpu= buys at the measured cost per page,
                 * over the idle time once it is long enough. */
                if (before != PHASE_IDLE) {
                        st->idle_cpu_usec0 = st->acc_cpu_usec;
                        st->idle_scanned0 = st->acc_scanned;
                }
                double scanned = st->acc_scanned - st->idle_scanned0;
                double cost = scanned >= KSM_IDLE_COST_MIN_PAGES ? (st->acc_cpu_usec - st->idle_cpu_usec0) / scanned
                                                                  : st->cost_usec_per_page;
                double rate = cost > 0 ? pk->idle_cpu_percent / 100.0 * 1e6 / cost : min_rate;
                /* One tick far over IdleCpu= (a cost the boost's figure
                 * did not tell): down at once. */
                if (o->cpu_percent > pk->idle_cpu_percent * KSM_IDLE_OVER_FACTOR && st->rate > 0 &&
                    scanned < KSM_IDLE_COST_MIN_PAGES)
                        rate = st->rate * pk->idle_cpu_percent / o->cpu_percent;
                st->rate = rate;
        }
        st->rate = clamp(st->rate, min_rate, max_rate);
        return ksm_want_rate(st, s, pk, plan, st->phase != before);
}

static int ksm_plan_advisor(KsmState *st, const Snapshot *s, const PolicyKsm *pk, Plan *plan) {
        const KsmSample *k = &s->host.ksm;
        uint64_t now = s->timestamp_usec;
        if (st->phase != PHASE_ADVISOR)
                ksm_set_phase(st, PHASE_ADVISOR, now, "Mode=advisor: the kernel's advisor sets the scan rate");
        int r = ksm_want_u64(st, k, now, plan, KNOB_ADVISOR_MAX_CPU, (uint64_t) (pk->cpu_budget_percent + 0.5),
                             "Mode=advisor: CpuBudget=");
        if (r == 0)
                r = ksm_want_u64(st, k, now, plan, KNOB_ADVISOR_MIN_PAGES, pk->pages_to_scan_min,
                                 "Mode=advisor: PagesToScanMin=");
        if (r == 0)
                r = ksm_want_u64(st, k, now, plan, KNOB_ADVISOR_MAX_PAGES, pk->pages_to_scan_max,
                                 "Mode=advisor: PagesToScanMax=");
        if (r == 0)
                r = ksm_want(st, k, now, plan, KNOB_ADVISOR_MODE, "scan-time", st->reason);
        if (r == 0)
                r = ksm_want(st, k, now, plan, KNOB_RUN, "1", st->reason);
        return r;
}

/* The knobs that count only while nothing is merged, once, at start-up. */
static int ksm_plan_startup(KsmState *st, const Snapshot *s, const PolicyKsm *pk, Plan *plan) {
        const KsmSample *k = &s->host.ksm;
        uint64_t now = s->timestamp_usec;
        st->startup_done = true;
        if (!pk->has_use_zero_pages && !pk->has_max_page_sharing && !pk->has_merge_across_nodes)
                return 0;
        if (ksm_get(k, "pages_shared", 0) > 0 || ksm_get(k, "pages_sharing", 0) > 0) {
                ksm_set_phase(st, st->phase, now,
                              "UseZeroPages=, MaxPageSharing=, MergeAcrossNodes= not applied: pages are merged "
                              "already (they apply at start-up while nothing is merged)");
                return 0;
        }
        int r = 0;
        if (pk->has_use_zero_pages)
                r = ksm_want_u64(st, k, now, plan, KNOB_USE_ZERO_PAGES, pk->use_zero_pages, "UseZeroPages=, at start-up");
        if (r == 0 && pk->has_max_page_sharing)
                r = ksm_want_u64(st, k, now, plan, KNOB_MAX_PAGE_SHARING, pk->max_page_sharing,
                                 "MaxPageSharing=, at start-up");
        if (r == 0 && pk->has_merge_across_nodes)
                r = ksm_want_u64(st, k, now, plan, KNOB_MERGE_ACROSS_NODES, pk->merge_across_nodes,
                                 "MergeAcrossNodes=, at start-up");
        return r;
}

static int ksm_plan(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        KsmState *st = state;
        const PolicyKsm *pk = &p->ksm;
        const KsmSample *k = &s->host.ksm;
        uint64_t now = s->timestamp_usec;

        if (!k->present) {
                ksm_set_phase(st, PHASE_ABSENT, now, "this kernel has no KSM (/sys/kernel/mm/ksm)");
                return 0;
        }
        if (!st->captured) {
                for (int i = 0; i < _KNOB_MAX; i++)
                        st->knobs[i].found = knob_current(k, (KsmKnob) i, st->knobs[i].found_value,
                                                          sizeof(st->knobs[i].found_value));
                st->captured = true;
        }
        KsmObs o = ksm_observe(st, s);
        st->mode = pk->mode;
        if (pk->mode == KSM_MODE_OFF) {
                ksm_set_phase(st, PHASE_OFF, now, "Mode=off: densityd writes no KSM knob");
                return 0;
        }
        int r = st->startup_done ? 0 : ksm_plan_startup(st, s, pk, plan);
        if (r < 0)
                return r;
        st->held = !s->hypervisor_connected;
        if (st->held)
                return 0;

        KsmMode mode = pk->mode;
        bool has_advisor = ksm_sample_find(k, "advisor_mode") != NULL;
        if (mode == KSM_MODE_ADVISOR && !has_advisor)
                mode = KSM_MODE_AUTO; /* before 6.8 */
        char cur[48];
        if (mode != KSM_MODE_ADVISOR && knob_current(k, KNOB_ADVISOR_MODE, cur, sizeof(cur)) &&
            strcmp(cur, "none") != 0) {
                /* The advisor owns pages_to_scan while it is on. */
                r = ksm_want(st, k, now, plan, KNOB_ADVISOR_MODE, "none", "densityd sets the scan rate itself");
                if (r < 0)
                        return r;
        }

        char why[256];
        uint64_t committed, capacity;
        bool running = st->phase == PHASE_BOOSTING || st->phase == PHASE_IDLE || st->phase == PHASE_UNPROFITABLE ||
                       st->phase == PHASE_FIXED || st->phase == PHASE_ADVISOR;
        if (!ksm_domains_agree(s, p, why, sizeof(why))) {
                ksm_set_phase(st, PHASE_STOPPED, now, "%s", why);
                return ksm_want(st, k, now, plan, KNOB_RUN, "0", st->reason);
        }
        if (ksm_commitment(s, &committed, &capacity) < 0) {
                ksm_set_phase(st, PHASE_HELD, now, "host memory unknown: knobs kept");
                return 0;
        }
        double pct = 100.0 * (double) committed / (double) capacity;
        double threshold = running ? pk->stop_at_percent : pk->start_at_percent;
        if (pct < threshold || s->n_guests == 0) {
                ksm_set_phase(st, PHASE_STOPPED, now,
                              "not needed: guests have committed %.0f%% of %.0f MiB capacity, below %s=%.3g%%", pct,
                              (double) capacity / MIB, running ? "StopAt" : "StartAt", threshold);
                return ksm_want(st, k, now, plan, KNOB_RUN, "0", st->reason);
        }

        switch (mode) {
        case KSM_MODE_FIXED:
                if (st->phase != PHASE_FIXED)
                        ksm_set_phase(st, PHASE_FIXED, now,
                                      "Mode=fixed, merging wanted (guests have committed %.0f%% of capacity)", pct);
                r = ksm_want_u64(st, k, now, plan, KNOB_PAGES_TO_SCAN, pk->pages_to_scan, st->reason);
                if (r == 0)
                        r = ksm_want_u64(st, k, now, plan, KNOB_SLEEP, pk->sleep_usec / USEC_PER_MSEC, st->reason);
                if (r == 0)
                        r = ksm_want(st, k, now, plan, KNOB_RUN, "1", st->reason);
                return r;
        case KSM_MODE_ADVISOR:
                return ksm_plan_advisor(st, s, pk, plan);
        default:
                return ksm_plan_auto(st, s, pk, p->interval_usec, &o, plan);
        }
}

static void ksm_status(const void *state, ControllerStatus *ret) {
        const KsmState *st = state;
        ControllerStatus c = { .since_usec = st->since_usec };
        strscpy(c.mode, sizeof(c.mode), ksm_mode_name(st->mode));
        strscpy(c.state, sizeof(c.state), st->held ? "held" : phase_names[st->phase]);
        strscpy(c.reason, sizeof(c.reason),
                st->held ? "hypervisor unreachable: guests unknown, knobs kept as they are" : st->reason);
        *ret = c;
}

/* On a clean stop with RestoreOnExit=: every knob densityd wrote goes back
 * to its value as found; run last, so ksmd never runs at a mixed setting.
 * max_page_sharing and merge_across_nodes can change only while nothing
 * is merged: never unmerge for them. */
static int ksm_plan_stop(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        KsmState *st = state;
        const KsmSample *k = &s->host.ksm;
        if (!p->ksm.restore_on_exit || p->ksm.mode == KSM_MODE_OFF || !k->present || !st->captured)
                return 0; /* the record stays: what a crashed densityd left is still there */
        /* The knobs go back now: the record has served (a write that fails
         * is journaled; the next densityd takes the knobs as they are). */
        st->released = true;
        bool merged = ksm_get(k, "pages_shared", 0) > 0 || ksm_get(k, "pages_sharing", 0) > 0;
        static const KsmKnob order[] = {
                KNOB_ADVISOR_MODE,      KNOB_ADVISOR_MAX_CPU,  KNOB_ADVISOR_MIN_PAGES, KNOB_ADVISOR_MAX_PAGES,
                KNOB_PAGES_TO_SCAN,     KNOB_SLEEP,            KNOB_USE_ZERO_PAGES,    KNOB_MAX_PAGE_SHARING,
                KNOB_MERGE_ACROSS_NODES, KNOB_RUN,
        };
        /* The advisor was found on: it takes pages_to_scan back last. */
        bool advisor_last = st->knobs[KNOB_ADVISOR_MODE].found &&
                            strcmp(st->knobs[KNOB_ADVISOR_MODE].found_value, "none") != 0;
        for (size_t pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                        KsmKnob w = order[i];
                        KnobTrack *t = &st->knobs[w];
                        bool late = w == KNOB_RUN || (w == KNOB_ADVISOR_MODE && advisor_last);
                        if (late != (pass == 1) || !t->touched || !t->found)
                                continue;
                        if (merged && (w == KNOB_MAX_PAGE_SHARING || w == KNOB_MERGE_ACROSS_NODES))
                                continue;
                        t->planned[0] = '\0'; /* no back-off on the way out */
                        t->tries = 0;
                        int r = ksm_want(st, k, s->timestamp_usec, plan, w, t->found_value,
                                         "densityd stops: back as found (RestoreOnExit=yes)");
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* The knobs as found, kept across a crash: a densityd that dies without
 * putting them back leaves its own writes in sysfs, which the next one
 * must not take for the host's. Kept per boot: a reboot resets KSM. */
#define KSM_FOUND_FILE "ksm-found.json"
#define KSM_FOUND_VERSION 1

static void read_boot_id(char *buf, size_t size) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        buf[0] = '\0';
        if (read_file_at("/proc", "sys/kernel/random/boot_id", &text, &len) == 0) {
                text[strcspn(text, "\n")] = '\0';
                strscpy(buf, size, text);
        }
}

static int ksm_state_load(void *state, const char *dir, char *err, size_t err_size) {
        KsmState *st = state;
        read_boot_id(st->boot_id, sizeof(st->boot_id));
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_file_at(dir, KSM_FOUND_FILE, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(err, err_size, "cannot read %s/%s: %s", dir, KSM_FOUND_FILE, strerror(-r));
                return r;
        }
        json_object *o = json_tokener_parse(text), *v, *knobs;
        r = 0;
        if (!o || !json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != KSM_FOUND_VERSION ||
            !json_object_object_get_ex(o, "boot_id", &v) || !json_object_is_type(v, json_type_string) ||
            !json_object_object_get_ex(o, "knobs", &knobs) || !json_object_is_type(knobs, json_type_object)) {
                snprintf(err, err_size, "%s/%s is not a record of KSM knobs: ignored (the knobs as they are now count "
                                        "as found)",
                         dir, KSM_FOUND_FILE);
                r = -EINVAL;
        } else if (!st->boot_id[0] || strcmp(json_object_get_string(v), st->boot_id) != 0) {
                r = 0; /* another boot: KSM was reset since */
        } else {
                KnobTrack found[_KNOB_MAX] = {};
                bool ok = true;
                json_object_object_foreach(knobs, name, value) {
                        int i;
                        for (i = 0; i < _KNOB_MAX; i++)
                                if (strcmp(name, knob_names[i]) == 0)
                                        break;
                        if (i == _KNOB_MAX || !json_object_is_type(value, json_type_string) ||
                            strlen(json_object_get_string(value)) >= sizeof(found[i].found_value)) {
                                ok = false;
                                break;
                        }
                        found[i].found = true;
                        strscpy(found[i].found_value, sizeof(found[i].found_value), json_object_get_string(value));
                }
                if (!ok) {
                        snprintf(err, err_size, "%s/%s has a knob it should not: ignored", dir, KSM_FOUND_FILE);
                        r = -EINVAL;
                } else {
                        /* The last densityd may have written any of them. */
                        for (int i = 0; i < _KNOB_MAX; i++) {
                                st->knobs[i].found = found[i].found;
                                st->knobs[i].touched = found[i].found;
                                strscpy(st->knobs[i].found_value, sizeof(st->knobs[i].found_value),
                                        found[i].found_value);
                        }
                        st->captured = true;
                        st->found_stored = true;
                        snprintf(err, err_size,
                                 "the KSM knobs as an earlier densityd found them (%s/%s; it did not put them "
                                 "back) are what a clean stop puts back",
                                 dir, KSM_FOUND_FILE);
                        r = 1;
                }
        }
        json_object_put(o);
        return r;
}

static int ksm_state_store(void *state, const char *dir, char *err, size_t err_size) {
        KsmState *st = state;
        char path[PATH_MAX];
        int r = path_join(path, sizeof(path), dir, KSM_FOUND_FILE);
        if (r < 0)
                return r;
        if (st->released) {
                if (st->found_stored && unlink(path) < 0 && errno != ENOENT) {
                        r = -errno;
                        snprintf(err, err_size, "cannot remove %s: %s", path, strerror(-r));
                        return r;
                }
                st->found_stored = false;
                return 0;
        }
        if (!st->captured || st->found_stored || st->mode == KSM_MODE_OFF)
                return 0;
        json_object *o = json_object_new_object(), *knobs = json_object_new_object();
        if (!o || !knobs) {
                json_object_put(o);
                json_object_put(knobs);
                return -ENOMEM;
        }
        json_object_object_add(o, "version", json_object_new_int(KSM_FOUND_VERSION));
        json_object_object_add(o, "boot_id", json_object_new_string(st->boot_id));
        json_object_object_add(o, "knobs", knobs);
        for (int i = 0; i < _KNOB_MAX; i++)
                if (st->knobs[i].found)
                        json_object_object_add(knobs, knob_names[i], json_object_new_string(st->knobs[i].found_value));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                r = -errno;
        else
                r = write_file_durable(path, text, strlen(text), 0600);
        json_object_put(o);
        if (r < 0) {
                snprintf(err, err_size, "cannot write %s: %s", path, strerror(-r));
                return r;
        }
        st->found_stored = true;
        return 0;
}

const Controller ksm_controller = {
        .name = "ksm",
        .state_new = ksm_state_new,
        .state_free = ksm_state_free,
        .plan = ksm_plan,
        .status = ksm_status,
        .plan_stop = ksm_plan_stop,
        .state_load = ksm_state_load,
        .state_store = ksm_state_store,
};
