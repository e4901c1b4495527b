/* test-simulate: the simulation's arithmetic on a hand-made recording: a
 * scripted controller plans a balloon shrink, a save and a KSM start on
 * ticks whose recorded memory says what the headroom was; the memory
 * freed, the headroom at the tightest tick, the guests that would have
 * fit, the ticks that differ from the recorded plans, the classes judged
 * again under the policy tried, and the printed and JSON result. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "density/simulate.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1024) * 1024)
#define LIMIT_BYTES (4096 * MIB)

typedef struct Script {
        size_t tick;
} Script;

static void *script_new(void) {
        return calloc(1, sizeof(Script));
}

static void script_free(void *s) {
        free(s);
}

static const GuestSample *guest(const Snapshot *s, const char *name) {
        for (size_t i = 0; i < s->n_guests; i++)
                if (strcmp(s->guests[i].name, name) == 0)
                        return &s->guests[i];
        TEST_FAIL("no guest %s", name);
}

/* Tick 1: g1's balloon to 800 MiB; tick 2: save g2; tick 3: KSM run=1. */
static int script_plan(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        Script *sc = state;
        (void) p;
        Action a;
        switch (++sc->tick) {
        case 1:
                a = action_balloon("balloon", guest(s, "g1"), 800 * MIB, "scripted shrink");
                return plan_add(plan, &a);
        case 2:
                a = action_guest("shed", ACTION_SAVE, guest(s, "g2"), "scripted save");
                return plan_add(plan, &a);
        case 3:
                a = action_ksm_knob("ksm", "run", "1", "scripted start");
                return plan_add(plan, &a);
        default:
                return 0;
        }
}

static const Controller script_controller = {
        .name = "script",
        .state_new = script_new,
        .state_free = script_free,
        .plan = script_plan,
};
static const Controller *const script_controllers[] = { &script_controller };

/* A recorded tick: the VMs' cgroup at usage_mib of 4096 MiB, g1's balloon
 * at g1_mib, KSM stopped with merged_mib still merged. */
static void make_tick(RecordTick *t, uint64_t tick, uint64_t usage_mib, uint64_t g1_mib, uint64_t merged_mib,
                      double psi_full) {
        *t = (RecordTick) { .tick = tick };
        Snapshot *s = &t->snap;
        s->timestamp_usec = tick * 5 * USEC_PER_SEC;
        HostSample *h = &s->host;
        h->page_size_bytes = 4096;
        h->mem.mem_total_bytes = 16384 * MIB;
        h->mem.mem_available_bytes = 8192 * MIB;
        h->psi.has_full = true;
        h->psi.full.avg10 = psi_full;
        h->cgroup = (CgroupSample) { .version = 1, .has_limit = true, .limit_bytes = LIMIT_BYTES,
                                     .usage_bytes = usage_mib * MIB };
        h->ksm.present = true;
        h->ksm.n_values = 2;
        h->ksm.values[0] = (KsmValue) { .name = "run", .numeric = true, .value = 0 };
        h->ksm.values[1] = (KsmValue) { .name = "pages_sharing", .numeric = true,
                                        .value = (int64_t) (merged_mib * MIB / 4096) };
        s->n_guests = 2;
        s->guests = calloc(2, sizeof(GuestSample));
        CHECK(s->guests);
        GuestSample *g = &s->guests[0];
        strscpy(g->name, sizeof(g->name), "g1");
        strscpy(g->uuid, sizeof(g->uuid), "00000000-0000-0000-0000-000000000001");
        g->has_rss = true;
        g->rss_bytes = 1100 * MIB;
        g->has_balloon = true;
        g->balloon_actual_bytes = g1_mib * MIB;
        g = &s->guests[1];
        strscpy(g->name, sizeof(g->name), "g2");
        strscpy(g->uuid, sizeof(g->uuid), "00000000-0000-0000-0000-000000000002");
        g->has_rss = true;
        g->rss_bytes = 500 * MIB;
        strscpy(g->class_name, sizeof(g->class_name), "default"); /* as the live policy judged */
}

/* The bytes under CgroupUsageAbove=95% of the limit at usage_mib, as
 * shed_headroom_bytes() works them out. */
static uint64_t cgroup_room(uint64_t usage_mib) {
        return (uint64_t) ((double) LIMIT_BYTES * 95.0 / 100.0 - (double) (usage_mib * MIB));
}

static void test_arithmetic(void) {
        Policy p;
        PolicyErrors errors = {};
        CHECK_OK(policy_parse("[Class low]\nMatch=g2\nPriority=10\n", "test.conf", &p, &errors));
        Simulation *sim = NULL;
        CHECK_OK(simulation_new(&p, script_controllers, 1, &sim));

        RecordTick t;
        /* 1: room 891.2 MiB (cgroup); the recorded plan is the scripted one. */
        make_tick(&t, 1, 3000, 1000, 100, 0);
        Action same = action_balloon("balloon", &t.snap.guests[0], 800 * MIB, "scripted shrink");
        CHECK_OK(plan_add(&t.plan, &same));
        CHECK_OK(simulation_step(sim, &t));
        CHECK_STR(t.snap.guests[1].class_name, "low"); /* judged again under the policy tried */
        record_tick_clear(&t);
        /* 2: the recording does not show the shrink (g1 still at 1000 MiB):
         * 391.2 MiB of room + 200 MiB from the balloon. densityd planned
         * nothing here. */
        make_tick(&t, 2, 3500, 1000, 0, 0);
        CHECK_OK(simulation_step(sim, &t));
        record_tick_clear(&t);
        /* 3: g1 at 900 (100 MiB still to come), g2 saved but recorded
         * running (500 MiB): 291.2 + 100 + 500. */
        make_tick(&t, 3, 3600, 900, 0, 0);
        CHECK_OK(simulation_step(sim, &t));
        record_tick_clear(&t);
        /* 4: g1 at its target; g2 500 MiB; ksmd would run while the
         * recorded one is stopped: the 100 MiB merged at tick 1. */
        make_tick(&t, 4, 3000, 800, 0, 0);
        CHECK_OK(simulation_step(sim, &t));
        record_tick_clear(&t);

        const SimulationResult *r = simulation_result(sim);
        CHECK_U64(r->n_ticks, 4);
        CHECK_U64(r->first_usec, 5 * USEC_PER_SEC);
        CHECK_U64(r->last_usec, 20 * USEC_PER_SEC);
        CHECK_U64(r->n_actions, 3);
        CHECK_U64(r->actions[0].tick, 1);
        CHECK_U64(r->actions[0].freed_bytes, 200 * MIB);
        CHECK_U64(r->actions[1].freed_bytes, 500 * MIB);
        CHECK_U64(r->n_recorded_actions, 1);
        CHECK_U64(r->n_ticks_differing, 2); /* ticks 2 and 3 */
        CHECK_U64(r->first_differing_tick, 2);
        CHECK_STR(r->freed[0].controller, "balloon");
        CHECK_U64(r->freed[0].bytes, 200 * MIB);
        CHECK_U64(r->freed[0].n_actions, 1);
        CHECK_STR(r->freed[1].controller, "ksm");
        CHECK_U64(r->freed[1].bytes, 100 * MIB);
        CHECK_STR(r->freed[2].controller, "shed");
        CHECK_U64(r->freed[2].bytes, 500 * MIB);
        CHECK_U64(r->freed[2].n_actions, 1);
        CHECK(r->has_headroom);
        CHECK_U64(r->headroom_min_tick, 2);
        CHECK_U64(r->headroom_min_bytes, cgroup_room(3500) + 200 * MIB);
        CHECK_U64(r->headroom_min_usec, 10 * USEC_PER_SEC);
        /* 591.2 MiB: two guests of 256 MiB, five of 100 MiB. */
        CHECK_U64(simulation_guests_fit(r, 256 * MIB), 2);
        CHECK_U64(simulation_guests_fit(r, 100 * MIB), 5);
        CHECK_U64(simulation_guests_fit(r, 0), 0);
        CHECK_U64(r->mean_guest_bytes, (1100 + 500) * MIB / 2);

        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        CHECK(f);
        simulation_print(f, r, 256 * MIB);
        fclose(f);
        CHECK_CONTAINS(text, "Replayed 4 ticks");
        CHECK_CONTAINS(text, "Actions (3; densityd planned 1 on the same snapshots, 2 ticks planned otherwise, the first tick 2)");
        CHECK_CONTAINS(text, "balloon  would    balloon g1 to 800 MiB: scripted shrink\n");
        CHECK_CONTAINS(text, "shed     would    save g2 (managed save): scripted save\n");
        CHECK_CONTAINS(text, "ksm      would    ksm run=1: scripted start\n");
        CHECK_CONTAINS(text, "  balloon       200 MiB  (1 shrink)");
        CHECK_CONTAINS(text, "  shed          500 MiB  (1 guest shed)");
        CHECK_CONTAINS(text, "Headroom: 591 MiB to the nearest shed threshold at the tightest tick (2, ");
        CHECK_CONTAINS(text, "Guests of 256 MiB that would have fit more: 2\n");
        free(text);

        json_object *o = simulation_json(r, 100 * MIB);
        CHECK(o);
        json_object *v;
        CHECK(json_object_object_get_ex(o, "guests_fit", &v) && json_object_get_int64(v) == 5);
        CHECK(json_object_object_get_ex(o, "actions", &v) && json_object_array_length(v) == 3);
        json_object *a0 = json_object_array_get_idx(v, 0), *x;
        CHECK(json_object_object_get_ex(a0, "action", &x));
        CHECK_STR(json_object_get_string(x), "balloon");
        CHECK(json_object_object_get_ex(a0, "bytes", &x) && json_object_get_uint64(x) == 800 * MIB);
        CHECK(json_object_object_get_ex(o, "ticks_differing", &v) && json_object_get_int64(v) == 2);
        json_object_put(o);

        /* 5: memory stalls over PsiFullAbove=10%: a thrash, no room at all. */
        make_tick(&t, 5, 1000, 800, 0, 50.0);
        CHECK_OK(simulation_step(sim, &t));
        record_tick_clear(&t);
        CHECK_U64(r->headroom_min_tick, 5);
        CHECK_U64(r->headroom_min_bytes, 0);
        CHECK_U64(simulation_guests_fit(r, 1), 0);
        simulation_free(sim);
        simulation_free(NULL);
}

/* A tick without the host's memory is no room, and no headroom at all. */
static void test_unknown(void) {
        Policy p;
        policy_defaults(&p);
        Simulation *sim = NULL;
        CHECK_OK(simulation_new(&p, script_controllers, 0, &sim));
        RecordTick t = { .tick = 1 };
        CHECK_OK(simulation_step(sim, &t));
        const SimulationResult *r = simulation_result(sim);
        CHECK(!r->has_headroom);
        CHECK_U64(r->n_ticks, 1);
        CHECK_U64(simulation_guests_fit(r, MIB), 0);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        CHECK(f);
        simulation_print(f, r, 0);
        fclose(f);
        CHECK_CONTAINS(text, "Headroom: unknown");
        free(text);
        simulation_free(sim);
}

static void test_action_same(void) {
        GuestSample g = { .name = "a", .uuid = "u" };
        Action a = action_balloon("balloon", &g, 100, "why"), b = a;
        CHECK(action_same(&a, &b));
        b.bytes = 101;
        CHECK(!action_same(&a, &b));
        b = a;
        strscpy(b.reason, sizeof(b.reason), "why not");
        CHECK(!action_same(&a, &b));
        b = a;
        b.kind = ACTION_SAVE;
        CHECK(!action_same(&a, &b));
}

int main(void) {
        RUN(test_arithmetic);
        RUN(test_unknown);
        RUN(test_action_same);
        return 0;
}
