/* Unit tests of the shed planner on literal snapshots: the ladder, one at a
 * time with a cooldown, the book following the guests, restore after a
 * hold, back-off on a failed restore, and no action on no data. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "density/plan.h"
#include "density/shed-controller.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

typedef struct World {
        Policy p;
        Snapshot s;
        GuestSample guests[8];
        void *state;
        uint64_t t_sec;
} World;

static void world_init(World *w) {
        memset(w, 0, sizeof(*w));
        PolicyErrors e = {};
        CHECK_OK(policy_parse("[Daemon]\nActionTimeout=60s\n"
                              "[Shed]\nCooldown=10s\nRestoreHold=30s\n"
                              "[Class batch]\nMatch=batch-*\nPriority=10\n"
                              "[Class scratch]\nMatch=scratch-*\nPriority=5\nShed=destroy\n"
                              "[Class db]\nMatch=db-*\nPriority=90\nShed=never\n",
                              "t.conf", &w->p, &e));
        policy_errors_clear(&e);
        w->state = shed_controller.state_new();
        CHECK(w->state);
        w->t_sec = 1000;
        w->s.timestamp_usec = w->t_sec * 1000000;
        w->s.hypervisor_connected = true;
        w->s.guests = w->guests;
        /* 10 GiB host: shed below 512 MiB available, restore from 2 GiB. */
        w->s.host.page_size_bytes = 4096;
        w->s.host.mem.mem_total_bytes = 10 * GIB;
        w->s.host.mem.mem_available_bytes = 1 * GIB;
}

static void world_done(World *w) {
        shed_controller.state_free(w->state);
}

static GuestSample *guest(World *w, const char *name, const char *class_name, uint64_t rss) {
        GuestSample *g = &w->guests[w->s.n_guests++];
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        snprintf(g->uuid, sizeof(g->uuid), "uuid-%s", name);
        snprintf(g->class_name, sizeof(g->class_name), "%s", class_name);
        g->has_rss = true;
        g->rss_bytes = rss;
        g->facts.known = true;
        g->facts.persistent = true;
        return g;
}

static GuestSample *find(World *w, const char *name) {
        for (size_t i = 0; i < w->s.n_guests; i++)
                if (strcmp(w->guests[i].name, name) == 0)
                        return &w->guests[i];
        return NULL;
}

/* The guest stops running (saved, destroyed): gone from the snapshot. */
static void vanish(World *w, const char *name) {
        GuestSample *g = find(w, name);
        CHECK(g != NULL);
        size_t i = (size_t) (g - w->guests);
        memmove(g, g + 1, (w->s.n_guests - i - 1) * sizeof(*g));
        w->s.n_guests--;
}

static void advance(World *w, unsigned seconds) {
        w->t_sec += seconds;
        w->s.timestamp_usec = w->t_sec * 1000000;
}

static size_t tick(World *w, Plan *plan) {
        plan_clear(plan);
        CHECK_OK(shed_controller.plan(&w->s, &w->p, w->state, plan));
        for (size_t i = 0; i < plan->n; i++) {
                CHECK_STR(plan->actions[i].controller, "shed");
                CHECK(plan->actions[i].reason[0] != '\0');
                CHECK(plan->actions[i].uuid[0] != '\0');
        }
        return plan->n;
}

static const char *state_of(World *w, ControllerStatus *c) {
        shed_controller.status(w->state, c);
        return c->state;
}

static const ShedEntry *booked(World *w, const char *name) {
        char uuid[64];
        snprintf(uuid, sizeof(uuid), "uuid-%s", name);
        return shed_book_find(shed_controller_book(w->state, NULL), uuid);
}

/* The ladder's first step: balloons the balloon controller squeezed this
 * tick come first; a guest is shed once they are at their targets and
 * memory is still short, or after 5 s if they never get there. */
static void test_squeeze_first(void) {
        for (int reach = 0; reach < 2; reach++) {
                World w;
                ControllerStatus c;
                world_init(&w);
                GuestSample *web = guest(&w, "web-1", "default", 600 * MIB);
                web->has_balloon = true;
                web->balloon_actual_bytes = 1024 * MIB;
                web->balloon_maximum_bytes = 1024 * MIB;
                guest(&w, "batch-1", "batch", 300 * MIB);
                w.s.host.mem.mem_available_bytes = 300 * MIB;
                Plan plan = {};
                Action a = action_balloon("balloon", web, 700 * MIB, "squeezed");
                CHECK_OK(plan_add(&plan, &a));
                CHECK_OK(shed_controller.plan(&w.s, &w.p, w.state, &plan));
                CHECK(plan.n == 1); /* the balloon only */
                CHECK_STR(state_of(&w, &c), "squeezing");
                CHECK_CONTAINS(c.reason, "1 balloon squeezed first");
                /* A second later, still inflating: still waiting. */
                advance(&w, 1);
                CHECK(tick(&w, &plan) == 0);
                CHECK_STR(state_of(&w, &c), "squeezing");
                if (reach) {
                        /* At its target, memory still short: the next step. */
                        web->balloon_actual_bytes = 701 * MIB;
                        advance(&w, 1);
                } else
                        advance(&w, 5); /* never there: 5 s is the most it waits */
                CHECK(tick(&w, &plan) == 1);
                CHECK(plan.actions[0].kind == ACTION_SAVE);
                CHECK_STR(plan.actions[0].guest, "batch-1");
                plan_clear(&plan);
                world_done(&w);
        }
        /* A balloon that grows (a pressured guest) is no squeeze. */
        World w;
        world_init(&w);
        GuestSample *web = guest(&w, "web-1", "default", 600 * MIB);
        web->has_balloon = true;
        web->balloon_actual_bytes = 512 * MIB;
        guest(&w, "batch-1", "batch", 300 * MIB);
        w.s.host.mem.mem_available_bytes = 300 * MIB;
        Plan plan = {};
        Action a = action_balloon("balloon", web, 700 * MIB, "grows");
        CHECK_OK(plan_add(&plan, &a));
        CHECK_OK(shed_controller.plan(&w.s, &w.p, w.state, &plan));
        CHECK(plan.n == 2 && plan.actions[1].kind == ACTION_SAVE);
        plan_clear(&plan);
        world_done(&w);
}

/* A class's OomScoreAdjust= is written to its guests' qemu where it
 * differs; a write that does not take is noted once and tried again only
 * after 10 min, not every tick. */
static void test_oom_score_adj(void) {
        World w;
        Plan plan = {};
        world_init(&w);
        PolicyErrors e = {};
        CHECK_OK(policy_parse("[Class db]\nMatch=db-*\nPriority=90\nShed=never\nOomScoreAdjust=-500\n"
                              "[Class batch]\nMatch=batch-*\nOomScoreAdjust=300\n",
                              "t.conf", &w.p, &e));
        policy_errors_clear(&e);
        w.s.host.mem.mem_available_bytes = 3 * GIB; /* roomy: nothing else to do */
        GuestSample *db = guest(&w, "db-1", "db", 900 * MIB);
        GuestSample *bt = guest(&w, "batch-1", "batch", 300 * MIB);
        GuestSample *web = guest(&w, "web-1", "default", 300 * MIB);
        db->pid = 100, bt->pid = 200, web->pid = 300;
        db->has_oom_score_adj = bt->has_oom_score_adj = web->has_oom_score_adj = true;
        CHECK(tick(&w, &plan) == 2);
        for (size_t i = 0; i < plan.n; i++)
                CHECK(plan.actions[i].kind == ACTION_OOM_SCORE_ADJ);
        CHECK_STR(plan.actions[0].guest, "db-1");
        CHECK_STR(plan.actions[0].value, "-500");
        CHECK(plan.actions[0].pid == 100);
        CHECK_CONTAINS(plan.actions[0].reason, "class db says OomScoreAdjust=-500 (now 0)");
        CHECK_CONTAINS(plan.actions[0].reason, "takes its qemu later");
        CHECK_STR(plan.actions[1].value, "300");
        CHECK_CONTAINS(plan.actions[1].reason, "sooner");
        /* In flight: not again. */
        db->actions_in_flight = bt->actions_in_flight = 1u << ACTION_OOM_SCORE_ADJ;
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 0);
        db->actions_in_flight = bt->actions_in_flight = 0;
        /* batch-1's took; db-1's was refused: said once, not tried again. */
        bt->oom_score_adj = 300;
        advance(&w, 5);
        CHECK(tick(&w, &plan) == 0);
        CHECK(plan.n_notes == 1);
        CHECK_STR(plan.notes[0].guest, "db-1");
        CHECK_CONTAINS(plan.notes[0].text, "stays 0, not -500 as class db says");
        size_t actions = 0, notes = 0;
        for (int t = 0; t < 110; t++) { /* 9 min 10 s */
                advance(&w, 5);
                actions += tick(&w, &plan);
                notes += plan.n_notes;
        }
        CHECK(actions == 0 && notes == 0);
        for (int t = 0; t < 12; t++) { /* past 10 min: one more try */
                advance(&w, 5);
                actions += tick(&w, &plan);
        }
        CHECK(actions == 1);
        /* A new qemu (the guest restarted) is a new try at once. */
        db->pid = 101;
        advance(&w, 5);
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].pid == 101);
        plan_clear(&plan);
        world_done(&w);
}

static void test_shed_ladder(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        bool changed;
        world_init(&w);
        guest(&w, "web-1", "default", 600 * MIB);
        guest(&w, "batch-1", "batch", 300 * MIB);
        guest(&w, "db-1", "db", 900 * MIB);
        guest(&w, "scratch-1", "scratch", 200 * MIB);

        /* Tight (1 GiB available): nothing. */
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "watching");

        w.s.host.mem.mem_available_bytes = 300 * MIB;
        /* Short: the lowest priority goes first, and its class says destroy. */
        w.s.host.mem.mem_available_bytes = 300 * MIB;
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].kind == ACTION_DESTROY);
        CHECK_STR(plan.actions[0].guest, "scratch-1");
        CHECK_CONTAINS(plan.actions[0].reason, "MemAvailable 300 MiB is below MemAvailableBelow= (512 MiB)");
        CHECK_CONTAINS(plan.actions[0].reason, "Shed=destroy");
        CHECK_STR(state_of(&w, &c), "shedding");
        CHECK(booked(&w, "scratch-1") && booked(&w, "scratch-1")->stage == SHED_STAGE_SHEDDING);
        CHECK(shed_controller_busy(w.state));
        shed_controller_book(w.state, &changed);
        CHECK(changed);
        /* Stored (the directory made as needed): unchanged since. */
        char dir[] = "/tmp/density-test-shedc.XXXXXX", sub[64], err[256] = "";
        CHECK(mkdtemp(dir) != NULL);
        snprintf(sub, sizeof(sub), "%s/state", dir);
        CHECK_OK(shed_controller.state_store(w.state, sub, err, sizeof(err)));
        shed_controller_book(w.state, &changed);
        CHECK(!changed);
        /* What a restarted daemon reads back. */
        void *again = shed_controller.state_new();
        CHECK_OK(shed_controller.state_load(again, sub, err, sizeof(err)));
        CHECK_U64(shed_controller_book(again, NULL)->n, 1);
        CHECK_STR(shed_controller_book(again, NULL)->entries[0].name, "scratch-1");
        shed_controller.state_free(again);
        /* A broken book is moved aside, said so, and not read. */
        char path[128], broken[160];
        snprintf(path, sizeof(path), "%s/%s", sub, SHED_BOOK_FILE);
        snprintf(broken, sizeof(broken), "%s.broken", path);
        CHECK_OK(write_file_durable(path, "{", 1, 0600));
        again = shed_controller.state_new();
        CHECK(shed_controller.state_load(again, sub, err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "not JSON");
        CHECK_CONTAINS(err, "moved to");
        CHECK_U64(shed_controller_book(again, NULL)->n, 0);
        CHECK(access(broken, F_OK) == 0 && access(path, F_OK) < 0);
        /* No book at all: nothing shed. */
        CHECK_OK(shed_controller.state_load(again, sub, err, sizeof(err)));
        shed_controller.state_free(again);
        unlink(broken);
        rmdir(sub);
        rmdir(dir);

        /* Under way (in flight, still running): one at a time. */
        find(&w, "scratch-1")->actions_in_flight = 1u << ACTION_DESTROY;
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "shedding");
        CHECK_CONTAINS(c.reason, "scratch-1 is being shed");

        /* Gone: shed. Still short, but cooling down. */
        vanish(&w, "scratch-1");
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 0);
        CHECK(booked(&w, "scratch-1")->stage == SHED_STAGE_SHED);
        CHECK(!shed_controller_busy(w.state));
        CHECK_STR(state_of(&w, &c), "cooling");

        /* After Cooldown=: the next, a managed save. db-1 is Shed=never. */
        advance(&w, 10);
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].kind == ACTION_SAVE);
        CHECK_STR(plan.actions[0].guest, "batch-1");
        CHECK_CONTAINS(plan.actions[0].reason, "managed save, class batch (Priority=10), frees about 300 MiB");
        /* The save failed (or was aborted after SaveTimeout=): still
         * running, nothing under way: out of the book, and the next step is
         * the next guest, web-1 (default, 50), not batch-1 again. */
        advance(&w, 5);
        tick(&w, &plan);
        CHECK(booked(&w, "batch-1") == NULL);
        advance(&w, 10);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "web-1");
        find(&w, "web-1")->actions_in_flight = 1u << ACTION_SAVE;
        advance(&w, 1);
        tick(&w, &plan);
        vanish(&w, "web-1");
        /* Gone: Cooldown= counts from now, when its memory is free, not
         * from when the save was planned. */
        advance(&w, 30);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "cooling");
        /* Then only batch-1, skipped for 10 min after its failure, and db-1
         * (Shed=never): stuck, and says why. */
        advance(&w, 10);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "stuck");
        CHECK_CONTAINS(c.reason, "the save of every sheddable guest failed");
        /* Ten minutes on, batch-1 is tried again. */
        advance(&w, 600);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "batch-1");
        find(&w, "batch-1")->actions_in_flight = 1u << ACTION_SAVE;
        advance(&w, 1);
        tick(&w, &plan);
        vanish(&w, "batch-1");
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 0);
        advance(&w, 10);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "stuck");
        CHECK_CONTAINS(c.reason, "no guest may be shed");
        CHECK_U64(shed_controller_book(w.state, NULL)->n, 3);

        /* Memory comes back, but only tight: nothing restored. */
        w.s.host.mem.mem_available_bytes = 1 * GIB;
        advance(&w, 5);
        CHECK(tick(&w, &plan) == 0);
        /* Roomy (3 GiB): first the hold, then web-1 (priority 50) first. */
        w.s.host.mem.mem_available_bytes = 3 * GIB;
        advance(&w, 5);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "waiting");
        advance(&w, 29);
        CHECK(tick(&w, &plan) == 0);
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].kind == ACTION_RESTORE);
        CHECK_STR(plan.actions[0].guest, "web-1");
        CHECK_CONTAINS(plan.actions[0].reason, "with its state saved");
        CHECK(booked(&w, "web-1")->stage == SHED_STAGE_RESTORING);
        /* One at a time. */
        advance(&w, 5);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "restoring");
        /* It runs again: out of the book; the next one waits a new hold. */
        guest(&w, "web-1", "default", 600 * MIB);
        advance(&w, 5);
        CHECK(tick(&w, &plan) == 0);
        CHECK(booked(&w, "web-1") == NULL);
        advance(&w, 30);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "batch-1");
        plan_clear(&plan);
        world_done(&w);
}

static void test_restore_failure_and_restart(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w);
        guest(&w, "web-1", "default", 600 * MIB);

        /* A book from before a restart: two guests shed, one being shed
         * when densityd stopped (its save finished meanwhile). */
        ShedBook b = {};
        ShedEntry e = { .priority = 50, .action = SHED_SAVE, .stage = SHED_STAGE_SHED, .bytes = 500 * MIB,
                        .since_usec = 100 * 1000000, .stage_usec = 100 * 1000000 };
        strscpy(e.uuid, sizeof(e.uuid), "uuid-old-1");
        strscpy(e.name, sizeof(e.name), "old-1");
        strscpy(e.class_name, sizeof(e.class_name), "default");
        CHECK_OK(shed_book_put(&b, &e));
        strscpy(e.uuid, sizeof(e.uuid), "uuid-old-2");
        strscpy(e.name, sizeof(e.name), "old-2");
        e.stage = SHED_STAGE_SHEDDING;
        e.priority = 10;
        CHECK_OK(shed_book_put(&b, &e));
        shed_controller_adopt_book(w.state, &b);
        CHECK_U64(b.n, 0);

        w.s.host.mem.mem_available_bytes = 4 * GIB;
        CHECK(tick(&w, &plan) == 0);
        CHECK(booked(&w, "old-2")->stage == SHED_STAGE_SHED);
        advance(&w, 30);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "old-1");

        /* It does not come back within ActionTimeout=: a failure. It waits
         * out its back-off (60 s) and holds back no other: old-2 comes. */
        advance(&w, 61);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "old-2");
        CHECK(booked(&w, "old-1")->stage == SHED_STAGE_SHED);
        CHECK(booked(&w, "old-1")->failures == 1);
        /* old-2 shows while its restore still runs: not done yet. */
        GuestSample *o2 = guest(&w, "old-2", "default", 500 * MIB);
        o2->actions_in_flight = 1u << ACTION_RESTORE;
        advance(&w, 2);
        CHECK(tick(&w, &plan) == 0);
        CHECK(booked(&w, "old-2")->stage == SHED_STAGE_RESTORING);
        o2->actions_in_flight = 0;
        advance(&w, 3);
        CHECK(tick(&w, &plan) == 0);
        CHECK(booked(&w, "old-2") == NULL);
        /* old-1's back-off runs 60 s from its failure; then a new hold. */
        advance(&w, 25);
        CHECK(tick(&w, &plan) == 0);
        advance(&w, 31);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "old-1");

        /* No data, no action: the hypervisor gone, or memory unknown. */
        w.s.host.mem.mem_available_bytes = 100 * MIB;
        w.s.hypervisor_connected = false;
        advance(&w, 100);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "held");
        w.s.hypervisor_connected = true;
        w.s.host.mem.mem_total_bytes = 0;
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "held");
        /* Enable=no: never. */
        w.s.host.mem.mem_total_bytes = 10 * GIB;
        w.p.shed.enable = false;
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "off");
        w.p.shed.enable = true;
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].kind == ACTION_SAVE);
        CHECK_STR(plan.actions[0].guest, "web-1");
        plan_clear(&plan);
        world_done(&w);
}

/* Read from the book at start: a save the last densityd started may still
 * run in libvirtd (its guest shows, nothing in flight here): kept for the
 * time a save may take; a shed guest someone started leaves the book. */
static void test_adopted(void) {
        World w;
        Plan plan = {};
        world_init(&w);
        guest(&w, "saving", "default", 600 * MIB);
        guest(&w, "started", "default", 300 * MIB);
        ShedBook b = {};
        ShedEntry e = { .priority = 50, .action = SHED_SAVE, .stage = SHED_STAGE_SHEDDING, .bytes = 600 * MIB,
                        .since_usec = 1000 * 1000000ULL, .stage_usec = 1000 * 1000000ULL };
        strscpy(e.uuid, sizeof(e.uuid), "uuid-saving");
        strscpy(e.name, sizeof(e.name), "saving");
        strscpy(e.class_name, sizeof(e.class_name), "default");
        CHECK_OK(shed_book_put(&b, &e));
        e.stage = SHED_STAGE_SHED;
        strscpy(e.uuid, sizeof(e.uuid), "uuid-started");
        strscpy(e.name, sizeof(e.name), "started");
        CHECK_OK(shed_book_put(&b, &e));
        shed_controller_adopt_book(w.state, &b);
        CHECK(tick(&w, &plan) == 0);
        CHECK(booked(&w, "started") == NULL);
        CHECK(booked(&w, "saving") && booked(&w, "saving")->stage == SHED_STAGE_SHEDDING);
        /* SaveTimeout= (120 s) + ActionTimeout= (60 s) later, still there:
         * its save did not happen. */
        advance(&w, 170);
        tick(&w, &plan);
        CHECK(booked(&w, "saving") != NULL);
        advance(&w, 20);
        tick(&w, &plan);
        CHECK(booked(&w, "saving") == NULL);
        plan_clear(&plan);
        world_done(&w);
}

/* The book cannot be written (state directory read-only or full): what
 * the plan recorded is undone and its actions are held back; nothing counts
 * as a failure, and the next plan sheds once the book can be written. */
static void test_store_fails(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        char err[512] = "";
        world_init(&w);
        guest(&w, "web-1", "default", 600 * MIB);
        w.s.host.mem.mem_available_bytes = 100 * MIB;
        CHECK(tick(&w, &plan) == 1);
        CHECK(booked(&w, "web-1") != NULL);
        CHECK(shed_controller.state_store(w.state, "/proc/no-such-dir/state", err, sizeof(err)) < 0);
        CHECK_CONTAINS(err, "nothing is shed or restored until it can");
        shed_controller.plan_discard(w.state);
        CHECK(booked(&w, "web-1") == NULL);
        CHECK_STR(state_of(&w, &c), "held");
        CHECK_CONTAINS(c.reason, "cannot create /proc/no-such-dir/state: ");
        /* Not a failure of web-1's save: the next plan chooses it again, and
         * no cooldown holds it back. */
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "web-1");
        char dir[] = "/tmp/density-test-shedd.XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        CHECK_OK(shed_controller.state_store(w.state, dir, err, sizeof(err)));
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, SHED_BOOK_FILE);
        unlink(path);
        rmdir(dir);
        plan_clear(&plan);
        world_done(&w);
}

static void test_save_room(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w);
        guest(&w, "web-1", "default", 600 * MIB);
        guest(&w, "batch-1", "batch", 700 * MIB);
        w.s.host.mem.mem_available_bytes = 300 * MIB;
        w.s.host.has_save_free = true;
        w.s.host.save_free_bytes = 500 * MIB;
        /* Neither save fits (RSS, 5% and 64 MiB): stuck, and it says why. */
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "stuck");
        CHECK_CONTAINS(c.reason, "/var/lib/libvirt/qemu/save has 500 MiB free, too little");
        /* The first passed over is noted, once in this shortage. */
        CHECK(plan.n_notes == 1);
        CHECK_STR(plan.notes[0].guest, "batch-1");
        CHECK_CONTAINS(plan.notes[0].text, "does not fit in /var/lib/libvirt/qemu/save (500 MiB free)");
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 0);
        CHECK(plan.n_notes == 0);
        /* Room for web-1 (694 MiB), not batch-1 (799 MiB): web-1, though
         * batch-1 ranks first. */
        w.s.host.save_free_bytes = 700 * MIB;
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].guest, "web-1");
        plan_clear(&plan);
        world_done(&w);
}

static void test_by_hand(void) {
        World w;
        Plan plan = {};
        char err[256];
        world_init(&w);
        guest(&w, "web-1", "default", 600 * MIB);
        guest(&w, "db-1", "db", 900 * MIB);
        GuestSample *t = guest(&w, "batch-1", "batch", 300 * MIB);
        t->facts.persistent = false;

        /* Refused with a reason, and nothing queued. */
        CHECK(shed_controller_request(w.state, &w.s, &w.p, ACTION_SAVE, "nobody", err, sizeof(err)) == -ENOENT);
        CHECK_CONTAINS(err, "no running guest nobody");
        CHECK(shed_controller_request(w.state, &w.s, &w.p, ACTION_SAVE, "db-1", err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "db-1 cannot be shed: its class says Shed=never");
        CHECK(shed_controller_request(w.state, &w.s, &w.p, ACTION_SAVE, "batch-1", err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "transient");
        CHECK(shed_controller_request(w.state, &w.s, &w.p, ACTION_RESTORE, "web-1", err, sizeof(err)) == -ENOENT);
        CHECK_CONTAINS(err, "densityd did not shed web-1");
        CHECK(tick(&w, &plan) == 0);

        /* By UUID; twice is once. Memory is tight, not short: it is the
         * operator's call. */
        CHECK_OK(shed_controller_request(w.state, &w.s, &w.p, ACTION_SAVE, "uuid-web-1", err, sizeof(err)));
        CHECK(shed_controller_request(w.state, &w.s, &w.p, ACTION_SAVE, "web-1", err, sizeof(err)) == -EBUSY);
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].kind == ACTION_SAVE);
        CHECK_STR(plan.actions[0].guest, "web-1");
        CHECK_CONTAINS(plan.actions[0].reason, "shed by hand (densityctl shed)");
        CHECK(booked(&w, "web-1")->by_hand);
        vanish(&w, "web-1");
        advance(&w, 1);
        tick(&w, &plan);
        CHECK(booked(&w, "web-1")->stage == SHED_STAGE_SHED);

        /* Roomy for long: a guest shed by hand does not come back by itself. */
        w.s.host.mem.mem_available_bytes = 8 * GIB;
        for (int i = 0; i < 20; i++) {
                advance(&w, 10);
                CHECK(tick(&w, &plan) == 0);
        }
        /* Restore by hand, at once, even while memory is short. */
        w.s.host.mem.mem_available_bytes = 100 * MIB;
        CHECK_OK(shed_controller_request(w.state, &w.s, &w.p, ACTION_RESTORE, "web-1", err, sizeof(err)));
        advance(&w, 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK(plan.actions[0].kind == ACTION_RESTORE);
        CHECK_CONTAINS(plan.actions[0].reason, "restore by hand");
        CHECK(shed_controller_request(w.state, &w.s, &w.p, ACTION_RESTORE, "web-1", err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "web-1 is restoring");
        plan_clear(&plan);
        world_done(&w);
}

int main(void) {
        RUN(test_shed_ladder);
        RUN(test_squeeze_first);
        RUN(test_oom_score_adj);
        RUN(test_restore_failure_and_restart);
        RUN(test_adopted);
        RUN(test_store_fails);
        RUN(test_save_room);
        RUN(test_by_hand);
        return 0;
}
