/* Unit tests of the balloon planner on literal snapshots: idle guests
 * shrink first; floors, lower bounds and maximums always hold; shares
 * weight the split and priority orders it; stale, "no balloon", no-stats,
 * busy and unknown guests are left alone; a pressured guest is never
 * shrunk and grows first; no oscillation over 100 simulated ticks; a
 * target that is not reached is noted once and not hammered. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "density/balloon-controller.h"
#include "density/plan.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define NG 8

typedef struct World {
        Policy p;
        Snapshot s;
        GuestSample guests[NG];
        uint64_t used[NG];      /* what each guest uses inside */
        bool touch_on_grow;     /* memory given back is used at once (host use rises) */
        bool unbacked;          /* the guests' free pages are not in qemu (free page reporting): a shrink frees nothing */
        void *state;
        uint64_t t_sec;
} World;

static void world_init_step(World *w, const char *step, const char *extra) {
        memset(w, 0, sizeof(*w));
        char text[2048];
        snprintf(text, sizeof(text),
                 "[Daemon]\nInterval=5s\n"
                 "[Balloon]\nHostTarget=80%%\nGuestFreeTarget=20%%\nStepMax=%s\nDeadBand=2%%\n"
                 "[Class low]\nMatch=low-*\nPriority=10\n"
                 "[Class big]\nMatch=big-*\nShares=4000\n"
                 "[Class firm]\nMatch=firm-*\nFloor=90%%\n"
                 "[Class fixed]\nMatch=fixed-*\nFloor=700M\n"
                 "[Class keep]\nMatch=keep-*\nShed=never\n%s",
                 step ? step : "10% 128M", extra ? extra : "");
        PolicyErrors e = {};
        int r = policy_parse(text, "t.conf", &w->p, &e);
        if (r != 0)
                TEST_FAIL("policy: %s", e.n ? e.lines[0] : "?");
        policy_errors_clear(&e);
        w->state = balloon_controller.state_new();
        CHECK(w->state);
        w->t_sec = 1000;
        w->s.timestamp_usec = w->t_sec * 1000000;
        w->s.hypervisor_connected = true;
        w->s.guests = w->guests;
        w->s.host.page_size_bytes = 4096;
        w->s.host.mem.mem_total_bytes = 16 * GIB;
        w->s.host.mem.mem_available_bytes = 12 * GIB;
        /* The VMs' cgroup: 4 GiB. Target 80% = 3276.8 MiB; the band down to 78%. */
        w->s.host.cgroup.version = 1;
        w->s.host.cgroup.has_limit = true;
        w->s.host.cgroup.limit_bytes = 4 * GIB;
        w->s.host.cgroup.usage_bytes = 3 * GIB;
}

static void world_init(World *w, const char *extra) {
        world_init_step(w, NULL, extra);
}

static void world_done(World *w) {
        balloon_controller.state_free(w->state);
}

static void set_inside(World *w, GuestSample *g) {
        uint64_t used = w->used[g - w->guests];
        g->available_bytes = g->balloon_actual_bytes;
        g->usable_bytes = g->balloon_actual_bytes > used ? g->balloon_actual_bytes - used : 0;
        g->unused_bytes = g->usable_bytes;
}

/* A guest of max_mib with its balloon at actual_mib, using used_mib inside;
 * its class from its name (as class_assign() would). */
static GuestSample *guest(World *w, const char *name, uint64_t max_mib, uint64_t actual_mib, uint64_t used_mib) {
        CHECK(w->s.n_guests < NG);
        size_t i = w->s.n_guests++;
        GuestSample *g = &w->guests[i];
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        snprintf(g->uuid, sizeof(g->uuid), "uuid-%s", name);
        const char *cls = "default";
        const char *prefixes[] = { "low", "big", "firm", "fixed", "keep" };
        for (size_t k = 0; k < ELEMENTSOF(prefixes); k++)
                if (strncmp(name, prefixes[k], strlen(prefixes[k])) == 0)
                        cls = prefixes[k];
        snprintf(g->class_name, sizeof(g->class_name), "%s", cls);
        g->has_balloon = true;
        g->balloon_maximum_bytes = max_mib * MIB;
        g->balloon_actual_bytes = actual_mib * MIB;
        g->has_available = g->has_usable = g->has_unused = true;
        w->used[i] = used_mib * MIB;
        set_inside(w, g);
        g->balloon_last_update = 1;
        g->has_rss = true;
        g->rss_bytes = g->balloon_actual_bytes + 60 * MIB;
        g->facts.known = true;
        g->facts.has_balloon = true;
        g->facts.persistent = true;
        g->facts.max_memory_bytes = g->balloon_maximum_bytes;
        return g;
}

static GuestSample *find(World *w, const char *name) {
        for (size_t i = 0; i < w->s.n_guests; i++)
                if (strcmp(w->guests[i].name, name) == 0)
                        return &w->guests[i];
        TEST_FAIL("no guest %s", name);
}

static const Action *action_for(const Plan *plan, const char *name) {
        for (size_t i = 0; i < plan->n; i++)
                if (strcmp(plan->actions[i].guest, name) == 0)
                        return &plan->actions[i];
        return NULL;
}

static const BalloonGuest *record(World *w, const char *name) {
        BalloonReport r;
        balloon_controller_report(w->state, &r);
        for (size_t i = 0; i < r.n_guests; i++)
                if (strcmp(r.guests[i].name, name) == 0)
                        return &r.guests[i];
        TEST_FAIL("no balloon record of %s", name);
}

/* Plan one tick and check what every planned action must be. */
static size_t plan_tick(World *w, Plan *plan) {
        plan_clear(plan);
        CHECK_OK(balloon_controller.plan(&w->s, &w->p, w->state, plan));
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                CHECK_STR(a->controller, "balloon");
                CHECK(a->kind == ACTION_BALLOON);
                CHECK(a->reason[0] != '\0');
                CHECK(a->bytes % MIB == 0 || a->bytes == find(w, a->guest)->balloon_maximum_bytes);
        }
        return plan->n;
}

/* The balloons reach their targets, the guests report again, and the
 * host's use follows: a shrink frees what the balloon took; a grow is
 * used only when touch_on_grow. Then 5 s pass. */
static void settle(World *w, const Plan *plan) {
        for (size_t i = 0; i < plan->n; i++) {
                GuestSample *g = find(w, plan->actions[i].guest);
                uint64_t from = g->balloon_actual_bytes, to = plan->actions[i].bytes;
                g->balloon_actual_bytes = to;
                set_inside(w, g);
                uint64_t *u = &w->s.host.cgroup.usage_bytes;
                if (to < from && !w->unbacked) {
                        *u -= from - to;
                        g->rss_bytes -= from - to;
                }
                else if (to > from && w->touch_on_grow) {
                        *u += to - from;
                        g->rss_bytes += to - from;
                }
        }
        for (size_t i = 0; i < w->s.n_guests; i++)
                w->guests[i].balloon_last_update++;
        w->t_sec += 5;
        w->s.timestamp_usec = w->t_sec * 1000000;
}

/* Every guest's balloon against its bounds. */
static void check_bounds(World *w, const Plan *plan) {
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                GuestSample *g = find(w, a->guest);
                BalloonJudgement j;
                balloon_judge(g, &w->p, NULL, w->s.timestamp_usec, &j);
                CHECK(a->bytes <= g->balloon_maximum_bytes);
                if (a->bytes < g->balloon_actual_bytes) {
                        CHECK(a->bytes >= j.lower_bytes);
                        CHECK(a->bytes >= j.floor_bytes);
                        CHECK(a->bytes >= w->used[g - w->guests] + j.free_target_bytes);
                        CHECK(!j.pressured);
                }
        }
}

static void test_judge(void) {
        World w;
        world_init(&w, NULL);
        GuestSample *g = guest(&w, "a", 1000, 1000, 300);
        BalloonJudgement j;
        balloon_judge(g, &w.p, NULL, 0, &j);
        CHECK(j.eligible && !j.pressured);
        CHECK_U64(j.used_bytes, 300 * MIB);
        CHECK_U64(j.free_target_bytes, 200 * MIB);
        CHECK_U64(j.floor_bytes, 500 * MIB);
        CHECK_U64(j.lower_bytes, 520 * MIB); /* used + free target + 2% */
        CHECK_U64(j.step_bytes, 100 * MIB);  /* 10% beats 128M */

        /* Balloon pages a guest counts in its total (deflate-on-OOM) are not
         * its use; nor is what it can use. Memory its kernel reserved at
         * boot (outside its total) is. */
        g->balloon_actual_bytes = 600 * MIB;
        g->available_bytes = 1000 * MIB - 4 * MIB;
        g->usable_bytes = 600 * MIB - 300 * MIB;
        g->facts.autodeflate = true;
        balloon_judge(g, &w.p, NULL, 0, &j);
        CHECK_U64(j.used_bytes, 300 * MIB);
        CHECK(!j.pressured);
        g->facts.autodeflate = false;
        g->available_bytes = 600 * MIB - 50 * MIB;
        g->usable_bytes = 150 * MIB;
        balloon_judge(g, &w.p, NULL, 0, &j);
        CHECK_U64(j.used_bytes, 450 * MIB);

        /* A firm floor and a fixed one. */
        GuestSample *f = guest(&w, "firm-1", 1000, 1000, 100);
        balloon_judge(f, &w.p, NULL, 0, &j);
        CHECK_U64(j.floor_bytes, 900 * MIB);
        CHECK_U64(j.lower_bytes, 900 * MIB);
        GuestSample *x = guest(&w, "fixed-1", 512, 512, 100);
        balloon_judge(x, &w.p, NULL, 0, &j);
        CHECK_U64(j.floor_bytes, 512 * MIB); /* 700M, but never above the maximum */
        CHECK_U64(j.lower_bytes, 512 * MIB);

        /* Under pressure: usable below the free target. */
        GuestSample *p = guest(&w, "p", 1000, 500, 350);
        balloon_judge(p, &w.p, NULL, 0, &j);
        CHECK(j.eligible && j.pressured);
        CHECK_CONTAINS(j.pressure, "below its free target");
        world_done(&w);
}

static void test_idle_first(void) {
        World w;
        world_init(&w, NULL);
        /* 3.5 GiB of 4 GiB used: 300 MiB over the target. */
        w.s.host.cgroup.usage_bytes = 3584 * MIB;
        guest(&w, "idle", 1024, 1024, 200);
        guest(&w, "busy", 1024, 1024, 800);
        Plan plan = {};
        CHECK(plan_tick(&w, &plan) == 1);
        const Action *a = action_for(&plan, "idle");
        CHECK(a != NULL);
        CHECK(action_for(&plan, "busy") == NULL);
        CHECK(a->bytes < 1024 * MIB);
        CHECK_U64(1024 * MIB - a->bytes, 102 * MIB); /* one step: 10% of 1 GiB, whole MiB */
        CHECK_CONTAINS(a->reason, "above HostTarget=80%");
        CHECK_CONTAINS(a->reason, "gives 102 MiB");
        check_bounds(&w, &plan);
        CHECK_STR(record(&w, "idle")->state, "shrinking");
        CHECK_STR(record(&w, "busy")->state, "full");
        plan_clear(&plan);
        world_done(&w);
}

static void test_floors_and_maximums(void) {
        World w;
        world_init(&w, NULL);
        w.touch_on_grow = true;
        /* Far over (more than the balloons can ever give back, as if other
         * processes filled the cgroup): every guest gives all it can. */
        w.s.host.cgroup.usage_bytes = 8 * GIB;
        guest(&w, "a", 1024, 1024, 100);
        guest(&w, "firm-1", 1024, 1024, 100);
        guest(&w, "fixed-1", 1024, 1024, 50);
        guest(&w, "low-1", 2048, 2048, 1500);
        Plan plan = {};
        for (int t = 0; t < 40; t++) {
                plan_tick(&w, &plan);
                check_bounds(&w, &plan);
                settle(&w, &plan);
        }
        CHECK_U64(find(&w, "a")->balloon_actual_bytes, 512 * MIB);        /* Floor=50% */
        CHECK_U64(find(&w, "firm-1")->balloon_actual_bytes, 922 * MIB);   /* Floor=90%, whole MiB up */
        CHECK_U64(find(&w, "fixed-1")->balloon_actual_bytes, 700 * MIB);  /* Floor=700M */
        /* used 1500 + free target 409.6 + 41 (2%) = 1950.6 MiB, rounded up. */
        CHECK_U64(find(&w, "low-1")->balloon_actual_bytes, 1951 * MIB);
        CHECK_CONTAINS(record(&w, "a")->reason, "lower bound");

        /* Room again: everything grows back to its maximum, never past it. */
        w.touch_on_grow = false;
        w.s.host.cgroup.usage_bytes = 1 * GIB;
        for (int t = 0; t < 40; t++) {
                plan_tick(&w, &plan);
                check_bounds(&w, &plan);
                settle(&w, &plan);
        }
        for (size_t i = 0; i < w.s.n_guests; i++)
                CHECK_U64(w.guests[i].balloon_actual_bytes, w.guests[i].balloon_maximum_bytes);
        CHECK(plan_tick(&w, &plan) == 0);
        CHECK_STR(record(&w, "a")->state, "full");
        BalloonReport r;
        balloon_controller_report(w.state, &r);
        CHECK(r.inflated_bytes_total > 0 && r.inflated_bytes_total == r.deflated_bytes_total);
        plan_clear(&plan);
        world_done(&w);
}

static void test_shares_and_priority(void) {
        World w;
        world_init(&w, NULL);
        /* 60 MiB over the middle of the band: less than one step each. */
        w.s.host.cgroup.usage_bytes = (uint64_t) (0.79 * 4 * GIB) + 60 * MIB;
        guest(&w, "a", 2048, 2048, 200);
        guest(&w, "big-1", 2048, 2048, 200);
        Plan plan = {};
        plan_tick(&w, &plan);
        const Action *a = action_for(&plan, "a"), *b = action_for(&plan, "big-1");
        CHECK(a && b);
        uint64_t ta = 2048 * MIB - a->bytes, tb = 2048 * MIB - b->bytes;
        /* Shares=1000 against 4000: four times as much, within the rounding. */
        CHECK(ta >= 3 * tb && ta <= 5 * tb + MIB);
        CHECK(ta + tb >= 58 * MIB); /* 19 MiB over the target and half the band, less rounding */
        world_done(&w);

        /* A class of lower priority gives first, alone when it can. */
        world_init(&w, NULL);
        w.s.host.cgroup.usage_bytes = (uint64_t) (0.79 * 4 * GIB) + 60 * MIB;
        guest(&w, "a", 2048, 2048, 200);
        guest(&w, "low-1", 2048, 2048, 200);
        plan_tick(&w, &plan);
        CHECK(plan.n == 1 && action_for(&plan, "low-1"));
        CHECK_CONTAINS(action_for(&plan, "low-1")->reason, "Priority=10");
        plan_clear(&plan);
        world_done(&w);
}

static void test_left_alone(void) {
        World w;
        world_init(&w, NULL);
        w.s.host.cgroup.usage_bytes = 4 * GIB;
        guest(&w, "stale", 1024, 1024, 100)->stale = true;
        guest(&w, "nostats", 1024, 1024, 100)->has_usable = false;
        GuestSample *nb = guest(&w, "noballoon", 1024, 1024, 100);
        nb->facts.has_balloon = false;
        guest(&w, "unknown", 1024, 1024, 100)->facts.known = false;
        guest(&w, "busy", 1024, 1024, 100)->actions_in_flight = 1u << ACTION_BALLOON;
        guest(&w, "saving", 1024, 1024, 100)->actions_in_flight = 1u << ACTION_SAVE;
        GuestSample *nh = guest(&w, "nohv", 1024, 1024, 100);
        nh->has_balloon = false;
        nh->balloon_maximum_bytes = 0;
        Plan plan = {};
        CHECK(plan_tick(&w, &plan) == 0);
        const char *names[] = { "stale", "nostats", "noballoon", "unknown", "busy", "saving", "nohv" };
        const char *why[] = { "stale", "no usable memory", "no balloon device", "not read yet", "in flight",
                              "in flight", "no balloon figures" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                CHECK_STR(record(&w, names[i])->state, "left");
                CHECK_CONTAINS(record(&w, names[i])->reason, why[i]);
                CHECK_U64(record(&w, names[i])->lower_bytes, 0);
        }
        ControllerStatus cs;
        balloon_controller.status(w.state, &cs);
        CHECK_STR(cs.state, "short");
        CHECK_CONTAINS(cs.reason, "the shedder acts");

        /* No data: no moves. */
        guest(&w, "ok", 1024, 1024, 100);
        w.s.hypervisor_connected = false;
        CHECK(plan_tick(&w, &plan) == 0);
        balloon_controller.status(w.state, &cs);
        CHECK_STR(cs.state, "held");
        w.s.hypervisor_connected = true;
        w.s.host.cgroup.has_limit = false;
        w.s.host.mem.mem_total_bytes = 0;
        CHECK(plan_tick(&w, &plan) == 0);
        balloon_controller.status(w.state, &cs);
        CHECK_STR(cs.state, "held");
        CHECK_CONTAINS(cs.reason, "host memory unknown");
        world_done(&w);

        /* Enable=no: nothing, and says so. */
        world_init(&w, "[Balloon]\nEnable=no\n");
        w.s.host.cgroup.usage_bytes = 4 * GIB;
        guest(&w, "a", 1024, 1024, 100);
        CHECK(plan_tick(&w, &plan) == 0);
        balloon_controller.status(w.state, &cs);
        CHECK_STR(cs.state, "off");
        plan_clear(&plan);
        world_done(&w);
}

static void test_pressure(void) {
        World w;
        world_init(&w, NULL);
        w.touch_on_grow = true;
        w.s.host.cgroup.usage_bytes = 3584 * MIB; /* short */
        guest(&w, "idle", 1024, 1024, 100);
        /* Shrunk earlier to 500 MiB; now uses 450: usable 50, below 204.8. */
        guest(&w, "hot", 1024, 500, 450);
        Plan plan = {};
        plan_tick(&w, &plan);
        const Action *h = action_for(&plan, "hot");
        CHECK(h != NULL);
        CHECK(h->bytes > 500 * MIB); /* grows although the host is short */
        CHECK_CONTAINS(h->reason, "under pressure");
        CHECK(plan.actions[0].bytes == h->bytes); /* first */
        /* What it gets is taken from the idle guest. */
        const Action *i = action_for(&plan, "idle");
        CHECK(i && i->bytes < 1024 * MIB);
        CHECK_CONTAINS(i->reason, "with what pressured guests get");
        settle(&w, &plan);

        /* It keeps using more: it grows each tick, never shrinks, until it
         * has room inside; the idle one only ever shrinks. */
        uint64_t prev_hot = find(&w, "hot")->balloon_actual_bytes, prev_idle = find(&w, "idle")->balloon_actual_bytes;
        for (int t = 0; t < 20; t++) {
                w.used[1] += 16 * MIB;
                if (w.used[1] > 800 * MIB)
                        w.used[1] = 800 * MIB;
                set_inside(&w, &w.guests[1]);
                plan_tick(&w, &plan);
                check_bounds(&w, &plan);
                settle(&w, &plan);
                CHECK(find(&w, "hot")->balloon_actual_bytes >= prev_hot);
                CHECK(find(&w, "idle")->balloon_actual_bytes <= prev_idle);
                prev_hot = find(&w, "hot")->balloon_actual_bytes;
                prev_idle = find(&w, "idle")->balloon_actual_bytes;
        }
        CHECK(find(&w, "hot")->usable_bytes >= 204 * MIB);

        /* A pressured guest at its maximum: nothing to give, said so. */
        world_done(&w);
        world_init(&w, NULL);
        w.s.host.cgroup.usage_bytes = 3584 * MIB;
        guest(&w, "full", 1024, 1024, 1000);
        plan_tick(&w, &plan);
        CHECK(plan.n == 0);
        CHECK_STR(record(&w, "full")->state, "pressure");

        /* Rising major faults count as pressure until the next report. */
        world_done(&w);
        world_init(&w, NULL);
        GuestSample *g = guest(&w, "faulty", 1024, 1024, 100);
        g->has_major_faults = true;
        g->major_faults = 1000;
        w.s.host.cgroup.usage_bytes = 3000 * MIB; /* in the band: no move, only observed */
        plan_tick(&w, &plan);
        CHECK(plan.n == 0);
        g->balloon_last_update++;
        g->major_faults += 5000;
        w.s.host.cgroup.usage_bytes = 3584 * MIB;
        plan_tick(&w, &plan);
        CHECK(action_for(&plan, "faulty") == NULL); /* at its maximum: not shrunk */
        CHECK_STR(record(&w, "faulty")->state, "pressure");
        CHECK_CONTAINS(record(&w, "faulty")->reason, "5000 major faults");
        plan_clear(&plan);
        world_done(&w);
}

/* 100 ticks of a steady snapshot: every guest moves one way only, and
 * after a while nothing moves at all. */
static void test_no_oscillation(void) {
        for (int touch = 0; touch < 2; touch++) {
                World w;
                /* Small steps: it takes many ticks to get there. */
                world_init_step(&w, "16M", NULL);
                w.touch_on_grow = touch;
                w.s.host.cgroup.usage_bytes = 3700 * MIB;
                guest(&w, "a", 1024, 1024, 150);
                guest(&w, "b", 1024, 1024, 300);
                guest(&w, "big-1", 1024, 1024, 150);
                guest(&w, "low-1", 512, 512, 100);
                guest(&w, "firm-1", 1024, 1024, 100);
                int dir[NG] = {};
                size_t last_move = 0;
                Plan plan = {};
                for (size_t t = 0; t < 100; t++) {
                        plan_tick(&w, &plan);
                        check_bounds(&w, &plan);
                        for (size_t i = 0; i < plan.n; i++) {
                                GuestSample *g = find(&w, plan.actions[i].guest);
                                int d = plan.actions[i].bytes < g->balloon_actual_bytes ? -1 : 1;
                                size_t k = (size_t) (g - w.guests);
                                if (dir[k] && dir[k] != d)
                                        TEST_FAIL("%s moved both ways (tick %zu)", g->name, t);
                                dir[k] = d;
                                last_move = t;
                        }
                        settle(&w, &plan);
                }
                CHECK(dir[0] == -1 && dir[1] == -1); /* the idle ones did shrink */
                CHECK(last_move > 3 && last_move < 30);
                uint64_t u = w.s.host.cgroup.usage_bytes;
                CHECK(u <= (uint64_t) (0.80 * 4 * GIB) + MIB);
                CHECK(u >= (uint64_t) (0.78 * 4 * GIB) - 64 * MIB);
                plan_clear(&plan);
                world_done(&w);
        }
}

/* Free pages already back with the host (free page reporting): a shrink
 * frees nothing; noted once, and the guest is not shrunk again for 10 min
 * though the host stays over its target. */
static void test_futile(void) {
        World w;
        world_init_step(&w, "32M", NULL);
        w.unbacked = true;
        w.s.host.cgroup.usage_bytes = 3700 * MIB;
        guest(&w, "a", 1024, 1024, 100);
        Plan plan = {};
        size_t actions = 0, notes = 0;
        for (int t = 0; t < 110; t++) { /* 9 min */
                actions += plan_tick(&w, &plan);
                for (size_t i = 0; i < plan.n_notes; i++) {
                        CHECK_CONTAINS(plan.notes[i].text, "freed 0 MiB on the host");
                        notes++;
                }
                settle(&w, &plan);
        }
        CHECK(actions == 1);
        CHECK(notes == 1);
        CHECK_CONTAINS(record(&w, "a")->reason, "its last shrink freed little on the host");
        CHECK_U64(find(&w, "a")->balloon_actual_bytes, 992 * MIB);
        /* After the hold, one more try. */
        for (int t = 0; t < 12; t++) {
                actions += plan_tick(&w, &plan);
                settle(&w, &plan);
        }
        CHECK(actions == 2);
        plan_clear(&plan);
        world_done(&w);
}

static void test_stuck(void) {
        World w;
        world_init(&w, NULL);
        w.s.host.cgroup.usage_bytes = 3700 * MIB;
        GuestSample *g = guest(&w, "nodriver", 1024, 1024, 100);
        Plan plan = {};
        CHECK(plan_tick(&w, &plan) == 1);
        uint64_t target = plan.actions[0].bytes;
        size_t notes = 0, actions = 0;
        /* The balloon never moves, though the guest still reports. */
        for (int t = 0; t < 60; t++) { /* 5 min */
                g->balloon_last_update++;
                w.t_sec += 5;
                w.s.timestamp_usec = w.t_sec * 1000000;
                plan_tick(&w, &plan);
                actions += plan.n;
                for (size_t i = 0; i < plan.n_notes; i++) {
                        CHECK_STR(plan.notes[i].guest, "nodriver");
                        CHECK_CONTAINS(plan.notes[i].text, "not reached");
                        notes++;
                }
        }
        CHECK(notes == 1);
        CHECK(actions == 0);
        CHECK(target == record(&w, "nodriver")->target_bytes);
        /* Past the hold: one more try. */
        for (int t = 0; t < 3; t++) {
                g->balloon_last_update++;
                w.t_sec += 5;
                w.s.timestamp_usec = w.t_sec * 1000000;
                plan_tick(&w, &plan);
                actions += plan.n;
        }
        CHECK(actions == 1);
        plan_clear(&plan);
        world_done(&w);
}

/* Room for less than a worthwhile move each (DeadBand= of a guest's
 * maximum, 20 MiB here) goes to fewer guests, not in slivers to all; room
 * for less than one such move, to none. */
static void test_grow_no_slivers(void) {
        World w;
        world_init(&w, NULL);
        const char *names[] = { "a", "b", "c", "d" };
        for (size_t i = 0; i < 4; i++)
                guest(&w, names[i], 1024, 800, 100);
        uint64_t low = (uint64_t) (0.78 * 4 * GIB);
        Plan plan = {};
        w.s.host.cgroup.usage_bytes = low - 15 * MIB;
        CHECK(plan_tick(&w, &plan) == 0);
        w.s.host.cgroup.usage_bytes = low - 50 * MIB;
        CHECK(plan_tick(&w, &plan) == 2);
        for (size_t i = 0; i < plan.n; i++)
                CHECK(plan.actions[i].bytes >= 820 * MIB);
        w.s.host.cgroup.usage_bytes = low - 1 * GIB;
        plan_clear(&plan);
        world_done(&w);
        world_init(&w, NULL);
        for (size_t i = 0; i < 4; i++)
                guest(&w, names[i], 1024, 800, 100);
        w.s.host.cgroup.usage_bytes = low - 1 * GIB;
        CHECK(plan_tick(&w, &plan) == 4); /* plenty: a step each */
        for (size_t i = 0; i < plan.n; i++)
                CHECK_U64(plan.actions[i].bytes, 902 * MIB);
        plan_clear(&plan);
        world_done(&w);
}

/* Short by the shedder's measure (the VMs' cgroup over CgroupUsageAbove=
 * 95%): guests that may be shed give all they can at once, StepMax= aside;
 * a guest whose class says Shed=never only what the usual split asks. */
static void test_squeeze(void) {
        World w;
        world_init(&w, NULL);
        w.s.host.cgroup.usage_bytes = 3950 * MIB;
        guest(&w, "a", 1024, 1024, 100);
        guest(&w, "keep-1", 1024, 1024, 100);
        Plan plan = {};
        plan_tick(&w, &plan);
        const Action *a = action_for(&plan, "a");
        CHECK(a != NULL);
        CHECK_U64(a->bytes, 512 * MIB); /* its floor, in one go: 5 steps' worth */
        CHECK_CONTAINS(a->reason, "squeezed to its lower bound before any guest is shed");
        CHECK(action_for(&plan, "keep-1") == NULL);
        ControllerStatus cs;
        balloon_controller.status(w.state, &cs);
        CHECK_STR(cs.state, "squeezing");
        check_bounds(&w, &plan);
        plan_clear(&plan);
        world_done(&w);

        /* The shedder off: no squeeze, the usual steps. */
        world_init(&w, "[Shed]\nEnable=no\n");
        w.s.host.cgroup.usage_bytes = 3950 * MIB;
        guest(&w, "a", 1024, 1024, 100);
        plan_tick(&w, &plan);
        CHECK(plan.n == 1);
        CHECK_U64(plan.actions[0].bytes, 922 * MIB);
        plan_clear(&plan);
        world_done(&w);
}

static void test_dry_run(void) {
        World w;
        world_init(&w, "[Daemon]\nDryRun=yes\n");
        w.s.host.cgroup.usage_bytes = 3700 * MIB;
        GuestSample *g = guest(&w, "a", 1024, 1024, 100);
        Plan plan = {};
        size_t actions = 0, notes = 0;
        for (int t = 0; t < 12; t++) { /* 60 s: settle is 15 s */
                plan_tick(&w, &plan);
                actions += plan.n;
                notes += plan.n_notes;
                g->balloon_last_update++;
                w.t_sec += 5;
                w.s.timestamp_usec = w.t_sec * 1000000;
        }
        CHECK(actions >= 3 && actions <= 4);
        CHECK(notes == 0);
        plan_clear(&plan);
        world_done(&w);
}

int main(void) {
        RUN(test_judge);
        RUN(test_idle_first);
        RUN(test_floors_and_maximums);
        RUN(test_shares_and_priority);
        RUN(test_left_alone);
        RUN(test_pressure);
        RUN(test_no_oscillation);
        RUN(test_futile);
        RUN(test_stuck);
        RUN(test_grow_no_slivers);
        RUN(test_squeeze);
        RUN(test_dry_run);
        return 0;
}
