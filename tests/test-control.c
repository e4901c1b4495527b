/* Tests for control: request parsing, command table, the status document
 * and densityctl's table, replies, and one call over a real Unix socket. */
#include <limits.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "density/class.h"
#include "density/control.h"
#include "density/plan.h"
#include "density/util.h"
#include "density/view.h"
#include "test-helpers.h"

#define MIB (UINT64_C(1024) * 1024)

static void test_commands(void) {
        CHECK_STR(control_command_name(CONTROL_STATUS), "status");
        CHECK_STR(control_command_name(CONTROL_RELOAD), "reload");
        CHECK(control_command_name(_CONTROL_COMMAND_MAX) == NULL);

        for (int i = 0; i < _CONTROL_COMMAND_MAX; i++) {
                ControlCommand c = _CONTROL_COMMAND_MAX;
                CHECK_OK(control_command_from_name(control_command_name((ControlCommand) i), &c));
                CHECK(c == (ControlCommand) i);
        }
        ControlCommand c = CONTROL_RELOAD;
        CHECK(control_command_from_name("nope", &c) == -EINVAL);
        CHECK(control_command_from_name("", &c) == -EINVAL);
        CHECK(control_command_from_name("STATUS", &c) == -EINVAL);
        CHECK(c == CONTROL_RELOAD);

        CHECK(!control_command_privileged(CONTROL_STATUS)); /* anyone may look */
        CHECK(control_command_privileged(CONTROL_RELOAD));  /* root only */
        CHECK(!control_command_privileged(_CONTROL_COMMAND_MAX));
}

static void parse_bad(const char *req, const char *why) {
        ControlRequest c = { .command = CONTROL_RELOAD, .n = 7 };
        char err[256] = "";
        CHECK(control_request_parse(req, &c, err, sizeof(err)) == -EINVAL);
        CHECK(c.command == CONTROL_RELOAD && c.n == 7); /* untouched */
        CHECK_CONTAINS(err, why);
}

static void test_request_parse(void) {
        ControlRequest c = { .command = _CONTROL_COMMAND_MAX };
        char err[256] = "";
        CHECK_OK(control_request_parse("{\"command\":\"status\"}", &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_STATUS);
        CHECK_OK(control_request_parse("{\"command\":\"reload\"}\n", &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_RELOAD);
        CHECK_OK(control_request_parse(" { \"command\" : \"status\" }\n", &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_STATUS);

        /* log takes arguments; every one is checked. */
        CHECK_OK(control_request_parse("{\"command\":\"log\"}", &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_LOG && c.n == 0 && c.guest[0] == '\0' && c.controller[0] == '\0');
        CHECK_OK(control_request_parse("{\"command\":\"log\",\"guest\":\"dtest-3\",\"controller\":\"balloon\",\"n\":20}",
                                       &c, err, sizeof(err)));
        CHECK_STR(c.guest, "dtest-3");
        CHECK_STR(c.controller, "balloon");
        CHECK_U64(c.n, 20);
        /* shed and restore need a guest, and take nothing else; root only. */
        CHECK_OK(control_request_parse("{\"command\":\"shed\",\"guest\":\"dtest-3\"}", &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_SHED);
        CHECK_STR(c.guest, "dtest-3");
        CHECK_OK(control_request_parse("{\"command\":\"restore\",\"guest\":\"u-1\"}", &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_RESTORE);
        CHECK(control_command_privileged(CONTROL_SHED) && control_command_privileged(CONTROL_RESTORE));
        CHECK(!control_command_privileged(CONTROL_LOG));
        parse_bad("{\"command\":\"shed\"}", "\"shed\" needs \"guest\"");
        parse_bad("{\"command\":\"restore\",\"guest\":\"\"}", "\"restore\" needs \"guest\"");
        parse_bad("{\"command\":\"shed\",\"guest\":\"a\",\"n\":2}", "\"shed\" takes no argument \"n\"");
        char *shed_line = NULL;
        ControlRequest shed = { .command = CONTROL_SHED, .guest = "dtest-3" };
        CHECK_OK(control_request_format(&shed, &shed_line));
        CHECK_STR(shed_line, "{\"command\":\"shed\",\"guest\":\"dtest-3\"}\n");
        free(shed_line);
        parse_bad("{\"command\":\"status\",\"extra\":[1,2]}", "takes no argument \"extra\"");
        parse_bad("{\"command\":\"reload\",\"guest\":\"a\"}", "takes no argument \"guest\"");
        parse_bad("{\"command\":\"log\",\"frob\":1}", "unknown argument \"frob\"");
        parse_bad("{\"command\":\"log\",\"guest\":5}", "\"guest\" must be a string");
        parse_bad("{\"command\":\"log\",\"n\":0}", "\"n\" must be an integer 1..1000");
        parse_bad("{\"command\":\"log\",\"n\":1001}", "\"n\" must be an integer 1..1000");
        parse_bad("{\"command\":\"log\",\"n\":\"5\"}", "\"n\" must be an integer");
        parse_bad("{\"command\":\"log\",\"controller\":\"0123456789abcdefXYZ\"}", "longer than 15 characters");

        /* A request formatted for the wire parses back to itself. */
        ControlRequest out = { .command = CONTROL_LOG, .n = 3 }, back;
        strscpy(out.guest, sizeof(out.guest), "a \"quoted\" name");
        char *line = NULL;
        CHECK_OK(control_request_format(&out, &line));
        CHECK(line[strlen(line) - 1] == '\n');
        CHECK_OK(control_request_parse(line, &back, err, sizeof(err)));
        CHECK(memcmp(&out, &back, sizeof(out)) == 0);
        free(line);

        parse_bad("", "not a JSON object");
        parse_bad("{\"command\":", "not a JSON object");
        parse_bad("status", "not a JSON object");
        parse_bad("[\"status\"]", "not a JSON object");
        parse_bad("\"status\"", "not a JSON object");
        parse_bad("{}", "no \"command\"");
        parse_bad("{\"cmd\":\"status\"}", "no \"command\"");
        parse_bad("{\"command\":5}", "no \"command\"");
        parse_bad("{\"command\":null}", "no \"command\"");
        parse_bad("{\"command\":\"frobnicate\"}", "unknown command \"frobnicate\"");

        /* The reason is cut to the buffer, never overflows it. */
        char small[8];
        CHECK(control_request_parse("{}", &c, small, sizeof(small)) == -EINVAL);
        CHECK(strlen(small) < sizeof(small));
}

static Snapshot *snapshot_literal(void) {
        static GuestSample guests[2];
        static Snapshot s;
        s = (Snapshot) {
                .timestamp_usec = UINT64_C(1700000000000000),
                .sample_duration_usec = 1500,
                .slow_reads_every_ticks = 14,
                .tick_cpu_usec = 2500,
                .textfile_write_usec = 1200,
                .hypervisor_connected = true,
                .host = {
                        .page_size_bytes = 65536,
                        .mem = { .mem_total_bytes = 16384 * MIB, .mem_available_bytes = 8192 * MIB,
                                 .anon_bytes = 4096 * MIB, .swap_total_bytes = 1024 * MIB,
                                 .swap_free_bytes = 512 * MIB },
                        .psi = { .has_some = true, .some = { .avg10 = 1.25, .avg60 = 0.5 } },
                        .cgroup = { .version = 2, .path = "machine.slice", .usage_bytes = 6144 * MIB,
                                    .has_oom_kill = true, .oom_kill_total = 2 },
                        .ksm = { .present = true, .n_values = 2,
                                 .values = { { .name = "pages_sharing", .numeric = true, .value = 5000 },
                                             { .name = "advisor_mode", .text = "none" } } },
                        .numa = { .n_nodes = 1, .nodes = { { .id = 0, .mem_total_bytes = 16384 * MIB,
                                                             .mem_free_bytes = 1024 * MIB, .cpulist = "0-3" } } },
                },
        };
        guests[0] = (GuestSample) {
                .name = "web-\"1\"", .uuid = "00000000-0000-0000-0000-00000000000a", .id = 1, .pid = 1001,
                .has_rss = true, .rss_bytes = 900 * MIB,
                .has_balloon = true, .balloon_actual_bytes = 1024 * MIB, .balloon_maximum_bytes = 2048 * MIB,
                .has_usable = true, .usable_bytes = 512 * MIB,
                .balloon_last_update = 1700000000,
                .has_ksm = true, .ksm_merging_bytes = 300 * MIB,
                .has_ksm_profit = true, .ksm_profit_bytes = -4096,
                .n_nodes = 1, .nodes = { { .node = 0, .bytes = 900 * MIB } },
        };
        guests[1] = (GuestSample) {
                .name = "db-with-a-rather-long-name", .uuid = "00000000-0000-0000-0000-00000000000b", .id = 2,
                .pid = 1002, .has_rss = true, .rss_bytes = 100 * MIB, .stale = true,
        };
        s.guests = guests;
        s.n_guests = 2;
        return &s;
}

static const ControlDaemonInfo info = {
        .version = "0.1.0",
        .pid = 4242,
        .interval_usec = 5 * USEC_PER_SEC,
        .policy_path = "/etc/densityd/policy.conf",
        .libvirt_uri = "qemu:///system",
        .started_usec = UINT64_C(1690000000000000),
        .ticks = 17,
        .hypervisor_round_usec = 2500000,
};

/* o[k] exists; returns it (NULL for a JSON null). */
static json_object *get(json_object *o, const char *k) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, k, &v))
                TEST_FAIL("no key \"%s\" in %s", k, json_object_to_json_string(o));
        return v;
}

static int64_t get_int(json_object *o, const char *k) {
        json_object *v = get(o, k);
        if (!json_object_is_type(v, json_type_int))
                TEST_FAIL("\"%s\" is not an integer in %s", k, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static char *print_table(json_object *st, int *ret);

static void test_status_json(void) {
        json_object *st = control_status_json(snapshot_literal(), &info);
        CHECK(st);
        CHECK_I64(get_int(st, "version"), CONTROL_PROTOCOL_VERSION);

        json_object *d = get(st, "daemon");
        CHECK_STR(json_object_get_string(get(d, "version")), "0.1.0");
        CHECK_I64(get_int(d, "pid"), 4242);
        CHECK_I64(get_int(d, "ticks"), 17);
        CHECK_I64(get_int(d, "slow_reads_every_ticks"), 14);
        CHECK(json_object_get_double(get(d, "tick_cpu_seconds")) == 0.0025);
        CHECK(json_object_get_double(get(d, "prom_write_seconds")) == 0.0012);
        int printed;
        char *table = print_table(st, &printed);
        CHECK_OK(printed);
        CHECK_CONTAINS(table, "pid files, ksm_stat and numa_stat in turns, each guest's every 14 ticks\n");
        free(table);
        json_object *hv = get(d, "hypervisor");
        CHECK(json_object_get_boolean(get(hv, "connected")));
        CHECK(get(hv, "error") == NULL);
        CHECK_STR(json_object_get_string(get(hv, "uri")), "qemu:///system");

        json_object *h = get(st, "host");
        CHECK_I64(get_int(h, "mem_total_bytes"), (int64_t) (16384 * MIB));
        CHECK_I64(get_int(h, "swap_free_bytes"), (int64_t) (512 * MIB));
        CHECK_I64(get_int(h, "page_size_bytes"), 65536); /* the snapshot's, not the running kernel's */
        json_object *cg = get(h, "cgroup");
        CHECK(cg);
        CHECK(get(cg, "limit_bytes") == NULL); /* unlimited */
        CHECK_I64(get_int(cg, "oom_kills"), 2);
        json_object *psi = get(h, "psi");
        CHECK(json_object_get_double(get(get(psi, "some"), "avg10")) == 1.25);
        json_object *ksm = get(h, "ksm");
        CHECK(json_object_get_boolean(get(ksm, "present")));
        CHECK_I64(get_int(get(ksm, "files"), "pages_sharing"), 5000);
        CHECK_I64(get_int(ksm, "saved_bytes"), 327680000); /* 5000 pages of 64 KiB */
        CHECK_STR(json_object_get_string(get(get(ksm, "files"), "advisor_mode")), "none");
        CHECK_I64(json_object_array_length(get(h, "numa")), 1);

        json_object *guests = get(st, "guests");
        CHECK(json_object_is_type(guests, json_type_array));
        CHECK_I64(json_object_array_length(guests), 2);

        json_object *g0 = json_object_array_get_idx(guests, 0);
        CHECK_STR(json_object_get_string(get(g0, "name")), "web-\"1\"");
        CHECK_I64(get_int(g0, "rss_bytes"), (int64_t) (900 * MIB));
        CHECK_I64(get_int(g0, "balloon_actual_bytes"), (int64_t) (1024 * MIB));
        CHECK_I64(get_int(g0, "balloon_maximum_bytes"), (int64_t) (2048 * MIB));
        CHECK_I64(get_int(g0, "usable_bytes"), (int64_t) (512 * MIB));
        CHECK_I64(get_int(g0, "ksm_merging_bytes"), (int64_t) (300 * MIB));
        CHECK_I64(get_int(g0, "ksm_profit_bytes"), -4096);
        CHECK(json_object_is_type(get(g0, "stale"), json_type_boolean));
        CHECK(!json_object_get_boolean(get(g0, "stale")));
        CHECK_I64(json_object_array_length(get(g0, "numa_nodes")), 1);

        /* Absent figures are null, not 0. */
        json_object *g1 = json_object_array_get_idx(guests, 1);
        CHECK_STR(json_object_get_string(get(g1, "name")), "db-with-a-rather-long-name");
        CHECK_I64(get_int(g1, "rss_bytes"), (int64_t) (100 * MIB));
        CHECK(get(g1, "balloon_actual_bytes") == NULL);
        CHECK(get(g1, "balloon_maximum_bytes") == NULL);
        CHECK(get(g1, "usable_bytes") == NULL);
        CHECK(get(g1, "ksm_merging_bytes") == NULL);
        CHECK(get(g1, "ksm_profit_bytes") == NULL);
        CHECK(get(g1, "balloon_last_update") == NULL);
        CHECK(json_object_get_boolean(get(g1, "stale")));
        CHECK_I64(json_object_array_length(get(g1, "numa_nodes")), 0);

        /* Through text and back, as densityctl sees it. */
        char *reply = control_reply_ok(st);
        CHECK(reply);
        CHECK(reply[strlen(reply) - 1] == '\n');
        CHECK(!strchr(reply, '\n') || strchr(reply, '\n') == reply + strlen(reply) - 1); /* one line */
        json_object *back = json_tokener_parse(reply);
        CHECK(back);
        CHECK(json_object_get_boolean(get(back, "ok")));
        json_object *st2 = get(back, "status");
        CHECK_STR(json_object_get_string(get(json_object_array_get_idx(get(st2, "guests"), 0), "name")), "web-\"1\"");
        json_object_put(back);
        free(reply);
}

static void test_status_json_bare(void) {
        /* No PSI, no cgroup, no guests, hypervisor down with a reason. */
        Snapshot s = { .host.mem.mem_total_bytes = 1024 * MIB };
        strscpy(s.hypervisor_error, sizeof(s.hypervisor_error), "Failed to connect socket");
        json_object *st = control_status_json(&s, &info);
        CHECK(st);
        json_object *h = get(st, "host");
        CHECK(get(h, "psi") == NULL);
        CHECK(get(h, "cgroup") == NULL);
        CHECK(!json_object_get_boolean(get(get(h, "ksm"), "present")));
        json_object *hv = get(get(st, "daemon"), "hypervisor");
        CHECK(!json_object_get_boolean(get(hv, "connected")));
        CHECK_STR(json_object_get_string(get(hv, "error")), "Failed to connect socket");
        CHECK_I64(json_object_array_length(get(st, "guests")), 0);

        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f);
        CHECK_OK(view_status_print(f, st));
        CHECK(fclose(f) == 0);
        CHECK_CONTAINS(buf, "NOT CONNECTED: Failed to connect socket");
        CHECK_CONTAINS(buf, "0 guests");
        CHECK_CONTAINS(buf, "PSI not available");
        free(buf);
        json_object_put(st);
}

static char *print_table(json_object *st, int *ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f);
        *ret = view_status_print(f, st);
        CHECK(fclose(f) == 0);
        return buf;
}

static void test_print_table(void) {
        json_object *st = control_status_json(snapshot_literal(), &info);
        CHECK(st);
        int r;
        char *out = print_table(st, &r);
        CHECK_OK(r);
        fputs(out, stderr);
        CHECK_CONTAINS(out, "web-\"1\"");
        CHECK_CONTAINS(out, "db-with-a-rather-long-name");
        CHECK_CONTAINS(out, "2 guests");
        CHECK_CONTAINS(out, "connected");
        CHECK_CONTAINS(out, "stale");
        CHECK_CONTAINS(out, "1024/2048"); /* balloon actual/max in MiB */
        CHECK_CONTAINS(out, "-/-");       /* the guest without balloon figures */
        free(out);

        /* Not a status document: -EINVAL. */
        json_object_object_del(st, "host");
        out = print_table(st, &r);
        CHECK(r == -EINVAL);
        free(out);
        json_object_put(st);

        json_object *empty = json_object_new_object();
        out = print_table(empty, &r);
        CHECK(r == -EINVAL);
        free(out);
        json_object_put(empty);

        json_object *bad = json_tokener_parse("{\"host\":{},\"guests\":{}}");
        CHECK(bad);
        out = print_table(bad, &r);
        CHECK(r == -EINVAL);
        free(out);
        json_object_put(bad);

        out = print_table(NULL, &r);
        CHECK(r == -EINVAL);
        free(out);
}

static void test_replies(void) {
        char *s = control_reply_ok(NULL);
        CHECK_STR(s, "{\"ok\":true}\n");
        free(s);

        s = control_reply_error("unknown command \"%s\" (%d)", "x", 5);
        CHECK(s);
        json_object *o = json_tokener_parse(s);
        CHECK(o);
        CHECK(!json_object_get_boolean(get(o, "ok")));
        CHECK_STR(json_object_get_string(get(o, "error")), "unknown command \"x\" (5)");
        json_object_put(o);
        free(s);
}

/* A daemon stand-in: accept one connection, check the request, answer. */
typedef struct Server {
        int fd;
        char request[256];
        const char *reply;
} Server;

static void *server_main(void *arg) {
        Server *sv = arg;
        int c = accept4(sv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return NULL;
        size_t len = 0;
        while (len < sizeof(sv->request) - 1 && !memchr(sv->request, '\n', len)) {
                ssize_t k = read(c, sv->request + len, sizeof(sv->request) - 1 - len);
                if (k <= 0)
                        break;
                len += (size_t) k;
        }
        sv->request[len] = '\0';
        /* Two writes: the client must put the pieces together. */
        size_t half = strlen(sv->reply) / 2;
        (void) !write(c, sv->reply, half);
        (void) !write(c, sv->reply + half, strlen(sv->reply) - half);
        close(c);
        return NULL;
}

static void test_call(void) {
        char *dir = test_mkdtemp();
        char path[PATH_MAX];
        CHECK_OK(path_join(path, sizeof(path), dir, "d.sock"));

        json_object *reply = NULL;
        char err[256] = "";
        CHECK(control_call(path, &(ControlRequest) { .command = CONTROL_STATUS }, &reply, err, sizeof(err)) == -ENOENT);
        CHECK(err[0] != '\0');
        CHECK(reply == NULL);

        Server sv = { .reply = "{\"ok\":true,\"status\":{\"version\":1,\"guests\":[]}}\n" };
        sv.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(sv.fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strscpy(sa.sun_path, sizeof(sa.sun_path), path);
        CHECK(bind(sv.fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        CHECK(listen(sv.fd, 1) == 0);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, server_main, &sv) == 0);

        CHECK_OK(control_call(path, &(ControlRequest) { .command = CONTROL_STATUS }, &reply, err, sizeof(err)));
        CHECK(pthread_join(t, NULL) == 0);
        CHECK_STR(sv.request, "{\"command\":\"status\"}\n");
        CHECK(reply);
        CHECK(json_object_get_boolean(get(reply, "ok")));
        CHECK_I64(get_int(get(reply, "status"), "version"), 1);
        json_object_put(reply);

        /* What the daemon receives parses back to the command sent. */
        ControlRequest c;
        CHECK_OK(control_request_parse(sv.request, &c, err, sizeof(err)));
        CHECK(c.command == CONTROL_STATUS);

        close(sv.fd);
        test_rm_rf(dir);
}

/* What the control plane adds: class and facts per guest, in-flight kinds,
 * the latest decisions, and the notes the table draws from them. */
static void test_status_control_plane(void) {
        static GuestSample g[4];
        g[0] = (GuestSample) { .name = "meta", .uuid = "00000000-0000-0000-0000-000000000001", .has_rss = true,
                               .rss_bytes = MIB, .class_name = "batch", .class_source = CLASS_SOURCE_METADATA,
                               .actions_in_flight = (1u << ACTION_BALLOON) | (1u << ACTION_SAVE),
                               .facts = { .known = true, .persistent = true, .has_balloon = true,
                                          .balloon_model = "virtio", .balloon_period_sec = 2,
                                          .max_memory_bytes = 256 * MIB, .metadata_class = "batch" } };
        g[1] = (GuestSample) { .name = "nob", .uuid = "00000000-0000-0000-0000-000000000002", .has_rss = true,
                               .class_name = "default",
                               .facts = { .known = true, .persistent = false, .balloon_model = "none",
                                          .vcpu_pinned = true, .numatune = true, .numatune_mode = "strict",
                                          .numatune_nodeset = "0" } };
        g[2] = (GuestSample) { .name = "unknown", .uuid = "00000000-0000-0000-0000-000000000003",
                               .class_name = "default", .class_source = CLASS_SOURCE_METADATA_UNKNOWN,
                               .sample_error = "cannot read /run/libvirt/qemu/unknown.pid: Permission denied",
                               .facts = { .error = "virDomainGetXMLDesc: no domain" } };
        Snapshot snap = { .timestamp_usec = 1700000000000000, .host = { .page_size_bytes = 4096 },
                          .hypervisor_connected = true, .hypervisor_round_running_usec = 2500000,
                          .n_guests = 3, .guests = g };
        JournalEntry dec[2] = {
                { .id = 7, .result = RESULT_DONE, .planned_usec = 1700000000000000, .started_usec = 1700000000010000,
                  .finished_usec = 1700000000120000,
                  .action = action_balloon("balloon", &g[0], 200 * MIB, "host available %d MiB < %d MiB", 412, 600) },
                { .id = 8, .result = RESULT_FAILED, .late = true, .message = "libvirt: boom",
                  .action = action_guest("shed", ACTION_SAVE, &g[1], "transient") },
        };
        ShedBook book = {};
        ShedEntry se = { .uuid = "00000000-0000-0000-0000-000000000009", .name = "gone-1", .class_name = "batch",
                         .priority = 10, .action = SHED_SAVE, .stage = SHED_STAGE_SHED, .bytes = 300 * MIB,
                         .since_usec = 1700000000000000, .stage_usec = 1700000000500000,
                         .reason = "MemAvailable 300 MiB is below MemAvailableBelow= (512 MiB)" };
        CHECK_OK(shed_book_put(&book, &se));
        BalloonGuest bg = { .state = "reduced", .reason = "400 of 512 MiB (uses 100 MiB, lower bound 256 MiB)",
                            .actual_bytes = 400 * MIB, .maximum_bytes = 512 * MIB, .lower_bytes = 256 * MIB,
                            .floor_bytes = 256 * MIB, .overhead_bytes = 60 * MIB, .has_rss = true,
                            .target_bytes = 400 * MIB, .target_usec = 1700000000000000 };
        snprintf(bg.uuid, sizeof(bg.uuid), "%s", snap.guests[0].uuid);
        ControllerReport reports[3] = {
                { .name = "ksm", .status = { .mode = "auto", .state = "idle" } },
                { .name = "balloon", .status = { .state = "steady" }, .has_balloon = true,
                  .balloon = { .n_guests = 1, .guests = &bg, .inflated_bytes_total = 112 * MIB, .has_host = true,
                               .capacity_bytes = 4096 * MIB, .use_bytes = 3000 * MIB, .target_use_bytes = 3277 * MIB } },
                { .name = "shed", .status = { .state = "cooling" }, .shed_book = &book },
        };
        ControlDaemonInfo in = info;
        in.dry_run = true;
        in.actions_in_flight = 2;
        in.decisions = dec;
        in.n_decisions = 2;
        in.controllers = reports;
        in.n_controllers = 3;
        json_object *st = control_status_json(&snap, &in);
        CHECK(st);
        json_object *d = get(st, "daemon");
        CHECK(json_object_get_boolean(get(d, "dry_run")));
        CHECK_I64(get_int(d, "actions_in_flight"), 2);
        json_object *gs = get(st, "guests");
        json_object *m = json_object_array_get_idx(gs, 0);
        CHECK_STR(json_object_get_string(get(m, "class")), "batch");
        CHECK_STR(json_object_get_string(get(m, "class_source")), "metadata");
        CHECK(json_object_get_boolean(get(get(m, "facts"), "balloon")));
        CHECK_STR(json_object_get_string(get(get(m, "facts"), "metadata_class")), "batch");
        CHECK_I64(json_object_array_length(get(m, "actions_in_flight")), 2);
        CHECK_STR(json_object_get_string(json_object_array_get_idx(get(m, "actions_in_flight"), 1)), "save");
        json_object *nob = json_object_array_get_idx(gs, 1);
        CHECK(!json_object_get_boolean(get(get(nob, "facts"), "persistent")));
        CHECK_STR(json_object_get_string(get(get(nob, "facts"), "numatune")), "strict");
        json_object *unk = json_object_array_get_idx(gs, 2);
        CHECK(!json_object_get_boolean(get(get(unk, "facts"), "known")));
        CHECK_STR(json_object_get_string(get(get(unk, "facts"), "error")), "virDomainGetXMLDesc: no domain");
        CHECK(json_object_is_type(get(unk, "rss_bytes"), json_type_null));
        json_object *entries = get(get(st, "decisions"), "entries");
        CHECK_I64(json_object_array_length(entries), 2);
        json_object *e0 = json_object_array_get_idx(entries, 0);
        CHECK_STR(json_object_get_string(get(e0, "what")), "balloon meta to 200 MiB");
        CHECK_STR(json_object_get_string(get(e0, "result")), "done");
        CHECK_I64(get_int(e0, "bytes"), 200 * MIB);
        CHECK_STR(json_object_get_string(get(e0, "reason")), "host available 412 MiB < 600 MiB");
        /* The shed guests: not running, listed from the book. */
        json_object *shed = get(st, "shed");
        CHECK_I64(json_object_array_length(shed), 1);
        json_object *s0 = json_object_array_get_idx(shed, 0);
        CHECK_STR(json_object_get_string(get(s0, "name")), "gone-1");
        CHECK_STR(json_object_get_string(get(s0, "stage")), "shed");
        CHECK_STR(json_object_get_string(get(s0, "action")), "save");
        CHECK_I64(get_int(s0, "memory_bytes"), 300 * MIB);
        CHECK_I64(get_int(s0, "priority"), 10);
        CHECK_I64(get_int(s0, "restore_failures"), 0);
        /* The balloon controller's view, per guest and for the host. */
        json_object *b0 = get(m, "balloon");
        CHECK_STR(json_object_get_string(get(b0, "state")), "reduced");
        CHECK_I64(get_int(b0, "target_bytes"), 400 * MIB);
        CHECK_I64(get_int(b0, "floor_bytes"), 256 * MIB);
        CHECK_I64(get_int(b0, "overhead_bytes"), 60 * MIB);
        CHECK(json_object_is_type(get(b0, "last_action"), json_type_null));
        CHECK(json_object_is_type(get(nob, "balloon"), json_type_null));
        CHECK_I64(get_int(get(st, "balloon"), "inflated_bytes_total"), 112 * MIB);
        CHECK_I64(get_int(get(st, "balloon"), "target_use_bytes"), 3277 * MIB);

        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        CHECK_OK(view_status_print(f, st));
        fclose(f);
        CHECK_CONTAINS(text, " batch ");
        CHECK_CONTAINS(text, "acting");
        CHECK_CONTAINS(text, "no balloon, transient, pinned by hand");
        CHECK_CONTAINS(text, "facts unknown, unreadable, metadata class undefined");
        CHECK_CONTAINS(text, "Recent decisions (dry run: nothing changed)");
        CHECK_CONTAINS(text, "balloon  done     balloon meta to 200 MiB: host available 412 MiB < 600 MiB\n");
        CHECK_CONTAINS(text, "shed     late failed save nob (managed save): transient; libvirt: boom\n");
        CHECK_CONTAINS(text, "\n1 guest shed\n");
        CHECK_CONTAINS(text, "gone-1 shed      save         300 ");
        CHECK_CONTAINS(text, "MemAvailable 300 MiB is below MemAvailableBelow= (512 MiB)\n");
        CHECK_CONTAINS(text, "shed: cooling");
        CHECK_CONTAINS(text, "\nBalloons\n");
        CHECK_CONTAINS(text, " reduced       ");
        CHECK_CONTAINS(text, "meta    reduced         -     400     256     256      60 400 of 512 MiB (uses 100 MiB, lower bound 256 MiB)\n");
        free(text);
        json_object_put(st);
        shed_book_clear(&book);
}

int main(void) {
        RUN(test_commands);
        RUN(test_request_parse);
        RUN(test_status_json);
        RUN(test_status_json_bare);
        RUN(test_print_table);
        RUN(test_status_control_plane);
        RUN(test_replies);
        RUN(test_call);
        return 0;
}
