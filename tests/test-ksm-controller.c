/* test-ksm-controller: the KSM planner on literal snapshots, tick by tick. */
#include <math.h>
#include <unistd.h>

#include "density/ksm-controller.h"
#include "density/policy.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

/* A host of 8 GiB with nothing else running, KSM as on a 6.18 kernel. */
typedef struct World {
        Snapshot s;
        GuestSample guests[8];
        Policy p;
        void *state;
        uint64_t t_sec;
} World;

static void ksm_put(KsmSample *k, const char *name, int64_t v) {
        for (size_t i = 0; i < k->n_values; i++)
                if (strcmp(k->values[i].name, name) == 0) {
                        k->values[i].value = v;
                        return;
                }
        KsmValue *x = &k->values[k->n_values++];
        *x = (KsmValue) { .numeric = true, .value = v };
        snprintf(x->name, sizeof(x->name), "%s", name);
}

static void ksm_put_text(KsmSample *k, const char *name, const char *text) {
        KsmValue *x = &k->values[k->n_values++];
        *x = (KsmValue) { .numeric = false };
        snprintf(x->name, sizeof(x->name), "%s", name);
        snprintf(x->text, sizeof(x->text), "%s", text);
}

static int64_t ksm_val(const World *w, const char *name) {
        int64_t v = -1;
        ksm_sample_get(&w->s.host.ksm, name, &v);
        return v;
}

static void guest_add(World *w, const char *name, const char *class_name) {
        GuestSample *g = &w->guests[w->s.n_guests++];
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        snprintf(g->uuid, sizeof(g->uuid), "uuid-%s", name);
        snprintf(g->class_name, sizeof(g->class_name), "%s", class_name);
        g->has_rss = true;
        g->rss_bytes = 300 * MIB;
        g->facts.known = true;
        g->facts.max_memory_bytes = 256 * MIB;
        w->s.guests = w->guests;
}

/* kernel61: only the files Debian 12's 6.1 kernel has. */
static void world_init(World *w, size_t n_guests, bool kernel61) {
        memset(w, 0, sizeof(*w));
        policy_defaults(&w->p);
        w->p.ksm.start_at_percent = 20;
        w->p.ksm.stop_at_percent = 10;
        w->state = ksm_controller.state_new();
        CHECK(w->state);
        w->t_sec = 1000;
        w->s.timestamp_usec = w->t_sec * 1000000;
        w->s.hypervisor_connected = true;
        HostSample *h = &w->s.host;
        h->page_size_bytes = 4096;
        h->mem.mem_total_bytes = 8 * GIB;
        h->mem.mem_available_bytes = 3 * GIB;
        KsmSample *k = &h->ksm;
        k->present = true;
        ksm_put(k, "run", 0);
        ksm_put(k, "pages_to_scan", 100);
        ksm_put(k, "sleep_millisecs", 20);
        ksm_put(k, "full_scans", 0);
        ksm_put(k, "pages_shared", 0);
        ksm_put(k, "pages_sharing", 0);
        ksm_put(k, "pages_unshared", 0);
        ksm_put(k, "pages_volatile", 0);
        ksm_put(k, "max_page_sharing", 256);
        ksm_put(k, "merge_across_nodes", 1);
        if (!kernel61) {
                ksm_put(k, "pages_scanned", 0);
                ksm_put(k, "ksm_zero_pages", 0);
                ksm_put(k, "general_profit", 0);
                ksm_put(k, "use_zero_pages", 0);
                ksm_put(k, "smart_scan", 1);
                ksm_put_text(k, "advisor_mode", "none");
                ksm_put(k, "advisor_max_cpu", 70);
                ksm_put(k, "advisor_min_pages_to_scan", 500);
                ksm_put(k, "advisor_max_pages_to_scan", 30000);
                k->has_ksmd_cpu = true;
        }
        for (size_t i = 0; i < n_guests; i++) {
                char name[16];
                snprintf(name, sizeof(name), "vm-%zu", i);
                guest_add(w, name, "default");
        }
}

static void world_done(World *w) {
        ksm_controller.state_free(w->state);
}

/* Every action the planner may emit: a KSM knob, within the bounds, never
 * run=2. */
static void check_plan_safe(const World *w, const Plan *plan) {
        const PolicyKsm *pk = &w->p.ksm;
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                CHECK(a->kind == ACTION_KSM_KNOB);
                CHECK(action_ksm_refusal(a->knob, a->value) == NULL);
                CHECK(a->reason[0] != '\0');
                long long v = atoll(a->value);
                if (strcmp(a->knob, "pages_to_scan") == 0 && pk->mode == KSM_MODE_AUTO)
                        CHECK(v >= pk->pages_to_scan_min && v <= pk->pages_to_scan_max);
                if (strcmp(a->knob, "sleep_millisecs") == 0 && pk->mode == KSM_MODE_AUTO)
                        CHECK(v * 1000 >= (long long) pk->sleep_min_usec && v * 1000 <= (long long) pk->sleep_max_usec);
        }
}

/* One tick: plan, check, and apply every write to the literal sample (as
 * the KSM lane would). Returns the number of actions. */
static size_t tick(World *w, Plan *plan) {
        plan_clear(plan);
        CHECK_OK(ksm_controller.plan(&w->s, &w->p, w->state, plan));
        check_plan_safe(w, plan);
        for (size_t i = 0; i < plan->n; i++) {
                const Action *a = &plan->actions[i];
                if (strcmp(a->knob, "advisor_mode") == 0) {
                        for (size_t k = 0; k < w->s.host.ksm.n_values; k++)
                                if (strcmp(w->s.host.ksm.values[k].name, "advisor_mode") == 0)
                                        snprintf(w->s.host.ksm.values[k].text, sizeof(w->s.host.ksm.values[k].text),
                                                 "%.47s", a->value);
                } else
                        ksm_put(&w->s.host.ksm, a->knob, atoll(a->value));
        }
        return plan->n;
}

/* Time passes: ksmd scans at the rate in force, merges `merged` pages,
 * completes `scans` full scans and uses cpu_percent of a core. */
static void advance(World *w, unsigned seconds, int64_t merged, int64_t scans, double cpu_percent) {
        KsmSample *k = &w->s.host.ksm;
        w->t_sec += seconds;
        w->s.timestamp_usec = w->t_sec * 1000000;
        double rate = ksm_val(w, "run") == 1 ? (double) ksm_val(w, "pages_to_scan") * 1000.0 /
                                                        (double) ksm_val(w, "sleep_millisecs")
                                              : 0;
        if (ksm_val(w, "pages_scanned") >= 0)
                ksm_put(k, "pages_scanned", ksm_val(w, "pages_scanned") + (int64_t) (rate * seconds));
        ksm_put(k, "pages_sharing", ksm_val(w, "pages_sharing") + merged);
        ksm_put(k, "pages_shared", ksm_val(w, "pages_sharing") / 8);
        ksm_put(k, "full_scans", ksm_val(w, "full_scans") + scans);
        if (ksm_val(w, "general_profit") >= 0 || ksm_val(w, "general_profit") < -1)
                ksm_put(k, "general_profit", ksm_val(w, "pages_sharing") * 4096 - ksm_val(w, "pages_sharing") * 80);
        k->has_ksmd_cpu_percent = cpu_percent >= 0;
        k->ksmd_cpu_percent = cpu_percent;
        if (k->has_ksmd_cpu)
                k->ksmd_cpu_usec += (uint64_t) (cpu_percent / 100.0 * seconds * 1e6);
}

static const char *state_of(const World *w, ControllerStatus *c) {
        ksm_controller.status(w->state, c);
        return c->state;
}

static double rate_of(const World *w) {
        return ksm_val(w, "run") == 1 ? (double) ksm_val(w, "pages_to_scan") * 1000.0 / (double) ksm_val(w, "sleep_millisecs")
                                      : 0;
}

static void test_boost_then_decay(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 8, false);

        /* Merging wanted (2.4 GiB committed of 2.4 + 3 GiB): full speed. */
        CHECK(tick(&w, &plan) == 3);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK_STR(c.mode, "auto");
        CHECK_I64(ksm_val(&w, "pages_to_scan"), 5000);
        CHECK_I64(ksm_val(&w, "sleep_millisecs"), 10);
        CHECK_I64(ksm_val(&w, "run"), 1);
        CHECK_STR(plan.actions[2].knob, "run"); /* the rate first, then run */

        /* First scan only checksums: no yield, but too early to give up. */
        advance(&w, 5, 0, 1, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK(rate_of(&w) == 500000);
        /* The second scan (a large host: it takes ticks) merges: it keeps
         * boosting while that scan runs. */
        for (int i = 0; i < 3; i++) {
                advance(&w, 5, 100000, 0, 40);
                tick(&w, &plan);
                CHECK_STR(state_of(&w, &c), "boosting");
                CHECK(rate_of(&w) == 500000);
        }
        /* The second scan ends and merging paid in it: one full scan a
         * tick (450000 pages tracked in 5 s), so the next yield is a scan's. */
        advance(&w, 5, 100000, 1, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK_CONTAINS(c.reason, "one full scan a tick");
        CHECK(fabs(rate_of(&w) - 90000) / 90000 < 0.02);
        /* That scan yields nothing: idle within IdleCpu=. */
        advance(&w, 5, 10, 1, 7.2);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");
        CHECK_CONTAINS(c.reason, "stopped paying");
        CHECK_I64(ksm_val(&w, "run"), 1);
        /* 40% of a core for 500000 pages/s: 0.8 us a page; IdleCpu=0.1%
         * buys 1250 pages/s, in one wake-up a second (the longest sleep). */
        CHECK(w.p.ksm.idle_cpu_percent == 0.1);
        CHECK(fabs(rate_of(&w) - 1250) / 1250 < 0.2);
        CHECK_I64(ksm_val(&w, "sleep_millisecs"), 1000);
        /* It stays idle while nothing merges, and does not rewrite, also
         * when ksmd's cost per page swings (smart_scan's re-checks). */
        advance(&w, 5, 0, 0, 0.1);
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "idle");
        double idle_rate = rate_of(&w);
        for (int i = 0; i < 6; i++) {
                advance(&w, 5, 0, 0, i % 2 ? 0.18 : 0.06);
                CHECK(tick(&w, &plan) == 0);
        }
        CHECK(rate_of(&w) == idle_rate);
        /* ksmd costs more per page from now on, well over IdleCpu= over
         * the idle time: down it comes. */
        size_t writes = 0;
        for (int i = 0; i < 6; i++) {
                advance(&w, 5, 0, 0, 0.5);
                writes += tick(&w, &plan);
        }
        CHECK(writes > 0);
        CHECK(rate_of(&w) < idle_rate / 2);
        plan_clear(&plan);
        world_done(&w);
}

static void test_cpu_budget(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 8, false);
        w.p.ksm.cpu_budget_percent = 30;
        tick(&w, &plan);
        CHECK(rate_of(&w) == 500000);
        /* ksmd took a whole core: the rate comes down under the budget. */
        advance(&w, 5, 100000, 1, 100);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK(rate_of(&w) <= 500000 * 0.3 * 1.01);
        CHECK(rate_of(&w) >= 500000 * 0.2);
        double clamped = rate_of(&w);
        /* Far under the budget now (still in the second scan): it may rise
         * again, never past the bounds. */
        advance(&w, 5, 100000, 0, 5);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK(rate_of(&w) > clamped);
        CHECK(rate_of(&w) <= 500000);
        plan_clear(&plan);
        world_done(&w);
}

static void test_stop_when_plentiful(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 2, false);
        /* 600 MiB of 24 GiB available: not needed; KSM found running is stopped. */
        w.s.host.mem.mem_total_bytes = 32 * GIB;
        w.s.host.mem.mem_available_bytes = 24 * GIB;
        ksm_put(&w.s.host.ksm, "run", 1);
        CHECK(tick(&w, &plan) == 1);
        CHECK_STR(plan.actions[0].knob, "run");
        CHECK_STR(plan.actions[0].value, "0");
        CHECK_STR(state_of(&w, &c), "stopped");
        CHECK_CONTAINS(c.reason, "below StartAt=20%");

        /* Memory gets short: boost; then plentiful again, below StopAt=: stop. */
        w.s.host.mem.mem_available_bytes = 1 * GIB;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        w.s.host.mem.mem_available_bytes = 10 * GIB;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "stopped");
        CHECK_CONTAINS(c.reason, "below StopAt=10%");
        CHECK_I64(ksm_val(&w, "run"), 0);

        /* A VMs' cgroup budget is the capacity when set. */
        w.s.host.cgroup.version = 1;
        w.s.host.cgroup.has_limit = true;
        w.s.host.cgroup.limit_bytes = 1 * GIB;
        uint64_t committed, capacity;
        CHECK_OK(ksm_commitment(&w.s, &committed, &capacity));
        CHECK_U64(committed, 600 * MIB);
        CHECK_U64(capacity, 1 * GIB);
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        plan_clear(&plan);
        world_done(&w);
}

static void settle(World *w, Plan *plan) {
        tick(w, plan);
        advance(w, 5, 100000, 2, 40);
        tick(w, plan);
        advance(w, 5, 0, 2, 40);
        tick(w, plan);
        ControllerStatus c;
        CHECK_STR(state_of(w, &c), "idle");
}

static void test_reboost_on_new_guests(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 4, false);
        settle(&w, &plan);
        CHECK(rate_of(&w) < 500000);

        guest_add(&w, "vm-new", "default");
        advance(&w, 5, 0, 0, 2);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK_CONTAINS(c.reason, "5 mergeable guests");
        CHECK(rate_of(&w) == 500000);

        /* Settled again; guests' memory grows by more than 10% and 64 MiB. */
        advance(&w, 5, 50000, 2, 40);
        tick(&w, &plan);
        advance(&w, 5, 0, 2, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");
        for (size_t i = 0; i < w.s.n_guests; i++)
                w.guests[i].rss_bytes += 60 * MIB;
        advance(&w, 5, 0, 0, 2);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");

        /* A guest that starts during a boost restarts its count of full
         * scans: its pages need two as well. */
        advance(&w, 5, 0, 2, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");
        guest_add(&w, "vm-new2", "default");
        advance(&w, 5, 0, 0, 0.1);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        advance(&w, 5, 1000, 1, 40);
        tick(&w, &plan);
        guest_add(&w, "vm-new3", "default");
        advance(&w, 5, 1000, 1, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        advance(&w, 5, 1000, 1, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        advance(&w, 5, 1000, 1, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");

        /* A burst of new merging while idle boosts too. */
        advance(&w, 5, 50000, 2, 40);
        tick(&w, &plan);
        advance(&w, 5, 0, 2, 40);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");
        advance(&w, 5, 5000, 0, 2);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        CHECK_CONTAINS(c.reason, "pays again");
        plan_clear(&plan);
        world_done(&w);
}

/* 6.1: no pages_scanned, ksm_zero_pages, general_profit, advisor or
 * smart_scan, no ksmd CPU: the yield comes from the knobs in force. */
static void test_kernel_6_1(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 8, true);
        CHECK(tick(&w, &plan) == 3);
        CHECK_STR(state_of(&w, &c), "boosting");
        advance(&w, 5, 100000, 1, -1);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");
        /* The yield comes from what the knobs allowed: none in the scan
         * that ends the boost. */
        advance(&w, 5, 0, 1, -1);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");
        CHECK_CONTAINS(c.reason, "stopped paying (0.00 newly merged");
        /* Without a CPU figure, idle is the slowest rate the bounds allow. */
        CHECK(rate_of(&w) == 100);
        for (size_t i = 0; i < plan.n; i++)
                CHECK(strncmp(plan.actions[i].knob, "advisor", 7) != 0);

        /* Mode=advisor on a kernel without it: auto. */
        w.p.ksm.mode = KSM_MODE_ADVISOR;
        advance(&w, 5, 0, 0, -1);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "idle");
        plan_clear(&plan);
        world_done(&w);
}

static void test_trust_domains(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 2, false);
        PolicyClass *tenant = &w.p.classes[w.p.n_classes++];
        *tenant = w.p.classes[0];
        snprintf(tenant->name, sizeof(tenant->name), "tenant-b");
        snprintf(tenant->ksm_trust_domain, sizeof(tenant->ksm_trust_domain), "b");
        guest_add(&w, "other-1", "tenant-b");
        ksm_put(&w.s.host.ksm, "run", 1);

        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "stopped");
        CHECK_CONTAINS(c.reason, "trust domains default (vm-0, vm-1) and b (other-1)");
        CHECK_I64(ksm_val(&w, "run"), 0);

        /* Unknown facts count as mergeable: still refused. */
        w.guests[2].facts.known = false;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "stopped");

        /* The other tenant's guest with <nosharepages/>: merging may go on. */
        w.guests[2].facts.known = true;
        w.guests[2].facts.nosharepages = true;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "boosting");

        /* A class with Ksm=no whose guest is mergeable: refused too. */
        tenant->ksm = false;
        snprintf(tenant->ksm_trust_domain, sizeof(tenant->ksm_trust_domain), "default");
        w.guests[2].facts.nosharepages = false;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "stopped");
        CHECK_CONTAINS(c.reason, "other-1 (class tenant-b, Ksm=no)");
        plan_clear(&plan);
        world_done(&w);
}

static void test_off_fixed_advisor(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 8, false);
        w.p.ksm.mode = KSM_MODE_OFF;
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "off");
        CHECK_OK(ksm_controller.plan_stop(&w.s, &w.p, w.state, &plan));
        CHECK(plan.n == 0);

        w.p.ksm.mode = KSM_MODE_FIXED;
        w.p.ksm.pages_to_scan = 1234;
        w.p.ksm.sleep_usec = 50000;
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "fixed");
        CHECK_I64(ksm_val(&w, "pages_to_scan"), 1234);
        CHECK_I64(ksm_val(&w, "sleep_millisecs"), 50);
        CHECK_I64(ksm_val(&w, "run"), 1);

        w.p.ksm.mode = KSM_MODE_ADVISOR;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK_STR(state_of(&w, &c), "advisor");
        CHECK_I64(ksm_val(&w, "advisor_max_cpu"), 50);
        CHECK_I64(ksm_val(&w, "advisor_min_pages_to_scan"), 100);

        /* Back to auto with the advisor on: it is switched off first. */
        w.p.ksm.mode = KSM_MODE_AUTO;
        advance(&w, 5, 0, 0, 0);
        tick(&w, &plan);
        CHECK(plan.n >= 1);
        CHECK_STR(plan.actions[0].knob, "advisor_mode");
        CHECK_STR(plan.actions[0].value, "none");
        plan_clear(&plan);
        world_done(&w);
}

static void test_restore_on_exit(void) {
        World w;
        Plan plan = {};
        world_init(&w, 8, false);
        w.p.ksm.has_use_zero_pages = true;
        w.p.ksm.use_zero_pages = true;
        w.p.ksm.has_max_page_sharing = true;
        w.p.ksm.max_page_sharing = 512;
        /* Start-up knobs go first, while nothing is merged. */
        tick(&w, &plan);
        CHECK_STR(plan.actions[0].knob, "use_zero_pages");
        CHECK_STR(plan.actions[1].knob, "max_page_sharing");
        CHECK_I64(ksm_val(&w, "max_page_sharing"), 512);
        advance(&w, 5, 100000, 2, 40);
        tick(&w, &plan);

        /* Stop: pages_to_scan, sleep, use_zero_pages back, run last;
         * max_page_sharing not while pages are merged. */
        plan_clear(&plan);
        CHECK_OK(ksm_controller.plan_stop(&w.s, &w.p, w.state, &plan));
        check_plan_safe(&w, &plan);
        CHECK(plan.n == 4);
        CHECK_STR(plan.actions[0].knob, "pages_to_scan");
        CHECK_STR(plan.actions[0].value, "100");
        CHECK_STR(plan.actions[1].knob, "sleep_millisecs");
        CHECK_STR(plan.actions[1].value, "20");
        CHECK_STR(plan.actions[2].knob, "use_zero_pages");
        CHECK_STR(plan.actions[3].knob, "run");
        CHECK_STR(plan.actions[3].value, "0");

        /* RestoreOnExit=no: nothing. */
        w.p.ksm.restore_on_exit = false;
        plan_clear(&plan);
        CHECK_OK(ksm_controller.plan_stop(&w.s, &w.p, w.state, &plan));
        CHECK(plan.n == 0);
        plan_clear(&plan);
        world_done(&w);
}

/* A write that does not take (EPERM, EBUSY, or a dry run) is planned again
 * only after a back-off, not every tick. */
static void test_failed_write_backoff(void) {
        World w;
        Plan plan = {};
        world_init(&w, 8, false);
        CHECK_OK(ksm_controller.plan(&w.s, &w.p, w.state, &plan));
        CHECK(plan.n == 3); /* not applied: the knobs stay as they were */
        for (int i = 0; i < 5; i++) {
                advance(&w, 5, 0, 0, 0);
                plan_clear(&plan);
                CHECK_OK(ksm_controller.plan(&w.s, &w.p, w.state, &plan));
                CHECK(plan.n == 0);
        }
        advance(&w, 10, 0, 0, 0); /* 35 s after the first try */
        plan_clear(&plan);
        CHECK_OK(ksm_controller.plan(&w.s, &w.p, w.state, &plan));
        CHECK(plan.n == 3);
        plan_clear(&plan);
        world_done(&w);
}

static void test_hypervisor_unknown(void) {
        World w;
        Plan plan = {};
        ControllerStatus c;
        world_init(&w, 8, false);
        w.s.hypervisor_connected = false;
        CHECK(tick(&w, &plan) == 0);
        CHECK_STR(state_of(&w, &c), "held");
        plan_clear(&plan);
        world_done(&w);
}

/* The knobs as found outlive a crash (same boot), and are put back by the
 * next densityd's clean stop; a clean stop removes the record. */
static void test_found_across_crash(void) {
        World w;
        Plan plan = {};
        char dir[] = "/tmp/density-test-ksmfound.XXXXXX", path[128], err[512] = "";
        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/ksm-found.json", dir);
        world_init(&w, 8, false);
        CHECK_OK(ksm_controller.state_load(w.state, dir, err, sizeof(err)));
        tick(&w, &plan); /* found: run=0, 100 pages, 20 ms; boost written */
        CHECK_I64(ksm_val(&w, "run"), 1);
        CHECK_OK(ksm_controller.state_store(w.state, dir, err, sizeof(err)));
        CHECK(access(path, F_OK) == 0);

        /* "Crash": a new densityd on the same boot sees densityd's writes. */
        void *crashed = w.state;
        w.state = ksm_controller.state_new();
        CHECK(ksm_controller.state_load(w.state, dir, err, sizeof(err)) == 1);
        CHECK_CONTAINS(err, "it did not put them back");
        advance(&w, 5, 0, 1, 40);
        tick(&w, &plan);
        plan_clear(&plan);
        CHECK_OK(ksm_controller.plan_stop(&w.s, &w.p, w.state, &plan));
        /* Back to what the first densityd found, not to its boost. */
        bool run0 = false, pages100 = false;
        for (size_t i = 0; i < plan.n; i++) {
                run0 |= !strcmp(plan.actions[i].knob, "run") && !strcmp(plan.actions[i].value, "0");
                pages100 |= !strcmp(plan.actions[i].knob, "pages_to_scan") && !strcmp(plan.actions[i].value, "100");
        }
        CHECK(run0 && pages100);
        CHECK_OK(ksm_controller.state_store(w.state, dir, err, sizeof(err)));
        CHECK(access(path, F_OK) < 0);

        /* A record of another boot: KSM was reset since; ignored. */
        const char *other = "{\"version\":1,\"boot_id\":\"not-this-boot\",\"knobs\":{\"run\":\"1\"}}";
        CHECK_OK(write_file_durable(path, other, strlen(other), 0600));
        void *fresh = ksm_controller.state_new();
        CHECK_OK(ksm_controller.state_load(fresh, dir, err, sizeof(err)));
        /* A broken one: said, ignored. */
        CHECK_OK(write_file_durable(path, "[]", 2, 0600));
        void *broken = ksm_controller.state_new();
        CHECK(ksm_controller.state_load(broken, dir, err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "is not a record of KSM knobs");
        unlink(path);
        rmdir(dir);
        ksm_controller.state_free(fresh);
        ksm_controller.state_free(broken);
        ksm_controller.state_free(crashed);
        plan_clear(&plan);
        world_done(&w);
}

int main(void) {
        RUN(test_boost_then_decay);
        RUN(test_cpu_budget);
        RUN(test_stop_when_plentiful);
        RUN(test_reboost_on_new_guests);
        RUN(test_kernel_6_1);
        RUN(test_trust_domains);
        RUN(test_off_fixed_advisor);
        RUN(test_restore_on_exit);
        RUN(test_failed_write_backoff);
        RUN(test_hypervisor_unknown);
        RUN(test_found_across_crash);
        return 0;
}
