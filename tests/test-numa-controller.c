/* Tests of the NUMA planner on fixture topologies: one node (nothing, or
 * everything on it with SingleNode=yes); two nodes (balanced, stable over
 * 100 ticks); four nodes with asymmetric distances and a memoryless node
 * (never a home; the nearer node wins a tie); a 2-node, 192-CPU tree
 * shaped like an Ampere One host (read from its fixture). Hand-pinned
 * guests and Numa=no are left alone; identical guests are grouped when KSM
 * merges within nodes only; moves wait for Dwell= and stay within
 * MaxMovesPerTick=; the book survives a restart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "density/numa-controller.h"
#include "density/numa.h"
#include "density/plan.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define NG 16

typedef struct World {
        Policy p;
        Snapshot s;
        GuestSample guests[NG];
        void *state;
        uint64_t t_sec;
} World;

static void world_init(World *w, const char *extra) {
        memset(w, 0, sizeof(*w));
        char text[1024];
        snprintf(text, sizeof(text),
                 "[Numa]\nDwell=60s\nMaxMovesPerTick=1\nBalanceTolerance=10%%\n%s"
                 "[Class web]\nMatch=web-*\n[Class db]\nMatch=db-*\n[Class pet]\nMatch=pet-*\nNuma=no\n%s",
                 extra && strstr(extra, "MemoryMode=") ? "" : "MemoryMode=strict\n", extra ? extra : "");
        PolicyErrors e = {};
        if (policy_parse(text, "t.conf", &w->p, &e) != 0)
                TEST_FAIL("policy: %s", e.n ? e.lines[0] : "?");
        policy_errors_clear(&e);
        w->state = numa_controller.state_new();
        CHECK(w->state);
        w->t_sec = 1000;
        w->s.timestamp_usec = w->t_sec * 1000000;
        w->s.hypervisor_connected = true;
        w->s.guests = w->guests;
        w->s.host.page_size_bytes = 4096;
}

static void world_done(World *w) {
        numa_controller.state_free(w->state);
}

static NumaNode *node(World *w, int id, uint64_t total_gib, uint64_t free_gib, const char *cpus) {
        NumaNode *n = &w->s.host.numa.nodes[w->s.host.numa.n_nodes++];
        *n = (NumaNode) { .id = id, .mem_total_bytes = total_gib * GIB, .mem_free_bytes = free_gib * GIB };
        snprintf(n->cpulist, sizeof(n->cpulist), "%s", cpus);
        return n;
}

static GuestSample *guest(World *w, const char *name, uint64_t mib, unsigned vcpus, int on_node) {
        CHECK(w->s.n_guests < NG);
        GuestSample *g = &w->guests[w->s.n_guests++];
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        snprintf(g->uuid, sizeof(g->uuid), "00000000-0000-0000-0000-%012zu", w->s.n_guests);
        const char *cls = strncmp(name, "web", 3) == 0 ? "web" : strncmp(name, "db", 2) == 0 ? "db"
                        : strncmp(name, "pet", 3) == 0 ? "pet" : "default";
        snprintf(g->class_name, sizeof(g->class_name), "%s", cls);
        g->pid = 100 + (pid_t) w->s.n_guests;
        g->has_rss = true;
        g->rss_bytes = mib * MIB;
        g->facts.known = true;
        g->facts.persistent = true;
        g->facts.vcpus = vcpus;
        g->facts.max_memory_bytes = mib * MIB;
        if (on_node >= 0) {
                g->n_nodes = 1;
                g->nodes[0] = (GuestNodeBytes) { .node = on_node, .bytes = mib * MIB };
        }
        return g;
}

static GuestSample *find(World *w, const char *uuid_or_name) {
        for (size_t i = 0; i < w->s.n_guests; i++)
                if (!strcmp(w->guests[i].uuid, uuid_or_name) || !strcmp(w->guests[i].name, uuid_or_name))
                        return &w->guests[i];
        TEST_FAIL("no guest %s", uuid_or_name);
}

static NumaNode *node_by_id(World *w, int id) {
        for (size_t i = 0; i < w->s.host.numa.n_nodes; i++)
                if (w->s.host.numa.nodes[i].id == id)
                        return &w->s.host.numa.nodes[i];
        TEST_FAIL("no node %d", id);
}

/* Plan, check every action's shape, and return how many. */
static size_t plan_tick(World *w, Plan *plan) {
        plan_clear(plan);
        CHECK_OK(numa_controller.plan(&w->s, &w->p, w->state, plan));
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                CHECK_STR(a->controller, "numa");
                CHECK(a->kind == ACTION_PIN_VCPU || a->kind == ACTION_PIN_EMULATOR || a->kind == ACTION_PIN_MEMORY);
                CHECK(a->reason[0] != '\0');
                CHECK(a->value[0] != '\0');
        }
        return plan->n;
}

/* The node a guest's memory pin in this plan names, or -1. */
static int planned_node(const Plan *plan, const char *name) {
        for (size_t i = 0; i < plan->n; i++)
                if (plan->actions[i].kind == ACTION_PIN_MEMORY && !strcmp(plan->actions[i].guest, name))
                        return atoi(plan->actions[i].value);
        return -1;
}

/* The pins take, and the memory follows: each placed guest's memory moves
 * to its node, the nodes' free memory with it. Then 5 s pass. */
static void settle(World *w, const Plan *plan) {
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                if (a->kind != ACTION_PIN_MEMORY)
                        continue;
                GuestSample *g = find(w, a->uuid);
                int to = atoi(a->value);
                uint64_t bytes = 0;
                for (size_t k = 0; k < g->n_nodes; k++) {
                        node_by_id(w, g->nodes[k].node)->mem_free_bytes += g->nodes[k].bytes;
                        bytes += g->nodes[k].bytes;
                }
                if (!bytes)
                        bytes = g->rss_bytes;
                node_by_id(w, to)->mem_free_bytes -= bytes;
                g->n_nodes = 1;
                g->nodes[0] = (GuestNodeBytes) { .node = to, .bytes = bytes };
        }
        w->t_sec += 5;
        w->s.timestamp_usec = w->t_sec * 1000000;
}

static void check_pins(const Plan *plan, const char *name, unsigned vcpus, const char *cpus, const char *mode,
                       int node) {
        unsigned seen = 0;
        bool emu = false, mem = false;
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                if (strcmp(a->guest, name) != 0)
                        continue;
                if (a->kind == ACTION_PIN_VCPU) {
                        CHECK_STR(a->value, cpus);
                        CHECK(a->vcpu == seen);
                        seen++;
                } else if (a->kind == ACTION_PIN_EMULATOR) {
                        CHECK_STR(a->value, cpus);
                        emu = true;
                } else {
                        CHECK_STR(a->mode, mode);
                        CHECK(atoi(a->value) == node);
                        mem = true;
                }
        }
        CHECK(seen == vcpus && emu && mem);
}

static void test_one_node(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, NULL);
        node(&w, 0, 16, 8, "0-7");
        guest(&w, "a", 1024, 2, 0);
        CHECK(plan_tick(&w, &plan) == 0);
        numa_controller.status(w.state, &c);
        CHECK_STR(c.state, "single-node");
        CHECK_CONTAINS(c.reason, "SingleNode=no");
        world_done(&w);

        world_init(&w, "[Numa]\nSingleNode=yes\n");
        node(&w, 0, 16, 8, "0-7");
        guest(&w, "a", 1024, 2, 0);
        CHECK(plan_tick(&w, &plan) == 4);
        check_pins(&plan, "a", 2, "0-7", "strict", 0);
        settle(&w, &plan);
        CHECK(plan_tick(&w, &plan) == 0); /* again: nothing */
        plan_clear(&plan);
        world_done(&w);
}

/* Two nodes: eight guests split four and four; stable for 100 ticks. */
static void test_two_nodes(void) {
        World w;
        Plan plan = {};
        world_init(&w, NULL);
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        const char *names[] = { "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8" };
        for (size_t i = 0; i < 8; i++)
                guest(&w, names[i], 1024, 1, -1);
        CHECK(plan_tick(&w, &plan) == 8 * 3);
        int on0 = 0;
        for (size_t i = 0; i < 8; i++)
                on0 += planned_node(&plan, names[i]) == 0;
        CHECK(on0 == 4);
        check_pins(&plan, "g1", 1, planned_node(&plan, "g1") == 0 ? "0-7" : "8-15", "strict",
                   planned_node(&plan, "g1"));
        settle(&w, &plan);
        for (int t = 0; t < 100; t++) {
                if (plan_tick(&w, &plan) != 0)
                        TEST_FAIL("tick %d planned %zu actions on an unchanged host", t, plan.n);
                settle(&w, &plan);
        }
        NumaReport r;
        numa_controller_report(w.state, &r);
        CHECK_U64(r.n_places, 8);
        CHECK_U64(r.moves_total, 0);
        /* Status: the guest's node and how much of its memory is there. */
        double f = numa_local_fraction(find(&w, "g1"), r.places[0].node);
        CHECK(f > 0.99);
        plan_clear(&plan);
        world_done(&w);
}

/* Four nodes, node 3 without memory, asymmetric distances: node 3 is never
 * a home; of two equal nodes the one nearer to the guest's memory wins. */
static void test_four_nodes(void) {
        World w;
        Plan plan = {};
        world_init(&w, NULL);
        NumaNode *n0 = node(&w, 0, 8, 0, "0-3"); /* 4 CPUs */
        NumaNode *n1 = node(&w, 1, 8, 6, "4-11");
        NumaNode *n2 = node(&w, 2, 8, 6, "12-19");
        NumaNode *n3 = node(&w, 3, 0, 0, "20-35"); /* CPUs, no memory */
        const uint16_t d[4][4] = { { 10, 30, 20, 40 }, { 30, 10, 40, 20 }, { 20, 40, 10, 30 }, { 40, 20, 30, 10 } };
        NumaNode *ns[] = { n0, n1, n2, n3 };
        for (size_t i = 0; i < 4; i++) {
                ns[i]->n_distances = 4;
                memcpy(ns[i]->distance, d[i], sizeof(d[i]));
        }
        /* Its memory on node 0, whose 4 CPUs are too few for its 6 vCPUs:
         * of nodes 1 and 2 (alike), 2 is nearer to node 0 (20, not 30). */
        guest(&w, "a", 2048, 6, 0);
        CHECK(plan_tick(&w, &plan) == 8);
        CHECK(planned_node(&plan, "a") == 2);
        check_pins(&plan, "a", 6, "12-19", "strict", 2);
        settle(&w, &plan);
        /* Many more: never node 3. */
        const char *names[] = { "b", "c", "d", "e" };
        for (size_t i = 0; i < 4; i++)
                guest(&w, names[i], 1024, 1, -1);
        plan_tick(&w, &plan);
        for (size_t i = 0; i < 4; i++) {
                int nd = planned_node(&plan, names[i]);
                CHECK(nd == 1 || nd == 2);
        }
        settle(&w, &plan);
        /* A guest with more vCPUs than any node has CPUs (node 3's 16
         * do not count: it has no memory): left, said so. */
        guest(&w, "wide", 512, 12, -1);
        CHECK(plan_tick(&w, &plan) == 0);
        ControllerStatus c;
        numa_controller.status(w.state, &c);
        CHECK_CONTAINS(c.reason, "wide: no node has CPUs for all its vCPUs");
        plan_clear(&plan);
        world_done(&w);
}

/* The Ampere One shaped tree: 2 nodes of 96 CPUs, 252 GiB each. */
static void test_ampere(void) {
        World w;
        Plan plan = {};
        world_init(&w, NULL);
        char sys[PATH_MAX];
        snprintf(sys, sizeof(sys), "%s/host-arm64-64k/sys", fixtures);
        CHECK_OK(numa_read(sys, &w.s.host.numa));
        CHECK_U64(w.s.host.numa.n_nodes, 2);
        CHECK_U64(w.s.host.numa.nodes[0].n_distances, 2);
        CHECK(w.s.host.numa.nodes[0].distance[1] == 20);
        guest(&w, "big", 64 * 1024, 96, -1);
        guest(&w, "small", 2048, 4, -1);
        guest(&w, "huge", 64 * 1024, 97, -1); /* more vCPUs than a node has */
        CHECK(plan_tick(&w, &plan) == 96 + 2 + 4 + 2);
        int big = planned_node(&plan, "big");
        check_pins(&plan, "big", 96, big == 0 ? "0-95" : "96-191", "strict", big);
        CHECK(planned_node(&plan, "small") == 1 - big); /* the other node has more free now */
        CHECK(planned_node(&plan, "huge") == -1);
        plan_clear(&plan);
        world_done(&w);
}

/* MemoryMode=preferred (the default). */
static void test_preferred(void) {
        World w;
        Plan plan = {};
        world_init(&w, "[Numa]\nMemoryMode=preferred\n");
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        guest(&w, "a", 1024, 2, -1);
        CHECK(plan_tick(&w, &plan) == 4);
        check_pins(&plan, "a", 2, planned_node(&plan, "a") == 0 ? "0-7" : "8-15", "preferred", planned_node(&plan, "a"));
        CHECK_CONTAINS(plan.actions[0].reason, "memory preferred there");
        plan_clear(&plan);
        world_done(&w);
}

static void test_left_alone(void) {
        World w;
        Plan plan = {};
        world_init(&w, NULL);
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        guest(&w, "hand", 1024, 1, 0)->facts.vcpu_pinned = true;
        guest(&w, "emu", 1024, 1, 0)->facts.emulator_pinned = true;
        GuestSample *nt = guest(&w, "tuned", 1024, 1, 0);
        nt->facts.numatune = true;
        guest(&w, "pet-1", 1024, 1, 0);
        guest(&w, "unknown", 1024, 1, 0)->facts.known = false;
        guest(&w, "busy", 1024, 1, 0)->actions_in_flight = 1u << ACTION_SAVE;
        CHECK(plan_tick(&w, &plan) == 0);
        ControllerStatus c;
        numa_controller.status(w.state, &c);
        CHECK_CONTAINS(c.reason, "6 left alone");
        plan_clear(&plan);
        world_done(&w);
}

/* merge_across_nodes=0: guests of a class go where their class is. */
static void test_grouping(void) {
        for (int merge = 0; merge < 2; merge++) {
                World w;
                Plan plan = {};
                world_init(&w, NULL);
                KsmSample *k = &w.s.host.ksm;
                k->present = true;
                k->n_values = 1;
                snprintf(k->values[0].name, sizeof(k->values[0].name), "merge_across_nodes");
                k->values[0].numeric = true;
                k->values[0].value = merge;
                node(&w, 0, 16, 12, "0-7");
                node(&w, 1, 16, 12, "8-15");
                const char *names[] = { "web-1", "db-1", "web-2", "db-2", "web-3", "db-3" };
                for (size_t i = 0; i < 6; i++)
                        guest(&w, names[i], 1024, 1, -1);
                plan_tick(&w, &plan);
                int w1 = planned_node(&plan, "web-1"), d1 = planned_node(&plan, "db-1");
                if (merge == 0) {
                        /* The first of each class sets where the rest go. */
                        for (size_t i = 0; i < 6; i++)
                                CHECK(planned_node(&plan, names[i]) == (names[i][0] == 'w' ? w1 : d1));
                        CHECK_CONTAINS(plan.actions[0].reason, "KSM merges within a node only");
                } else {
                        int on0 = 0;
                        for (size_t i = 0; i < 6; i++)
                                on0 += planned_node(&plan, names[i]) == 0;
                        CHECK(on0 == 3);
                }
                plan_clear(&plan);
                world_done(&w);
        }
}

/* Imbalance: after Dwell=, at most MaxMovesPerTick= moves a tick, each
 * narrowing the gap, until the nodes are within BalanceTolerance=. */
static void test_balance(void) {
        World w;
        Plan plan = {};
        world_init(&w, NULL);
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        const char *names[] = { "g1", "g2", "g3", "g4", "g5", "g6" };
        for (size_t i = 0; i < 6; i++)
                guest(&w, names[i], 1024, 1, -1);
        plan_tick(&w, &plan);
        settle(&w, &plan);
        /* Something else fills node 0: 2 GiB free against node 1's 9. */
        node_by_id(&w, 0)->mem_free_bytes = 2 * GIB;
        CHECK(plan_tick(&w, &plan) == 0); /* within Dwell= */
        size_t moves = 0, ticks_with_moves = 0;
        for (int t = 0; t < 40; t++) {
                w.t_sec += 5;
                w.s.timestamp_usec = w.t_sec * 1000000;
                size_t n = plan_tick(&w, &plan);
                CHECK(n == 0 || n == 3); /* one guest: vCPU, emulator, memory */
                if (n) {
                        CHECK(planned_node(&plan, plan.actions[0].guest) == 1);
                        CHECK_CONTAINS(plan.actions[0].reason, "to even out the nodes");
                        moves++;
                        ticks_with_moves++;
                }
                settle(&w, &plan);
        }
        NumaReport r;
        numa_controller_report(w.state, &r);
        CHECK(moves >= 1 && moves <= 3);
        CHECK_U64(r.moves_total, moves);
        double f0 = 100.0 * (double) node_by_id(&w, 0)->mem_free_bytes / (16.0 * GIB);
        double f1 = 100.0 * (double) node_by_id(&w, 1)->mem_free_bytes / (16.0 * GIB);
        CHECK(f1 - f0 <= 10.0 + 7.0); /* within tolerance, or one guest's worth of it */
        plan_clear(&plan);
        world_done(&w);
}

/* The book: stored, read by a restarted densityd, which then knows its
 * own pins from hand pins and plans nothing again. */
static void test_book(void) {
        World w;
        Plan plan = {};
        world_init(&w, NULL);
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        guest(&w, "a", 1024, 2, -1);
        guest(&w, "b", 1024, 2, -1);
        plan_tick(&w, &plan);
        settle(&w, &plan);
        char *dir = test_mkdtemp(), err[256] = "";
        CHECK_OK(numa_controller.state_store(w.state, dir, err, sizeof(err)));
        void *again = numa_controller.state_new();
        CHECK_OK(numa_controller.state_load(again, dir, err, sizeof(err)));
        NumaReport r;
        numa_controller_report(again, &r);
        CHECK_U64(r.n_places, 2);
        /* What the restarted densityd reads in the XML now: its own pins. */
        for (size_t i = 0; i < w.s.n_guests; i++)
                w.guests[i].facts.vcpu_pinned = w.guests[i].facts.emulator_pinned = w.guests[i].facts.numatune = true;
        plan_clear(&plan);
        CHECK_OK(numa_controller.plan(&w.s, &w.p, again, &plan));
        CHECK(plan.n == 0);
        ControllerStatus c;
        numa_controller.status(again, &c);
        CHECK_CONTAINS(c.reason, "2 guests placed");
        CHECK_CONTAINS(c.reason, "0 left alone");
        /* A broken book: said, and started afresh. */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, NUMA_BOOK_FILE);
        FILE *f = fopen(path, "w");
        CHECK(f);
        fputs("{\"version\": 7}", f);
        fclose(f);
        void *broken = numa_controller.state_new();
        CHECK(numa_controller.state_load(broken, dir, err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "not a version 1 book");
        numa_controller.state_free(broken);
        numa_controller.state_free(again);
        test_rm_rf(dir);
        plan_clear(&plan);
        world_done(&w);
}

static void test_off_and_held(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, "[Numa]\nEnable=no\n");
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        guest(&w, "a", 1024, 1, -1);
        CHECK(plan_tick(&w, &plan) == 0);
        numa_controller.status(w.state, &c);
        CHECK_STR(c.state, "off");
        world_done(&w);
        world_init(&w, NULL);
        node(&w, 0, 16, 12, "0-7");
        node(&w, 1, 16, 12, "8-15");
        guest(&w, "a", 1024, 1, -1);
        w.s.hypervisor_connected = false;
        CHECK(plan_tick(&w, &plan) == 0);
        numa_controller.status(w.state, &c);
        CHECK_STR(c.state, "held");
        plan_clear(&plan);
        world_done(&w);
}

int main(int argc, char **argv) {
        test_fixtures(argc, argv);
        RUN(test_one_node);
        RUN(test_two_nodes);
        RUN(test_four_nodes);
        RUN(test_ampere);
        RUN(test_preferred);
        RUN(test_left_alone);
        RUN(test_grouping);
        RUN(test_balance);
        RUN(test_book);
        RUN(test_off_and_held);
        return 0;
}
