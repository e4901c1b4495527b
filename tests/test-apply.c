/* Tests for apply and connect, with the fake hypervisor and a fixture /sys:
 * every kind of action reaches the fake (or the KSM file), dry-run changes
 * nothing, a second action of a kind in flight is skipped, a guest's
 * actions run in order, failures and timeouts are journaled (and a late
 * outcome after a timeout), invalid actions are refused; and a connect to a
 * hypervisor that never answers is abandoned and retried. */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "density/apply.h"
#include "density/connect.h"
#include "density/journal.h"
#include "density/util.h"
#include "test-helpers.h"
#include "virt-fake.h"

#define MIB (UINT64_C(1024) * 1024)
#define UUID_A "00000000-0000-0000-0000-00000000000a"
#define UUID_B "00000000-0000-0000-0000-00000000000b"
#define UUID_T "00000000-0000-0000-0000-00000000000f"

static void sleep_msec(unsigned msec) {
        struct timespec ts = { .tv_sec = msec / 1000, .tv_nsec = (long) (msec % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static VirtDomainStats domain(const char *name, const char *uuid, int id) {
        VirtDomainStats d = { .id = id, .has_current = true, .has_maximum = true, .current_kib = 262144,
                              .maximum_kib = 262144 };
        strscpy(d.name, sizeof(d.name), name);
        strscpy(d.uuid, sizeof(d.uuid), uuid);
        return d;
}

static GuestSample guest(const char *name, const char *uuid) {
        GuestSample g = {};
        strscpy(g.name, sizeof(g.name), name);
        strscpy(g.uuid, sizeof(g.uuid), uuid);
        return g;
}

/* A /sys with the KSM knobs the tests write. */
static char *make_sys(void) {
        char *dir = test_mkdtemp();
        char path[4096];
        snprintf(path, sizeof(path), "%s/kernel", dir);
        CHECK(mkdir(path, 0755) == 0);
        snprintf(path, sizeof(path), "%s/kernel/mm", dir);
        CHECK(mkdir(path, 0755) == 0);
        snprintf(path, sizeof(path), "%s/kernel/mm/ksm", dir);
        CHECK(mkdir(path, 0755) == 0);
        const char *files[] = { "pages_to_scan", "run", "sleep_millisecs" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(path, sizeof(path), "%s/kernel/mm/ksm/%s", dir, files[i]);
                FILE *f = fopen(path, "w");
                CHECK(f);
                fputs("100\n", f);
                fclose(f);
        }
        return dir;
}

static char *read_knob(const char *sys, const char *knob) {
        char rel[128];
        snprintf(rel, sizeof(rel), "kernel/mm/ksm/%s", knob);
        char *buf = NULL;
        CHECK_OK(read_file_at(sys, rel, &buf, NULL));
        return buf;
}

typedef struct Env {
        FakeHypervisor hv;
        VirtDomainStats domains[3];
        bool transient[3];
        Journal *journal;
        Applier *applier;
        char *sys;
} Env;

static void env_start(Env *e, bool dry_run, uint64_t timeout_usec) {
        *e = (Env) {};
        e->domains[0] = domain("a", UUID_A, 1);
        e->domains[1] = domain("b", UUID_B, 2);
        e->domains[2] = domain("t", UUID_T, 3);
        e->transient[2] = true;
        e->hv.domains = e->domains;
        e->hv.n_domains = 3;
        e->hv.transient = e->transient;
        e->sys = make_sys();
        CHECK_OK(journal_new(JOURNAL_CAPACITY_DEFAULT, NULL, NULL, &e->journal));
        CHECK_OK(applier_new(&virt_fake_ops, &e->hv, e->journal, &e->applier));
        applier_configure(e->applier, "fake:///", e->sys, dry_run, timeout_usec, 0);
        CHECK_OK(applier_start(e->applier));
}

static void env_stop(Env *e) {
        applier_free(e->applier);
        journal_free(e->journal);
        fake_hypervisor_clear(&e->hv);
        test_rm_rf(e->sys);
}

/* The journal's current entry for an action id. */
static JournalEntry find_entry(Env *e, uint64_t id) {
        JournalEntry *all = NULL;
        size_t n = 0;
        CHECK_OK(journal_query(e->journal, &(JournalFilter) {}, &all, &n));
        JournalEntry found = {};
        for (size_t i = 0; i < n; i++)
                if (all[i].id == id)
                        found = all[i];
        free(all);
        CHECK(found.id == id);
        return found;
}

/* Dispatch until nothing is in flight (or limit_msec passes). */
static void drain(Env *e, unsigned limit_msec) {
        uint64_t end = now_monotonic_usec() + limit_msec * USEC_PER_MSEC;
        for (;;) {
                applier_dispatch(e->applier);
                if (applier_in_flight(e->applier) == 0)
                        return;
                if (now_monotonic_usec() > end)
                        TEST_FAIL("%zu actions still in flight after %u ms", applier_in_flight(e->applier), limit_msec);
                struct pollfd p = { .fd = applier_fd(e->applier), .events = POLLIN };
                poll(&p, 1, 20);
        }
}

static uint64_t last_id(Env *e) {
        JournalEntry *all = NULL;
        size_t n = 0;
        CHECK_OK(journal_query(e->journal, &(JournalFilter) { .n = 1 }, &all, &n));
        uint64_t id = n ? all[0].id : 0;
        free(all);
        return id;
}

/* One action of each kind, applied for real through the fake and /sys. */
static void test_every_kind(void) {
        Env e;
        env_start(&e, false, 10 * USEC_PER_SEC);
        GuestSample a = guest("a", UUID_A), b = guest("b", UUID_B), t = guest("t", UUID_T);
        Plan p = {};
        Action acts[] = {
                action_ksm_knob("test", "pages_to_scan", "1234", "test"),
                action_balloon("test", &a, 200 * MIB, "test"),
                action_pin_vcpu("test", &a, 0, "0-1", "test"),
                action_pin_emulator("test", &a, "1", "test"),
                action_pin_memory("test", &a, "preferred", "0", "test"),
                action_guest("test", ACTION_SAVE, &b, "test"),
                action_guest("test", ACTION_RESTORE, &b, "test"),
                action_guest("test", ACTION_DESTROY, &t, "test"),
        };
        for (size_t i = 0; i < ELEMENTSOF(acts); i++)
                CHECK_OK(plan_add(&p, &acts[i]));
        applier_apply(e.applier, &p);
        uint64_t first = last_id(&e) - ELEMENTSOF(acts) + 1;
        for (size_t i = 0; i < ELEMENTSOF(acts); i++)
                CHECK(find_entry(&e, first + i).result == RESULT_QUEUED);
        drain(&e, 5000);
        for (size_t i = 0; i < ELEMENTSOF(acts); i++) {
                JournalEntry x = find_entry(&e, first + i);
                if (x.result != RESULT_DONE)
                        TEST_FAIL("action %zu (%s): %s: %s", i, action_kind_name(x.action.kind),
                                  action_result_name(x.result), x.message);
                CHECK(x.started_usec >= x.planned_usec && x.finished_usec >= x.started_usec);
        }
        char *v = read_knob(e.sys, "pages_to_scan");
        CHECK_STR(v, "1234");
        free(v);

        /* The fake saw each hypervisor action once, with its value. */
        CHECK_U64(e.hv.n_write_calls, 7);
        const struct {
                FakeOp op;
                const char *uuid, *value;
        } want[] = {
                { FAKE_SET_BALLOON, UUID_A, "204800" }, { FAKE_PIN_VCPU, UUID_A, "0:0-1" },
                { FAKE_PIN_EMULATOR, UUID_A, "1" },     { FAKE_SET_NUMATUNE, UUID_A, "preferred:0" },
                { FAKE_MANAGED_SAVE, UUID_B, "" },      { FAKE_RESTORE, UUID_B, "" },
                { FAKE_DESTROY, UUID_T, "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                bool seen = false;
                for (size_t k = 0; k < e.hv.n_write_calls; k++)
                        if (e.hv.calls[k].op == want[i].op && !strcmp(e.hv.calls[k].uuid, want[i].uuid) &&
                            !strcmp(e.hv.calls[k].value, want[i].value))
                                seen = true;
                if (!seen)
                        TEST_FAIL("fake did not see %s %s %s", fake_op_name(want[i].op), want[i].uuid, want[i].value);
        }
        /* A guest's actions run one after another, in the order planned:
         * b's restore started after its save ended. */
        const FakeCall *save = NULL, *restore = NULL;
        for (size_t k = 0; k < e.hv.n_write_calls; k++) {
                if (e.hv.calls[k].op == FAKE_MANAGED_SAVE)
                        save = &e.hv.calls[k];
                if (e.hv.calls[k].op == FAKE_RESTORE)
                        restore = &e.hv.calls[k];
        }
        CHECK(save && restore && restore->started_usec >= save->finished_usec);
        CHECK_U64(e.domains[0].current_kib, 204800);
        CHECK(e.domains[2].id < 0); /* destroyed */
        plan_clear(&p);
        env_stop(&e);
}

static void write_at(const char *root, const char *rel, const char *text, size_t len) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        CHECK(fwrite(text, 1, len, f) == len);
        CHECK(fclose(f) == 0);
}

/* An OOM score is written to the guest's qemu under the proc root, and
 * only while that PID is still its qemu (its command line names it). */
static void test_oom_score_adj(void) {
        Env e;
        env_start(&e, false, 10 * USEC_PER_SEC);
        char *proc = test_mkdtemp();
        applier_set_proc_root(e.applier, proc);
        char path[PATH_MAX];
        const int pids[] = { 4242, 4343 };
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                snprintf(path, sizeof(path), "%s/%d", proc, pids[i]);
                CHECK(mkdir(path, 0755) == 0);
        }
        static const char cmd_a[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=a,debug-threads=on\0-S\0";
        static const char cmd_other[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=ab,debug-threads=on\0";
        write_at(proc, "4242/cmdline", cmd_a, sizeof(cmd_a) - 1);
        write_at(proc, "4242/oom_score_adj", "0\n", 2);
        write_at(proc, "4343/cmdline", cmd_other, sizeof(cmd_other) - 1);
        write_at(proc, "4343/oom_score_adj", "0\n", 2);

        GuestSample a = guest("a", UUID_A), gone = guest("a", UUID_A);
        a.pid = 4242;
        gone.pid = 4343; /* the PID now belongs to another guest ("ab") */
        Plan p = {};
        Action ok = action_oom_score_adj("test", &a, -500, "test");
        CHECK_OK(plan_add(&p, &ok));
        applier_apply(e.applier, &p);
        uint64_t id = last_id(&e);
        drain(&e, 5000);
        JournalEntry x = find_entry(&e, id);
        if (x.result != RESULT_DONE)
                TEST_FAIL("oom-score-adj: %s: %s", action_result_name(x.result), x.message);
        char *v = NULL;
        CHECK_OK(read_file_at(proc, "4242/oom_score_adj", &v, NULL));
        CHECK_STR(v, "-500");
        free(v);
        char what[256];
        action_describe(&ok, what, sizeof(what));
        CHECK_STR(what, "OOM score of a (pid 4242) to -500");

        plan_clear(&p);
        Action stale = action_oom_score_adj("test", &gone, 300, "test");
        CHECK_OK(plan_add(&p, &stale));
        applier_apply(e.applier, &p);
        id = last_id(&e);
        drain(&e, 5000);
        x = find_entry(&e, id);
        CHECK(x.result == RESULT_FAILED);
        CHECK_CONTAINS(x.message, "pid 4343 is no longer a's qemu");
        CHECK_OK(read_file_at(proc, "4343/oom_score_adj", &v, NULL));
        CHECK_STR(v, "0\n");
        free(v);

        /* Out of range, or no process: refused before it is queued. */
        plan_clear(&p);
        Action bad = action_oom_score_adj("test", &a, 5000, "test");
        a.pid = 0;
        Action nopid = action_oom_score_adj("test", &a, 10, "test");
        CHECK_OK(plan_add(&p, &bad));
        CHECK_OK(plan_add(&p, &nopid));
        applier_apply(e.applier, &p);
        id = last_id(&e);
        CHECK(find_entry(&e, id - 1).result == RESULT_SKIPPED);
        CHECK_CONTAINS(find_entry(&e, id - 1).message, "-1000..1000");
        CHECK(find_entry(&e, id).result == RESULT_SKIPPED);
        CHECK_CONTAINS(find_entry(&e, id).message, "no qemu process");
        CHECK_U64(e.hv.n_write_calls, 0); /* never through the hypervisor */
        plan_clear(&p);
        test_rm_rf(proc);
        env_stop(&e);
}

static void test_dry_run(void) {
        Env e;
        env_start(&e, true, 10 * USEC_PER_SEC);
        GuestSample a = guest("a", UUID_A);
        Plan p = {};
        Action acts[] = {
                action_ksm_knob("test", "run", "1", "test"),
                action_balloon("test", &a, 200 * MIB, "test"),
                action_guest("test", ACTION_SAVE, &a, "test"),
                action_guest("test", ACTION_DESTROY, &a, "test"),
        };
        for (size_t i = 0; i < ELEMENTSOF(acts); i++)
                CHECK_OK(plan_add(&p, &acts[i]));
        applier_apply(e.applier, &p);
        applier_apply(e.applier, &p); /* twice: nothing is in flight in a dry run */
        CHECK_U64(applier_in_flight(e.applier), 0);
        sleep_msec(100);
        applier_dispatch(e.applier);
        CHECK_U64(e.hv.n_write_calls, 0);
        CHECK_U64(e.hv.n_opens, 0); /* not even a connection */
        char *v = read_knob(e.sys, "run");
        CHECK_STR(v, "100\n");
        free(v);
        JournalEntry *all = NULL;
        size_t n = 0;
        CHECK_OK(journal_query(e.journal, &(JournalFilter) {}, &all, &n));
        CHECK_U64(n, 8);
        for (size_t i = 0; i < n; i++)
                CHECK(all[i].result == RESULT_WOULD && all[i].dry_run);
        free(all);
        plan_clear(&p);
        env_stop(&e);
}

static void test_in_flight_and_order(void) {
        Env e;
        env_start(&e, false, 10 * USEC_PER_SEC);
        e.hv.action_delay_usec = 200 * USEC_PER_MSEC;
        GuestSample a = guest("a", UUID_A), b = guest("b", UUID_B);
        Plan p = {};
        Action first = action_balloon("test", &a, 200 * MIB, "first");
        CHECK_OK(plan_add(&p, &first));
        applier_apply(e.applier, &p);
        uint64_t id1 = last_id(&e);

        /* The next tick plans it again, and a pin for a, and b's balloon. */
        Snapshot s = { .n_guests = 2, .guests = (GuestSample[]) { a, b } };
        applier_annotate(e.applier, &s);
        CHECK(s.guests[0].actions_in_flight == (UINT32_C(1) << ACTION_BALLOON));
        CHECK(s.guests[1].actions_in_flight == 0);
        plan_clear(&p);
        Action again = action_balloon("test", &a, 190 * MIB, "again");
        Action pin = action_pin_emulator("test", &a, "0", "pin");
        Action other = action_balloon("test", &b, 100 * MIB, "other guest");
        CHECK_OK(plan_add(&p, &again));
        CHECK_OK(plan_add(&p, &pin));
        CHECK_OK(plan_add(&p, &other));
        applier_apply(e.applier, &p);
        uint64_t id4 = last_id(&e);
        /* a has its balloon running and its pin queued; b its balloon. */
        applier_annotate(e.applier, &s);
        CHECK(s.guests[0].actions_in_flight == ((UINT32_C(1) << ACTION_BALLOON) | (UINT32_C(1) << ACTION_PIN_EMULATOR)));
        CHECK(s.guests[1].actions_in_flight == (UINT32_C(1) << ACTION_BALLOON));
        JournalEntry skipped = find_entry(&e, id1 + 1);
        CHECK(skipped.result == RESULT_SKIPPED);
        CHECK_CONTAINS(skipped.message, "a balloon action for a is in flight");
        drain(&e, 5000);
        CHECK(find_entry(&e, id1).result == RESULT_DONE);
        CHECK(find_entry(&e, id1 + 2).result == RESULT_DONE);
        CHECK(find_entry(&e, id4).result == RESULT_DONE);
        CHECK_U64(e.hv.n_write_calls, 3);
        /* a's pin waited for a's balloon; b's balloon did not wait for a's. */
        const FakeCall *bal_a = NULL, *pin_a = NULL, *bal_b = NULL;
        for (size_t k = 0; k < e.hv.n_write_calls; k++) {
                const FakeCall *c = &e.hv.calls[k];
                if (c->op == FAKE_SET_BALLOON && !strcmp(c->uuid, UUID_A))
                        bal_a = c;
                if (c->op == FAKE_PIN_EMULATOR)
                        pin_a = c;
                if (c->op == FAKE_SET_BALLOON && !strcmp(c->uuid, UUID_B))
                        bal_b = c;
        }
        CHECK(bal_a && pin_a && bal_b);
        CHECK(pin_a->started_usec >= bal_a->finished_usec);
        CHECK(bal_b->started_usec < bal_a->finished_usec);
        applier_annotate(e.applier, &s);
        CHECK(s.guests[0].actions_in_flight == 0);
        plan_clear(&p);
        env_stop(&e);
}

static void test_failures(void) {
        Env e;
        env_start(&e, false, 10 * USEC_PER_SEC);
        GuestSample a = guest("a", UUID_A), t = guest("t", UUID_T), none = {};
        Plan p = {};
        Action acts[] = {
                action_guest("test", ACTION_SAVE, &t, "transient"),   /* the fake refuses: transient */
                action_ksm_knob("test", "pages_sharing", "1", "a counter, not a knob"),
                action_ksm_knob("test", "max_page_sharing", "256", "a knob this /sys lacks"),
                action_balloon("test", &none, 200 * MIB, "no guest"),
                action_balloon("test", &a, 0, "zero"),
        };
        for (size_t i = 0; i < ELEMENTSOF(acts); i++)
                CHECK_OK(plan_add(&p, &acts[i]));
        applier_apply(e.applier, &p);
        uint64_t first = last_id(&e) - ELEMENTSOF(acts) + 1;
        drain(&e, 5000);
        JournalEntry x = find_entry(&e, first);
        CHECK(x.result == RESULT_FAILED);
        CHECK_CONTAINS(x.message, "transient");
        x = find_entry(&e, first + 1);
        CHECK(x.result == RESULT_SKIPPED);
        CHECK_CONTAINS(x.message, "not a KSM knob densityd writes");
        x = find_entry(&e, first + 2);
        CHECK(x.result == RESULT_FAILED);
        CHECK_CONTAINS(x.message, "max_page_sharing: No such file or directory");
        CHECK(find_entry(&e, first + 3).result == RESULT_SKIPPED);
        CHECK(find_entry(&e, first + 4).result == RESULT_SKIPPED);
        plan_clear(&p);

        /* The hypervisor fails every write: the error is journaled. */
        e.hv.action_error = -EIO;
        Action bal = action_balloon("test", &a, 150 * MIB, "x");
        CHECK_OK(plan_add(&p, &bal));
        applier_apply(e.applier, &p);
        drain(&e, 5000);
        x = find_entry(&e, last_id(&e));
        CHECK(x.result == RESULT_FAILED);
        CHECK_CONTAINS(x.message, "fake: operation failed");
        plan_clear(&p);
        env_stop(&e);
}

static void test_timeout(void) {
        Env e;
        env_start(&e, false, 200 * USEC_PER_MSEC);
        e.hv.action_delay_usec = 700 * USEC_PER_MSEC;
        GuestSample a = guest("a", UUID_A);
        Plan p = {};
        Action save = action_guest("test", ACTION_SAVE, &a, "slow save");
        CHECK_OK(plan_add(&p, &save));
        applier_apply(e.applier, &p);
        uint64_t id = last_id(&e);
        /* The deadline passes while the call runs: timeout, still tracked. */
        uint64_t end = now_monotonic_usec() + 2 * USEC_PER_SEC;
        while (find_entry(&e, id).result != RESULT_TIMEOUT && now_monotonic_usec() < end) {
                applier_dispatch(e.applier);
                sleep_msec(20);
        }
        JournalEntry x = find_entry(&e, id);
        CHECK(x.result == RESULT_TIMEOUT);
        CHECK_CONTAINS(x.message, "still waiting");
        CHECK_U64(applier_in_flight(e.applier), 1);
        drain(&e, 3000);
        x = find_entry(&e, id);
        CHECK(x.result == RESULT_DONE && x.late);
        plan_clear(&p);
        env_stop(&e);
}

/* A managed save still running after SaveTimeout= is aborted from another
 * worker: it ends failed, journaled as aborted; the guest keeps running. */
static void test_save_abort(void) {
        Env e;
        env_start(&e, false, 10 * USEC_PER_SEC);
        applier_configure(e.applier, "fake:///", e.sys, false, 10 * USEC_PER_SEC, 300 * USEC_PER_MSEC);
        e.hv.action_delay_usec = 5 * USEC_PER_SEC;
        GuestSample a = guest("a", UUID_A);
        Plan p = {};
        Action save = action_guest("test", ACTION_SAVE, &a, "overrunning save");
        CHECK_OK(plan_add(&p, &save));
        uint64_t t0 = now_monotonic_usec();
        applier_apply(e.applier, &p);
        uint64_t id = last_id(&e);
        drain(&e, 4000);
        JournalEntry x = find_entry(&e, id);
        CHECK(x.result == RESULT_FAILED);
        CHECK_CONTAINS(x.message, "aborted after SaveTimeout=0.3 s: fake: operation aborted");
        /* Well before the 5 s the save would have taken. */
        CHECK(now_monotonic_usec() - t0 < 3 * USEC_PER_SEC);
        bool abort_called = false;
        for (size_t i = 0; i < e.hv.n_write_calls; i++)
                abort_called |= e.hv.calls[i].op == FAKE_ABORT_JOB && strcmp(e.hv.calls[i].uuid, UUID_A) == 0;
        CHECK(abort_called);
        CHECK(e.hv.domains[0].id >= 0); /* still running */
        /* A save that ends in time is not aborted. */
        e.hv.action_delay_usec = 50 * USEC_PER_MSEC;
        applier_apply(e.applier, &p);
        id = last_id(&e);
        drain(&e, 3000);
        CHECK(find_entry(&e, id).result == RESULT_DONE);
        plan_clear(&p);
        env_stop(&e);
}

/* A hypervisor that never answers a connect: queued actions time out
 * without ever starting, and are dropped. */
static void test_hung_connect(void) {
        static Env e; /* the stuck connect thread outlives this function */
        env_start(&e, false, 300 * USEC_PER_MSEC);
        e.hv.open_delay_usec = 3 * USEC_PER_SEC;
        GuestSample a = guest("a", UUID_A);
        Plan p = {};
        Action bal = action_balloon("test", &a, 150 * MIB, "x");
        CHECK_OK(plan_add(&p, &bal));
        applier_apply(e.applier, &p);
        uint64_t id = last_id(&e);
        uint64_t end = now_monotonic_usec() + 3 * USEC_PER_SEC;
        while (find_entry(&e, id).result == RESULT_QUEUED && now_monotonic_usec() < end) {
                applier_dispatch(e.applier);
                sleep_msec(20);
        }
        JournalEntry x = find_entry(&e, id);
        CHECK(x.result == RESULT_TIMEOUT || x.result == RESULT_FAILED);
        CHECK_U64(e.hv.n_write_calls, 0);
        plan_clear(&p);
        drain(&e, 5000);
        sleep_msec(3200); /* let the fake's slow open end before its memory goes */
        env_stop(&e);
}

static FakeHypervisor connect_hv; /* outlives abandoned attempts */

static void test_connect_abandon(void) {
        Connector *c = NULL;
        CHECK_OK(connector_new(&virt_fake_ops, &connect_hv, &c));
        VirtConn *conn = NULL;
        char err[256];

        CHECK_OK(connector_open(c, "fake:///", USEC_PER_SEC, &conn, err, sizeof(err)));
        virt_fake_ops.close(conn);
        CHECK_U64(connector_stuck(c), 0);

        connect_hv.down = true;
        CHECK(connector_open(c, "fake:///", USEC_PER_SEC, &conn, err, sizeof(err)) == -ECONNREFUSED);
        CHECK_CONTAINS(err, "fake hypervisor is down");
        connect_hv.down = false;

        /* A hung hypervisor: no answer within the wait. */
        connect_hv.open_delay_usec = 4 * USEC_PER_SEC;
        uint64_t t0 = now_monotonic_usec();
        CHECK(connector_open(c, "fake:///", 100 * USEC_PER_MSEC, &conn, err, sizeof(err)) == -EINPROGRESS);
        CHECK(now_monotonic_usec() - t0 < USEC_PER_SEC);
        CHECK_CONTAINS(err, "no answer from fake:///");
        /* Asked again soon: the same attempt, no second one yet. */
        CHECK(connector_open(c, "fake:///", 100 * USEC_PER_MSEC, &conn, err, sizeof(err)) == -EINPROGRESS);
        CHECK_U64(connector_stuck(c), 1);

        /* A real hypervisor answers on the same URI now: the next attempt,
         * started beside the stuck one, connects. */
        connect_hv.open_delay_usec = 0;
        sleep_msec(CONNECT_RETRY_USEC / USEC_PER_MSEC + 50);
        t0 = now_monotonic_usec();
        CHECK_OK(connector_open(c, "fake:///", USEC_PER_SEC, &conn, err, sizeof(err)));
        CHECK(now_monotonic_usec() - t0 < USEC_PER_SEC);
        CHECK_U64(connector_stuck(c), 1); /* the first still waits for its peer */
        virt_fake_ops.close(conn);

        /* A slow (not hung) hypervisor: the attempt that answers late is
         * taken, although a newer one started meanwhile. */
        connect_hv.open_delay_usec = 1500 * USEC_PER_MSEC;
        uint64_t end = now_monotonic_usec() + 5 * USEC_PER_SEC;
        int r;
        while ((r = connector_open(c, "fake:///", 100 * USEC_PER_MSEC, &conn, err, sizeof(err))) == -EINPROGRESS &&
               now_monotonic_usec() < end)
                ;
        CHECK_OK(r);
        CHECK(now_monotonic_usec() - t0 < 3 * USEC_PER_SEC);
        virt_fake_ops.close(conn);

        /* A new URI abandons attempts for the old one at once. */
        connect_hv.open_delay_usec = 4 * USEC_PER_SEC;
        CHECK(connector_open(c, "fake:///a", 50 * USEC_PER_MSEC, &conn, err, sizeof(err)) == -EINPROGRESS);
        connect_hv.open_delay_usec = 0;
        CHECK_OK(connector_open(c, "fake:///b", USEC_PER_SEC, &conn, err, sizeof(err)));
        CHECK_U64(connector_stuck(c), 0);
        virt_fake_ops.close(conn);
        connector_free(c);

        /* Abandoned threads end by themselves and close what they opened
         * (the fake counts opens that succeeded). */
        sleep_msec(4500);
}

int main(void) {
        RUN(test_every_kind);
        RUN(test_oom_score_adj);
        RUN(test_dry_run);
        RUN(test_in_flight_and_order);
        RUN(test_failures);
        RUN(test_timeout);
        RUN(test_save_abort);
        RUN(test_hung_connect);
        RUN(test_connect_abandon);
        return 0;
}
