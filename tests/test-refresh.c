/* Tests for refresh: rounds against the fake hypervisor (connect, lose the
 * connection, reconnect), merging answers, and the worker thread never
 * making refresher_get() wait for a slow hypervisor. */
#include <pthread.h>
#include <time.h>

#include "density/refresh.h"
#include "density/util.h"
#include "density/virt.h"
#include "virt-fake.h"
#include "test-helpers.h"

static VirtDomainStats domain(const char *name, const char *uuid, uint64_t current_kib, int64_t last_update) {
        VirtDomainStats d = { .has_current = true, .has_maximum = true, .has_last_update = true,
                              .has_usable = true, .current_kib = current_kib, .maximum_kib = 2 * current_kib,
                              .usable_kib = current_kib / 2, .last_update = last_update };
        strscpy(d.name, sizeof(d.name), name);
        strscpy(d.uuid, sizeof(d.uuid), uuid);
        return d;
}

/* A guest busy with a job, as libvirt answers with NOWAIT: current and
 * maximum (from the domain definition) but none of the guest's own figures. */
static VirtDomainStats busy_domain(const char *name, const char *uuid, int id, uint64_t current_kib) {
        VirtDomainStats d = { .id = id, .has_current = true, .has_maximum = true, .current_kib = current_kib,
                              .maximum_kib = 2 * current_kib };
        strscpy(d.name, sizeof(d.name), name);
        strscpy(d.uuid, sizeof(d.uuid), uuid);
        return d;
}

static const VirtDomainStats *find(const GuestTable *t, const char *uuid) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->domains[i].uuid, uuid) == 0)
                        return &t->domains[i];
        return NULL;
}

static void sleep_msec(unsigned msec) {
        struct timespec ts = { .tv_sec = msec / 1000, .tv_nsec = (long) (msec % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

#define UUID_A "00000000-0000-0000-0000-00000000000a"
#define UUID_B "00000000-0000-0000-0000-00000000000b"
#define UUID_C "00000000-0000-0000-0000-00000000000c"

static void test_run_once(void) {
        VirtDomainStats d[2] = { domain("b", UUID_B, 2048, 20), domain("a", UUID_A, 1024, 10) };
        FakeHypervisor hv = { .domains = d, .n_domains = 2 };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", 50 * USEC_PER_MSEC, &r));

        /* Nothing fetched yet. */
        GuestTable t = {};
        CHECK_OK(refresher_get(r, &t));
        CHECK_U64(t.rounds, 0);
        CHECK_U64(t.n, 0);
        CHECK(!t.connected);
        guest_table_clear(&t);

        uint64_t before = now_monotonic_usec();
        refresher_run_once(r);
        CHECK_OK(refresher_get(r, &t));
        CHECK(t.connected);
        CHECK_U64(t.rounds, 1);
        CHECK_STR(t.error, "");
        CHECK_U64(t.n, 2);
        CHECK_STR(t.domains[0].uuid, UUID_A); /* published sorted by uuid */
        CHECK_STR(t.domains[1].uuid, UUID_B);
        CHECK_U64(t.domains[0].current_kib, 1024);
        CHECK(t.domains[0].fetched_usec >= before);
        CHECK(hv.n_opens == 1);
        CHECK(hv.n_calls == 1);
        uint64_t fetched_1 = t.domains[0].fetched_usec;
        guest_table_clear(&t);

        /* The hypervisor goes away: error published, domains kept so the
         * tick can mark them stale. */
        hv.down = true;
        refresher_run_once(r);
        CHECK_OK(refresher_get(r, &t));
        CHECK(!t.connected);
        CHECK_U64(t.rounds, 2);
        CHECK(t.error[0] != '\0');
        fprintf(stderr, "  error while down: %s\n", t.error);
        CHECK_U64(t.n, 2);
        CHECK_U64(find(&t, UUID_A)->fetched_usec, fetched_1); /* they age */
        guest_table_clear(&t);

        /* Still down: open fails, nothing else changes. */
        refresher_run_once(r);
        CHECK_OK(refresher_get(r, &t));
        CHECK(!t.connected);
        CHECK_U64(t.rounds, 3);
        CHECK_U64(t.n, 2);
        CHECK(hv.n_opens == 1);
        guest_table_clear(&t);

        /* Back up: reconnects within one round. */
        hv.down = false;
        d[1].current_kib = 4096;
        refresher_run_once(r);
        CHECK_OK(refresher_get(r, &t));
        CHECK(t.connected);
        CHECK_U64(t.rounds, 4);
        CHECK_STR(t.error, "");
        CHECK(hv.n_opens == 2);
        CHECK_U64(find(&t, UUID_A)->current_kib, 4096);
        CHECK(find(&t, UUID_A)->fetched_usec >= fetched_1);
        guest_table_clear(&t);

        refresher_free(r);
        CHECK(refresher_free(NULL) == NULL);
}

static void test_run_once_merges(void) {
        VirtDomainStats d[2] = { domain("a", UUID_A, 1024, 10), domain("b", UUID_B, 2048, 20) };
        FakeHypervisor hv = { .domains = d, .n_domains = 2 };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", USEC_PER_SEC, &r));
        refresher_run_once(r);
        GuestTable t = {};
        CHECK_OK(refresher_get(r, &t));
        uint64_t fetched_a = find(&t, UUID_A)->fetched_usec;
        guest_table_clear(&t);

        /* a is busy with a job (NOWAIT): answered without the guest's own
         * figures, renamed, ballooned to 1100 KiB meanwhile; b stopped. */
        VirtDomainStats busy = busy_domain("a-renamed", UUID_A, 9, 1100);
        hv.domains = &busy;
        hv.n_domains = 1;
        refresher_run_once(r);
        CHECK_OK(refresher_get(r, &t));
        CHECK_U64(t.n, 1);
        CHECK(!find(&t, UUID_B));
        const VirtDomainStats *a = find(&t, UUID_A);
        CHECK(a);
        CHECK_STR(a->name, "a-renamed");
        CHECK(a->id == 9);
        CHECK(a->has_current && a->has_last_update && a->has_usable);
        CHECK_U64(a->current_kib, 1100); /* fresh */
        CHECK_U64(a->usable_kib, 512);   /* kept */
        CHECK_I64(a->last_update, 10);   /* kept */
        CHECK_U64(a->fetched_usec, fetched_a); /* their age keeps growing */
        guest_table_clear(&t);

        refresher_free(r);
}

static void test_configure_reconnects(void) {
        VirtDomainStats d[1] = { domain("a", UUID_A, 1024, 10) };
        FakeHypervisor hv = { .domains = d, .n_domains = 1 };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///one", USEC_PER_SEC, &r));
        refresher_run_once(r);
        CHECK(hv.n_opens == 1);

        CHECK_OK(refresher_configure(r, "fake:///one", 2 * USEC_PER_SEC)); /* same URI: keep */
        refresher_run_once(r);
        CHECK(hv.n_opens == 1);

        CHECK_OK(refresher_configure(r, "fake:///two", 2 * USEC_PER_SEC));
        refresher_run_once(r);
        CHECK(hv.n_opens == 2);
        CHECK(hv.n_calls == 3);
        refresher_free(r);
}

static void test_merge(void) {
        VirtDomainStats prev[3] = { domain("a", UUID_A, 1000, 1), domain("b", UUID_B, 2000, 2),
                                    domain("c", UUID_C, 3000, 3) };
        prev[0].fetched_usec = 111;
        prev[1].fetched_usec = 222;
        prev[2].fetched_usec = 333;

        /* Fresh answer, unsorted: c with figures, a without (busy), b gone,
         * d new without figures (nothing to keep). */
        VirtDomainStats fresh[3] = {};
        fresh[0] = domain("c", UUID_C, 3500, 4);
        fresh[1] = busy_domain("a", UUID_A, 5, 1200);
        strscpy(fresh[2].uuid, sizeof(fresh[2].uuid), "00000000-0000-0000-0000-00000000000d");
        strscpy(fresh[2].name, sizeof(fresh[2].name), "d");

        refresh_merge(prev, 3, fresh, 3, 999);
        CHECK_STR(fresh[0].uuid, UUID_A); /* sorted by uuid */
        CHECK_STR(fresh[1].uuid, UUID_C);
        CHECK_STR(fresh[2].uuid, "00000000-0000-0000-0000-00000000000d");

        /* a keeps its previous guest figures and their age, takes the new
         * id and current. */
        CHECK(fresh[0].has_current && fresh[0].has_last_update && fresh[0].has_usable);
        CHECK_U64(fresh[0].current_kib, 1200);
        CHECK_U64(fresh[0].usable_kib, 500);
        CHECK_I64(fresh[0].last_update, 1);
        CHECK_U64(fresh[0].fetched_usec, 111);
        CHECK(fresh[0].id == 5);
        /* c is fresh. */
        CHECK_U64(fresh[1].current_kib, 3500);
        CHECK_I64(fresh[1].last_update, 4);
        CHECK_U64(fresh[1].fetched_usec, 999);
        /* d: nothing before, nothing now. */
        CHECK(!fresh[2].has_current);
        CHECK_U64(fresh[2].fetched_usec, 999);
        /* b is gone: not in the result. */
        for (size_t i = 0; i < 3; i++)
                CHECK(strcmp(fresh[i].uuid, UUID_B) != 0);

        /* Empty previous table. */
        VirtDomainStats one[1] = { domain("a", UUID_A, 1, 1) };
        refresh_merge(NULL, 0, one, 1, 5);
        CHECK_U64(one[0].fetched_usec, 5);
}

/* The first answer (no previous table: NULL, 0) has a domain without
 * figures, e.g. a guest busy with a job when densityd starts. Nothing to
 * keep; and no bsearch() over a NULL array (UBSan: nonnull argument). */
static void test_merge_first_answer_without_figures(void) {
        VirtDomainStats fresh[2] = { domain("b", UUID_B, 2, 2) };
        strscpy(fresh[1].uuid, sizeof(fresh[1].uuid), UUID_A);
        strscpy(fresh[1].name, sizeof(fresh[1].name), "a");
        refresh_merge(NULL, 0, fresh, 2, 7);
        CHECK_STR(fresh[0].uuid, UUID_A);
        CHECK(!fresh[0].has_current);
        CHECK_U64(fresh[0].fetched_usec, 7);
        CHECK_STR(fresh[1].uuid, UUID_B);
        CHECK_U64(fresh[1].current_kib, 2);
}

/* A guest that never reports figures of its own (no balloon, stats off)
 * while libvirt answers for it every round: its age is 0 each round, not the
 * time since it started. Only figures the guest did report age. */
static void test_merge_never_reporting(void) {
        VirtDomainStats prev[1] = { busy_domain("n", UUID_A, 1, 1024) };
        refresh_merge(NULL, 0, prev, 1, 100);
        VirtDomainStats fresh[1] = { busy_domain("n", UUID_A, 1, 1024) };
        refresh_merge(prev, 1, fresh, 1, 5000100);
        CHECK_U64(fresh[0].fetched_usec, 5000100);

        /* One that did report, then is skipped (busy): its figures age. */
        VirtDomainStats had[1] = { domain("r", UUID_B, 1024, 10) };
        refresh_merge(NULL, 0, had, 1, 100);
        VirtDomainStats skipped[1] = { busy_domain("r", UUID_B, 1, 1024) };
        refresh_merge(had, 1, skipped, 1, 5000100);
        CHECK_U64(skipped[0].fetched_usec, 100);
        CHECK(skipped[0].has_last_update);
}

#define XML_BATCH                                                                                            \
        "<domain type='kvm'><name>a</name><memory unit='MiB'>256</memory>"                                  \
        "<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='batch'/></metadata>"              \
        "<devices><memballoon model='none'/></devices></domain>"

/* Domain facts: read once per domain, again when the hypervisor reports it
 * changed, after a reconnect, and after a failed read only once
 * REFRESH_FACTS_RETRY_USEC has passed; progress is reported as they are read. */
static void test_facts(void) {
        VirtDomainStats d[2] = { domain("a", UUID_A, 1024, 10), domain("b", UUID_B, 2048, 20) };
        const char *xml[2] = { XML_BATCH, "<not-a-domain/>" };
        bool transient[2] = { true, false };
        FakeHypervisor hv = { .domains = d, .n_domains = 2, .xml = xml, .transient = transient };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", USEC_PER_SEC, &r));
        refresher_run_once(r);
        GuestTable t = {};
        CHECK_OK(refresher_get(r, &t));
        CHECK_U64(hv.n_xml_reads, 2);
        const VirtDomainStats *a = find(&t, UUID_A), *b = find(&t, UUID_B);
        CHECK(a->facts.known);
        CHECK_STR(a->facts.metadata_class, "batch");
        CHECK(!a->facts.has_balloon);
        CHECK(!a->facts.persistent);
        CHECK_U64(a->facts.max_memory_bytes, 256 * 1024 * 1024);
        CHECK(!b->facts.known);
        CHECK(b->facts.error[0] != '\0');
        fprintf(stderr, "  facts error for a non-domain XML: %s\n", b->facts.error);
        CHECK(t.round_progress_usec >= t.round_started_usec || t.round_started_usec == 0);
        guest_table_clear(&t);

        /* Next rounds: nothing read again (b's failure waits for its retry). */
        refresher_run_once(r);
        refresher_run_once(r);
        CHECK_U64(hv.n_xml_reads, 2);

        /* The hypervisor says a was redefined: a alone is read again. */
        xml[0] = "<domain><name>a</name><memory>1024</memory><devices><memballoon model='virtio'/></devices></domain>";
        strscpy(hv.changed[0], sizeof(hv.changed[0]), UUID_A);
        hv.n_changed = 1;
        refresher_run_once(r);
        CHECK_U64(hv.n_xml_reads, 3);
        CHECK_OK(refresher_get(r, &t));
        a = find(&t, UUID_A);
        CHECK(a->facts.known && a->facts.has_balloon && a->facts.metadata_class[0] == '\0');
        CHECK_U64(a->facts.max_memory_bytes, 1024 * 1024);
        guest_table_clear(&t);

        /* A reconnect may have missed events: everything is read again. */
        hv.down = true;
        refresher_run_once(r);
        hv.down = false;
        refresher_run_once(r);
        CHECK_U64(hv.n_xml_reads, 5);
        refresher_free(r);
}

/* Poll refresher_get() until the table has done `rounds` rounds (the worker
 * runs every 50 ms; give up after 10 s of wall time). */
static void wait_rounds(Refresher *r, uint64_t rounds, GuestTable *t) {
        for (int i = 0; i < 1000; i++) {
                CHECK_OK(refresher_get(r, t));
                if (t->rounds >= rounds)
                        return;
                guest_table_clear(t);
                sleep_msec(10);
        }
        TEST_FAIL("the worker did not complete %" PRIu64 " rounds", rounds);
}

static void test_thread(void) {
        VirtDomainStats d[2] = { domain("a", UUID_A, 1024, 10), domain("b", UUID_B, 2048, 20) };
        FakeHypervisor hv = { .domains = d, .n_domains = 2 };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", 50 * USEC_PER_MSEC, &r));
        CHECK_OK(refresher_start(r));
        GuestTable t = {};
        wait_rounds(r, 2, &t);
        CHECK(t.connected);
        CHECK_U64(t.n, 2);
        guest_table_clear(&t);
        refresher_free(r);
        CHECK(hv.n_opens == 1);
        CHECK(hv.n_calls >= 2);
}

/* A reload that shortens the interval takes effect at once, not after the
 * old (here one hour) wait. */
static void test_thread_interval_shortened(void) {
        VirtDomainStats d[1] = { domain("a", UUID_A, 1024, 10) };
        FakeHypervisor hv = { .domains = d, .n_domains = 1 };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", 3600 * USEC_PER_SEC, &r));
        CHECK_OK(refresher_start(r));
        GuestTable t = {};
        wait_rounds(r, 1, &t);
        guest_table_clear(&t);
        CHECK_OK(refresher_configure(r, "fake:///", 20 * USEC_PER_MSEC));
        wait_rounds(r, 3, &t); /* fails after 10 s of waiting */
        guest_table_clear(&t);
        refresher_free(r);
}

/* A slow hypervisor (2 s per bulk call): the copy does not wait for it. */
static void test_thread_slow_hypervisor(void) {
        VirtDomainStats d[2] = { domain("a", UUID_A, 1024, 10), domain("b", UUID_B, 2048, 20) };
        FakeHypervisor hv = { .domains = d, .n_domains = 2, .call_delay_usec = 2 * USEC_PER_SEC };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", 50 * USEC_PER_MSEC, &r));
        CHECK_OK(refresher_start(r));
        sleep_msec(20); /* let the worker get into the call (not required) */

        uint64_t start = now_monotonic_usec();
        GuestTable t = {};
        CHECK_OK(refresher_get(r, &t));
        uint64_t took = now_monotonic_usec() - start;
        /* Either nothing yet or a whole answer, never a wait for the call. */
        CHECK((t.rounds == 0 && t.n == 0) || (t.connected && t.n == 2));
        if (took >= USEC_PER_SEC)
                TEST_FAIL("refresher_get took %" PRIu64 " us while the hypervisor was busy", took);
        guest_table_clear(&t);
        refresher_free(r); /* joins: waits for the call in progress */
}

/* The same, deterministically: a hypervisor that answers only when the test
 * says so. If refresher_get() waited on the hypervisor, the call would give
 * up after 10 s and the copy would show a finished round. */
typedef struct Gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool entered, open;
        unsigned calls;
} Gate;

static int gate_open(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size) {
        (void) uri, (void) err, (void) err_size;
        *ret = (VirtConn *) userdata;
        return 0;
}

static void gate_close(VirtConn *c) {
        (void) c;
}

static int gate_all_stats(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, VirtProgressFn progress,
                          void *progress_userdata, char *err, size_t err_size) {
        (void) progress, (void) progress_userdata, (void) err, (void) err_size;
        Gate *g = (Gate *) c;
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        pthread_mutex_lock(&g->lock);
        g->entered = true;
        g->calls++;
        pthread_cond_broadcast(&g->cond);
        while (!g->open && pthread_cond_timedwait(&g->cond, &g->lock, &deadline) == 0)
                ;
        pthread_mutex_unlock(&g->lock);
        VirtDomainStats *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = domain("a", UUID_A, 1024, 10);
        *ret = d;
        *ret_n = 1;
        return 0;
}

static const VirtOps gate_ops = {
        .name = "gate",
        .open = gate_open,
        .close = gate_close,
        .all_stats = gate_all_stats,
};

static void test_thread_get_never_waits(void) {
        Gate g = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        Refresher *r = NULL;
        CHECK_OK(refresher_new(&gate_ops, &g, "gate:///", 50 * USEC_PER_MSEC, &r));
        CHECK_OK(refresher_start(r));

        /* Wait until the worker is inside the bulk call. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        pthread_mutex_lock(&g.lock);
        while (!g.entered)
                if (pthread_cond_timedwait(&g.cond, &g.lock, &deadline) != 0)
                        break;
        bool entered = g.entered;
        pthread_mutex_unlock(&g.lock);
        CHECK(entered);

        GuestTable t = {};
        CHECK_OK(refresher_get(r, &t));
        CHECK_U64(t.rounds, 0); /* the copy came back while the call was still running */
        CHECK_U64(t.n, 0);
        guest_table_clear(&t);

        pthread_mutex_lock(&g.lock);
        g.open = true;
        pthread_cond_broadcast(&g.cond);
        pthread_mutex_unlock(&g.lock);

        wait_rounds(r, 1, &t);
        CHECK(t.connected);
        CHECK_U64(t.n, 1);
        guest_table_clear(&t);
        refresher_free(r);
}

int main(void) {
        RUN(test_run_once);
        RUN(test_run_once_merges);
        RUN(test_configure_reconnects);
        RUN(test_merge);
        RUN(test_merge_first_answer_without_figures);
        RUN(test_merge_never_reporting);
        RUN(test_facts);
        RUN(test_thread);
        RUN(test_thread_interval_shortened);
        RUN(test_thread_get_never_waits);
        RUN(test_thread_slow_hypervisor);
        return 0;
}
