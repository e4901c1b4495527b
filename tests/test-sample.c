/* Tests for sample: host figures and per-guest figures from fixture trees,
 * guests from a literal GuestTable or from the refresher over the fake
 * hypervisor; staleness; guests that vanish between answer and tick. */
#include <limits.h>

#include "density/refresh.h"
#include "density/sample.h"
#include "density/util.h"
#include "density/virt.h"
#include "virt-fake.h"
#include "test-helpers.h"

#define KIB UINT64_C(1024)
#define HOUR_USEC (3600 * USEC_PER_SEC)


typedef struct HostRoots {
        char proc[PATH_MAX], sys[PATH_MAX], cgroup[PATH_MAX], run[PATH_MAX];
        Roots roots;
} HostRoots;

static const Roots *host_roots(HostRoots *h, const char *host) {
        snprintf(h->proc, sizeof(h->proc), "%s/%s/proc", fixtures, host);
        snprintf(h->sys, sizeof(h->sys), "%s/%s/sys", fixtures, host);
        snprintf(h->cgroup, sizeof(h->cgroup), "%s/%s/cgroup", fixtures, host);
        snprintf(h->run, sizeof(h->run), "%s/%s/run/libvirt/qemu", fixtures, host);
        h->roots = (Roots) { .proc = h->proc, .sys = h->sys, .cgroup = h->cgroup, .libvirt_run = h->run };
        return &h->roots;
}

static VirtDomainStats domain(const char *name, const char *uuid, int id) {
        VirtDomainStats d = { .id = id };
        strscpy(d.name, sizeof(d.name), name);
        strscpy(d.uuid, sizeof(d.uuid), uuid);
        return d;
}

/* Balloon figures as a guest with a working driver reports them. */
static void with_balloon(VirtDomainStats *d, uint64_t current_kib, uint64_t maximum_kib, uint64_t usable_kib,
                         int64_t last_update) {
        d->has_current = d->has_maximum = true;
        d->current_kib = current_kib;
        d->maximum_kib = maximum_kib;
        d->has_usable = true;
        d->usable_kib = usable_kib;
        d->has_last_update = true;
        d->last_update = last_update;
}

static const GuestSample *guest(const Snapshot *s, const char *name) {
        for (size_t i = 0; i < s->n_guests; i++)
                if (strcmp(s->guests[i].name, name) == 0)
                        return &s->guests[i];
        return NULL;
}

/* Let CLOCK_MONOTONIC move on by at least usec (busy: no sleep, no timing
 * assertion; the clock only has to advance). */
static void clock_advance(uint64_t usec) {
        uint64_t t = now_monotonic_usec();
        while (now_monotonic_usec() <= t + usec)
                ;
}

static void test_host_v2(void) {
        HostRoots hr;
        HostSample h;
        CHECK_OK(sample_host(host_roots(&hr, "host-v2"), &h));
        CHECK_U64(h.mem.mem_total_bytes, 16318480 * KIB);
        CHECK_U64(h.mem.mem_available_bytes, 9000000 * KIB);
        CHECK_U64(h.mem.anon_bytes, 6000000 * KIB);
        CHECK(h.mem.has_oom_kill);
        CHECK_U64(h.mem.oom_kill_total, 7);
        CHECK(h.psi.has_some && h.psi.has_full);
        CHECK(h.psi.some.avg60 == 0.12);
        CHECK(h.cgroup.version == 2);
        CHECK(!h.cgroup.has_limit);
        CHECK(h.ksm.present);
        CHECK_U64(h.ksm.n_values, 24);
        CHECK_U64(h.numa.n_nodes, 2);
        CHECK(h.numa.nodes[1].id == 1);
}

static void test_host_v1(void) {
        HostRoots hr;
        HostSample h;
        CHECK_OK(sample_host(host_roots(&hr, "host-v1"), &h));
        CHECK_U64(h.mem.mem_total_bytes, 65856932 * KIB);
        CHECK_U64(h.mem.swap_total_bytes, 4194300 * KIB);
        CHECK_U64(h.mem.swap_free_bytes, 4000000 * KIB);
        CHECK(h.cgroup.version == 1);
        CHECK_STR(h.cgroup.path, "memory/machine");
        CHECK(h.ksm.present);
        CHECK_U64(h.ksm.n_values, 14);
        CHECK_U64(h.numa.n_nodes, 0);
}

static void test_host_minimal(void) {
        HostRoots hr;
        HostSample h;
        POISON(h);
        CHECK_OK(sample_host(host_roots(&hr, "minimal"), &h));
        CHECK_U64(h.mem.mem_total_bytes, 1015800 * KIB);
        CHECK_U64(h.mem.mem_available_bytes, 500000 * KIB); /* MemFree stands in */
        CHECK(!h.psi.has_some && !h.psi.has_full);
        CHECK(!h.mem.has_oom_kill); /* no vmstat: before 4.13 */
        CHECK(h.cgroup.version == 0);
        CHECK(!h.ksm.present);
        CHECK_U64(h.ksm.n_values, 0);
        CHECK_U64(h.numa.n_nodes, 0);

        /* Only a missing meminfo is an error. */
        POISON(h);
        HostSample before = h;
        CHECK(sample_host(host_roots(&hr, "does-not-exist"), &h) == -ENOENT);
        CHECK(memcmp(&h, &before, sizeof(h)) == 0);
}

static void test_guest_pid_and_rss(void) {
        HostRoots hr;
        const Roots *r = host_roots(&hr, "host-v2");
        pid_t pid = -1;
        CHECK_OK(sample_guest_pid(r, "a", &pid));
        CHECK(pid == 1001);
        CHECK_OK(sample_guest_pid(r, "gone", &pid));
        CHECK(pid == 1003);
        pid = -1;
        CHECK(sample_guest_pid(r, "nopid", &pid) == -ENOENT);
        CHECK(sample_guest_pid(r, "zero", &pid) == -EINVAL);
        CHECK(sample_guest_pid(r, "junk", &pid) == -EINVAL);
        CHECK(pid == -1);

        uint64_t rss = 7;
        CHECK_OK(sample_pid_rss(hr.proc, 1001, &rss));
        CHECK_U64(rss, 12000 * page_size_bytes());
        CHECK(sample_pid_rss(hr.proc, 1003, &rss) == -ENOENT);
        CHECK_U64(rss, 12000 * page_size_bytes());
}

/* The table the refresher would publish for host-v2 (sorted by uuid). */
static void table_v2(GuestTable *t, VirtDomainStats *d, uint64_t fetched_usec) {
        d[0] = domain("a", "00000000-0000-0000-0000-00000000000a", 1);
        with_balloon(&d[0], 1048576, 2097152, 524288, 1000);
        d[1] = domain("b", "00000000-0000-0000-0000-00000000000b", 2);
        with_balloon(&d[1], 4194304, 4194304, 1048576, 2000);
        /* c: balloon actual only, no stats from the guest (no last_update). */
        d[2] = domain("c", "00000000-0000-0000-0000-00000000000c", 4);
        d[2].has_current = d[2].has_maximum = true;
        d[2].current_kib = d[2].maximum_kib = 262144;
        d[3] = domain("gone", "00000000-0000-0000-0000-00000000000d", 3);
        with_balloon(&d[3], 1024, 1024, 512, 5);
        d[4] = domain("nopid", "00000000-0000-0000-0000-00000000000e", 5);
        with_balloon(&d[4], 1024, 1024, 512, 5);
        for (size_t i = 0; i < 5; i++)
                d[i].fetched_usec = fetched_usec;
        *t = (GuestTable) { .domains = d, .n = 5, .connected = true, .rounds = 1 };
}

static void test_tick_literal(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));

        VirtDomainStats d[5];
        GuestTable t;
        table_v2(&t, d, now_monotonic_usec());

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK(snap.timestamp_usec > 0);
        CHECK(snap.hypervisor_connected);
        CHECK_STR(snap.hypervisor_error, "");
        CHECK_U64(snap.host.mem.mem_total_bytes, 16318480 * KIB);

        /* gone (no /proc/1003) and nopid (no pid file) stopped meanwhile: left out. */
        CHECK_U64(snap.n_guests, 3);
        CHECK(!guest(&snap, "gone"));
        CHECK(!guest(&snap, "nopid"));

        /* Largest RSS first. */
        CHECK_STR(snap.guests[0].name, "b");
        CHECK_STR(snap.guests[1].name, "a");
        CHECK_STR(snap.guests[2].name, "c");
        for (size_t i = 1; i < snap.n_guests; i++)
                CHECK(snap.guests[i - 1].rss_bytes >= snap.guests[i].rss_bytes);

        const size_t page = page_size_bytes();
        const GuestSample *a = guest(&snap, "a");
        CHECK(a);
        CHECK_STR(a->uuid, "00000000-0000-0000-0000-00000000000a");
        CHECK(a->id == 1);
        CHECK(a->pid == 1001);
        CHECK_U64(a->rss_bytes, 12000 * page);
        CHECK(a->has_balloon);
        CHECK_U64(a->balloon_actual_bytes, 1048576 * KIB);
        CHECK_U64(a->balloon_maximum_bytes, 2097152 * KIB);
        CHECK(a->has_usable);
        CHECK_U64(a->usable_bytes, 524288 * KIB);
        CHECK(!a->has_unused && !a->has_available && !a->has_disk_caches);
        CHECK_I64(a->balloon_last_update, 1000);
        CHECK(!a->stale);
        CHECK(a->has_ksm);
        CHECK_U64(a->ksm_merging_bytes, 300 * page);
        CHECK(a->has_ksm_profit);
        CHECK_I64(a->ksm_profit_bytes, -4096);
        /* Two NUMA nodes from its cgroup v2 numa_stat: anon + file, bytes. */
        CHECK_U64(a->n_nodes, 2);
        CHECK(a->nodes[0].node == 0);
        CHECK_U64(a->nodes[0].bytes, 20971520 + 4096);
        CHECK(a->nodes[1].node == 1);
        CHECK_U64(a->nodes[1].bytes, 10485760 + 8192);

        const GuestSample *b = guest(&snap, "b");
        CHECK(b);
        CHECK_U64(b->rss_bytes, 30000 * page);
        CHECK_U64(b->balloon_actual_bytes, 4194304 * KIB);
        CHECK_U64(b->ksm_merging_bytes, 1000 * page);
        CHECK_I64(b->ksm_profit_bytes, 3000000);
        CHECK_U64(b->n_nodes, 1);
        CHECK(b->nodes[0].node == 0);
        CHECK_U64(b->nodes[0].bytes, 104857600 + 1048576);
        CHECK(!b->stale);

        /* c: no stats clock from the guest at all: stale from the start. */
        const GuestSample *c = guest(&snap, "c");
        CHECK(c);
        CHECK_U64(c->rss_bytes, 500 * page);
        CHECK(c->has_balloon);
        CHECK_U64(c->balloon_actual_bytes, 262144 * KIB);
        CHECK(!c->has_usable);
        CHECK(c->stale);
        CHECK(!c->has_ksm && !c->has_ksm_profit);
        CHECK_U64(c->n_nodes, 0);

        snapshot_clear(&snap);
        CHECK(snap.guests == NULL && snap.n_guests == 0);
        snapshot_clear(NULL);

        /* An empty table: no guests, no error. */
        GuestTable empty = { .connected = false };
        strscpy(empty.error, sizeof(empty.error), "no answer yet");
        CHECK_OK(sampler_tick(s, &empty, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 0);
        CHECK(!snap.hypervisor_connected);
        CHECK_STR(snap.hypervisor_error, "no answer yet");
        snapshot_clear(&snap);

        sampler_free(s);
        CHECK(sampler_free(NULL) == NULL);
}

/* A guest whose own stats clock (last_update) keeps the same value for
 * longer than stale_after is stale; one whose clock moves is not. The
 * hypervisor's answer is fresh throughout (fetched "now or later"). */
static void test_tick_stale_last_update(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));

        VirtDomainStats d[2];
        d[0] = domain("a", "00000000-0000-0000-0000-00000000000a", 1);
        with_balloon(&d[0], 1048576, 2097152, 524288, 1000);
        d[1] = domain("b", "00000000-0000-0000-0000-00000000000b", 2);
        with_balloon(&d[1], 4194304, 4194304, 1048576, 2000);
        d[0].fetched_usec = d[1].fetched_usec = UINT64_MAX; /* age 0 */
        GuestTable t = { .domains = d, .n = 2, .connected = true };
        const uint64_t stale_after = 1;

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, stale_after, &snap));
        CHECK(!guest(&snap, "a")->stale); /* first sight: the clock just "moved" */
        CHECK(!guest(&snap, "b")->stale);
        CHECK_U64(guest(&snap, "a")->stats_age_usec, 0);
        snapshot_clear(&snap);

        for (int round = 0; round < 3; round++) {
                clock_advance(10 * stale_after);
                d[1].last_update++; /* b's guest keeps reporting */
                CHECK_OK(sampler_tick(s, &t, stale_after, &snap));
                CHECK(guest(&snap, "a")->stale);
                CHECK(!guest(&snap, "b")->stale);
                snapshot_clear(&snap);
        }

        /* a's clock moves again: trusted again at once. */
        d[0].last_update++;
        d[1].last_update++;
        CHECK_OK(sampler_tick(s, &t, stale_after, &snap));
        CHECK(!guest(&snap, "a")->stale);
        CHECK(!guest(&snap, "b")->stale);
        snapshot_clear(&snap);

        /* A guest that leaves and comes back starts afresh. */
        t.n = 1; /* only a */
        CHECK_OK(sampler_tick(s, &t, stale_after, &snap));
        CHECK_U64(snap.n_guests, 1);
        snapshot_clear(&snap);
        clock_advance(10 * stale_after);
        t.n = 2;
        CHECK_OK(sampler_tick(s, &t, stale_after, &snap));
        CHECK(!guest(&snap, "b")->stale);
        snapshot_clear(&snap);

        sampler_free(s);
}

/* The hypervisor has not answered for a guest for longer than stale_after:
 * stale even though its last_update moved. */
static void test_tick_stale_hypervisor_age(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));

        uint64_t now = now_monotonic_usec();
        CHECK(now > 3 * USEC_PER_SEC);
        VirtDomainStats d[2];
        d[0] = domain("a", "00000000-0000-0000-0000-00000000000a", 1);
        with_balloon(&d[0], 1048576, 2097152, 524288, 1000);
        d[0].fetched_usec = now - 2 * USEC_PER_SEC;
        d[1] = domain("b", "00000000-0000-0000-0000-00000000000b", 2);
        with_balloon(&d[1], 4194304, 4194304, 1048576, 2000);
        d[1].fetched_usec = UINT64_MAX;
        GuestTable t = { .domains = d, .n = 2, .connected = true };

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, USEC_PER_SEC, &snap));
        const GuestSample *a = guest(&snap, "a");
        CHECK(a->stale);
        CHECK(a->stats_age_usec >= 2 * USEC_PER_SEC);
        CHECK(!guest(&snap, "b")->stale);
        snapshot_clear(&snap);
        sampler_free(s);
}

/* The whole path: fake hypervisor -> refresher -> table -> tick. */
static void test_tick_via_refresher(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));

        VirtDomainStats d[3];
        d[0] = domain("gone", "00000000-0000-0000-0000-00000000000d", 3);
        with_balloon(&d[0], 1024, 1024, 512, 5);
        d[1] = domain("b", "00000000-0000-0000-0000-00000000000b", 2);
        with_balloon(&d[1], 4194304, 4194304, 1048576, 2000);
        d[2] = domain("a", "00000000-0000-0000-0000-00000000000a", 1);
        with_balloon(&d[2], 1048576, 2097152, 524288, 1000);
        FakeHypervisor hv = { .domains = d, .n_domains = 3 };

        Refresher *r = NULL;
        CHECK_OK(refresher_new(&virt_fake_ops, &hv, "fake:///", USEC_PER_SEC, &r));
        refresher_run_once(r);
        GuestTable t = {};
        CHECK_OK(refresher_get(r, &t));
        CHECK(t.connected);
        CHECK_U64(t.n, 3);

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK(snap.hypervisor_connected);
        CHECK_U64(snap.n_guests, 2);
        CHECK_STR(snap.guests[0].name, "b");
        CHECK_STR(snap.guests[1].name, "a");
        CHECK_U64(snap.guests[1].balloon_actual_bytes, 1048576 * KIB);
        CHECK(!snap.guests[0].stale && !snap.guests[1].stale);
        snapshot_clear(&snap);
        guest_table_clear(&t);

        /* libvirtd goes away: the table keeps its domains, says why, and a
         * tick later than stale_after marks them stale. */
        hv.down = true;
        refresher_run_once(r);
        CHECK_OK(refresher_get(r, &t));
        CHECK(!t.connected);
        CHECK_U64(t.n, 3);
        clock_advance(10);
        CHECK_OK(sampler_tick(s, &t, 1, &snap));
        CHECK(!snap.hypervisor_connected);
        CHECK(snap.hypervisor_error[0] != '\0');
        CHECK_U64(snap.n_guests, 2);
        CHECK(snap.guests[0].stale && snap.guests[1].stale);
        snapshot_clear(&snap);
        guest_table_clear(&t);

        refresher_free(r);
        sampler_free(s);
}

static void test_tick_v1(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v1"), &s));
        VirtDomainStats d[1] = { domain("a", "11111111-0000-0000-0000-00000000000a", 1) };
        with_balloon(&d[0], 4194304, 4194304, 2097152, 77);
        d[0].fetched_usec = UINT64_MAX;
        GuestTable t = { .domains = d, .n = 1, .connected = true };

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 1);
        const GuestSample *a = &snap.guests[0];
        CHECK(a->pid == 2001);
        CHECK_U64(a->rss_bytes, 65536 * page_size_bytes());
        CHECK_U64(a->n_nodes, 1); /* v1 numa_stat counts pages */
        CHECK(a->nodes[0].node == 0);
        CHECK_U64(a->nodes[0].bytes, 65536 * page_size_bytes());
        CHECK(snap.host.cgroup.version == 1);
        /* On 6.1 (Debian 12) a guest's merging pages are in ksm_merging_pages;
         * its ksm_stat holds only ksm_rmap_items. */
        if (!a->has_ksm)
                TEST_FAIL("guest on a 6.1 host has no KSM figure (ksm_merging_pages 1500 ignored)");
        CHECK_U64(a->ksm_merging_bytes, 1500 * page_size_bytes());
        snapshot_clear(&snap);
        sampler_free(s);
}

/* A hypervisor that hangs never fails a call; a round running longer than
 * stale_after counts as disconnected. */
static void test_tick_hung_hypervisor(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));
        VirtDomainStats d[5];
        GuestTable t;
        uint64_t now = now_monotonic_usec();
        table_v2(&t, d, now);

        Snapshot snap;
        t.round_started_usec = now; /* a round just started: fine */
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        CHECK(snap.hypervisor_connected);
        snapshot_clear(&snap);

        t.round_started_usec = now - 31 * USEC_PER_SEC; /* hung for 31 s */
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        CHECK(!snap.hypervisor_connected);
        CHECK_CONTAINS(snap.hypervisor_error, "no answer");
        snapshot_clear(&snap);
        sampler_free(s);
}

int main(int argc, char **argv) {
        test_fixtures(argc, argv);
        RUN(test_host_v2);
        RUN(test_host_v1);
        RUN(test_host_minimal);
        RUN(test_guest_pid_and_rss);
        RUN(test_tick_literal);
        RUN(test_tick_stale_last_update);
        RUN(test_tick_stale_hypervisor_age);
        RUN(test_tick_via_refresher);
        RUN(test_tick_v1);
        RUN(test_tick_hung_hypervisor);
        return 0;
}
