/* simulate: see include/density/simulate.h */
#include "density/simulate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "density/class.h"
#include "density/shed.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)

enum { FREED_BALLOON, FREED_KSM, FREED_SHED };

/* What the simulated actions changed for one guest, beyond the recording. */
typedef struct WorldGuest {
        char uuid[DENSITY_UUID_LEN];
        bool has_target;
        uint64_t target_bytes;   /* the last simulated balloon target */
        bool shed;               /* saved or destroyed, not restored since */
} WorldGuest;

struct Simulation {
        Policy policy;
        const Controller *const *controllers;
        size_t n_controllers;
        void **states;
        SimulationResult result;
        WorldGuest *world;
        size_t n_world, allocated_world;
        int ksm_run;                   /* the simulated run knob; -1: as recorded */
        uint64_t ksm_peak_saved_bytes; /* the most the recording showed merged so far */
};

int simulation_new(const Policy *p, const Controller *const *controllers, size_t n_controllers, Simulation **ret) {
        Simulation *sim = calloc(1, sizeof(*sim));
        if (!sim)
                return -ENOMEM;
        sim->policy = *p;
        sim->controllers = controllers;
        sim->n_controllers = n_controllers;
        sim->ksm_run = -1;
        sim->states = calloc(n_controllers ? n_controllers : 1, sizeof(void *));
        if (!sim->states)
                goto fail;
        for (size_t i = 0; i < n_controllers; i++)
                if (controllers[i]->state_new && !(sim->states[i] = controllers[i]->state_new()))
                        goto fail;
        static const char *const names[SIMULATE_FREED_N] = { [FREED_BALLOON] = "balloon", [FREED_KSM] = "ksm",
                                                             [FREED_SHED] = "shed" };
        for (size_t i = 0; i < SIMULATE_FREED_N; i++)
                sim->result.freed[i].controller = names[i];
        *ret = sim;
        return 0;
fail:
        simulation_free(sim);
        return -ENOMEM;
}

Simulation *simulation_free(Simulation *sim) {
        if (!sim)
                return NULL;
        for (size_t i = 0; sim->states && i < sim->n_controllers; i++)
                if (sim->controllers[i]->state_free)
                        sim->controllers[i]->state_free(sim->states[i]);
        free(sim->states);
        free(sim->result.actions);
        free(sim->world);
        free(sim);
        return NULL;
}

const SimulationResult *simulation_result(const Simulation *sim) {
        return &sim->result;
}

uint64_t simulation_guests_fit(const SimulationResult *r, uint64_t guest_bytes) {
        return guest_bytes && r->has_headroom ? r->headroom_min_bytes / guest_bytes : 0;
}

bool action_same(const Action *a, const Action *b) {
        return a->kind == b->kind && a->bytes == b->bytes && a->vcpu == b->vcpu &&
               strcmp(a->controller, b->controller) == 0 && strcmp(a->uuid, b->uuid) == 0 &&
               strcmp(a->knob, b->knob) == 0 && strcmp(a->mode, b->mode) == 0 && strcmp(a->value, b->value) == 0 &&
               strcmp(a->reason, b->reason) == 0;
}

static WorldGuest *world_find(Simulation *sim, const char *uuid, bool add) {
        for (size_t i = 0; i < sim->n_world; i++)
                if (strcmp(sim->world[i].uuid, uuid) == 0)
                        return &sim->world[i];
        if (!add)
                return NULL;
        if (sim->n_world == sim->allocated_world) {
                size_t n = sim->allocated_world ? sim->allocated_world * 2 : 16;
                WorldGuest *x = realloc(sim->world, n * sizeof(*x));
                if (!x)
                        return NULL;
                sim->world = x;
                sim->allocated_world = n;
        }
        WorldGuest *w = &sim->world[sim->n_world++];
        *w = (WorldGuest) {};
        strscpy(w->uuid, sizeof(w->uuid), uuid);
        return w;
}

static int recorded_ksm_run(const HostSample *h) {
        int64_t v;
        return ksm_sample_get(&h->ksm, "run", &v) == 0 ? (int) v : -1;
}

/* What the simulated world has freed beyond what the recording shows at
 * this snapshot (may be negative: balloons the simulation grew). */
static int64_t world_extra_bytes(const Simulation *sim, const Snapshot *s) {
        int64_t extra = 0;
        for (size_t i = 0; i < s->n_guests; i++) {
                const GuestSample *g = &s->guests[i];
                const WorldGuest *w = world_find((Simulation *) sim, g->uuid, false);
                if (!w)
                        continue;
                if (w->shed)
                        extra += (int64_t) shed_frees_bytes(g);
                else if (w->has_target && g->has_balloon)
                        extra += (int64_t) g->balloon_actual_bytes - (int64_t) w->target_bytes;
        }
        uint64_t saved = snapshot_ksm_saved_bytes(&s->host);
        if (sim->ksm_run == 1 && recorded_ksm_run(&s->host) == 0 && sim->ksm_peak_saved_bytes > saved)
                extra += (int64_t) (sim->ksm_peak_saved_bytes - saved);
        return extra;
}

static void headroom_account(Simulation *sim, uint64_t tick, const Snapshot *s) {
        SimulationResult *r = &sim->result;
        const HostSample *h = &s->host;
        if (h->mem.mem_total_bytes == 0)
                return; /* unknown is never room */
        const PolicyShed *ps = &sim->policy.shed;
        uint64_t room = 0;
        bool thrash = h->psi.has_full && h->psi.full.avg10 > ps->psi_full_above_percent;
        if (!thrash) {
                int64_t x = (int64_t) shed_headroom_bytes(h, ps) + world_extra_bytes(sim, s);
                room = x > 0 ? (uint64_t) x : 0;
        }
        if (!r->has_headroom || room < r->headroom_min_bytes) {
                r->has_headroom = true;
                r->headroom_min_bytes = room;
                r->headroom_min_tick = tick;
                r->headroom_min_usec = s->timestamp_usec;
        }
}

/* Carry one planned action into the simulated world and the totals. */
static int simulation_take(Simulation *sim, uint64_t tick, const Snapshot *s, const Action *a) {
        SimulationResult *r = &sim->result;
        const GuestSample *g = a->uuid[0] ? snapshot_guest_by_uuid(s, a->uuid) : NULL;
        uint64_t freed = 0;
        WorldGuest *w = NULL;
        if (g && (a->kind == ACTION_BALLOON || a->kind == ACTION_SAVE || a->kind == ACTION_DESTROY ||
                  a->kind == ACTION_RESTORE) &&
            !(w = world_find(sim, a->uuid, true)))
                return -ENOMEM;
        switch (a->kind) {
        case ACTION_BALLOON:
                if (g && g->has_balloon && a->bytes < g->balloon_actual_bytes) {
                        freed = g->balloon_actual_bytes - a->bytes;
                        r->freed[FREED_BALLOON].bytes += freed;
                        r->freed[FREED_BALLOON].n_actions++;
                }
                if (w) {
                        w->has_target = true;
                        w->target_bytes = a->bytes;
                }
                break;
        case ACTION_SAVE:
        case ACTION_DESTROY:
                if (g) {
                        freed = shed_frees_bytes(g);
                        r->freed[FREED_SHED].bytes += freed;
                        r->freed[FREED_SHED].n_actions++;
                        w->shed = true;
                }
                break;
        case ACTION_RESTORE:
                if (w)
                        w->shed = false;
                break;
        case ACTION_KSM_KNOB:
                if (strcmp(a->knob, "run") == 0)
                        sim->ksm_run = strcmp(a->value, "1") == 0 ? 1 : 0;
                r->freed[FREED_KSM].n_actions++;
                break;
        default:
                break;
        }
        if (r->n_actions == r->allocated_actions) {
                size_t n = r->allocated_actions ? r->allocated_actions * 2 : 64;
                SimulatedAction *x = realloc(r->actions, n * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                r->actions = x;
                r->allocated_actions = n;
        }
        r->actions[r->n_actions++] = (SimulatedAction) {
                .tick = tick, .timestamp_usec = s->timestamp_usec, .action = *a, .freed_bytes = freed
        };
        return 0;
}

static bool plans_same(const Plan *a, const Plan *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!action_same(&a->actions[i], &b->actions[i]))
                        return false;
        return true;
}

int simulation_step(Simulation *sim, RecordTick *t) {
        SimulationResult *r = &sim->result;
        Snapshot *s = &t->snap;
        Plan plan = {};
        int k = 0;

        class_assign(&sim->policy, s);
        /* Before this tick's actions: they show in the next snapshot at the
         * earliest. */
        if (sim->ksm_run < 0)
                sim->ksm_run = recorded_ksm_run(&s->host);
        uint64_t saved = snapshot_ksm_saved_bytes(&s->host);
        if (saved > sim->ksm_peak_saved_bytes)
                sim->ksm_peak_saved_bytes = saved;
        headroom_account(sim, t->tick, s);
        if (sim->ksm_run == 1) {
                uint64_t merged = recorded_ksm_run(&s->host) == 0 ? sim->ksm_peak_saved_bytes : saved;
                if (merged > r->freed[FREED_KSM].bytes)
                        r->freed[FREED_KSM].bytes = merged;
        }

        for (size_t i = 0; i < sim->n_controllers && k == 0; i++) {
                size_t before = plan.n;
                if (sim->controllers[i]->plan(s, &sim->policy, sim->states[i], &plan) < 0) {
                        plan.n = before;
                        k = -ENOMEM;
                }
        }
        for (size_t i = 0; i < plan.n && k == 0; i++)
                k = simulation_take(sim, t->tick, s, &plan.actions[i]);
        if (k == 0) {
                if (r->n_ticks == 0)
                        r->first_usec = s->timestamp_usec;
                r->last_usec = s->timestamp_usec;
                r->n_ticks++;
                r->n_recorded_actions += t->plan.n;
                if (!plans_same(&plan, &t->plan)) {
                        r->n_ticks_differing++;
                        if (!r->first_differing_tick)
                                r->first_differing_tick = t->tick;
                }
                uint64_t sum = 0;
                for (size_t i = 0; i < s->n_guests; i++)
                        sum += shed_guest_bytes(&s->guests[i]);
                r->mean_guest_bytes = s->n_guests ? sum / s->n_guests : 0;
        }
        plan_clear(&plan);
        return k;
}

static void format_time(uint64_t usec, char *buf, size_t size) {
        time_t tt = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (usec == 0 || !localtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, size, "-");
}

void simulation_print(FILE *f, const SimulationResult *r, uint64_t guest_bytes) {
        char a[32], b[32];
        format_time(r->first_usec, a, sizeof(a));
        format_time(r->last_usec, b, sizeof(b));
        fprintf(f, "Replayed %zu tick%s, %s to %s\n\n", r->n_ticks, r->n_ticks == 1 ? "" : "s", a, b);
        fprintf(f, "Actions (%zu; densityd planned %zu on the same snapshots", r->n_actions, r->n_recorded_actions);
        if (r->n_ticks_differing)
                fprintf(f, ", %zu tick%s planned otherwise, the first tick %llu", r->n_ticks_differing,
                        r->n_ticks_differing == 1 ? "" : "s", (unsigned long long) r->first_differing_tick);
        else
                fprintf(f, ", every tick alike");
        fprintf(f, "):\n");
        for (size_t i = 0; i < r->n_actions; i++) {
                const SimulatedAction *x = &r->actions[i];
                char when[32], what[512];
                format_time(x->timestamp_usec, when, sizeof(when));
                action_describe(&x->action, what, sizeof(what));
                fprintf(f, "%s %-8s %-8s %s: %s\n", when, x->action.controller, "would", what, x->action.reason);
        }
        if (r->n_actions == 0)
                fprintf(f, "  none\n");
        fprintf(f, "\nMemory freed:\n");
        for (size_t i = 0; i < SIMULATE_FREED_N; i++) {
                const SimulatedFreed *x = &r->freed[i];
                fprintf(f, "  %-8s %8.0f MiB", x->controller, (double) x->bytes / MIB);
                if (i == FREED_BALLOON)
                        fprintf(f, "  (%zu shrink%s)\n", x->n_actions, x->n_actions == 1 ? "" : "s");
                else if (i == FREED_KSM)
                        fprintf(f, "  (the most merged while the simulated ksmd ran; %zu knob write%s)\n",
                                x->n_actions, x->n_actions == 1 ? "" : "s");
                else
                        fprintf(f, "  (%zu guest%s shed)\n", x->n_actions, x->n_actions == 1 ? "" : "s");
        }
        fprintf(f, "\n");
        if (!r->has_headroom) {
                fprintf(f, "Headroom: unknown (no tick with the host's memory)\n");
                return;
        }
        format_time(r->headroom_min_usec, a, sizeof(a));
        fprintf(f, "Headroom: %.0f MiB to the nearest shed threshold at the tightest tick (%llu, %s)\n",
                (double) r->headroom_min_bytes / MIB, (unsigned long long) r->headroom_min_tick, a);
        if (guest_bytes)
                fprintf(f, "Guests of %.0f MiB that would have fit more: %llu\n", (double) guest_bytes / MIB,
                        (unsigned long long) simulation_guests_fit(r, guest_bytes));
        else
                fprintf(f, "Guests that would have fit more: unknown (no --guest-size, and no guest recorded)\n");
}

static json_object *json_u64(uint64_t v) {
        return json_object_new_uint64(v);
}

json_object *simulation_json(const SimulationResult *r, uint64_t guest_bytes) {
        json_object *o = json_object_new_object(), *actions = json_object_new_array(),
                    *freed = json_object_new_object();
        if (!o || !actions || !freed) {
                json_object_put(o);
                json_object_put(actions);
                json_object_put(freed);
                return NULL;
        }
        json_object_object_add(o, "ticks", json_u64(r->n_ticks));
        json_object_object_add(o, "first", json_object_new_double((double) r->first_usec / 1e6));
        json_object_object_add(o, "last", json_object_new_double((double) r->last_usec / 1e6));
        json_object_object_add(o, "recorded_actions", json_u64(r->n_recorded_actions));
        json_object_object_add(o, "ticks_differing", json_u64(r->n_ticks_differing));
        json_object_object_add(o, "first_differing_tick",
                               r->first_differing_tick ? json_u64(r->first_differing_tick) : NULL);
        for (size_t i = 0; i < r->n_actions; i++) {
                const SimulatedAction *x = &r->actions[i];
                char what[512];
                action_describe(&x->action, what, sizeof(what));
                json_object *e = json_object_new_object();
                if (!e)
                        continue;
                json_object_object_add(e, "tick", json_u64(x->tick));
                json_object_object_add(e, "time", json_object_new_double((double) x->timestamp_usec / 1e6));
                json_object_object_add(e, "controller", json_object_new_string(x->action.controller));
                json_object_object_add(e, "action", json_object_new_string(action_kind_name(x->action.kind)));
                json_object_object_add(e, "guest", json_object_new_string(x->action.guest));
                json_object_object_add(e, "uuid", json_object_new_string(x->action.uuid));
                json_object_object_add(e, "bytes", json_u64(x->action.bytes));
                json_object_object_add(e, "what", json_object_new_string(what));
                json_object_object_add(e, "reason", json_object_new_string(x->action.reason));
                json_object_object_add(e, "freed_bytes", json_u64(x->freed_bytes));
                json_object_array_add(actions, e);
        }
        json_object_object_add(o, "actions", actions);
        for (size_t i = 0; i < SIMULATE_FREED_N; i++) {
                json_object *e = json_object_new_object();
                if (!e)
                        continue;
                json_object_object_add(e, "bytes", json_u64(r->freed[i].bytes));
                json_object_object_add(e, "actions", json_u64(r->freed[i].n_actions));
                json_object_object_add(freed, r->freed[i].controller, e);
        }
        json_object_object_add(o, "freed", freed);
        json_object *h = r->has_headroom ? json_object_new_object() : NULL;
        if (h) {
                json_object_object_add(h, "min_bytes", json_u64(r->headroom_min_bytes));
                json_object_object_add(h, "tick", json_u64(r->headroom_min_tick));
                json_object_object_add(h, "time", json_object_new_double((double) r->headroom_min_usec / 1e6));
        }
        json_object_object_add(o, "headroom", h);
        json_object_object_add(o, "guest_size_bytes", guest_bytes ? json_u64(guest_bytes) : NULL);
        json_object_object_add(o, "guests_fit",
                               guest_bytes && r->has_headroom ? json_u64(simulation_guests_fit(r, guest_bytes)) : NULL);
        return o;
}
