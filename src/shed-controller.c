/* shed-controller: the shed planner (see shed-controller.h). */
#include "density/shed-controller.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "density/class.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)
#define SHED_REQUESTS_MAX 16
/* A guest whose save failed (or was aborted) is not chosen again for this
 * long: the next one is, the next step of the ladder. */
#define SHED_FAILED_SKIP_USEC (600 * UINT64_C(1000000))
#define SHED_FAILED_MAX 32
/* The ladder's first step (balloons squeezed) gets this long to show
 * before a guest is shed anyway. */
#define SHED_SQUEEZE_WAIT_USEC (5 * UINT64_C(1000000))
#define SHED_SQUEEZE_MAX 64
/* An OOM score the kernel refused (lowering needs CAP_SYS_RESOURCE) is
 * tried again after this long; said once per try. */
#define SHED_OOM_HOLD_USEC (600 * UINT64_C(1000000))
#define SHED_OOM_MAX 256
#define SHED_SQUEEZE_SLACK_BYTES (2 * UINT64_C(1048576))

typedef struct ShedState {
        ShedBook book;
        bool book_changed;
        bool book_unreadable;     /* the file could not be read: never overwritten */

        ControllerStatus status; /* what status shows: state, reason, since */

        uint64_t last_shed_usec;  /* snapshot time of the last shed planned, 0: none */
        uint64_t last_shed_before_usec; /* ... before this plan's (plan_discard puts it back) */
        uint64_t plan_usec;       /* the snapshot time of the last plan */

        /* Guests whose save did not happen, and until when they are skipped. */
        size_t n_failed;
        struct {
                char uuid[DENSITY_UUID_LEN];
                uint64_t until_usec;
        } failed[SHED_FAILED_MAX];

        /* Operators' requests (densityctl), for the next plan. */
        size_t n_requests;
        struct {
                ActionKind kind;
                char uuid[DENSITY_UUID_LEN];
                char name[DENSITY_NAME_MAX];
        } requests[SHED_REQUESTS_MAX];
        uint64_t roomy_since_usec; /* memory roomy since, 0: not roomy */
        uint64_t squeeze_since_usec; /* first seen waiting for balloons in this shortage, 0: none */
        bool room_noted;             /* a guest passed over for want of save room was noted in this shortage */
        char store_error[256];       /* why the book could not be stored, for status */
        /* OOM scores set for classes' OomScoreAdjust=: what was planned for
         * whom, and until when one that did not take is left alone. */
        size_t n_oom;
        struct {
                char uuid[DENSITY_UUID_LEN];
                pid_t pid;
                int value;
                uint64_t planned_usec;
                uint64_t hold_until_usec;
                bool seen;
        } oom[SHED_OOM_MAX];
        size_t n_squeezed;           /* balloons squeezed in this shortage, and their targets */
        struct {
                char uuid[DENSITY_UUID_LEN];
                uint64_t target_bytes;
        } squeezed[SHED_SQUEEZE_MAX];
} ShedState;

static void *shed_state_new(void) {
        ShedState *st = calloc(1, sizeof(ShedState));
        if (st)
                strscpy(st->status.state, sizeof(st->status.state), "starting");
        return st;
}

static void shed_state_free(void *state) {
        ShedState *st = state;
        if (!st)
                return;
        shed_book_clear(&st->book);
        free(st);
}

void shed_controller_adopt_book(void *state, ShedBook *b) {
        ShedState *st = state;
        shed_book_clear(&st->book);
        st->book = *b;
        *b = (ShedBook) {};
        for (size_t i = 0; i < st->book.n; i++)
                st->book.entries[i].adopted = true;
}

bool shed_controller_busy(void *state) {
        const ShedState *st = state;
        for (size_t i = 0; i < st->book.n; i++)
                if (st->book.entries[i].stage == SHED_STAGE_SHEDDING)
                        return true;
        return false;
}

const ShedBook *shed_controller_book(void *state, bool *ret_changed) {
        ShedState *st = state;
        if (ret_changed)
                *ret_changed = st->book_changed;
        return &st->book;
}

static void shed_remember_failure(ShedState *st, const char *uuid, uint64_t now) {
        size_t slot = 0;
        for (size_t i = 0; i < st->n_failed; i++)
                if (st->failed[i].until_usec < st->failed[slot].until_usec)
                        slot = i; /* the oldest goes when full */
        if (st->n_failed < SHED_FAILED_MAX)
                slot = st->n_failed++;
        strscpy(st->failed[slot].uuid, sizeof(st->failed[slot].uuid), uuid);
        st->failed[slot].until_usec = now + SHED_FAILED_SKIP_USEC;
}

static bool shed_recently_failed(const ShedState *st, const char *uuid, uint64_t now) {
        for (size_t i = 0; i < st->n_failed; i++)
                if (st->failed[i].until_usec > now && strcmp(st->failed[i].uuid, uuid) == 0)
                        return true;
        return false;
}

/* Bring the book in line with the guests the snapshot shows. */
static void shed_reconcile(ShedState *st, const Snapshot *s, const Policy *p) {
        uint64_t now = s->timestamp_usec;
        const uint32_t shedding = 1u << ACTION_SAVE | 1u << ACTION_DESTROY;
        for (size_t i = 0; i < st->book.n;) {
                ShedEntry *e = &st->book.entries[i];
                const GuestSample *g = snapshot_guest_by_uuid(s, e->uuid);
                bool drop = false;
                switch (e->stage) {
                case SHED_STAGE_SHEDDING:
                        if (!g) {
                                e->stage = SHED_STAGE_SHED;
                                e->stage_usec = now;
                                e->adopted = false;
                                st->book_changed = true;
                                /* Cooldown= counts from here: the memory is free now. */
                                st->last_shed_usec = now;
                        } else if (g->actions_in_flight & shedding) {
                                ;
                        } else if (!e->adopted || usec_since(now, e->stage_usec) >
                                                          p->shed.save_timeout_usec + p->action_timeout_usec) {
                                /* Still running, nothing under way: the save
                                 * did not happen. One a previous densityd
                                 * started may still run in libvirtd, whose
                                 * guest shows until it ends: it gets the time
                                 * a save may take. */
                                drop = true;
                                shed_remember_failure(st, e->uuid, now);
                        }
                        break;
                case SHED_STAGE_SHED:
                        if (g)
                                drop = true; /* started by someone else */
                        break;
                case SHED_STAGE_RESTORING:
                        if (g && !(g->actions_in_flight & (1u << ACTION_RESTORE)))
                                drop = true; /* back, and the restore is over */
                        else if (!g && usec_since(now, e->stage_usec) > p->action_timeout_usec) {
                                e->stage = SHED_STAGE_SHED;
                                e->stage_usec = now;
                                e->adopted = false;
                                e->failures++;
                                st->book_changed = true;
                        }
                        break;
                default:
                        break;
                }
                if (drop) {
                        shed_book_remove(&st->book, e->uuid);
                        st->book_changed = true;
                } else
                        i++;
        }
}

static const GuestSample *guest_by_name_or_uuid(const Snapshot *s, const char *what) {
        for (size_t i = 0; s && i < s->n_guests; i++)
                if (strcmp(s->guests[i].name, what) == 0 || strcmp(s->guests[i].uuid, what) == 0)
                        return &s->guests[i];
        return NULL;
}

static ShedEntry *book_by_name_or_uuid(const ShedBook *b, const char *what) {
        for (size_t i = 0; i < b->n; i++)
                if (strcmp(b->entries[i].name, what) == 0 || strcmp(b->entries[i].uuid, what) == 0)
                        return &b->entries[i];
        return NULL;
}

/* Why a guest may not be shed by hand, or NULL. */
static const char *shed_by_hand_refusal(const GuestSample *g, const Policy *p) {
        const PolicyClass *c = class_of(p, g);
        if (c->shed == SHED_NEVER)
                return "its class says Shed=never";
        if (!g->facts.known)
                return "its domain XML is not read yet";
        if (!g->facts.persistent)
                return "transient: a managed save needs a defined domain";
        if (g->actions_in_flight & (1u << ACTION_SAVE | 1u << ACTION_RESTORE | 1u << ACTION_DESTROY))
                return "a save, restore or destroy is under way";
        return NULL;
}

int shed_controller_request(void *state, const Snapshot *last, const Policy *p, ActionKind kind, const char *guest,
                            char *err, size_t err_size) {
        ShedState *st = state;
        const char *uuid, *name;
        if (kind == ACTION_SAVE) {
                const GuestSample *g = guest_by_name_or_uuid(last, guest);
                if (!g) {
                        snprintf(err, err_size, "no running guest %s", guest);
                        return -ENOENT;
                }
                const char *why = shed_by_hand_refusal(g, p);
                if (why) {
                        snprintf(err, err_size, "%s cannot be shed: %s", g->name, why);
                        return -EINVAL;
                }
                uuid = g->uuid;
                name = g->name;
        } else if (kind == ACTION_RESTORE) {
                const ShedEntry *e = book_by_name_or_uuid(&st->book, guest);
                if (!e) {
                        snprintf(err, err_size, "densityd did not shed %s: it restores only guests it shed", guest);
                        return -ENOENT;
                }
                if (e->stage != SHED_STAGE_SHED) {
                        snprintf(err, err_size, "%s is %s, not waiting to come back", e->name, shed_stage_name(e->stage));
                        return -EINVAL;
                }
                uuid = e->uuid;
                name = e->name;
        } else {
                snprintf(err, err_size, "not a shed or restore");
                return -EINVAL;
        }
        for (size_t i = 0; i < st->n_requests; i++)
                if (strcmp(st->requests[i].uuid, uuid) == 0) {
                        snprintf(err, err_size, "a request for %s is already queued", name);
                        return -EBUSY;
                }
        if (st->n_requests == SHED_REQUESTS_MAX) {
                snprintf(err, err_size, "%d requests are queued already: try again in a moment", SHED_REQUESTS_MAX);
                return -EBUSY;
        }
        st->requests[st->n_requests].kind = kind;
        strscpy(st->requests[st->n_requests].uuid, sizeof(st->requests[0].uuid), uuid);
        strscpy(st->requests[st->n_requests].name, sizeof(st->requests[0].name), name);
        st->n_requests++;
        return 0;
}

/* Book a guest as being shed, then plan its action: the book first, so a
 * crash after the action starts still finds it; the entry goes again if
 * the action cannot be planned. */
static int shed_book_and_plan(ShedState *st, const GuestSample *g, const PolicyClass *c, ShedMode action,
                              bool by_hand, uint64_t now, const char *reason, const Action *a, Plan *plan) {
        ShedEntry e = { .priority = c->priority, .action = action, .stage = SHED_STAGE_SHEDDING,
                        .bytes = shed_guest_bytes(g), .since_usec = now, .stage_usec = now, .by_hand = by_hand };
        strscpy(e.uuid, sizeof(e.uuid), g->uuid);
        strscpy(e.name, sizeof(e.name), g->name);
        strscpy(e.class_name, sizeof(e.class_name), c->name);
        strscpy(e.reason, sizeof(e.reason), reason);
        int r = shed_book_put(&st->book, &e);
        if (r < 0)
                return r;
        r = plan_add(plan, a);
        if (r < 0) {
                shed_book_remove(&st->book, e.uuid);
                return r;
        }
        st->book_changed = true;
        return 0;
}

/* Plan the restore of a shed guest (it does not run: the action names it
 * from the book) and mark it restoring. */
__attribute__((format(printf, 5, 6))) static int shed_plan_restore(ShedState *st, ShedEntry *e, uint64_t now,
                                                                   Plan *plan, const char *fmt, ...) {
        GuestSample g = {};
        strscpy(g.uuid, sizeof(g.uuid), e->uuid);
        strscpy(g.name, sizeof(g.name), e->name);
        char reason[ACTION_REASON_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        Action a = action_guest(shed_controller.name, ACTION_RESTORE, &g, "%s", reason);
        int r = plan_add(plan, &a);
        if (r < 0)
                return r;
        e->stage = SHED_STAGE_RESTORING;
        e->prev_stage_usec = e->stage_usec;
        e->stage_usec = now;
        st->book_changed = true;
        return 0;
}

/* The operators' requests, checked again against this snapshot. */
static int shed_requests(ShedState *st, const Snapshot *s, const Policy *p, Plan *plan) {
        uint64_t now = s->timestamp_usec;
        int r = 0;
        for (size_t i = 0; i < st->n_requests && r == 0; i++) {
                const char *uuid = st->requests[i].uuid;
                if (st->requests[i].kind == ACTION_SAVE) {
                        const GuestSample *g = snapshot_guest_by_uuid(s, uuid);
                        if (!g || shed_by_hand_refusal(g, p) || shed_book_find(&st->book, uuid))
                                continue; /* gone or changed since: the request lapses */
                        Action a = action_guest(shed_controller.name, ACTION_SAVE, g,
                                                "shed by hand (densityctl shed): managed save; it comes back by "
                                                "hand (densityctl restore)");
                        r = shed_book_and_plan(st, g, class_of(p, g), SHED_SAVE, true, now,
                                               "shed by hand (densityctl shed)", &a, plan);
                } else {
                        ShedEntry *e = shed_book_find(&st->book, uuid);
                        if (!e || e->stage != SHED_STAGE_SHED)
                                continue;
                        r = shed_plan_restore(st, e, now, plan, "restore by hand (densityctl restore): %s, about %.0f MiB",
                                              e->name, (double) e->bytes / MIB);
                }
        }
        st->n_requests = 0;
        return r;
}

/* A class may protect its guests from the kernel's OOM killer as densityd
 * protects itself (or offer them first): OomScoreAdjust= is written to
 * their qemu's oom_score_adj where it differs. A write that did not take
 * (the kernel refuses to lower it without CAP_SYS_RESOURCE) is noted once
 * and tried again after SHED_OOM_HOLD_USEC, not every tick. */
static int shed_plan_oom(ShedState *st, const Snapshot *s, const Policy *p, Plan *plan) {
        uint64_t now = s->timestamp_usec;
        for (size_t k = 0; k < st->n_oom; k++)
                st->oom[k].seen = false;
        for (size_t i = 0; i < s->n_guests; i++) {
                const GuestSample *g = &s->guests[i];
                const PolicyClass *c = class_of(p, g);
                if (!c->has_oom_score_adj || !g->has_oom_score_adj || g->pid <= 0)
                        continue;
                size_t k = 0;
                while (k < st->n_oom && strcmp(st->oom[k].uuid, g->uuid) != 0)
                        k++;
                if (k < st->n_oom)
                        st->oom[k].seen = true;
                if (g->oom_score_adj == c->oom_score_adj || g->actions_in_flight & (1u << ACTION_OOM_SCORE_ADJ))
                        continue;
                bool again = k < st->n_oom && st->oom[k].pid == g->pid && st->oom[k].value == c->oom_score_adj;
                if (again && st->oom[k].hold_until_usec > now)
                        continue;
                if (again && !st->oom[k].hold_until_usec) {
                        if (usec_since(now, st->oom[k].planned_usec) < p->interval_usec)
                                continue; /* written after this sample, perhaps */
                        st->oom[k].hold_until_usec = now + SHED_OOM_HOLD_USEC;
                        int r = plan_note(plan, shed_controller.name, g,
                                          "its qemu's OOM score stays %d, not %d as class %s says (OomScoreAdjust=): "
                                          "see the journal for why; tried again in %.0f min",
                                          g->oom_score_adj, c->oom_score_adj, c->name,
                                          (double) SHED_OOM_HOLD_USEC / 60e6);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k == st->n_oom) {
                        if (st->n_oom == SHED_OOM_MAX)
                                continue; /* its turn comes when a guest leaves */
                        st->n_oom++;
                }
                Action a = action_oom_score_adj(shed_controller.name, g, c->oom_score_adj,
                                                "class %s says OomScoreAdjust=%d (now %d): the kernel's OOM killer takes "
                                                "its qemu %s",
                                                c->name, c->oom_score_adj, g->oom_score_adj,
                                                c->oom_score_adj < g->oom_score_adj ? "later" : "sooner");
                int r = plan_add(plan, &a);
                if (r < 0)
                        return r;
                strscpy(st->oom[k].uuid, sizeof(st->oom[k].uuid), g->uuid);
                st->oom[k].pid = g->pid;
                st->oom[k].value = c->oom_score_adj;
                st->oom[k].planned_usec = now;
                st->oom[k].hold_until_usec = 0;
                st->oom[k].seen = true;
        }
        size_t n = 0;
        for (size_t k = 0; k < st->n_oom; k++)
                if (st->oom[k].seen)
                        st->oom[n++] = st->oom[k];
        st->n_oom = n;
        return 0;
}

/* Balloons being squeezed: shrinks planned this tick (by the balloon
 * controller, which runs first) are remembered with their targets, and a
 * balloon counts until its guest is at its target (a balloon inflates in
 * the guest after the hypervisor has taken the request) or gone. */
static size_t shed_balloons_squeezing(ShedState *st, const Snapshot *s, const Plan *plan) {
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                const GuestSample *g = a->kind == ACTION_BALLOON ? snapshot_guest_by_uuid(s, a->uuid) : NULL;
                if (!g || a->bytes >= g->balloon_actual_bytes)
                        continue;
                size_t k = 0;
                while (k < st->n_squeezed && strcmp(st->squeezed[k].uuid, a->uuid) != 0)
                        k++;
                if (k == SHED_SQUEEZE_MAX)
                        continue; /* the wait is bounded by time anyway */
                if (k == st->n_squeezed)
                        st->n_squeezed++;
                strscpy(st->squeezed[k].uuid, sizeof(st->squeezed[k].uuid), a->uuid);
                st->squeezed[k].target_bytes = a->bytes;
        }
        size_t n = 0;
        for (size_t k = 0; k < st->n_squeezed; k++) {
                const GuestSample *g = snapshot_guest_by_uuid(s, st->squeezed[k].uuid);
                if (g && g->balloon_actual_bytes > st->squeezed[k].target_bytes + SHED_SQUEEZE_SLACK_BYTES)
                        n++;
        }
        return n;
}

/* The guest to shed now, if any, as an action; else why not in st. */
static int shed_one(ShedState *st, const Snapshot *s, const Policy *p, const ShedPressure *x, Plan *plan) {
        uint64_t now = s->timestamp_usec;
        /* The ladder: balloons first (squeezed to their lower bounds), a
         * shed only if that is not enough, or takes too long to show. */
        size_t squeezing = shed_balloons_squeezing(st, s, plan);
        if (squeezing > 0) {
                if (!st->squeeze_since_usec)
                        st->squeeze_since_usec = now;
                if (usec_since(now, st->squeeze_since_usec) < SHED_SQUEEZE_WAIT_USEC) {
                        controller_status_set(
                                &st->status, "squeezing", now,
                                "%s: %zu balloon%s squeezed first; a guest is shed only if that is not enough "
                                "(waiting at most %.0f s)",
                                x->reason, squeezing, squeezing == 1 ? "" : "s", (double) SHED_SQUEEZE_WAIT_USEC / 1e6);
                        return 0;
                }
        }
        for (size_t i = 0; i < st->book.n; i++)
                if (st->book.entries[i].stage == SHED_STAGE_SHEDDING) {
                        controller_status_set(&st->status, "shedding", now, "%s: %s is being shed; one at a time",
                                              x->reason, st->book.entries[i].name);
                        return 0;
                }
        if (st->last_shed_usec && usec_since(now, st->last_shed_usec) < p->shed.cooldown_usec) {
                controller_status_set(&st->status, "cooling", now, "%s: cooling down for %.0f s after the last shed",
                                      x->reason,
                                      (double) (p->shed.cooldown_usec - usec_since(now, st->last_shed_usec)) / 1e6);
                return 0;
        }
        _cleanup_free_ size_t *order = calloc(s->n_guests ? s->n_guests : 1, sizeof(*order));
        if (!order)
                return -ENOMEM;
        size_t n = shed_rank(s, p, order, s->n_guests);
        if (n == 0) {
                controller_status_set(&st->status, "stuck", now,
                                      "%s: no guest may be shed (Shed=never, transient, or unknown)", x->reason);
                return 0;
        }
        /* The first whose save fits where saves go, and did not just fail. */
        const GuestSample *g = NULL;
        const PolicyClass *c = NULL;
        size_t skipped = 0;
        for (size_t i = 0; i < n && !g; i++) {
                const GuestSample *t = &s->guests[order[i]];
                if (shed_recently_failed(st, t->uuid, now)) {
                        skipped++;
                        continue;
                }
                const PolicyClass *tc = class_of(p, t);
                if (shed_save_fits(&s->host, t, tc->shed)) {
                        g = t;
                        c = tc;
                } else if (!st->room_noted) {
                        /* Said once in a shortage: the next step follows. */
                        int r = plan_note(plan, shed_controller.name, t,
                                          "its managed save (about %.0f MiB) does not fit in %s (%.0f MiB free): "
                                          "passed over, the next guest or step follows",
                                          (double) shed_guest_bytes(t) / MIB, p->shed.save_directory,
                                          (double) s->host.save_free_bytes / MIB);
                        if (r < 0)
                                return r;
                        st->room_noted = true;
                }
        }
        if (!g && skipped == n) {
                controller_status_set(&st->status, "stuck", now,
                                      "%s: the save of every sheddable guest failed in the last %.0f min", x->reason,
                                      (double) SHED_FAILED_SKIP_USEC / 60e6);
                return 0;
        }
        if (!g) {
                controller_status_set(&st->status, "stuck", now,
                                      "%s: %s has %.0f MiB free, too little to save any sheddable guest", x->reason,
                                      p->shed.save_directory, (double) s->host.save_free_bytes / MIB);
                return 0;
        }
        ActionKind kind = c->shed == SHED_DESTROY ? ACTION_DESTROY : ACTION_SAVE;
        Action a = action_guest(shed_controller.name, kind, g,
                                "%s: %s, class %s (Priority=%u), frees about %.0f MiB%s", x->reason,
                                kind == ACTION_SAVE ? "managed save" : "destroy (its class says Shed=destroy)",
                                c->name, c->priority, (double) shed_frees_bytes(g) / MIB,
                                kind == ACTION_SAVE ? "; restored when memory returns" : "");
        int r = shed_book_and_plan(st, g, c, c->shed, false, now, x->reason, &a, plan);
        if (r < 0)
                return r;
        st->last_shed_usec = now;
        controller_status_set(&st->status, "shedding", now, "%s: shedding %s", x->reason, g->name);
        return 0;
}

/* The shed guest to bring back now, if any. */
static int shed_restore_one(ShedState *st, const Snapshot *s, const Policy *p, const ShedPressure *x, Plan *plan) {
        uint64_t now = s->timestamp_usec;
        if (st->roomy_since_usec == 0)
                st->roomy_since_usec = now;
        size_t i;
        int r = shed_pick_restore(&s->host, &p->shed, &st->book, now, &i);
        if (r == -ENOENT) {
                controller_status_set(&st->status, "watching", now, "%s", x->reason);
                return 0;
        }
        if (r == -EBUSY) {
                controller_status_set(&st->status, "restoring", now, "%s: a restore is under way; one at a time",
                                      x->reason);
                return 0;
        }
        if (r == -ENOSPC) {
                const ShedEntry *e = &st->book.entries[i];
                controller_status_set(&st->status, "waiting", now, "%s: %s (%.0f MiB) does not fit yet", x->reason,
                                      e->name, (double) e->bytes / MIB);
                return 0;
        }
        if (r < 0)
                return 0;
        ShedEntry *e = &st->book.entries[i];
        uint64_t hold = p->shed.restore_hold_usec;
        if (usec_since(now, st->roomy_since_usec) < hold) {
                controller_status_set(&st->status, "waiting", now, "%s: %s comes back after %.0f s of room", x->reason,
                                      e->name, (double) hold / 1e6);
                return 0;
        }
        r = shed_plan_restore(st, e, now, plan,
                              "%s for %.0f s: restore %s (shed %s), class %s (Priority=%u), about %.0f MiB", x->reason,
                              (double) usec_since(now, st->roomy_since_usec) / 1e6, e->name,
                              e->action == SHED_SAVE ? "with its state saved" : "destroyed: it starts afresh",
                              e->class_name, e->priority, (double) e->bytes / MIB);
        if (r < 0)
                return r;
        /* The next one waits for a new hold: memory moves once this one runs. */
        st->roomy_since_usec = now;
        controller_status_set(&st->status, "restoring", now, "%s: restoring %s", x->reason, e->name);
        return 0;
}

static int shed_plan(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        ShedState *st = state;
        uint64_t now = s->timestamp_usec;
        st->plan_usec = now;
        st->last_shed_before_usec = st->last_shed_usec;
        if (!s->hypervisor_connected) {
                st->roomy_since_usec = 0;
                controller_status_set(&st->status, "held", now,
                                      "hypervisor unreachable: guests unknown, nothing shed or restored");
                return 0;
        }
        shed_reconcile(st, s, p);
        int r = shed_requests(st, s, p, plan);
        if (r < 0)
                return r;
        r = shed_plan_oom(st, s, p, plan);
        if (r < 0)
                return r;

        ShedPressure x;
        shed_pressure(&s->host, &p->shed, &x);
        if (x.level != SHED_LEVEL_ROOMY)
                st->roomy_since_usec = 0;
        if (x.level != SHED_LEVEL_SHORT) {
                st->room_noted = false;
                st->squeeze_since_usec = 0;
                st->n_squeezed = 0;
        }
        if (!p->shed.enable) {
                controller_status_set(&st->status, "off", now, "Enable=no: memory %s (%s)", shed_level_name(x.level),
                                      x.reason);
                return 0;
        }
        switch (x.level) {
        case SHED_LEVEL_SHORT:
                return shed_one(st, s, p, &x, plan);
        case SHED_LEVEL_ROOMY:
                return shed_restore_one(st, s, p, &x, plan);
        case SHED_LEVEL_TIGHT:
                controller_status_set(&st->status, "watching", now, "%s", x.reason);
                return 0;
        default:
                controller_status_set(&st->status, "held", now, "%s: nothing shed or restored", x.reason);
                return 0;
        }
}

static void shed_status(const void *state, ControllerStatus *ret) {
        const ShedState *st = state;
        *ret = st->status;
}

/* The book from StateDirectory=: none is an empty book; a broken one is
 * moved aside (not overwritten by the next store) and said so. */
static int shed_state_load(void *state, const char *dir, char *err, size_t err_size) {
        ShedState *st = state;
        ShedBook b = {};
        int r = shed_book_load(dir, &b, err, err_size);
        if (r == -ENOENT)
                return 0;
        if (r == -EINVAL) {
                char from[PATH_MAX], to[PATH_MAX + 16];
                if (path_join(from, sizeof(from), dir, SHED_BOOK_FILE) == 0) {
                        snprintf(to, sizeof(to), "%s.broken", from);
                        size_t n = strlen(err);
                        if (rename(from, to) == 0)
                                snprintf(err + n, err_size - n, "; moved to %s: the guests it lists are not "
                                                                "restored by densityd", to);
                }
                return r;
        }
        if (r < 0) {
                /* Not overwritten by an empty book: what it lists would be lost. */
                st->book_unreadable = true;
                snprintf(err, err_size,
                         "cannot read %s/%s: %s; it is left as it is, and the book is not written until densityd "
                         "restarts and reads it",
                         dir, SHED_BOOK_FILE, strerror(-r));
                return r;
        }
        shed_controller_adopt_book(st, &b);
        return 0;
}

static int shed_state_store(void *state, const char *dir, char *err, size_t err_size) {
        ShedState *st = state;
        if (!st->book_changed || st->book_unreadable)
                return 0;
        /* StateDirectory= (systemd makes it; elsewhere, here). */
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                int r = -errno;
                snprintf(st->store_error, sizeof(st->store_error), "cannot create %s: %s", dir, strerror(-r));
                snprintf(err, err_size, "%s: nothing is shed or restored until it can", st->store_error);
                return r;
        }
        int r = shed_book_store(dir, &st->book);
        if (r < 0) {
                snprintf(st->store_error, sizeof(st->store_error), "cannot write %s/%s: %s", dir, SHED_BOOK_FILE,
                         strerror(-r));
                snprintf(err, err_size, "%s: nothing is shed or restored until it can", st->store_error);
                return r;
        }
        st->book_changed = false;
        return 0;
}

/* The daemon could not store the book and drops this plan's actions:
 * forget the sheds and restores it planned (stage begun at this plan's
 * time), so that the book is again what is stored, and nothing counts as
 * a failure. The next plan tries again. */
static void shed_plan_discard(void *state) {
        ShedState *st = state;
        for (size_t i = 0; i < st->book.n;) {
                ShedEntry *e = &st->book.entries[i];
                if (e->stage_usec == st->plan_usec && e->stage == SHED_STAGE_SHEDDING) {
                        shed_book_remove(&st->book, e->uuid);
                        continue;
                }
                if (e->stage_usec == st->plan_usec && e->stage == SHED_STAGE_RESTORING) {
                        e->stage = SHED_STAGE_SHED;
                        e->stage_usec = e->prev_stage_usec;
                }
                i++;
        }
        if (st->last_shed_usec == st->plan_usec)
                st->last_shed_usec = st->last_shed_before_usec;
        /* OOM scores planned now are not written either: not a failure. */
        size_t n = 0;
        for (size_t k = 0; k < st->n_oom; k++)
                if (st->oom[k].planned_usec != st->plan_usec)
                        st->oom[n++] = st->oom[k];
        st->n_oom = n;
        controller_status_set(&st->status, "held", st->plan_usec, "%s: nothing is shed or restored until it can",
                              st->store_error[0] ? st->store_error : "the shed book cannot be written");
}

const Controller shed_controller = {
        .name = "shed",
        .state_new = shed_state_new,
        .state_free = shed_state_free,
        .plan = shed_plan,
        .status = shed_status,
        .state_load = shed_state_load,
        .state_store = shed_state_store,
        .plan_discard = shed_plan_discard,
};
