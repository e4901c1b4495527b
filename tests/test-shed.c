/* Unit tests of shed.c on literal hosts, guests and books. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "density/plan.h"
#include "density/shed.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

static HostSample host(uint64_t total, uint64_t available) {
        HostSample h = { .page_size_bytes = 4096 };
        h.mem.mem_total_bytes = total;
        h.mem.mem_available_bytes = available;
        return h;
}

static void test_pressure(void) {
        Policy p;
        policy_defaults(&p);
        ShedPressure x;

        /* 10 GiB host: shed below 5% (512 MiB), restore from 20% (2 GiB). */
        HostSample h = host(10 * GIB, 400 * MIB);
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "short");
        CHECK_CONTAINS(x.reason, "MemAvailable 400 MiB is below MemAvailableBelow= (512 MiB)");
        CHECK_U64(x.shed_below_bytes, 512 * MIB);
        CHECK_U64(x.restore_above_bytes, 2048 * MIB);

        /* On ZFS the ARC above its minimum is memory the host can hand out,
         * though MemAvailable does not count it; at its minimum, none. */
        h.mem.has_zfs_arc = true;
        h.mem.zfs_arc_bytes = 2 * GIB;
        h.mem.zfs_arc_min_bytes = 512 * MIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "tight");
        CHECK_U64(x.mem_available_bytes, 400 * MIB + 1536 * MIB);
        CHECK_U64(shed_headroom_bytes(&h, &p.shed), 1424 * MIB);
        h.mem.zfs_arc_bytes = 512 * MIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "short");
        CHECK_CONTAINS(x.reason, "MemAvailable (with the ZFS ARC above its minimum) 400 MiB is below");
        h.mem.has_zfs_arc = false;

        /* Between the thresholds: neither shed nor restore (hysteresis). */
        h.mem.mem_available_bytes = 1 * GIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "tight");
        h.mem.mem_available_bytes = 2 * GIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "roomy");

        /* The VMs' cgroup near its limit is short whatever the host has. */
        h.cgroup.version = 2;
        h.cgroup.has_limit = true;
        h.cgroup.limit_bytes = 1536 * MIB;
        h.cgroup.usage_bytes = 1500 * MIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "short");
        CHECK_CONTAINS(x.reason, "97.7% of its 1536 MiB limit, above CgroupUsageAbove=95%");
        /* Under CgroupUsageAbove= but over CgroupRestoreBelow=: tight. */
        h.cgroup.usage_bytes = 1300 * MIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "tight");
        h.cgroup.usage_bytes = 1000 * MIB;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "roomy");

        /* Thrashing without a kill: memory full stalls shed too, and keep
         * a restore away until they are under half the threshold. */
        h.psi.has_full = true;
        h.psi.full.avg10 = 12.5;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "short");
        CHECK_CONTAINS(x.reason, "full stalls at 12.5% (avg10), above PsiFullAbove=10%");
        h.psi.full.avg10 = 7;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "tight");
        h.psi.full.avg10 = 4;
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "roomy");

        /* Sizes in bytes; and no data is never a reason to act. */
        p.shed.mem_available_below = (PolicySize) { .bytes = 3 * GIB };
        p.shed.restore_above = (PolicySize) { .bytes = 5 * GIB };
        shed_pressure(&h, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "short");
        HostSample none = {};
        shed_pressure(&none, &p.shed, &x);
        CHECK_STR(shed_level_name(x.level), "unknown");
}

typedef struct World {
        Policy p;
        Snapshot s;
        GuestSample guests[8];
} World;

static GuestSample *guest(World *w, const char *name, const char *class_name, uint64_t rss, uint64_t merged) {
        GuestSample *g = &w->guests[w->s.n_guests++];
        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", name);
        snprintf(g->uuid, sizeof(g->uuid), "uuid-%s", name);
        snprintf(g->class_name, sizeof(g->class_name), "%s", class_name);
        g->has_rss = true;
        g->rss_bytes = rss;
        g->has_ksm = merged > 0;
        g->ksm_merging_bytes = merged;
        g->facts.known = true;
        g->facts.persistent = true;
        w->s.guests = w->guests;
        return g;
}

static void world_init(World *w) {
        memset(w, 0, sizeof(*w));
        PolicyErrors e = {};
        CHECK_OK(policy_parse("[Class batch]\nMatch=batch-*\nPriority=10\n"
                              "[Class scratch]\nMatch=scratch-*\nPriority=10\nShed=destroy\n"
                              "[Class db]\nMatch=db-*\nPriority=90\nShed=never\n",
                              "t.conf", &w->p, &e));
        policy_errors_clear(&e);
}

static void test_rank(void) {
        World w;
        world_init(&w);
        guest(&w, "web-1", "default", 600 * MIB, 0);
        guest(&w, "batch-1", "batch", 300 * MIB, 0);
        /* Bigger, but KSM merged most of it: shedding it frees less. */
        guest(&w, "batch-2", "batch", 500 * MIB, 350 * MIB);
        guest(&w, "db-1", "db", 900 * MIB, 0);
        guest(&w, "scratch-1", "scratch", 300 * MIB, 0);
        GuestSample *t = guest(&w, "batch-3", "batch", 800 * MIB, 0);
        t->facts.persistent = false;  /* transient: no managed save */
        GuestSample *busy = guest(&w, "web-2", "default", 700 * MIB, 0);
        busy->actions_in_flight = 1u << ACTION_SAVE;

        CHECK_U64(shed_frees_bytes(&w.guests[2]), 150 * MIB);
        /* Its own cgroup's charge, where known, rather than RSS (which
         * counts qemu's shared binary and libraries too). */
        GuestSample charged = w.guests[1];
        charged.n_nodes = 2;
        charged.nodes[0] = (GuestNodeBytes) { .node = 0, .bytes = 200 * MIB };
        charged.nodes[1] = (GuestNodeBytes) { .node = 1, .bytes = 50 * MIB };
        CHECK_U64(shed_guest_bytes(&charged), 250 * MIB);
        CHECK_U64(shed_guest_bytes(&w.guests[1]), 300 * MIB);
        CHECK(shed_refusal(&w.guests[3], &w.p) != NULL);
        CHECK_CONTAINS(shed_refusal(&w.guests[3], &w.p), "Shed=never");
        CHECK_CONTAINS(shed_refusal(t, &w.p), "transient");
        CHECK_CONTAINS(shed_refusal(busy, &w.p), "under way");
        CHECK(shed_refusal(&w.guests[4], &w.p) == NULL); /* destroy needs no definition */

        size_t order[8];
        size_t n = shed_rank(&w.s, &w.p, order, 8);
        CHECK_U64(n, 4);
        /* Priority 10 first: the most freed, then the tie broken by name. */
        CHECK_STR(w.guests[order[0]].name, "batch-1");
        CHECK_STR(w.guests[order[1]].name, "scratch-1");
        CHECK_STR(w.guests[order[2]].name, "batch-2");
        CHECK_STR(w.guests[order[3]].name, "web-1");
        /* A short order[] still counts them all. */
        CHECK_U64(shed_rank(&w.s, &w.p, order, 1), 4);
        CHECK_STR(w.guests[order[0]].name, "batch-1");

        /* Unknown facts or RSS: never a victim on no data. */
        w.guests[0].facts.known = false;
        w.guests[1].has_rss = false;
        CHECK_U64(shed_rank(&w.s, &w.p, order, 8), 2);
}

static ShedEntry entry(const char *name, unsigned priority, uint64_t bytes, uint64_t since_sec, ShedStage stage) {
        ShedEntry e = { .priority = priority, .action = SHED_SAVE, .stage = stage, .bytes = bytes,
                        .since_usec = since_sec * 1000000 };
        snprintf(e.uuid, sizeof(e.uuid), "uuid-%s", name);
        snprintf(e.name, sizeof(e.name), "%s", name);
        snprintf(e.class_name, sizeof(e.class_name), "default");
        snprintf(e.reason, sizeof(e.reason), "MemAvailable below \"5%%\" / test");
        return e;
}

static void test_restore_order(void) {
        Policy p;
        policy_defaults(&p);
        ShedBook b = {};
        size_t i = 99;
        HostSample h = host(10 * GIB, 3 * GIB);
        CHECK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i) == -ENOENT);

        ShedEntry e1 = entry("low-old", 10, 300 * MIB, 100, SHED_STAGE_SHED);
        ShedEntry e2 = entry("high-new", 80, 1500 * MIB, 300, SHED_STAGE_SHED);
        ShedEntry e3 = entry("high-old", 80, 500 * MIB, 200, SHED_STAGE_SHED);
        ShedEntry e4 = entry("saving", 90, 100 * MIB, 400, SHED_STAGE_SHEDDING);
        CHECK_OK(shed_book_put(&b, &e1));
        CHECK_OK(shed_book_put(&b, &e2));
        CHECK_OK(shed_book_put(&b, &e3));
        CHECK_OK(shed_book_put(&b, &e4));

        /* Highest priority first, then the earliest shed; a save still
         * running is not restored. 3 GiB - 500 MiB >= 2 GiB: it fits. */
        CHECK_OK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i));
        CHECK_STR(b.entries[i].name, "high-old");
        CHECK_OK(shed_book_remove(&b, "uuid-high-old"));
        /* 3 GiB - 1.5 GiB < 2 GiB: it waits, and holds back the small one. */
        CHECK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i) == -ENOSPC);
        CHECK_STR(b.entries[i].name, "high-new");
        h.mem.mem_available_bytes = 4 * GIB;
        CHECK_OK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i));
        CHECK_STR(b.entries[i].name, "high-new");
        /* The VMs' cgroup must have room too: 1000 + 1500 MiB over 80% of 2.5 GiB. */
        h.cgroup.version = 1;
        h.cgroup.has_limit = true;
        h.cgroup.limit_bytes = 2560 * MIB;
        h.cgroup.usage_bytes = 1000 * MIB;
        CHECK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i) == -ENOSPC);
        h.cgroup.usage_bytes = 500 * MIB;
        CHECK_OK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i));
        /* One at a time: while one restores, none other. */
        b.entries[i].stage = SHED_STAGE_RESTORING;
        CHECK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i) == -EBUSY);
        HostSample none = {};
        CHECK(shed_pick_restore(&none, &p.shed, &b, 1000000000, &i) == -ENODATA);
        /* A guest in its back-off after a failed restore holds back none:
         * the next one comes. */
        b.entries[i].stage = SHED_STAGE_SHED;
        b.entries[i].failures = 1;
        b.entries[i].stage_usec = 1000000000 - 30 * 1000000ULL; /* 30 s of its 60 s */
        size_t failed = i;
        h.mem.mem_available_bytes = 8 * GIB;
        CHECK_OK(shed_pick_restore(&h, &p.shed, &b, 1000000000, &i));
        CHECK(i != failed);
        CHECK_STR(b.entries[i].name, "low-old");
        /* Its back-off over, it is first again. */
        CHECK_OK(shed_pick_restore(&h, &p.shed, &b, 1000000000 + 31 * 1000000ULL, &i));
        CHECK(i == failed);
        CHECK_U64(shed_restore_backoff_usec(1), 60 * 1000000ULL);
        CHECK_U64(shed_restore_backoff_usec(3), 240 * 1000000ULL);
        CHECK_U64(shed_restore_backoff_usec(50), 1800 * 1000000ULL);
        CHECK(shed_book_remove(&b, "uuid-nobody") == -ENOENT);
        shed_book_clear(&b);
}

static bool entry_equal(const ShedEntry *a, const ShedEntry *b) {
        return strcmp(a->uuid, b->uuid) == 0 && strcmp(a->name, b->name) == 0 &&
               strcmp(a->class_name, b->class_name) == 0 && a->priority == b->priority && a->action == b->action &&
               a->stage == b->stage && a->bytes == b->bytes && a->since_usec == b->since_usec &&
               a->stage_usec == b->stage_usec && a->failures == b->failures && a->by_hand == b->by_hand &&
               strcmp(a->reason, b->reason) == 0;
}

static void test_book_round_trip(void) {
        ShedBook b = {}, back = {};
        char err[256] = "";
        for (int k = 0; k < 40; k++) {
                char name[32];
                snprintf(name, sizeof(name), "vm-%d", k);
                ShedEntry e = entry(name, (unsigned) k % 101, (uint64_t) k * MIB, 1700000000 + (uint64_t) k,
                                    (ShedStage) (k % _SHED_STAGE_MAX));
                e.action = k % 2 ? SHED_DESTROY : SHED_SAVE;
                e.stage_usec = e.since_usec + (uint64_t) k;
                e.failures = (unsigned) k % 3;
                e.by_hand = k % 5 == 0;
                CHECK_OK(shed_book_put(&b, &e));
        }
        /* Put with a known UUID replaces. */
        ShedEntry again = b.entries[3];
        again.bytes = 12345;
        CHECK_OK(shed_book_put(&b, &again));
        CHECK_U64(b.n, 40);

        char dir[] = "/tmp/density-test-shed.XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        CHECK(shed_book_load(dir, &back, err, sizeof(err)) == -ENOENT);
        CHECK_OK(shed_book_store(dir, &b));
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, SHED_BOOK_FILE);
        struct stat st;
        CHECK_OK(stat(path, &st));
        CHECK((st.st_mode & 0777) == 0600);
        CHECK_OK(shed_book_load(dir, &back, err, sizeof(err)));
        CHECK_U64(back.n, b.n);
        for (size_t i = 0; i < b.n; i++)
                CHECK(entry_equal(&back.entries[i], &b.entries[i]));
        CHECK_U64(shed_book_find(&back, "uuid-vm-3")->bytes, 12345);
        shed_book_clear(&back);

        /* A broken file is refused whole, with the file and the field. */
        const char *bad = "{\"version\":1,\"guests\":[{\"uuid\":\"u\",\"name\":\"n\",\"class\":\"c\",\"priority\":5,"
                          "\"action\":\"save\",\"stage\":\"gone\",\"bytes\":1,\"since_usec\":2}]}";
        CHECK_OK(write_file_durable(path, bad, strlen(bad), 0600));
        CHECK(shed_book_load(dir, &back, err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "shed.json: guests[0].stage: unknown stage 'gone'");
        CHECK_U64(back.n, 0);
        unlink(path);
        rmdir(dir);

        static const struct {
                const char *text, *why;
        } cases[] = {
                { "", "not JSON" },
                { "{\"version\":1,\"guests\":[", "not JSON" },
                { "{\"version\":2,\"guests\":[]}", "version: not 1" },
                { "{\"version\":1}", "guests: missing" },
                { "{\"version\":1,\"guests\":[3]}", "guests[0]: not an object" },
                { "{\"version\":1,\"guests\":[{\"uuid\":\"u\"}]}", "guests[0].name: missing" },
                { "{\"version\":1,\"guests\":[{\"uuid\":\"u\",\"name\":\"n\",\"class\":\"c\",\"priority\":101}]}",
                  "guests[0].priority: 101 is out of range 0..100" },
                { "{\"version\":1,\"guests\":[{\"uuid\":\"u\",\"name\":\"n\",\"class\":\"c\",\"priority\":1,"
                  "\"action\":\"never\"}]}",
                  "guests[0].action: 'never' is not save or destroy" },
                { "{\"version\":1,\"guests\":[{\"uuid\":\"u\",\"name\":\"n\",\"class\":\"c\",\"priority\":1,"
                  "\"action\":\"save\",\"stage\":\"shed\",\"bytes\":-1,\"since_usec\":0}]}",
                  "guests[0].bytes: -1 is out of range" },
        };
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                err[0] = '\0';
                CHECK(shed_book_parse(cases[k].text, &back, err, sizeof(err)) == -EINVAL);
                CHECK_CONTAINS(err, cases[k].why);
        }
        /* The same guest twice is refused. */
        const char *dup = "{\"version\":1,\"guests\":["
                          "{\"uuid\":\"u\",\"name\":\"n\",\"class\":\"c\",\"priority\":1,\"action\":\"save\","
                          "\"stage\":\"shed\",\"bytes\":1,\"since_usec\":0},"
                          "{\"uuid\":\"u\",\"name\":\"n\",\"class\":\"c\",\"priority\":1,\"action\":\"save\","
                          "\"stage\":\"shed\",\"bytes\":1,\"since_usec\":0}]}";
        CHECK(shed_book_parse(dup, &back, err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "guests[1].uuid: u is listed twice");
        CHECK_U64(back.n, 0);
        shed_book_clear(&b);
}

static void test_headroom_and_interval(void) {
        Policy p;
        policy_defaults(&p);
        /* 10 GiB: 512 MiB is the edge; 1.5 GiB available leaves 1 GiB. */
        HostSample h = host(10 * GIB, 1536 * MIB);
        CHECK_U64(shed_headroom_bytes(&h, &p.shed), 1 * GIB);
        /* The cgroup nearer its edge (95% of 2000 MiB = 1900 MiB). */
        h.cgroup.version = 2;
        h.cgroup.has_limit = true;
        h.cgroup.limit_bytes = 2000 * MIB;
        h.cgroup.usage_bytes = 1800 * MIB;
        CHECK_U64(shed_headroom_bytes(&h, &p.shed), 100 * MIB);
        h.cgroup.usage_bytes = 1950 * MIB;
        CHECK_U64(shed_headroom_bytes(&h, &p.shed), 0);
        h.mem.mem_available_bytes = 100 * MIB;
        h.cgroup.version = 0;
        CHECK_U64(shed_headroom_bytes(&h, &p.shed), 0);

        /* 1 GiB of headroom filling at 100 MiB/s: look again in 5 s, at
         * most the tick; 10 MiB left at that rate: the 100 ms floor. */
        CHECK_U64(shed_check_interval_usec(1 * GIB, 100.0 * MIB, 5000000), 5000000);
        CHECK_U64(shed_check_interval_usec(1 * GIB, 100.0 * MIB, 2000000), 2000000);
        CHECK_U64(shed_check_interval_usec(200 * MIB, 100.0 * MIB, 5000000), 1000000);
        CHECK_U64(shed_check_interval_usec(10 * MIB, 100.0 * MIB, 5000000), SHED_CHECK_MIN_USEC);
        CHECK_U64(shed_check_interval_usec(0, 0, 5000000), 5000000);
        CHECK_U64(shed_check_interval_usec(1 * GIB, -50.0 * MIB, 5000000), 5000000);

        /* A save needs its RSS, 5% and 64 MiB where saves go. */
        GuestSample g = { .has_rss = true, .rss_bytes = 1000 * MIB };
        CHECK(shed_save_fits(&h, &g, SHED_SAVE)); /* unknown: the save fails cleanly if it must */
        h.has_save_free = true;
        h.save_free_bytes = 1100 * MIB;
        CHECK(!shed_save_fits(&h, &g, SHED_SAVE));
        CHECK(shed_save_fits(&h, &g, SHED_DESTROY));
        h.save_free_bytes = 1114 * MIB;
        CHECK(shed_save_fits(&h, &g, SHED_SAVE));
}

int main(void) {
        RUN(test_pressure);
        RUN(test_rank);
        RUN(test_restore_order);
        RUN(test_book_round_trip);
        RUN(test_headroom_and_interval);
        return 0;
}
