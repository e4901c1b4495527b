/* balloon-controller: the balloon planner (see balloon-controller.h). */
#include "density/balloon-controller.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "density/class.h"
#include "density/shed.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)

typedef struct BalloonState {
        BalloonGuest *guests;
        size_t n, allocated;
        uint64_t inflated_bytes, deflated_bytes;
        bool has_host;
        uint64_t capacity_bytes, use_bytes, target_use_bytes;

        ControllerStatus status; /* what status shows: state, reason, since */
} BalloonState;

/* One guest's lot in this plan. */
typedef struct Lot {
        const GuestSample *g;
        BalloonGuest *bg;
        BalloonJudgement j;
        unsigned priority, shares;
        uint64_t cap;  /* the most it may move this tick */
        uint64_t take; /* what the split gives it */
        double weight;
        bool acted;
} Lot;

static void *balloon_state_new(void) {
        BalloonState *st = calloc(1, sizeof(BalloonState));
        if (st)
                strscpy(st->status.state, sizeof(st->status.state), "starting");
        return st;
}

static void balloon_state_free(void *state) {
        BalloonState *st = state;
        if (!st)
                return;
        free(st->guests);
        free(st);
}

void balloon_controller_report(const void *state, BalloonReport *ret) {
        const BalloonState *st = state;
        *ret = (BalloonReport){
                .n_guests = st->n,
                .guests = st->guests,
                .inflated_bytes_total = st->inflated_bytes,
                .deflated_bytes_total = st->deflated_bytes,
                .has_host = st->has_host,
                .capacity_bytes = st->capacity_bytes,
                .use_bytes = st->use_bytes,
                .target_use_bytes = st->target_use_bytes,
        };
}

__attribute__((format(printf, 3, 4))) static void guest_set(BalloonGuest *bg, const char *state, const char *fmt, ...) {
        strscpy(bg->state, sizeof(bg->state), state);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(bg->reason, sizeof(bg->reason), fmt, ap);
        va_end(ap);
}

static double mib(uint64_t bytes) {
        return (double) bytes / MIB;
}

static int balloon_guest_cmp(const void *a, const void *b) {
        return strcmp(((const BalloonGuest *) a)->uuid, ((const BalloonGuest *) b)->uuid);
}

/* The controller's record of a guest, looked up among the first n_sorted
 * records (sorted by uuid); with add, added at the end if absent (the
 * caller sorts again). NULL: absent, or out of memory. */
static BalloonGuest *balloon_guest_get(BalloonState *st, size_t n_sorted, const GuestSample *g, bool add) {
        BalloonGuest key;
        strscpy(key.uuid, sizeof(key.uuid), g->uuid);
        BalloonGuest *found = n_sorted > 0 ? bsearch(&key, st->guests, n_sorted, sizeof(key), balloon_guest_cmp) : NULL;
        if (found || !add)
                return found;
        if (st->n == st->allocated) {
                size_t n = st->allocated ? st->allocated * 2 : 16;
                BalloonGuest *x = realloc(st->guests, n * sizeof(*x));
                if (!x)
                        return NULL;
                st->guests = x;
                st->allocated = n;
        }
        BalloonGuest *bg = &st->guests[st->n++];
        *bg = (BalloonGuest){};
        strscpy(bg->uuid, sizeof(bg->uuid), g->uuid);
        return bg;
}

/* What the snapshot shows of a guest: its balloon's moves (whoever made
 * them), and its pressure counters at each new report. */
static void balloon_observe(BalloonState *st, BalloonGuest *bg, const GuestSample *g) {
        bg->seen = true;
        strscpy(bg->name, sizeof(bg->name), g->name);
        strscpy(bg->class_name, sizeof(bg->class_name), g->class_name);
        if (g->has_balloon) {
                if (bg->actual_bytes > 0 && g->balloon_actual_bytes < bg->actual_bytes)
                        st->inflated_bytes += bg->actual_bytes - g->balloon_actual_bytes;
                else if (bg->actual_bytes > 0)
                        st->deflated_bytes += g->balloon_actual_bytes - bg->actual_bytes;
                bg->actual_bytes = g->balloon_actual_bytes;
                bg->maximum_bytes = g->balloon_maximum_bytes;
        }
        bg->has_rss = g->has_rss;
        bg->overhead_bytes = g->has_rss && g->has_balloon && g->rss_bytes > g->balloon_actual_bytes
                                     ? g->rss_bytes - g->balloon_actual_bytes
                                     : 0;

        if (g->balloon_last_update == 0 || g->balloon_last_update == bg->counters_update)
                return;
        /* A new report: did the counters rise since the one before? (A
         * guest that rebooted starts them again: no rise.) */
        bg->counters_rising = false;
        bg->counters_why[0] = '\0';
        if (bg->has_counters) {
                if (g->has_major_faults && g->major_faults >= bg->major_faults &&
                    g->major_faults - bg->major_faults >= BALLOON_MAJOR_FAULTS_PRESSURE) {
                        bg->counters_rising = true;
                        snprintf(bg->counters_why, sizeof(bg->counters_why), "%llu major faults since its last report",
                                 (unsigned long long) (g->major_faults - bg->major_faults));
                } else if (g->has_swap_in && g->swap_in_bytes > bg->swap_in_bytes) {
                        bg->counters_rising = true;
                        snprintf(bg->counters_why, sizeof(bg->counters_why),
                                 "swapped in %.1f MiB since its last report",
                                 mib(g->swap_in_bytes - bg->swap_in_bytes));
                }
        }
        bg->counters_update = g->balloon_last_update;
        bg->has_counters = g->has_major_faults || g->has_swap_in;
        bg->major_faults = g->major_faults;
        bg->swap_in_bytes = g->swap_in_bytes;
}

/* The last target densityd set: reached (in a fresh report), still
 * settling, or not reached in time (stuck: noted once, left alone). Return:
 * whether the guest may be acted on now; if not, its state says why. */
static int balloon_follow_target(BalloonGuest *bg, const GuestSample *g, const Policy *p, uint64_t now, Plan *plan,
                                 bool *ret_free) {
        *ret_free = false;
        if (bg->stuck_until_usec > now) {
                guest_set(bg, "stuck", "its balloon did not reach %.0f MiB: left alone for %.0f s more",
                          mib(bg->target_bytes), (double) (bg->stuck_until_usec - now) / 1e6);
                return 0;
        }
        if (!bg->target_usec || bg->target_reached) {
                *ret_free = true;
                return 0;
        }
        uint64_t settle = BALLOON_SETTLE_INTERVALS * p->interval_usec;
        if (settle < BALLOON_SETTLE_MIN_USEC)
                settle = BALLOON_SETTLE_MIN_USEC;
        uint64_t tol = policy_percent_bytes(bg->maximum_bytes, 1.0);
        if (tol < 2 * BALLOON_GRAIN_BYTES)
                tol = 2 * BALLOON_GRAIN_BYTES;
        uint64_t off = g->balloon_actual_bytes > bg->target_bytes ? g->balloon_actual_bytes - bg->target_bytes
                                                                  : bg->target_bytes - g->balloon_actual_bytes;
        bool fresh = g->balloon_last_update != bg->target_update;
        if (p->dry_run) {
                /* Nothing was set: the same "would" again only after a while. */
                if (usec_since(now, bg->target_usec) < settle) {
                        guest_set(bg, "settling", "DryRun=yes: would have set %.0f MiB", mib(bg->target_bytes));
                        return 0;
                }
                bg->target_reached = true;
                *ret_free = true;
                return 0;
        }
        if (off <= tol && fresh) {
                bg->target_reached = true;
                *ret_free = true;
                if (!bg->shrink_asked_bytes)
                        return 0;
                /* What did the host get back? */
                uint64_t asked = bg->shrink_asked_bytes, held = shed_guest_bytes(g);
                uint64_t freed = bg->shrink_host_bytes > held ? bg->shrink_host_bytes - held : 0;
                bg->shrink_asked_bytes = 0;
                if (freed * 4 >= asked)
                        return 0;
                bg->futile_until_usec = now + BALLOON_FUTILE_HOLD_USEC;
                return plan_note(plan, balloon_controller.name, g,
                                 "inflating its balloon by %.0f MiB freed %.0f MiB on the host: its free memory was "
                                 "with the host already (free page reporting) or never touched; not shrunk again for "
                                 "%.0f min",
                                 mib(asked), mib(freed), (double) BALLOON_FUTILE_HOLD_USEC / 60e6);
        }
        if (usec_since(now, bg->target_usec) < settle) {
                guest_set(bg, "settling", "target %.0f MiB set %.0f s ago, at %.0f MiB; waiting for its next report",
                          mib(bg->target_bytes), (double) usec_since(now, bg->target_usec) / 1e6,
                          mib(g->balloon_actual_bytes));
                return 0;
        }
        bg->target_reached = true; /* not followed any more: noted once */
        bg->stuck_until_usec = now + BALLOON_STUCK_HOLD_USEC;
        guest_set(bg, "stuck", "its balloon did not reach %.0f MiB: left alone for %.0f s", mib(bg->target_bytes),
                  (double) BALLOON_STUCK_HOLD_USEC / 1e6);
        return plan_note(plan, balloon_controller.name, g,
                         "balloon target %.0f MiB not reached after %.0f s (at %.0f MiB%s): no balloon driver in the "
                         "guest, or memory it cannot give; left alone for %.0f min",
                         mib(bg->target_bytes), (double) usec_since(now, bg->target_usec) / 1e6,
                         mib(g->balloon_actual_bytes), fresh ? "" : ", and no report from it since",
                         (double) BALLOON_STUCK_HOLD_USEC / 60e6);
}

static int balloon_act(Lot *l, uint64_t target, uint64_t now, const Policy *p, Plan *plan, const char *state,
                       const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int balloon_act(Lot *l, uint64_t target, uint64_t now, const Policy *p, Plan *plan, const char *state,
                       const char *fmt, ...) {
        Action a = action_balloon(balloon_controller.name, l->g, target, "%s", "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a.reason, sizeof(a.reason), fmt, ap);
        va_end(ap);
        int r = plan_add(plan, &a);
        if (r < 0)
                return r;
        BalloonGuest *bg = l->bg;
        bg->shrink_asked_bytes = 0;
        if (target < l->g->balloon_actual_bytes && !p->dry_run && (l->g->has_rss || l->g->n_nodes)) {
                bg->shrink_asked_bytes = l->g->balloon_actual_bytes - target;
                bg->shrink_host_bytes = shed_guest_bytes(l->g);
        }
        bg->target_bytes = target;
        bg->target_usec = now;
        bg->target_update = l->g->balloon_last_update;
        bg->target_reached = false;
        action_describe(&a, bg->last_action, sizeof(bg->last_action));
        guest_set(bg, state, "%s%s", p->dry_run ? "would: " : "", a.reason);
        l->acted = true;
        return 0;
}

/* Split need among lots[] (cap and weight set): in proportion to weight,
 * none past its cap, again over the rest when one is capped. */
static void balloon_split(Lot **lots, size_t n, uint64_t need) {
        uint64_t left = need;
        for (size_t round = 0; round <= n && left >= BALLOON_GRAIN_BYTES; round++) {
                double w = 0;
                for (size_t i = 0; i < n; i++)
                        if (lots[i]->take < lots[i]->cap)
                                w += lots[i]->weight;
                if (w <= 0)
                        break;
                uint64_t given = 0;
                for (size_t i = 0; i < n; i++) {
                        Lot *l = lots[i];
                        if (l->take >= l->cap)
                                continue;
                        uint64_t add = (uint64_t) ((double) left * l->weight / w);
                        if (add > l->cap - l->take)
                                add = l->cap - l->take;
                        l->take += add;
                        given += add;
                }
                left = given < left ? left - given : 0;
                if (given < BALLOON_GRAIN_BYTES)
                        break;
        }
}

static int lot_priority_cmp(const void *a, const void *b) {
        const Lot *x = *(const Lot *const *) a, *y = *(const Lot *const *) b;
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return strcmp(x->g->name, y->g->name);
}

/* The shed ladder's first step: memory is short by the shedder's measure,
 * so every guest its class lets be shed gives all it can at once (down to
 * its lower bound, StepMax= aside) before any is saved. */
static int balloon_squeeze(Lot *lots, size_t n, uint64_t now, const Policy *p, const char *why, Plan *plan,
                           uint64_t *ret_taken) {
        for (size_t i = 0; i < n; i++) {
                Lot *l = &lots[i];
                if (!l->j.eligible || l->j.recently_pressured || l->acted || l->bg->futile_until_usec > now ||
                    l->j.actual_bytes < l->j.lower_bytes + BALLOON_GRAIN_BYTES || class_of(p, l->g)->shed == SHED_NEVER)
                        continue;
                uint64_t target =
                        (l->j.lower_bytes + BALLOON_GRAIN_BYTES - 1) / BALLOON_GRAIN_BYTES * BALLOON_GRAIN_BYTES;
                if (target + BALLOON_GRAIN_BYTES > l->j.actual_bytes)
                        continue;
                int r = balloon_act(l, target, now, p, plan, "shrinking",
                                    "%s: squeezed to its lower bound before any guest is shed: gives %.0f MiB (uses "
                                    "%.0f MiB, free target %.0f MiB), class %s (Priority=%u)",
                                    why, mib(l->j.actual_bytes - target), mib(l->j.used_bytes),
                                    mib(l->j.free_target_bytes), l->g->class_name, l->priority);
                if (r < 0)
                        return r;
                *ret_taken += l->j.actual_bytes - target;
        }
        return 0;
}

/* Take need from the lots that may give, lowest priority first. */
static uint64_t balloon_shrink(Lot *lots, size_t n, uint64_t need, uint64_t now, const Policy *p, const char *why,
                               Plan *plan, int *ret_error) {
        _cleanup_free_ Lot **c = calloc(n ? n : 1, sizeof(*c));
        if (!c) {
                *ret_error = -ENOMEM;
                return 0;
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                Lot *l = &lots[i];
                if (!l->j.eligible || l->j.recently_pressured || l->acted || l->bg->futile_until_usec > now ||
                    l->j.actual_bytes < l->j.lower_bytes + BALLOON_GRAIN_BYTES)
                        continue;
                uint64_t can = l->j.actual_bytes - l->j.lower_bytes;
                l->cap = can < l->j.step_bytes ? can : l->j.step_bytes;
                l->weight = (double) can / (l->shares ? (double) l->shares : 0.5);
                l->take = 0;
                c[m++] = l;
        }
        qsort(c, m, sizeof(*c), lot_priority_cmp);
        uint64_t taken = 0;
        for (size_t i = 0; i < m && taken + BALLOON_GRAIN_BYTES <= need;) {
                size_t k = i;
                while (k < m && c[k]->priority == c[i]->priority)
                        k++;
                balloon_split(c + i, k - i, need - taken);
                for (size_t x = i; x < k; x++) {
                        Lot *l = c[x];
                        /* Whole MiB, rounded up: never below the bound. */
                        uint64_t target = l->j.actual_bytes - l->take;
                        target = (target + BALLOON_GRAIN_BYTES - 1) / BALLOON_GRAIN_BYTES * BALLOON_GRAIN_BYTES;
                        if (target < l->j.lower_bytes)
                                target = l->j.lower_bytes;
                        if (target + BALLOON_GRAIN_BYTES > l->j.actual_bytes)
                                continue;
                        uint64_t give = l->j.actual_bytes - target;
                        int r = balloon_act(
                                l, target, now, p, plan, "shrinking",
                                "%s: gives %.0f MiB of the %.0f it can (uses %.0f MiB, free target %.0f MiB, "
                                "lower bound %.0f MiB), class %s (Priority=%u, Shares=%u)",
                                why, mib(give), mib(l->j.actual_bytes - l->j.lower_bytes), mib(l->j.used_bytes),
                                mib(l->j.free_target_bytes), mib(l->j.lower_bytes), l->g->class_name, l->priority,
                                l->shares);
                        if (r < 0) {
                                *ret_error = r;
                                return taken;
                        }
                        taken += give;
                }
                i = k;
        }
        return taken;
}

/* Growing: larger shares first, then the furthest below its maximum. */
static int lot_grow_cmp(const void *a, const void *b) {
        const Lot *x = *(const Lot *const *) a, *y = *(const Lot *const *) b;
        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        if (x->shares != y->shares)
                return x->shares > y->shares ? -1 : 1;
        uint64_t dx = x->j.maximum_bytes - x->j.actual_bytes, dy = y->j.maximum_bytes - y->j.actual_bytes;
        if (dx != dy)
                return dx > dy ? -1 : 1;
        return strcmp(x->g->name, y->g->name);
}

/* Hand room out to the lots below their maximum, highest priority first,
 * split by Shares=. A guest grows by DeadBand= of its maximum at least:
 * room too small to give every guest that much goes to fewer of them, not
 * in slivers to all (a journal line per guest and tick for 3 MiB each). */
static int balloon_grow(Lot *lots, size_t n, uint64_t room, uint64_t now, const Policy *p, const char *why,
                        Plan *plan) {
        _cleanup_free_ Lot **c = calloc(n ? n : 1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                Lot *l = &lots[i];
                if (!l->j.eligible || l->acted || l->j.actual_bytes + BALLOON_GRAIN_BYTES > l->j.maximum_bytes)
                        continue;
                uint64_t can = l->j.maximum_bytes - l->j.actual_bytes;
                l->cap = can < l->j.step_bytes ? can : l->j.step_bytes;
                l->weight = l->shares ? (double) l->shares : 0.5;
                l->take = 0;
                c[m++] = l;
        }
        qsort(c, m, sizeof(*c), lot_grow_cmp);
        uint64_t given = 0;
        for (size_t k = m; k > 0 && given + BALLOON_GRAIN_BYTES <= room;) {
                size_t i = k - 1;
                while (i > 0 && c[i - 1]->priority == c[k - 1]->priority)
                        i--;
                /* As many as the room gives a worthwhile move each, in
                 * the order above (the group sorts ascending by priority,
                 * then by shares and distance descending). */
                uint64_t left = room - given, sum = 0;
                size_t fit = 0;
                for (size_t x = i; x < k; x++) {
                        uint64_t min_move = policy_percent_bytes(c[x]->j.maximum_bytes, p->balloon.dead_band_percent);
                        if (min_move < BALLOON_GRAIN_BYTES)
                                min_move = BALLOON_GRAIN_BYTES;
                        if (min_move > c[x]->cap)
                                min_move = c[x]->cap;
                        if (sum + min_move > left)
                                break;
                        sum += min_move;
                        fit++;
                }
                if (fit == 0) {
                        k = i;
                        continue;
                }
                balloon_split(c + i, fit, left);
                for (size_t x = i; x < i + fit; x++) {
                        Lot *l = c[x];
                        uint64_t target = (l->j.actual_bytes + l->take) / BALLOON_GRAIN_BYTES * BALLOON_GRAIN_BYTES;
                        if (l->take >= l->j.maximum_bytes - l->j.actual_bytes)
                                target = l->j.maximum_bytes;
                        if (target < l->j.actual_bytes + BALLOON_GRAIN_BYTES)
                                continue;
                        int r = balloon_act(l, target, now, p, plan, "growing",
                                            "%s: grows back by %.0f MiB toward its maximum %.0f MiB, class %s "
                                            "(Priority=%u, Shares=%u)",
                                            why, mib(target - l->j.actual_bytes), mib(l->j.maximum_bytes),
                                            l->g->class_name, l->priority, l->shares);
                        if (r < 0)
                                return r;
                        given += target - l->j.actual_bytes;
                }
                k = i;
        }
        return 0;
}

/* Each guest's state when nothing was planned for it. */
static void balloon_guest_idle(Lot *l, bool short_of_memory, uint64_t now) {
        BalloonGuest *bg = l->bg;
        if (l->acted || !l->j.eligible)
                return;
        bg->lower_bytes = l->j.lower_bytes;
        if (l->j.pressured) {
                guest_set(bg, "pressure", "under pressure (%s) at its maximum %.0f MiB: nothing more to give it",
                          l->j.pressure, mib(l->j.maximum_bytes));
                return;
        }
        if (l->j.actual_bytes + BALLOON_GRAIN_BYTES <= l->j.maximum_bytes)
                guest_set(bg, "reduced", "%.0f of %.0f MiB (uses %.0f MiB, lower bound %.0f MiB)%s",
                          mib(l->j.actual_bytes), mib(l->j.maximum_bytes), mib(l->j.used_bytes), mib(l->j.lower_bytes),
                          l->j.recently_pressured ? ": under pressure lately, not shrunk for now"
                          : bg->futile_until_usec > now
                                  ? ": its last shrink freed little on the host, not shrunk for now"
                          : short_of_memory && l->j.actual_bytes < l->j.lower_bytes + BALLOON_GRAIN_BYTES
                                  ? ": at its lower bound"
                                  : "");
        else
                guest_set(bg, "full", "at its maximum %.0f MiB (uses %.0f MiB, lower bound %.0f MiB)",
                          mib(l->j.maximum_bytes), mib(l->j.used_bytes), mib(l->j.lower_bytes));
}

static void balloon_prune(BalloonState *st) {
        size_t k = 0;
        for (size_t i = 0; i < st->n; i++)
                if (st->guests[i].seen)
                        st->guests[k++] = st->guests[i];
        st->n = k;
}

static int balloon_plan(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        BalloonState *st = state;
        uint64_t now = s->timestamp_usec;
        const PolicyBalloon *b = &p->balloon;

        for (size_t i = 0; i < st->n; i++)
                st->guests[i].seen = false;
        _cleanup_free_ Lot *lots = calloc(s->n_guests ? s->n_guests : 1, sizeof(*lots));
        if (!lots)
                return -ENOMEM;
        size_t n_sorted = st->n;
        for (size_t i = 0; i < s->n_guests; i++) {
                BalloonGuest *bg = balloon_guest_get(st, n_sorted, &s->guests[i], true);
                if (!bg)
                        return -ENOMEM;
                balloon_observe(st, bg, &s->guests[i]);
        }
        balloon_prune(st);
        /* The records are settled, sorted by uuid (so the status looks them
         * up by bsearch too): pointers into them hold from here. */
        if (st->n > 1) /* none: no array at all */
                qsort(st->guests, st->n, sizeof(*st->guests), balloon_guest_cmp);
        for (size_t i = 0; i < s->n_guests; i++) {
                Lot *l = &lots[i];
                l->g = &s->guests[i];
                l->bg = balloon_guest_get(st, st->n, l->g, false);
                const PolicyClass *c = class_of(p, l->g);
                l->priority = c->priority;
                l->shares = c->shares;
        }

        const char *what = "";
        st->has_host = balloon_capacity(&s->host, &st->capacity_bytes, &st->use_bytes, &what) == 0;
        st->target_use_bytes = st->has_host ? policy_percent_bytes(st->capacity_bytes, b->host_target_percent) : 0;

        bool held = !b->enable || !s->hypervisor_connected || !st->has_host;
        for (size_t i = 0; i < s->n_guests; i++) {
                Lot *l = &lots[i];
                balloon_judge(l->g, p, l->bg, now, &l->j);
                l->bg->lower_bytes = l->j.eligible ? l->j.lower_bytes : 0;
                l->bg->floor_bytes = l->j.floor_bytes;
                if (l->j.pressured)
                        l->bg->pressured_usec = now;
                if (!l->j.eligible) {
                        guest_set(l->bg, "left", "left alone: %s", l->j.why_not);
                        continue;
                }
                if (held) {
                        guest_set(l->bg, "off", "the balloon controller does not act (see its state)");
                        continue;
                }
                bool free_to_act;
                int r = balloon_follow_target(l->bg, l->g, p, now, plan, &free_to_act);
                if (r < 0)
                        return r;
                if (!free_to_act)
                        l->j.eligible = false;
        }
        if (!b->enable) {
                controller_status_set(&st->status, "off", now, "Enable=no: balloons are left as they are");
                return 0;
        }
        if (!s->hypervisor_connected) {
                controller_status_set(&st->status, "held", now,
                                      "hypervisor unreachable: guests unknown, no balloon moves");
                return 0;
        }
        if (!st->has_host) {
                controller_status_set(&st->status, "held", now, "host memory unknown: no balloon moves");
                return 0;
        }

        /* 1. Guests under pressure grow first, whatever the host's state:
         *    what they get counts as used. */
        uint64_t given = 0;
        size_t n_pressured = 0;
        for (size_t i = 0; i < s->n_guests; i++) {
                Lot *l = &lots[i];
                if (!l->j.eligible || !l->j.pressured)
                        continue;
                n_pressured++;
                uint64_t from = l->j.actual_bytes > l->j.lower_bytes ? l->j.actual_bytes : l->j.lower_bytes;
                uint64_t want = from + l->j.step_bytes;
                want = want / BALLOON_GRAIN_BYTES * BALLOON_GRAIN_BYTES;
                if (want > l->j.maximum_bytes)
                        want = l->j.maximum_bytes;
                if (want < l->j.actual_bytes + BALLOON_GRAIN_BYTES)
                        continue;
                int r = balloon_act(l, want, now, p, plan, "pressure",
                                    "under pressure (%s): grows by %.0f MiB to %.0f MiB (uses %.0f MiB, free target "
                                    "%.0f MiB)",
                                    l->j.pressure, mib(want - l->j.actual_bytes), mib(want), mib(l->j.used_bytes),
                                    mib(l->j.free_target_bytes));
                if (r < 0)
                        return r;
                given += want - l->j.actual_bytes;
        }

        /* 2. Memory short by the shedder's measure: squeeze first. */
        uint64_t squeezed = 0;
        if (p->shed.enable) {
                ShedPressure x;
                shed_pressure(&s->host, &p->shed, &x);
                if (x.level == SHED_LEVEL_SHORT) {
                        int r = balloon_squeeze(lots, s->n_guests, now, p, x.reason, plan, &squeezed);
                        if (r < 0)
                                return r;
                }
                if (squeezed > 0)
                        controller_status_set(&st->status, "squeezing", now,
                                              "%s: %.0f MiB squeezed from sheddable guests before any is shed",
                                              x.reason, mib(squeezed));
        }

        /* 3. The host: short, roomy, or in the band between. */
        uint64_t target = st->target_use_bytes;
        uint64_t band = policy_percent_bytes(st->capacity_bytes, b->dead_band_percent);
        uint64_t low = target > band ? target - band : 0;
        uint64_t demand = st->use_bytes + given;
        char why[192];
        bool short_of_memory = demand > target;
        if (squeezed > 0) {
                ;
        } else if (short_of_memory) {
                /* Aim at the middle of the band, not its edge. */
                uint64_t need = demand - target + band / 2;
                snprintf(why, sizeof(why), "the guests use %.0f MiB%s, above HostTarget=%g%% of %s (%.0f MiB)",
                         mib(st->use_bytes), given ? " with what pressured guests get" : "", b->host_target_percent,
                         what, mib(st->capacity_bytes));
                int r = 0;
                uint64_t taken = balloon_shrink(lots, s->n_guests, need, now, p, why, plan, &r);
                if (r < 0)
                        return r;
                if (taken > 0)
                        controller_status_set(&st->status, "shrinking", now,
                                              "%s: %.0f MiB taken from idle guests this tick", why, mib(taken));
                else
                        controller_status_set(
                                &st->status, "short", now,
                                "%s: every guest is at its lower bound, under pressure or left alone; the shedder "
                                "acts if it gets worse",
                                why);
        } else if (demand < low) {
                snprintf(why, sizeof(why), "the guests use %.0f MiB, below %g%% of %s (%.0f MiB)", mib(demand),
                         b->host_target_percent - b->dead_band_percent, what, mib(st->capacity_bytes));
                size_t before = plan->n;
                int r = balloon_grow(lots, s->n_guests, low - demand, now, p, why, plan);
                if (r < 0)
                        return r;
                if (plan->n > before)
                        controller_status_set(&st->status, "growing", now, "%s: giving memory back", why);
                else
                        controller_status_set(&st->status, "steady", now,
                                              "%s: every guest at its maximum or left alone", why);
        } else
                controller_status_set(&st->status, "steady", now,
                                      "the guests use %.0f MiB, within HostTarget=%g%% of %s (%.0f MiB) less "
                                      "DeadBand=%g%%",
                                      mib(demand), b->host_target_percent, what, mib(st->capacity_bytes),
                                      b->dead_band_percent);
        if (n_pressured > 0 && strcmp(st->status.state, "shrinking") != 0) {
                size_t n = strlen(st->status.reason);
                snprintf(st->status.reason + n, sizeof(st->status.reason) - n, "; %zu guest%s under pressure",
                         n_pressured, n_pressured == 1 ? "" : "s");
        }
        for (size_t i = 0; i < s->n_guests; i++)
                balloon_guest_idle(&lots[i], short_of_memory, now);
        return 0;
}

static void balloon_status(const void *state, ControllerStatus *ret) {
        const BalloonState *st = state;
        *ret = st->status;
}

const Controller balloon_controller = {
        .name = "balloon",
        .state_new = balloon_state_new,
        .state_free = balloon_state_free,
        .plan = balloon_plan,
        .status = balloon_status,
};
