/* Tests for plan and journal: actions as data and their rendering, the
 * decision journal's ring (oldest drop out, updates in place), its filters
 * and counters, and what the sink sees. */
#include <errno.h>

#include "density/journal.h"
#include "density/plan.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1024) * 1024)

static GuestSample guest(const char *name, const char *uuid) {
        GuestSample g = {};
        strscpy(g.name, sizeof(g.name), name);
        strscpy(g.uuid, sizeof(g.uuid), uuid);
        return g;
}

static void test_kinds(void) {
        for (int k = 0; k < _ACTION_KIND_MAX; k++) {
                ActionKind back;
                CHECK_OK(action_kind_from_name(action_kind_name((ActionKind) k), &back));
                CHECK(back == (ActionKind) k);
                CHECK_U64(strlen(action_kind_message_id((ActionKind) k)), 32);
                for (int j = 0; j < k; j++) /* one MESSAGE_ID per kind */
                        CHECK(strcmp(action_kind_message_id((ActionKind) j), action_kind_message_id((ActionKind) k)) != 0);
        }
        ActionKind x;
        CHECK(action_kind_from_name("frob", &x) == -EINVAL);
        CHECK(!action_kind_is_hypervisor(ACTION_KSM_KNOB));
        CHECK(action_kind_is_hypervisor(ACTION_BALLOON));
        CHECK(action_kind_is_long(ACTION_SAVE) && !action_kind_is_long(ACTION_BALLOON));
        CHECK(action_ksm_knob_valid("pages_to_scan"));
        CHECK(!action_ksm_knob_valid("pages_sharing"));   /* a counter, not a knob */
        CHECK(!action_ksm_knob_valid("../../../etc/passwd"));
        CHECK(!action_ksm_knob_valid(""));
}

static void test_plan_render(void) {
        GuestSample g = guest("dtest-3", "00000000-0000-0000-0000-000000000003");
        Plan p = {};
        Action a = action_balloon("balloon", &g, 200 * MIB, "host available %d MiB < %d MiB; %s idle, %d MiB unused",
                                  412, 600, g.name, 151);
        CHECK_OK(plan_add(&p, &a));
        a = action_ksm_knob("ksm", "pages_to_scan", "1000", "merging pays: %d pages/s", 5000);
        CHECK_OK(plan_add(&p, &a));
        a = action_pin_vcpu("numa", &g, 1, "0-3", "keep vCPUs with memory on node 0");
        CHECK_OK(plan_add(&p, &a));
        a = action_pin_emulator("numa", &g, "0-3", "emulator with vCPUs");
        CHECK_OK(plan_add(&p, &a));
        a = action_pin_memory("numa", &g, "preferred", "0", "node 0 has room");
        CHECK_OK(plan_add(&p, &a));
        a = action_guest("shed", ACTION_SAVE, &g, "PSI full %.1f%% > 20%%", 31.5);
        CHECK_OK(plan_add(&p, &a));
        a = action_guest("shed", ACTION_RESTORE, &g, "memory back");
        CHECK_OK(plan_add(&p, &a));
        a = action_guest("shed", ACTION_DESTROY, &g, "class says destroy");
        CHECK_OK(plan_add(&p, &a));
        /* Many more than the first allocation. */
        for (int i = 0; i < 40; i++)
                CHECK_OK(plan_add(&p, &a));
        CHECK_U64(p.n, 48);
        CHECK_U64(p.actions[0].bytes, 200 * MIB);
        CHECK_STR(p.actions[0].uuid, g.uuid);
        CHECK_STR(p.actions[1].uuid, ""); /* host action: no guest */

        char *text = NULL;
        CHECK_OK(plan_render(&p, &text));
        CHECK_CONTAINS(text, "balloon: balloon dtest-3 to 200 MiB: host available 412 MiB < 600 MiB; dtest-3 idle, "
                             "151 MiB unused\n");
        CHECK_CONTAINS(text, "ksm: ksm pages_to_scan=1000: merging pays: 5000 pages/s\n");
        CHECK_CONTAINS(text, "numa: pin vCPU 1 of dtest-3 to CPUs 0-3: keep vCPUs with memory on node 0\n");
        CHECK_CONTAINS(text, "numa: pin emulator of dtest-3 to CPUs 0-3: emulator with vCPUs\n");
        CHECK_CONTAINS(text, "numa: place memory of dtest-3 on nodes 0 (preferred): node 0 has room\n");
        CHECK_CONTAINS(text, "shed: save dtest-3 (managed save): PSI full 31.5% > 20%\n");
        CHECK_CONTAINS(text, "shed: restore dtest-3: memory back\n");
        CHECK_CONTAINS(text, "shed: destroy dtest-3: class says destroy\n");
        free(text);
        plan_clear(&p);
        CHECK(p.n == 0 && p.actions == NULL);
        plan_clear(NULL);

        /* A reason longer than the field is cut, still terminated. */
        char longr[600];
        memset(longr, 'x', sizeof(longr) - 1);
        longr[sizeof(longr) - 1] = '\0';
        a = action_guest("shed", ACTION_SAVE, &g, "%s", longr);
        CHECK_U64(strlen(a.reason), ACTION_REASON_MAX - 1);
}

typedef struct Sunk {
        unsigned n;
        JournalEntry last;
} Sunk;

static void sink(const JournalEntry *e, void *userdata) {
        Sunk *s = userdata;
        s->n++;
        s->last = *e;
}

static JournalEntry entry(const char *controller, const char *name, ActionResult result) {
        char uuid[DENSITY_UUID_LEN];
        snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-%012u", (unsigned) (strlen(name) % 10));
        GuestSample g = guest(name, uuid);
        JournalEntry e = { .action = action_balloon(controller, &g, 128 * MIB, "because"), .result = result,
                           .planned_usec = 1000 };
        return e;
}

static void test_ring_and_filters(void) {
        Sunk s = {};
        Journal *j = NULL;
        CHECK(journal_new(0, NULL, NULL, &j) == -EINVAL);
        CHECK_OK(journal_new(4, sink, &s, &j));

        JournalEntry e = entry("balloon", "a", RESULT_QUEUED);
        CHECK_U64(journal_add(j, &e), 1);
        CHECK_U64(e.id, 1);
        CHECK_U64(s.n, 1);
        CHECK(s.last.result == RESULT_QUEUED);

        /* Later results update the entry in place and reach the sink. */
        e.result = RESULT_DONE;
        e.finished_usec = 2000;
        journal_update(j, &e);
        CHECK_U64(s.n, 2);
        JournalEntry *got = NULL;
        size_t n = 0;
        CHECK_OK(journal_query(j, &(JournalFilter) {}, &got, &n));
        CHECK_U64(n, 1);
        CHECK(got[0].result == RESULT_DONE);
        CHECK_U64(got[0].finished_usec, 2000);
        free(got);

        /* Fill past capacity: the oldest drop out, order is kept. */
        const char *names[] = { "bb", "ccc", "bb", "dddd", "bb" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                JournalEntry x = entry(i % 2 ? "ksm" : "balloon", names[i], RESULT_DONE);
                journal_add(j, &x);
        }
        CHECK_OK(journal_query(j, &(JournalFilter) {}, &got, &n));
        CHECK_U64(n, 4);
        for (size_t i = 0; i < n; i++)
                CHECK_U64(got[i].id, 3 + i); /* ids 3..6, oldest first */
        free(got);

        /* Filters: by guest name, by UUID, by controller; the last n. */
        CHECK_OK(journal_query(j, &(JournalFilter) { .guest = "bb" }, &got, &n));
        CHECK_U64(n, 2); /* id 2 dropped out of the ring */
        CHECK_U64(got[0].id, 4);
        CHECK_U64(got[1].id, 6);
        free(got);
        CHECK_OK(journal_query(j, &(JournalFilter) { .guest = "00000000-0000-0000-0000-000000000004" }, &got, &n));
        CHECK_U64(n, 1);
        CHECK_STR(got[0].action.guest, "dddd");
        free(got);
        CHECK_OK(journal_query(j, &(JournalFilter) { .controller = "ksm" }, &got, &n));
        CHECK_U64(n, 2);
        CHECK_U64(got[0].id, 3);
        CHECK_U64(got[1].id, 5);
        free(got);
        CHECK_OK(journal_query(j, &(JournalFilter) { .n = 2 }, &got, &n));
        CHECK_U64(n, 2);
        CHECK_U64(got[0].id, 5);
        CHECK_U64(got[1].id, 6);
        free(got);
        CHECK_OK(journal_query(j, &(JournalFilter) { .guest = "nobody" }, &got, &n));
        CHECK_U64(n, 0);
        free(got);

        /* An update for an entry that left the ring still reaches the sink
         * and the counters, and changes nothing in the ring. */
        unsigned before = s.n;
        e.result = RESULT_FAILED;
        journal_update(j, &e);
        CHECK_U64(s.n, before + 1);
        CHECK_OK(journal_query(j, &(JournalFilter) {}, &got, &n));
        for (size_t i = 0; i < n; i++)
                CHECK(got[i].id != 1 && got[i].result == RESULT_DONE);
        free(got);
        journal_free(j);
}

static uint64_t count(const Journal *j, const char *controller, ActionKind kind, ActionResult result) {
        size_t n;
        const JournalCounter *c = journal_counters(j, &n);
        for (size_t i = 0; i < n; i++)
                if (!strcmp(c[i].controller, controller) && c[i].kind == kind && c[i].result == result)
                        return c[i].count;
        return 0;
}

static void test_counters(void) {
        Journal *j = NULL;
        CHECK_OK(journal_new(JOURNAL_CAPACITY_DEFAULT, NULL, NULL, &j));
        JournalEntry e = entry("balloon", "a", RESULT_QUEUED);
        journal_add(j, &e);
        CHECK_U64(count(j, "balloon", ACTION_BALLOON, RESULT_QUEUED), 0); /* not final: not counted */
        e.result = RESULT_STARTED;
        journal_update(j, &e);
        e.result = RESULT_TIMEOUT;
        journal_update(j, &e);
        e.result = RESULT_DONE;
        e.late = true;
        journal_update(j, &e);
        for (int i = 0; i < 3; i++) {
                JournalEntry x = entry("shed", "b", RESULT_WOULD);
                journal_add(j, &x);
        }
        JournalEntry x = entry("ksm", "c", RESULT_SKIPPED);
        journal_add(j, &x);
        CHECK_U64(count(j, "balloon", ACTION_BALLOON, RESULT_TIMEOUT), 1);
        CHECK_U64(count(j, "balloon", ACTION_BALLOON, RESULT_DONE), 1);
        CHECK_U64(count(j, "shed", ACTION_BALLOON, RESULT_WOULD), 3);
        CHECK_U64(count(j, "ksm", ACTION_BALLOON, RESULT_SKIPPED), 1);
        size_t n;
        const JournalCounter *c = journal_counters(j, &n);
        CHECK_U64(n, 4);
        for (size_t i = 1; i < n; i++) /* sorted by controller */
                CHECK(strcmp(c[i - 1].controller, c[i].controller) <= 0);
        journal_free(j);
        journal_free(NULL);
}

static void test_format(void) {
        JournalEntry e = entry("balloon", "dtest-3", RESULT_DONE);
        e.started_usec = 1000000;
        e.finished_usec = 1120000;
        char buf[1024];
        journal_entry_format(&e, buf, sizeof(buf));
        CHECK_STR(buf, "balloon dtest-3 to 128 MiB: done in 0.12 s [balloon]: because");
        e.result = RESULT_FAILED;
        e.late = true;
        strscpy(e.message, sizeof(e.message), "virDomainSetMemoryFlags: no balloon");
        journal_entry_format(&e, buf, sizeof(buf));
        CHECK_STR(buf, "balloon dtest-3 to 128 MiB: late, failed in 0.12 s [balloon]: because; "
                       "virDomainSetMemoryFlags: no balloon");
        e = entry("balloon", "x", RESULT_WOULD);
        e.dry_run = true;
        journal_entry_format(&e, buf, sizeof(buf));
        CHECK_STR(buf, "balloon x to 128 MiB: would (dry run) [balloon]: because");
        char small[16];
        journal_entry_format(&e, small, sizeof(small));
        CHECK_U64(strlen(small), sizeof(small) - 1);

        for (int r = 0; r < _RESULT_MAX; r++) {
                ActionResult back;
                CHECK_OK(action_result_from_name(action_result_name((ActionResult) r), &back));
                CHECK(back == (ActionResult) r);
        }
        CHECK(!action_result_is_final(RESULT_QUEUED) && !action_result_is_final(RESULT_STARTED));
        CHECK(action_result_is_final(RESULT_WOULD) && action_result_is_final(RESULT_TIMEOUT));
}

int main(void) {
        RUN(test_kinds);
        RUN(test_plan_render);
        RUN(test_ring_and_filters);
        RUN(test_counters);
        RUN(test_format);
        return 0;
}
