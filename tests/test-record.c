/* test-record: a tick's line written and read back (every kind of field,
 * exactly), the errors a bad line gives, the recorder's cap and rotation,
 * and record_read() over a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "density/record.h"
#include "density/util.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1024) * 1024)

/* A snapshot with a value in every kind of field: nested objects, fixed
 * arrays, the guest list, negative numbers, fractions, long strings. */
static void make_snapshot(Snapshot *s) {
        *s = (Snapshot) { .timestamp_usec = UINT64_C(1796686779176490), .sample_duration_usec = 483,
                          .hypervisor_connected = true, .hypervisor_round_running_usec = 12 };
        strscpy(s->hypervisor_error, sizeof(s->hypervisor_error), "a \"quoted\" error\twith a tab / slash");
        HostSample *h = &s->host;
        h->page_size_bytes = 65536;
        h->errors.numa = -EACCES;
        h->mem = (MeminfoSample) { .mem_total_bytes = 16 * 1024 * MIB, .mem_available_bytes = 9 * 1024 * MIB,
                                   .has_oom_kill = true, .oom_kill_total = 7, .has_zfs_arc = true,
                                   .zfs_arc_bytes = UINT64_MAX };
        h->psi = (PsiSample) { .has_some = true, .has_full = true, .some = { 0.1, 1.0 / 3.0, 12.5, 5000 },
                               .full = { 99.99, 0, 1e-9, 1 } };
        h->cgroup = (CgroupSample) { .version = 1, .has_limit = true, .limit_bytes = 1536 * MIB,
                                     .usage_bytes = 1400 * MIB };
        strscpy(h->cgroup.path, sizeof(h->cgroup.path), "memory/machine");
        h->ksm.present = true;
        h->ksm.n_values = 3;
        h->ksm.values[0] = (KsmValue) { .name = "pages_sharing", .numeric = true, .value = 5000 };
        h->ksm.values[1] = (KsmValue) { .name = "general_profit", .numeric = true, .value = -8192 };
        h->ksm.values[2] = (KsmValue) { .name = "advisor_mode", .text = "scan-time" };
        h->ksm.has_ksmd_cpu_percent = true;
        h->ksm.ksmd_cpu_percent = 27.25;
        h->numa.n_nodes = 2;
        h->numa.nodes[0] = (NumaNode) { .id = 0, .mem_total_bytes = 8 * 1024 * MIB, .cpulist = "0-1",
                                        .n_distances = 2, .distance = { 10, 21 } };
        h->numa.nodes[1] = (NumaNode) { .id = 3, .mem_free_bytes = 1, .cpulist = "2-3", .n_distances = 2,
                                        .distance = { 21, 10 } };
        h->has_save_free = true;
        h->save_free_bytes = 84187176960;

        s->n_guests = 2;
        s->guests = calloc(2, sizeof(GuestSample));
        CHECK(s->guests);
        GuestSample *g = &s->guests[0];
        memset(g->name, 'x', sizeof(g->name) - 1); /* the longest name there can be */
        strscpy(g->uuid, sizeof(g->uuid), "00000000-0000-0000-0000-00000000000a");
        g->id = 1;
        g->pid = 1001;
        g->has_rss = true;
        g->rss_bytes = 300 * MIB;
        g->has_oom_score_adj = true;
        g->oom_score_adj = -500;
        g->has_balloon = true;
        g->balloon_actual_bytes = 256 * MIB;
        g->balloon_maximum_bytes = 256 * MIB;
        g->has_usable = true;
        g->usable_bytes = 150 * MIB;
        g->balloon_last_update = -1;
        g->has_ksm_profit = true;
        g->ksm_profit_bytes = -4096;
        g->n_nodes = 1;
        g->nodes[0] = (GuestNodeBytes) { .node = 3, .bytes = 100 * MIB };
        g->facts = (DomainFacts) { .known = true, .persistent = true, .has_balloon = true, .balloon_model = "virtio",
                                   .balloon_period_sec = 2, .vcpus = 4, .vcpu_cpuset = "0-3",
                                   .numatune = true, .numatune_mode = "strict", .numatune_nodeset = "0",
                                   .max_memory_bytes = 256 * MIB, .metadata_class = "batch" };
        strscpy(g->class_name, sizeof(g->class_name), "batch");
        g->class_source = CLASS_SOURCE_METADATA;
        g->actions_in_flight = 1u << ACTION_SAVE;
        g = &s->guests[1];
        strscpy(g->name, sizeof(g->name), "dtest-2 ünïcode");
        strscpy(g->uuid, sizeof(g->uuid), "00000000-0000-0000-0000-00000000000b");
        g->stale = true;
        strscpy(g->sample_error, sizeof(g->sample_error), "cannot read /run/libvirt/qemu/b.pid: Permission denied");
        strscpy(g->facts.error, sizeof(g->facts.error), "no <memory>");
}

static void make_plan(const Snapshot *s, Plan *p) {
        *p = (Plan) {};
        Action a = action_balloon("balloon", &s->guests[0], 200 * MIB, "shrink: %d%% used", 88);
        CHECK_OK(plan_add(p, &a));
        a = action_ksm_knob("ksm", "pages_to_scan", "1234", "boost");
        CHECK_OK(plan_add(p, &a));
        a = action_pin_vcpu("numa", &s->guests[0], 3, "0-1", "placed");
        CHECK_OK(plan_add(p, &a));
        a = action_oom_score_adj("oom", &s->guests[0], -900, "class");
        CHECK_OK(plan_add(p, &a));
}

static void test_round_trip(void) {
        Snapshot s;
        Plan p;
        make_snapshot(&s);
        make_plan(&s, &p);
        char *line = NULL;
        size_t len = 0;
        CHECK_OK(record_format(42, 100, &s, &p, &line, &len));
        CHECK_U64(len, strlen(line));
        CHECK(line[len - 1] == '\n');
        CHECK(!memchr(line, '\n', len - 1)); /* one line */
        CHECK_NOT_CONTAINS(line, "\"has_available\""); /* zero fields are left out */

        RecordTick t;
        char err[512] = "";
        int r = record_parse(line, &t, err, sizeof(err));
        if (r != 0)
                TEST_FAIL("record_parse: %s", err);
        CHECK_U64(t.tick, 42);
        CHECK_U64(t.first_action_id, 100);
        CHECK_CONTAINS(line, "\"id\":103}]"); /* the fourth action */
        /* Every field back exactly: the same line again. */
        char *again = NULL;
        CHECK_OK(record_format(t.tick, t.first_action_id, &t.snap, &t.plan, &again, NULL));
        CHECK_STR(again, line);
        /* A few fields by hand, the tricky ones. */
        CHECK(t.snap.host.psi.some.avg60 == 1.0 / 3.0);
        CHECK(t.snap.host.psi.full.avg300 == 1e-9);
        CHECK_U64(t.snap.host.mem.zfs_arc_bytes, UINT64_MAX);
        CHECK_I64(t.snap.host.errors.numa, -EACCES);
        CHECK_I64(t.snap.host.ksm.values[1].value, -8192);
        CHECK_STR(t.snap.host.ksm.values[2].text, "scan-time");
        CHECK_U64(t.snap.host.numa.nodes[1].distance[0], 21);
        CHECK_U64(t.snap.n_guests, 2);
        CHECK_U64(strlen(t.snap.guests[0].name), DENSITY_NAME_MAX - 1);
        CHECK_I64(t.snap.guests[0].oom_score_adj, -500);
        CHECK_I64(t.snap.guests[0].balloon_last_update, -1);
        CHECK_U64(t.snap.guests[0].actions_in_flight, 1u << ACTION_SAVE);
        CHECK(t.snap.guests[0].class_source == CLASS_SOURCE_METADATA);
        CHECK_STR(t.snap.guests[1].name, "dtest-2 ünïcode");
        CHECK_STR(t.snap.hypervisor_error, s.hypervisor_error);
        CHECK_U64(t.plan.n, 4);
        CHECK(t.plan.actions[0].kind == ACTION_BALLOON);
        CHECK_U64(t.plan.actions[0].bytes, 200 * MIB);
        CHECK_STR(t.plan.actions[0].reason, "shrink: 88% used");
        CHECK(t.plan.actions[2].kind == ACTION_PIN_VCPU);
        CHECK_U64(t.plan.actions[2].vcpu, 3);
        CHECK_I64(t.plan.actions[3].pid, 1001);
        CHECK_STR(t.plan.actions[3].value, "-900");

        /* An empty snapshot and no plan: a short line that reads back. */
        Snapshot empty = {};
        char *short_line = NULL;
        CHECK_OK(record_format(1, 0, &empty, NULL, &short_line, NULL));
        CHECK_STR(short_line, "{\"version\":1,\"tick\":1,\"snapshot\":{},\"actions\":[]}\n");
        RecordTick e;
        CHECK_OK(record_parse(short_line, &e, err, sizeof(err)));
        CHECK_U64(e.snap.n_guests, 0);
        CHECK(e.snap.guests == NULL);
        record_tick_clear(&e);

        free(short_line);
        free(again);
        free(line);
        record_tick_clear(&t);
        record_tick_clear(NULL);
        plan_clear(&p);
        snapshot_clear(&s);
}

/* Each bad line: -EINVAL, the tick untouched, and err naming the place. */
static void parse_bad(const char *line, const char *expect) {
        RecordTick t;
        POISON(t);
        RecordTick before = t;
        char err[512] = "";
        int r = record_parse(line, &t, err, sizeof(err));
        if (r != -EINVAL)
                TEST_FAIL("record_parse(%s) returned %d, expected -EINVAL", line, r);
        CHECK(memcmp(&t, &before, sizeof(t)) == 0);
        CHECK_CONTAINS(err, expect);
}

static void test_parse_errors(void) {
        parse_bad("", "not JSON");
        parse_bad("{\"version\":1,\"snapshot\":{}", "not JSON");
        parse_bad("[1]", "not a JSON object");
        parse_bad("{\"version\":1,\"snapshot\":{}} x", "text after the JSON object");
        parse_bad("{\"version\":2,\"snapshot\":{}}", "version: not 1");
        parse_bad("{\"snapshot\":{}}", "version: not 1");
        parse_bad("{\"version\":1}", "snapshot: missing");
        parse_bad("{\"version\":1,\"snapshot\":{},\"extra\":1}", "extra: unknown field");
        parse_bad("{\"version\":1,\"tick\":-1,\"snapshot\":{}}", "tick: not a number");
        parse_bad("{\"version\":1,\"snapshot\":{\"host\":{\"mem\":{\"mem_total_bytes\":-5}}}}",
                  "snapshot.host.mem.mem_total_bytes: not a number 0..18446744073709551615");
        parse_bad("{\"version\":1,\"snapshot\":{\"host\":{\"mem\":{\"mem_total_bytes\":\"5\"}}}}",
                  "snapshot.host.mem.mem_total_bytes: not a number");
        parse_bad("{\"version\":1,\"snapshot\":{\"host\":{\"psi\":{\"some\":{\"avg10\":true}}}}}",
                  "snapshot.host.psi.some.avg10: not a number");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[{},{\"nmae\":\"a\"}]}}",
                  "snapshot.guests[1].nmae: unknown field");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[{\"uuid\":\"00000000-0000-0000-0000-00000000000a-too-long\"}]}}",
                  "snapshot.guests[0].uuid: longer than 36 characters");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[{\"name\":\"a\\u0000b\"}]}}", "with a NUL");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[{\"oom_score_adj\":1001}]}}",
                  "snapshot.guests[0].oom_score_adj: not an integer -1000..1000");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[{\"class_source\":4}]}}", "class_source: not an integer 0..3");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[{\"has_rss\":1}]}}", "has_rss: not true or false");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":{}}}", "snapshot.guests: not an array");
        parse_bad("{\"version\":1,\"snapshot\":{\"guests\":[5]}}", "snapshot.guests[0]: not an object");
        parse_bad("{\"version\":1,\"snapshot\":{\"host\":{\"numa\":{\"nodes\":[{\"distance\":[10,70000]}]}}}}",
                  "snapshot.host.numa.nodes[0].distance[1]: not a number 0..65535");
        char many[4096] = "{\"version\":1,\"snapshot\":{\"host\":{\"ksm\":{\"values\":[";
        for (int i = 0; i <= DENSITY_KSM_MAX; i++)
                strcat(many, i ? ",{}" : "{}");
        strcat(many, "]}}}}");
        parse_bad(many, "snapshot.host.ksm.values: more than 40 entries");
        parse_bad("{\"version\":1,\"snapshot\":{},\"actions\":[{\"controller\":\"x\"}]}", "actions[0]: no kind");
        parse_bad("{\"version\":1,\"snapshot\":{},\"actions\":[{\"kind\":\"explode\"}]}",
                  "actions[0].kind: not an action kind");
        parse_bad("{\"version\":1,\"snapshot\":{},\"actions\":{}}", "actions: not an array");
        parse_bad("{\"version\":1,\"snapshot\":{},\"actions\":[{\"kind\":\"save\",\"id\":5},{\"kind\":\"save\",\"id\":7}]}",
                  "actions[1]: id: not a number, or not the one after the last");
        parse_bad("{\"version\":1,\"snapshot\":{},\"actions\":[{\"kind\":\"save\",\"id\":5},{\"kind\":\"save\"}]}",
                  "actions[1]: no id");
        parse_bad("{\"version\":1,\"snapshot\":{},\"actions\":[{\"kind\":\"save\",\"id\":0}]}", "actions[0]: id:");
}

static char *path_in(const char *dir, const char *name) {
        char *p = NULL;
        CHECK(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static uint64_t file_size(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

typedef struct Seen {
        uint64_t ticks[64];
        size_t n;
} Seen;

static int collect(RecordTick *t, void *userdata) {
        Seen *seen = userdata;
        CHECK(seen->n < ELEMENTSOF(seen->ticks));
        seen->ticks[seen->n++] = t->tick;
        record_tick_clear(t);
        return 0;
}

/* The cap holds for both files together; the newest ticks are kept, in
 * order, across the rotation. */
static void test_recorder(void) {
        char *dir = test_mkdtemp();
        char *cur = path_in(dir, RECORD_FILE), *old = path_in(dir, RECORD_FILE_OLD);
        Snapshot s = { .timestamp_usec = 1 };
        char *line = NULL;
        size_t len;
        CHECK_OK(record_format(10, 0, &s, NULL, &line, &len)); /* every tick below has 2 digits: lines alike */
        uint64_t cap = 10 * len + 5; /* half holds 5 lines */
        free(line);

        Recorder *r = NULL;
        CHECK_OK(recorder_new(dir, cap, &r));
        CHECK(recorder_is(r, dir, cap));
        CHECK(!recorder_is(r, dir, cap + 1));
        for (uint64_t tick = 10; tick <= 21; tick++) {
                CHECK_OK(record_format(tick, 0, &s, NULL, &line, &len));
                CHECK_OK(recorder_write(r, line, len));
                free(line);
                CHECK(file_size(cur) + file_size(old) <= cap);
        }
        CHECK_U64(file_size(cur), 2 * len); /* ticks 20, 21 */
        CHECK_U64(file_size(old), 5 * len); /* ticks 15..19 */
        struct stat st;
        CHECK_OK(stat(cur, &st));
        CHECK((st.st_mode & 0777) == 0600);

        /* A line that would eat into the file system's reserve is not
         * written. */
        recorder_set_reserve(r, UINT64_MAX / 2);
        CHECK(recorder_write(r, "x\n", 2) == -ENOSPC);
        CHECK_U64(file_size(cur), 2 * len);
        recorder_set_reserve(r, 0);

        /* A line over half the cap is not written. */
        char big[1024];
        memset(big, 'x', sizeof(big));
        CHECK(recorder_write(r, big, cap / 2 + 1) == -EFBIG);
        CHECK_U64(file_size(cur), 2 * len);
        recorder_free(r);
        recorder_free(NULL);

        /* A restarted daemon appends to what is there. */
        CHECK_OK(recorder_new(dir, cap, &r));
        CHECK_OK(record_format(22, 0, &s, NULL, &line, &len));
        CHECK_OK(recorder_write(r, line, len));
        free(line);
        recorder_free(r);

        Seen seen = {};
        char err[512] = "";
        CHECK_OK(record_read(old, collect, &seen, err, sizeof(err)));
        CHECK_OK(record_read(cur, collect, &seen, err, sizeof(err)));
        CHECK_U64(seen.n, 8);
        for (size_t i = 0; i < seen.n; i++)
                CHECK_U64(seen.ticks[i], 15 + i);

        /* A last line without its newline is being written: not read. */
        FILE *f = fopen(cur, "a");
        CHECK(f);
        fputs("{\"version\":1,\"tick\":23,\"snap", f);
        fclose(f);
        seen.n = 0;
        CHECK_OK(record_read(cur, collect, &seen, err, sizeof(err)));
        CHECK_U64(seen.n, 3);

        /* A bad line in the middle: file and line named. */
        f = fopen(cur, "a");
        CHECK(f);
        fputs("\n\n{\"version\":1,\"tick\":24,\"snapshot\":{\"host\":{\"mem\":{\"mem_total_bytes\":-1}}}}\n", f);
        fclose(f);
        seen.n = 0;
        CHECK(record_read(cur, collect, &seen, err, sizeof(err)) == -EINVAL);
        char *expect = NULL;
        CHECK(asprintf(&expect, "%s:4: not JSON", cur) > 0); /* line 4: the cut line and the newline after it */
        CHECK_CONTAINS(err, expect);
        free(expect);

        /* No file: the path and why. */
        char *none = path_in(dir, "nothing.jsonl");
        CHECK(record_read(none, collect, &seen, err, sizeof(err)) == -ENOENT);
        CHECK_CONTAINS(err, "nothing.jsonl: cannot read: No such file or directory");
        free(none);

        /* record.jsonl removed by hand while open: the next rotation
         * starts a new one. */
        CHECK_OK(unlink(cur));
        CHECK_OK(unlink(old));
        CHECK_OK(recorder_new(dir, cap, &r));
        CHECK_OK(record_format(10, 0, &s, NULL, &line, &len));
        CHECK_OK(recorder_write(r, line, len));
        CHECK_OK(unlink(cur));
        for (int i = 0; i < 5; i++)
                CHECK_OK(recorder_write(r, line, len));
        CHECK_U64(file_size(cur), len);
        CHECK(access(old, F_OK) < 0);
        free(line);
        recorder_free(r);

        /* A missing StateDirectory= is made; one whose parent is missing
         * too is an error, and no crash. */
        char *fresh = path_in(dir, "fresh");
        CHECK_OK(recorder_new(fresh, cap, &r));
        CHECK_OK(record_format(10, 0, &s, NULL, &line, &len));
        CHECK_OK(recorder_write(r, line, len));
        recorder_free(r);
        CHECK_OK(stat(fresh, &st));
        CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
        char *missing = path_in(dir, "gone/deeper");
        CHECK_OK(recorder_new(missing, cap, &r));
        CHECK(recorder_write(r, line, len) == -ENOENT);
        free(line);
        recorder_free(r);
        free(missing);
        free(fresh);

        free(cur);
        free(old);
        test_rm_rf(dir);
}

int main(void) {
        RUN(test_round_trip);
        RUN(test_parse_errors);
        RUN(test_recorder);
        return 0;
}
