/* Tests for sample: host figures and per-guest figures from fixture trees,
 * guests from a literal GuestTable or from the refresher over the fake
 * hypervisor; staleness; guests that vanish between answer and tick, and
 * guests whose files exist but cannot be read; page sizes other than the
 * running kernel's. */
#include <limits.h>
#include <signal.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/stat.h>

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

/* Roots below dir (a fixture directory or a temporary tree). */
static const Roots *dir_roots(HostRoots *h, const char *dir, size_t page_size) {
        snprintf(h->proc, sizeof(h->proc), "%s/proc", dir);
        snprintf(h->sys, sizeof(h->sys), "%s/sys", dir);
        snprintf(h->cgroup, sizeof(h->cgroup), "%s/cgroup", dir);
        snprintf(h->run, sizeof(h->run), "%s/run/libvirt/qemu", dir);
        h->roots = (Roots) { .proc = h->proc, .sys = h->sys, .cgroup = h->cgroup, .libvirt_run = h->run,
                             .page_size = page_size };
        return &h->roots;
}

/* A fixture host. The x86 trees are read as a 4 KiB-page host, whatever
 * the machine running the tests uses: expected figures are literals. */
static const Roots *host_roots(HostRoots *h, const char *host) {
        return dir_roots(h, fx(host), 4096);
}

/* Write text to dir/rel, creating the directories on the way. */
static void put(const char *dir, const char *rel, const char *text) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        TEST_FAIL("mkdir %s: %s", path, strerror(errno));
                *p = '/';
        }
        FILE *f = fopen(path, "w");
        if (!f)
                TEST_FAIL("cannot write %s: %s", path, strerror(errno));
        fputs(text, f);
        CHECK(fclose(f) == 0);
}

static void path_below(char *buf, size_t size, const char *dir, const char *rel) {
        if (snprintf(buf, size, "%s/%s", dir, rel) >= (int) size)
                TEST_FAIL("path too long: %s/%s", dir, rel);
}

/* The error a guest file gives: "cannot read ROOT/REL: REASON". */
static const char *want_error(const char *root, const char *rel, int error) {
        static char buf[512];
        if (snprintf(buf, sizeof(buf), "cannot read %s/%s: %s", root, rel, strerror(error)) >= (int) sizeof(buf))
                TEST_FAIL("path too long: %s/%s", root, rel);
        return buf;
}

/* A host with one guest "t" (qemu pid 4001, its own cgroup v2 scope,
 * 4 KiB pages) in a temporary directory the test changes as it goes, a
 * sampler on it, and the hypervisor table that lists the guest. */
typedef struct TmpHost {
        char *dir;
        HostRoots hr;
        Sampler *s;
        VirtDomainStats d[1];
        GuestTable t;
} TmpHost;

static void tmp_host_start(TmpHost *h) {
        h->dir = test_mkdtemp();
        put(h->dir, "proc/meminfo", "MemTotal:        1000000 kB\nMemFree:          500000 kB\n");
        put(h->dir, "run/libvirt/qemu/t.pid", "4001\n");
        put(h->dir, "proc/4001/statm", "1000 100 0 0 0 0 0\n");
        put(h->dir, "proc/4001/cgroup", "0::/machine.slice/machine-qemu\\x2d1\\x2dt.scope/libvirt/emulator\n");
        put(h->dir, "cgroup/machine.slice/machine-qemu\\x2d1\\x2dt.scope/memory.numa_stat",
            "anon N0=40960 N1=0\nfile N0=4096 N1=0\n");

        h->s = NULL;
        CHECK_OK(sampler_new(dir_roots(&h->hr, h->dir, 4096), &h->s));

        VirtDomainStats *d = &h->d[0];
        *d = (VirtDomainStats) { .id = 1, .name = "t", .uuid = "00000000-0000-0000-0000-0000000000f1" };
        d->has_current = d->has_maximum = d->has_usable = d->has_last_update = true;
        d->current_kib = d->maximum_kib = 1048576;
        d->usable_kib = 524288;
        d->last_update = 1000;
        d->fetched_usec = UINT64_MAX; /* the hypervisor's answer is always fresh */
        h->t = (GuestTable) { .domains = h->d, .n = 1, .connected = true };
}

static void tmp_host_stop(TmpHost *h) {
        sampler_free(h->s);
        test_rm_rf(h->dir);
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
        CHECK_U64(h.page_size_bytes, 4096);
        CHECK(h.errors.psi == 0 && h.errors.cgroup == 0 && h.errors.ksm == 0 && h.errors.numa == 0);
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
        CHECK_U64(snapshot_ksm_saved_bytes(&h), 20643840); /* 5000 sharing + 40 zero pages of 4 KiB */
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
        /* Absent is not unreadable: no errors. */
        CHECK(h.errors.psi == 0 && h.errors.cgroup == 0 && h.errors.ksm == 0 && h.errors.numa == 0);

        /* Only a missing meminfo is an error. */
        POISON(h);
        HostSample before = h;
        CHECK(sample_host(host_roots(&hr, "does-not-exist"), &h) == -ENOENT);
        CHECK(memcmp(&h, &before, sizeof(h)) == 0);
}

/* Host files that exist but do not parse: each part left zero, and
 * errors says why; the sample as a whole works (only meminfo is fatal). */
static void test_host_unreadable(void) {
        HostRoots hr;
        HostSample h;
        POISON(h);
        CHECK_OK(sample_host(host_roots(&hr, "host-unreadable"), &h));
        CHECK_U64(h.mem.mem_total_bytes, 2030000 * KIB);
        CHECK(h.errors.psi == -EINVAL);    /* "some avg10=0.00 avg60=" */
        CHECK(!h.psi.has_some && !h.psi.has_full);
        CHECK(h.errors.cgroup == -EINVAL); /* memory.max "lots": not "no limit" */
        CHECK(h.cgroup.version == 0 && !h.cgroup.has_limit);
        CHECK(h.errors.ksm == -EINVAL);    /* an empty pages_sharing */
        CHECK(!h.ksm.present);
        CHECK_U64(h.ksm.n_values, 0);
        CHECK(h.errors.numa == -EINVAL);   /* node0/meminfo without figures */
        CHECK_U64(h.numa.n_nodes, 0);
}

/* Roots.page_size 0 means the running kernel's: the one place the sampler
 * asks sysconf(). */
static void test_host_default_page_size(void) {
        HostRoots hr;
        HostSample h;
        dir_roots(&hr, fx("host-v2"), 0);
        CHECK_OK(sample_host(&hr.roots, &h));
        CHECK_U64(h.page_size_bytes, (uint64_t) sysconf(_SC_PAGESIZE));
        CHECK_U64(h.page_size_bytes, page_size_bytes());
}

static void test_statm_parse(void) {
        uint64_t rss = 7;
        CHECK_OK(statm_parse("250000 12000 3000 1000 0 200000 0\n", 4096, &rss));
        CHECK_U64(rss, 49152000);
        CHECK_OK(statm_parse("250000 12000 3000 1000 0 200000 0\n", 65536, &rss));
        CHECK_U64(rss, 786432000);
        CHECK_OK(statm_parse("0 0 0 0 0 0 0\n", 4096, &rss)); /* a zombie */
        CHECK_U64(rss, 0);
        CHECK_OK(statm_parse("5 3", 16384, &rss)); /* no newline */
        CHECK_U64(rss, 49152);

        rss = 7;
        CHECK(statm_parse("", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("\n", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("250000\n", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("250000 oops 3000 1000 0 200000 0\n", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("250000 12000x 3000\n", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("250000 -12000 3000\n", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("junk\n", 4096, &rss) == -EINVAL);
        CHECK(statm_parse("1 2 3\n", 0, &rss) == -EINVAL);
        CHECK(statm_parse("1 99999999999999999999 3\n", 4096, &rss) == -ERANGE);
        CHECK(statm_parse("1 18446744073709551615 3\n", 4096, &rss) == -ERANGE); /* bytes overflow */
        CHECK_U64(rss, 7);
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
        CHECK(sample_guest_pid(r, "piddir", &pid) == -EISDIR);
        CHECK(pid == -1);

        uint64_t rss = 7;
        CHECK_OK(sample_pid_rss(hr.proc, 1001, 4096, &rss));
        CHECK_U64(rss, 49152000); /* 12000 pages of 4 KiB */
        CHECK_OK(sample_pid_rss(hr.proc, 1001, 65536, &rss));
        CHECK_U64(rss, 786432000); /* of 64 KiB */
        CHECK(sample_pid_rss(hr.proc, 1003, 4096, &rss) == -ENOENT); /* gone */
        CHECK(sample_pid_rss(hr.proc, 1005, 4096, &rss) == -EINVAL); /* statm junk */
        CHECK(sample_pid_rss(hr.proc, 1006, 4096, &rss) == -EISDIR);
        CHECK_U64(rss, 786432000);
}

/* The table the refresher would publish for host-v2 (sorted by uuid). */
#define TABLE_V2_N 10
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
        /* Files that exist but cannot be read: pid files with junk, with 0,
         * a directory; statm with junk, a directory. */
        d[5] = domain("junk", "00000000-0000-0000-0000-00000000000f", 6);
        d[6] = domain("zero", "00000000-0000-0000-0000-000000000010", 7);
        d[7] = domain("piddir", "00000000-0000-0000-0000-000000000011", 8);
        d[8] = domain("statmjunk", "00000000-0000-0000-0000-000000000012", 9);
        d[9] = domain("statmdir", "00000000-0000-0000-0000-000000000013", 10);
        for (size_t i = 5; i < TABLE_V2_N; i++)
                with_balloon(&d[i], 1024, 1024, 512, 5);
        for (size_t i = 0; i < TABLE_V2_N; i++)
                d[i].fetched_usec = fetched_usec;
        *t = (GuestTable) { .domains = d, .n = TABLE_V2_N, .connected = true, .rounds = 1 };
}

static void test_tick_literal(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));
        sampler_configure(s, 0, true);

        VirtDomainStats d[TABLE_V2_N];
        GuestTable t;
        table_v2(&t, d, now_monotonic_usec());

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK(snap.timestamp_usec > 0);
        CHECK_U64(snap.slow_reads_every_ticks, 1);
        CHECK(snap.hypervisor_connected);
        CHECK_STR(snap.hypervisor_error, "");
        CHECK_U64(snap.host.mem.mem_total_bytes, 16318480 * KIB);

        /* gone (no /proc/1003) and nopid (no pid file) stopped meanwhile:
         * left out. The five with unreadable files stay. */
        CHECK_U64(snap.n_guests, 8);
        CHECK(!guest(&snap, "gone"));
        CHECK(!guest(&snap, "nopid"));

        /* Largest RSS first; those without an RSS last. */
        CHECK_STR(snap.guests[0].name, "b");
        CHECK_STR(snap.guests[1].name, "a");
        CHECK_STR(snap.guests[2].name, "c");
        for (size_t i = 1; i < snap.n_guests; i++)
                CHECK(snap.guests[i - 1].rss_bytes >= snap.guests[i].rss_bytes);
        for (size_t i = 0; i < 3; i++) {
                CHECK(snap.guests[i].has_rss);
                CHECK_STR(snap.guests[i].sample_error, "");
                CHECK(!snap.guests[i].sample_error_new);
        }

        const GuestSample *a = guest(&snap, "a");
        CHECK(a);
        CHECK_STR(a->uuid, "00000000-0000-0000-0000-00000000000a");
        CHECK(a->id == 1);
        CHECK(a->pid == 1001);
        CHECK_U64(a->rss_bytes, 49152000); /* 12000 pages of 4 KiB */
        CHECK(a->has_oom_score_adj && a->oom_score_adj == -500);
        CHECK(a->has_balloon);
        CHECK_U64(a->balloon_actual_bytes, 1048576 * KIB);
        CHECK_U64(a->balloon_maximum_bytes, 2097152 * KIB);
        CHECK(a->has_usable);
        CHECK_U64(a->usable_bytes, 524288 * KIB);
        CHECK(!a->has_unused && !a->has_available && !a->has_disk_caches);
        CHECK_I64(a->balloon_last_update, 1000);
        CHECK(!a->stale);
        CHECK(a->has_ksm);
        CHECK_U64(a->ksm_merging_bytes, 1228800); /* 300 pages */
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
        CHECK_U64(b->rss_bytes, 122880000);
        CHECK(!b->has_oom_score_adj); /* no file: unknown */
        CHECK_U64(b->balloon_actual_bytes, 4194304 * KIB);
        CHECK_U64(b->ksm_merging_bytes, 4096000);
        CHECK_I64(b->ksm_profit_bytes, 3000000);
        CHECK_U64(b->n_nodes, 1);
        CHECK(b->nodes[0].node == 0);
        CHECK_U64(b->nodes[0].bytes, 104857600 + 1048576);
        CHECK(!b->stale);

        /* c: no stats clock from the guest at all: stale from the start. */
        const GuestSample *c = guest(&snap, "c");
        CHECK(c);
        CHECK_U64(c->rss_bytes, 2048000);
        CHECK(c->has_balloon);
        CHECK_U64(c->balloon_actual_bytes, 262144 * KIB);
        CHECK(!c->has_usable);
        CHECK(c->stale);
        CHECK(!c->has_ksm && !c->has_ksm_profit);
        CHECK_U64(c->n_nodes, 0);

        /* Unreadable: kept, no RSS, the file and the reason, new this tick.
         * The hypervisor's figures are still there. */
        static const struct {
                const char *name;
                bool proc;     /* the file is below /proc, not the run directory */
                const char *rel;
                int error;
                pid_t pid;
        } bad[] = {
                { "junk", false, "junk.pid", EINVAL, 0 },
                { "zero", false, "zero.pid", EINVAL, 0 },
                { "piddir", false, "piddir.pid", EISDIR, 0 },
                { "statmjunk", true, "1005/statm", EINVAL, 1005 },
                { "statmdir", true, "1006/statm", EISDIR, 1006 },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const GuestSample *g = guest(&snap, bad[i].name);
                if (!g)
                        TEST_FAIL("guest %s with an unreadable file left out", bad[i].name);
                CHECK(!g->has_rss);
                CHECK_U64(g->rss_bytes, 0);
                CHECK(g->pid == bad[i].pid);
                CHECK_STR(g->sample_error, want_error(bad[i].proc ? hr.proc : hr.run, bad[i].rel, bad[i].error));
                CHECK(g->sample_error_new);
                CHECK(g->has_balloon);
                CHECK_U64(g->balloon_actual_bytes, 1024 * KIB);
        }
        snapshot_clear(&snap);
        CHECK(snap.guests == NULL && snap.n_guests == 0);
        snapshot_clear(NULL);

        /* The next tick: the same errors, not new any more (logged once). */
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 8);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const GuestSample *g = guest(&snap, bad[i].name);
                CHECK(g && g->sample_error[0] != '\0');
                CHECK(!g->sample_error_new);
        }
        snapshot_clear(&snap);

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
        CHECK(a->has_rss);
        CHECK_U64(a->rss_bytes, 268435456); /* 65536 pages of 4 KiB */
        CHECK_U64(a->n_nodes, 1); /* v1 numa_stat counts pages */
        CHECK(a->nodes[0].node == 0);
        CHECK_U64(a->nodes[0].bytes, 268435456);
        CHECK(snap.host.cgroup.version == 1);
        /* On 6.1 (Debian 12) a guest's merging pages are in ksm_merging_pages;
         * its ksm_stat holds only ksm_rmap_items. */
        if (!a->has_ksm)
                TEST_FAIL("guest on a 6.1 host has no KSM figure (ksm_merging_pages 1500 ignored)");
        CHECK_U64(a->ksm_merging_bytes, 6144000); /* 1500 pages */
        snapshot_clear(&snap);
        sampler_free(s);
}

/* The domain facts the hypervisor thread read reach each guest unchanged. */
static void test_tick_facts(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));
        VirtDomainStats d[TABLE_V2_N];
        GuestTable t;
        table_v2(&t, d, now_monotonic_usec());
        d[0].facts = (DomainFacts) { .known = true, .persistent = false, .balloon_model = "none",
                                     .max_memory_bytes = 268435456, .metadata_class = "batch" };
        strscpy(d[1].facts.error, sizeof(d[1].facts.error), "virDomainGetXMLDesc: gone");
        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        const GuestSample *a = NULL, *b = NULL;
        for (size_t i = 0; i < snap.n_guests; i++) {
                if (!strcmp(snap.guests[i].name, "a"))
                        a = &snap.guests[i];
                if (!strcmp(snap.guests[i].name, "b"))
                        b = &snap.guests[i];
        }
        CHECK(a && b);
        CHECK(a->facts.known && !a->facts.persistent && !a->facts.has_balloon);
        CHECK_STR(a->facts.metadata_class, "batch");
        CHECK_U64(a->facts.max_memory_bytes, 268435456);
        CHECK(!b->facts.known);
        CHECK_STR(b->facts.error, "virDomainGetXMLDesc: gone");
        snapshot_clear(&snap);
        sampler_free(s);
}

/* A hypervisor that hangs never fails a call; a round that has made no
 * progress for longer than stale_after counts as disconnected, while a long
 * round that keeps answering batches (a large host) does not. */
static void test_tick_hung_hypervisor(void) {
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(host_roots(&hr, "host-v2"), &s));
        VirtDomainStats d[TABLE_V2_N];
        GuestTable t;
        uint64_t now = now_monotonic_usec();
        table_v2(&t, d, now);

        Snapshot snap;
        t.round_started_usec = now; /* a round just started: fine */
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        CHECK(snap.hypervisor_connected);
        snapshot_clear(&snap);

        CHECK(snap.hypervisor_round_running_usec < USEC_PER_SEC);
        snapshot_clear(&snap);

        t.round_started_usec = now - 31 * USEC_PER_SEC; /* hung for 31 s */
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        CHECK(!snap.hypervisor_connected);
        CHECK_CONTAINS(snap.hypervisor_error, "no answer to the bulk stats call for 31 s");
        CHECK(snap.hypervisor_round_running_usec >= 31 * USEC_PER_SEC);
        snapshot_clear(&snap);

        /* 45 s into a round whose last batch was answered 2 s ago: slow, not hung. */
        t.round_started_usec = now - 45 * USEC_PER_SEC;
        t.round_progress_usec = now - 2 * USEC_PER_SEC;
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        CHECK(snap.hypervisor_connected);
        CHECK(snap.hypervisor_round_running_usec >= 45 * USEC_PER_SEC);
        snapshot_clear(&snap);

        /* ... and once its batches stop for longer than stale_after: hung. */
        t.round_progress_usec = now - 40 * USEC_PER_SEC;
        CHECK_OK(sampler_tick(s, &t, 30 * USEC_PER_SEC, &snap));
        CHECK(!snap.hypervisor_connected);
        CHECK_CONTAINS(snap.hypervisor_error, "no answer to the bulk stats call for 40 s (round running 45 s)");
        snapshot_clear(&snap);
        sampler_free(s);
}

/* A 64 KiB-page ARM64 host (cgroup v1, KSM, two NUMA nodes) read with two
 * page sizes, neither 4 KiB: whatever the machine running this test uses,
 * at least one differs from it, so a conversion anywhere that used 4096 or
 * sysconf() instead of the injected size fails here. */
static void test_arm64_page_sizes(void) {
        static const struct {
                size_t page;
                uint64_t rss, ksm_merging, node0, node1, ksm_saved;
        } cases[] = {
                { 65536, 157286400, 65536000, 104857600, 52428800, UINT64_C(9830400000) },
                { 16384, 39321600, 16384000, 26214400, 13107200, UINT64_C(2457600000) },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                fprintf(stderr, "  page size %zu\n", cases[i].page);
                HostRoots hr;
                const Roots *roots = dir_roots(&hr, fx("host-arm64-64k"), cases[i].page);

                HostSample h;
                CHECK_OK(sample_host(roots, &h));
                CHECK_U64(h.page_size_bytes, cases[i].page);
                CHECK(h.errors.psi == 0 && h.errors.cgroup == 0 && h.errors.ksm == 0 && h.errors.numa == 0);
                CHECK_U64(snapshot_ksm_saved_bytes(&h), cases[i].ksm_saved); /* pages_sharing 150000 */
                CHECK_U64(h.mem.mem_total_bytes, UINT64_C(527967360) * KIB); /* kB: no pages */
                CHECK_U64(h.numa.nodes[0].mem_total_bytes, UINT64_C(263983680) * KIB);
                CHECK(h.cgroup.version == 1 && !h.cgroup.has_limit);

                Sampler *s = NULL;
                CHECK_OK(sampler_new(roots, &s));
                VirtDomainStats d[1] = { domain("erl1", "22222222-0000-0000-0000-000000000001", 1) };
                with_balloon(&d[0], 163840, 163840, 40960, 99);
                d[0].fetched_usec = UINT64_MAX;
                GuestTable t = { .domains = d, .n = 1, .connected = true };
                Snapshot snap;
                CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
                CHECK_U64(snap.host.page_size_bytes, cases[i].page);
                CHECK_U64(snap.n_guests, 1);
                const GuestSample *g = &snap.guests[0];
                CHECK(g->pid == 3101);
                CHECK(g->has_rss);
                CHECK_U64(g->rss_bytes, cases[i].rss);               /* statm: 2400 pages */
                CHECK(g->has_ksm);
                CHECK_U64(g->ksm_merging_bytes, cases[i].ksm_merging); /* ksm_stat: 1000 pages */
                CHECK_I64(g->ksm_profit_bytes, 65414400);            /* bytes already */
                CHECK_U64(g->n_nodes, 2);                            /* v1 numa_stat: 1600 + 800 pages */
                CHECK(g->nodes[0].node == 0);
                CHECK_U64(g->nodes[0].bytes, cases[i].node0);
                CHECK(g->nodes[1].node == 1);
                CHECK_U64(g->nodes[1].bytes, cases[i].node1);
                CHECK_U64(g->balloon_actual_bytes, 163840 * KIB);    /* libvirt's KiB: no pages */
                CHECK_STR(g->sample_error, "");
                snapshot_clear(&snap);
                sampler_free(s);
        }
}

/* A wrong or missing run directory is not "every guest stopped": each guest
 * is kept and says which pid file it could not read. */
static void test_tick_wrong_run_dir(void) {
        HostRoots hr;
        host_roots(&hr, "host-v2");
        snprintf(hr.run, sizeof(hr.run), "%s", fx("host-v2/run/libvirt/nope"));
        Sampler *s = NULL;
        CHECK_OK(sampler_new(&hr.roots, &s));
        VirtDomainStats d[TABLE_V2_N];
        GuestTable t;
        table_v2(&t, d, now_monotonic_usec());
        t.n = 2; /* a and b */

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 2);
        const GuestSample *a = guest(&snap, "a");
        CHECK(a && !a->has_rss && a->sample_error_new);
        CHECK_STR(a->sample_error, want_error(hr.run, "a.pid", ENOENT));
        snapshot_clear(&snap);
        sampler_free(s);
}

/* A guest's staleness clock survives ticks where its files cannot be read
 * or its process is not found: a guest whose stats stopped long ago stays
 * stale, instead of looking freshly started. */
static void test_tick_unreadable_keeps_staleness(void) {
        TmpHost h;
        tmp_host_start(&h);
        const uint64_t stale_after = 1;
        Snapshot snap;

        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK(!snap.guests[0].stale); /* first sight */
        CHECK(snap.guests[0].has_rss);
        CHECK_U64(snap.guests[0].rss_bytes, 409600);
        snapshot_clear(&snap);
        clock_advance(10 * stale_after);
        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK(snap.guests[0].stale); /* last_update stopped at 1000 */
        snapshot_clear(&snap);

        /* One tick with a statm that does not parse: kept, still stale, the
         * error is new. */
        put(h.dir, "proc/4001/statm", "garbage\n");
        clock_advance(10 * stale_after);
        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK_U64(snap.n_guests, 1);
        CHECK(!snap.guests[0].has_rss);
        CHECK(snap.guests[0].stale);
        CHECK_STR(snap.guests[0].sample_error, want_error(h.hr.proc, "4001/statm", EINVAL));
        CHECK(snap.guests[0].sample_error_new);
        snapshot_clear(&snap);

        /* Readable again: still stale, the error gone. */
        put(h.dir, "proc/4001/statm", "1000 100 0 0 0 0 0\n");
        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK(snap.guests[0].has_rss);
        CHECK(snap.guests[0].stale);
        CHECK_STR(snap.guests[0].sample_error, "");
        CHECK(!snap.guests[0].sample_error_new);
        snapshot_clear(&snap);

        /* One tick where the process is not found (the table still lists
         * the guest): left out, but remembered. */
        char from[PATH_MAX], to[PATH_MAX];
        path_below(from, sizeof(from), h.dir, "proc/4001");
        path_below(to, sizeof(to), h.dir, "proc/away");
        CHECK_OK(rename(from, to));
        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK_U64(snap.n_guests, 0);
        snapshot_clear(&snap);
        CHECK_OK(rename(to, from));
        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK_U64(snap.n_guests, 1);
        CHECK(snap.guests[0].stale);
        snapshot_clear(&snap);

        /* Its guest-side clock moves: fresh at once. */
        h.d[0].last_update++;
        CHECK_OK(sampler_tick(h.s, &h.t, stale_after, &snap));
        CHECK(!snap.guests[0].stale);
        snapshot_clear(&snap);

        tmp_host_stop(&h);
}

/* An error is new on the tick it appears or changes, and again after the
 * guest was away (stopped) and comes back with it. */
static void test_tick_sample_error_new(void) {
        TmpHost h;
        tmp_host_start(&h);
        Snapshot snap;

        put(h.dir, "run/libvirt/qemu/t.pid", "42 is not a pid\n");
        static const struct {
                const char *pid_file; /* NULL: remove it */
                bool present, is_new;
        } steps[] = {
                { "42 is not a pid\n", true, true },
                { "42 is not a pid\n", true, false },
                { "\n", true, false },              /* another text, the same error */
                { "4001\n", true, false },          /* readable: no error */
                { "-1\n", true, true },             /* back: new again */
                { NULL, false, false },             /* stopped */
                { "-1\n", true, true },             /* started with the same error: new */
        };
        char pid_file[PATH_MAX];
        path_below(pid_file, sizeof(pid_file), h.dir, "run/libvirt/qemu/t.pid");
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                fprintf(stderr, "  step %zu\n", i);
                if (steps[i].pid_file)
                        put(h.dir, "run/libvirt/qemu/t.pid", steps[i].pid_file);
                else
                        CHECK_OK(unlink(pid_file));
                CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
                CHECK_U64(snap.n_guests, steps[i].present);
                if (steps[i].present)
                        CHECK(snap.guests[0].sample_error_new == steps[i].is_new);
                snapshot_clear(&snap);
        }
        tmp_host_stop(&h);
}

/* A failed cgroup lookup (/proc/PID/cgroup unreadable for a moment) is
 * retried, SAMPLE_CGROUP_RETRY_TICKS later: not every tick, not never. */
static void test_tick_cgroup_retry(void) {
        TmpHost h;
        tmp_host_start(&h);
        char cgroup_file[PATH_MAX];
        path_below(cgroup_file, sizeof(cgroup_file), h.dir, "proc/4001/cgroup");
        CHECK_OK(unlink(cgroup_file));
        CHECK_OK(mkdir(cgroup_file, 0755)); /* read() fails: EISDIR */

        Snapshot snap;

        CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
        const GuestSample *g = &snap.guests[0];
        CHECK(g->has_rss); /* the rest of the guest is fine */
        CHECK_U64(g->n_nodes, 0);
        CHECK_STR(g->sample_error, want_error(h.hr.proc, "4001/cgroup", EISDIR));
        CHECK(g->sample_error_new);
        snapshot_clear(&snap);

        /* Readable again, but the lookup waits for its turn: the failure is
         * what the guest reports meanwhile. */
        CHECK_OK(rmdir(cgroup_file));
        put(h.dir, "proc/4001/cgroup", "0::/machine.slice/machine-qemu\\x2d1\\x2dt.scope/libvirt/emulator\n");
        for (int tick = 2; tick <= SAMPLE_CGROUP_RETRY_TICKS; tick++) {
                CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
                CHECK_U64(snap.guests[0].n_nodes, 0);
                CHECK_STR(snap.guests[0].sample_error, want_error(h.hr.proc, "4001/cgroup", EISDIR));
                CHECK(!snap.guests[0].sample_error_new);
                snapshot_clear(&snap);
        }
        CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
        g = &snap.guests[0];
        CHECK_U64(g->n_nodes, 1);
        CHECK(g->nodes[0].node == 0);
        CHECK_U64(g->nodes[0].bytes, 40960 + 4096);
        CHECK_STR(g->sample_error, "");
        snapshot_clear(&snap);

        /* Found: not read again while the process lives (a cgroup file
         * that breaks now goes unnoticed, the figures keep coming). */
        CHECK_OK(unlink(cgroup_file));
        CHECK_OK(mkdir(cgroup_file, 0755));
        for (int tick = 0; tick < 2 * SAMPLE_CGROUP_RETRY_TICKS; tick++) {
                CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
                CHECK_U64(snap.guests[0].n_nodes, 1);
                CHECK_STR(snap.guests[0].sample_error, "");
                snapshot_clear(&snap);
        }
        tmp_host_stop(&h);
}

/* A cgroup that is not the guest's own (libvirt without cgroup support:
 * qemu in libvirtd's) is definitive for the process's life; a new qemu
 * process is looked up afresh. */
static void test_tick_cgroup_not_guest(void) {
        TmpHost h;
        tmp_host_start(&h);
        put(h.dir, "proc/4001/cgroup", "0::/system.slice/libvirtd.service\n");
        put(h.dir, "cgroup/system.slice/libvirtd.service/memory.numa_stat", "anon N0=999999999 N1=0\nfile N0=0 N1=0\n");

        Snapshot snap;

        CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
        CHECK_U64(snap.guests[0].n_nodes, 0); /* none rather than libvirtd's */
        CHECK_STR(snap.guests[0].sample_error, "");
        snapshot_clear(&snap);

        put(h.dir, "proc/4001/cgroup", "0::/machine.slice/machine-qemu\\x2d1\\x2dt.scope/libvirt/emulator\n");
        for (int tick = 0; tick < 2 * SAMPLE_CGROUP_RETRY_TICKS; tick++) {
                CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
                CHECK_U64(snap.guests[0].n_nodes, 0);
                snapshot_clear(&snap);
        }

        /* The guest restarted: a new qemu process. */
        put(h.dir, "run/libvirt/qemu/t.pid", "4002\n");
        put(h.dir, "proc/4002/statm", "1000 100 0 0 0 0 0\n");
        put(h.dir, "proc/4002/cgroup", "0::/machine.slice/machine-qemu\\x2d1\\x2dt.scope/libvirt/emulator\n");
        CHECK_OK(sampler_tick(h.s, &h.t, HOUR_USEC, &snap));
        CHECK(snap.guests[0].pid == 4002);
        CHECK_U64(snap.guests[0].n_nodes, 1);
        snapshot_clear(&snap);
        tmp_host_stop(&h);
}

static void test_slow_every(void) {
        CHECK_U64(sample_slow_every(0, 500), 1);
        CHECK_U64(sample_slow_every(500, 500), 1);
        CHECK_U64(sample_slow_every(501, 500), 2);
        CHECK_U64(sample_slow_every(7000, 500), 14);
        CHECK_U64(sample_slow_every(10, 0), 1);
}

#define SLOW_N 5

/* ksm_stat with merging pages, as 6.4 and later write it. */
static void put_ksm(const char *dir, int pid, unsigned pages) {
        char rel[64], text[128];
        snprintf(rel, sizeof(rel), "proc/%d/ksm_stat", pid);
        snprintf(text, sizeof(text), "ksm_rmap_items 10\nksm_merging_pages %u\nksm_process_profit 0\n", pages);
        put(dir, rel, text);
}

static unsigned ksm_pages(const Snapshot *snap, const char *name) {
        const GuestSample *g = guest(snap, name);
        if (!g)
                TEST_FAIL("no guest %s", name);
        return g->has_ksm ? (unsigned) (g->ksm_merging_bytes / 4096) : 0;
}

/* Beyond slow_per_tick guests, the slow files are read in turns (each
 * guest once every sample_slow_every() ticks, keeping its last figures in
 * between) while the RSS is read every tick; a guest whose domain id
 * changed has its pid file read out of turn. */
static void test_tick_slow_reads_in_turns(void) {
        char *dir = test_mkdtemp();
        put(dir, "proc/meminfo", "MemTotal:        1000000 kB\nMemFree:          500000 kB\n");
        VirtDomainStats d[SLOW_N];
        char rel[64], text[64];
        for (int i = 0; i < SLOW_N; i++) {
                char name[8], uuid[DENSITY_UUID_LEN];
                snprintf(name, sizeof(name), "g%d", i);
                snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-00000000000%d", i);
                d[i] = domain(name, uuid, i + 1);
                with_balloon(&d[i], 1024, 1024, 512, 1);
                d[i].fetched_usec = UINT64_MAX;
                snprintf(rel, sizeof(rel), "run/libvirt/qemu/g%d.pid", i);
                snprintf(text, sizeof(text), "%d\n", 5000 + i);
                put(dir, rel, text);
                snprintf(rel, sizeof(rel), "proc/%d/statm", 5000 + i);
                put(dir, rel, "1000 100 0 0 0 0 0\n");
                put_ksm(dir, 5000 + i, 10 + i);
        }
        HostRoots hr;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(dir_roots(&hr, dir, 4096), &s));
        sampler_configure(s, 2, false);
        GuestTable t = { .domains = d, .n = SLOW_N, .connected = true };

        /* Tick 1: g0 and g1 have their turn; the others are unknown yet. */
        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, SLOW_N);
        CHECK_U64(snap.slow_reads_every_ticks, 3);
        CHECK_U64(ksm_pages(&snap, "g0"), 10);
        CHECK_U64(ksm_pages(&snap, "g1"), 11);
        CHECK_U64(ksm_pages(&snap, "g2"), 0);
        CHECK(!guest(&snap, "g4")->has_ksm);
        CHECK(guest(&snap, "g4")->has_rss); /* RSS every tick */
        CHECK(!guest(&snap, "g0")->has_oom_score_adj); /* not asked for */
        snapshot_clear(&snap);

        /* g0's KSM figure and g3's RSS change: the RSS shows at once, the
         * KSM figure in g0's next turn (tick 4). */
        put_ksm(dir, 5000, 99);
        put(dir, "proc/5003/statm", "1000 200 0 0 0 0 0\n");
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap)); /* tick 2: g2, g3 */
        CHECK_U64(guest(&snap, "g3")->rss_bytes, 200 * 4096);
        CHECK_U64(ksm_pages(&snap, "g2"), 12);
        CHECK_U64(ksm_pages(&snap, "g0"), 10); /* kept */
        CHECK(!guest(&snap, "g4")->has_ksm);
        snapshot_clear(&snap);
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap)); /* tick 3: g4 */
        CHECK_U64(ksm_pages(&snap, "g4"), 14);
        CHECK_U64(ksm_pages(&snap, "g0"), 10);
        snapshot_clear(&snap);
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap)); /* tick 4: g0, g1 again */
        CHECK_U64(ksm_pages(&snap, "g0"), 99);
        snapshot_clear(&snap);

        /* g2 restarted (a new domain id, a new qemu): its pid file is read
         * at once, not in its turn. */
        put(dir, "run/libvirt/qemu/g2.pid", "6002\n");
        put(dir, "proc/6002/statm", "1000 300 0 0 0 0 0\n");
        d[2].id = 42;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK(guest(&snap, "g2")->pid == 6002);
        CHECK_U64(guest(&snap, "g2")->rss_bytes, 300 * 4096);
        snapshot_clear(&snap);

        /* The table shrinks below slow_per_tick: every guest every tick. */
        t.n = 2;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.slow_reads_every_ticks, 1);
        CHECK_U64(snap.n_guests, 2);
        snapshot_clear(&snap);

        sampler_free(s);
        test_rm_rf(dir);
}

/* On the real /proc the statm held open between ticks says when the
 * process is gone: a guest whose qemu exited is left out on the next tick,
 * though its pid file is still there. limited: RLIMIT_NOFILE leaves the
 * sampler no descriptor to hold, so statm is opened each tick: the same. */
/* This process's descriptors open on a statm file. */
static size_t statm_fds_open(void) {
        DIR *dir = opendir("/proc/self/fd");
        CHECK(dir);
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(dir))) {
                char link[300], target[PATH_MAX];
                snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
                ssize_t k = readlink(link, target, sizeof(target) - 1);
                if (k > 6 && (target[k] = '\0', strcmp(target + k - 6, "/statm") == 0))
                        n++;
        }
        closedir(dir);
        return n;
}

static void held_statm_gone(bool limited) {
        struct rlimit saved;
        CHECK_OK(getrlimit(RLIMIT_NOFILE, &saved));
        if (limited) {
                struct rlimit low = { .rlim_cur = SAMPLE_FDS_KEPT_FREE, .rlim_max = saved.rlim_max };
                CHECK_OK(setrlimit(RLIMIT_NOFILE, &low));
        }
        char *dir = test_mkdtemp();
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        char text[32];
        snprintf(text, sizeof(text), "%d\n", (int) child);
        put(dir, "run/g.pid", text);
        char run[PATH_MAX];
        path_below(run, sizeof(run), dir, "run");
        Roots roots = roots_default;
        roots.libvirt_run = run;
        Sampler *s = NULL;
        CHECK_OK(sampler_new(&roots, &s));
        CHECK_OK(setrlimit(RLIMIT_NOFILE, &saved));
        VirtDomainStats d[1] = { domain("g", "00000000-0000-0000-0000-0000000000a1", 1) };
        with_balloon(&d[0], 1024, 1024, 512, 1);
        d[0].fetched_usec = UINT64_MAX;
        GuestTable t = { .domains = d, .n = 1, .connected = true };

        Snapshot snap;
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 1);
        CHECK(snap.guests[0].pid == child && snap.guests[0].has_rss && snap.guests[0].rss_bytes > 0);
        snapshot_clear(&snap);
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 1);
        CHECK(snap.guests[0].has_rss);
        snapshot_clear(&snap);
        CHECK_U64(statm_fds_open(), limited ? 0 : 1);

        CHECK_OK(kill(child, SIGKILL));
        CHECK(waitpid(child, NULL, 0) == child);
        CHECK_OK(sampler_tick(s, &t, HOUR_USEC, &snap));
        CHECK_U64(snap.n_guests, 0);
        snapshot_clear(&snap);
        CHECK_U64(statm_fds_open(), 0);

        sampler_free(s);
        test_rm_rf(dir);
}

static void test_tick_held_statm_gone(void) {
        held_statm_gone(false);
}

static void test_tick_statm_not_held(void) {
        held_statm_gone(true);
}

int main(int argc, char **argv) {
        test_fixtures(argc, argv);
        RUN(test_host_v2);
        RUN(test_host_v1);
        RUN(test_host_minimal);
        RUN(test_host_unreadable);
        RUN(test_host_default_page_size);
        RUN(test_statm_parse);
        RUN(test_guest_pid_and_rss);
        RUN(test_tick_literal);
        RUN(test_tick_stale_last_update);
        RUN(test_tick_stale_hypervisor_age);
        RUN(test_tick_via_refresher);
        RUN(test_tick_v1);
        RUN(test_tick_hung_hypervisor);
        RUN(test_tick_facts);
        RUN(test_arm64_page_sizes);
        RUN(test_tick_wrong_run_dir);
        RUN(test_tick_unreadable_keeps_staleness);
        RUN(test_tick_sample_error_new);
        RUN(test_tick_cgroup_retry);
        RUN(test_tick_cgroup_not_guest);
        RUN(test_slow_every);
        RUN(test_tick_slow_reads_in_turns);
        RUN(test_tick_held_statm_gone);
        RUN(test_tick_statm_not_held);
        return 0;
}
