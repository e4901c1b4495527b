/* densityd-test: densityd with a test-only planner, for the daemon-level
 * and system tests of the control plane. Never installed.
 *
 * The planner ("test") plans, once the guests it names are present:
 *   phase 1: one action of every kind: a KSM knob (pages_to_scan=1234), and
 *            for the first guest a balloon target 16 MiB below its current
 *            size, a vCPU pin, an emulator pin and a memory placement; a
 *            managed save and then a restore of the second guest; a destroy
 *            of the third;
 *   phase 2: (only with a fourth guest named) when the hypervisor's bulk
 *            stats round has been running for 2 s or more, a balloon target
 *            for the fourth guest, whose reason says how long the round ran.
 *
 * With --fake (the default) the hypervisor is the in-memory fake with guests
 * a, b, c and d (fixture trees give their pid files and /proc); its stats
 * rounds turn slow after --slow-after calls, its write operations take
 * --action-delay-ms each. With --libvirt it is the real libvirt (LibvirtURI=
 * of the policy). With --builtin it runs densityd's own controllers instead
 * of the test planner (the replay test records what they plan). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "density/daemon.h"
#include "density/log.h"
#include "density/plan.h"
#include "density/util.h"
#include "virt-fake.h"

#define MIB (UINT64_C(1024) * 1024)

static const char *roles[4] = { "a", "b", "c", NULL };
static const char *cpulist = "0-1";

typedef struct TestState {
        bool phase1, phase2;
} TestState;

static void *test_state_new(void) {
        return calloc(1, sizeof(TestState));
}

static void test_state_free(void *s) {
        free(s);
}

static const GuestSample *find_guest(const Snapshot *s, const char *name) {
        for (size_t i = 0; name && i < s->n_guests; i++)
                if (strcmp(s->guests[i].name, name) == 0)
                        return &s->guests[i];
        return NULL;
}

static int test_plan(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        TestState *st = state;
        (void) p;
        const GuestSample *g[4];
        for (size_t i = 0; i < 4; i++)
                g[i] = find_guest(s, roles[i]);
        int r = 0;
        if (!st->phase1 && g[0] && g[1] && g[2] && g[0]->has_balloon) {
                uint64_t target = g[0]->balloon_actual_bytes > 32 * MIB ? g[0]->balloon_actual_bytes - 16 * MIB : 32 * MIB;
                Action acts[] = {
                        action_ksm_knob("test", "pages_to_scan", "1234", "test: one action of each kind"),
                        action_balloon("test", g[0], target, "test: %s from %.0f to %.0f MiB", g[0]->name,
                                       (double) g[0]->balloon_actual_bytes / MIB, (double) target / MIB),
                        action_pin_vcpu("test", g[0], 0, cpulist, "test: pin vCPU 0"),
                        action_pin_emulator("test", g[0], cpulist, "test: pin the emulator"),
                        action_pin_memory("test", g[0], "strict", "0", "test: memory on node 0"),
                        action_guest("test", ACTION_SAVE, g[1], "test: set %s aside", g[1]->name),
                        action_guest("test", ACTION_RESTORE, g[1], "test: bring %s back", g[1]->name),
                        action_guest("test", ACTION_DESTROY, g[2], "test: destroy %s", g[2]->name),
                };
                for (size_t i = 0; i < ELEMENTSOF(acts) && r == 0; i++)
                        r = plan_add(plan, &acts[i]);
                st->phase1 = true;
        }
        if (!st->phase2 && g[3] && g[3]->has_balloon && s->hypervisor_round_running_usec >= 2 * USEC_PER_SEC) {
                Action a = action_balloon("test", g[3], g[3]->balloon_actual_bytes - 8 * MIB,
                                          "test: while the bulk round has run for %.1f s",
                                          (double) s->hypervisor_round_running_usec / 1e6);
                if (r == 0)
                        r = plan_add(plan, &a);
                st->phase2 = true;
        }
        return r;
}

static const Controller test_controller = {
        .name = "test",
        .state_new = test_state_new,
        .state_free = test_state_free,
        .plan = test_plan,
};
static const Controller *const test_controllers[] = { &test_controller };

#define UUID(x) "00000000-0000-0000-0000-00000000000" x

static VirtDomainStats fake_domain(const char *name, const char *uuid, int id) {
        VirtDomainStats d = { .id = id, .has_current = true, .has_maximum = true, .has_last_update = true,
                              .has_usable = true, .has_unused = true, .current_kib = 262144,
                              .maximum_kib = 262144, .usable_kib = 150000, .unused_kib = 140000,
                              .last_update = 1 };
        strscpy(d.name, sizeof(d.name), name);
        strscpy(d.uuid, sizeof(d.uuid), uuid);
        return d;
}

int main(int argc, char **argv) {
        enum { OPT_TEXTFILE = 256, OPT_PROC, OPT_SYS, OPT_CGROUP, OPT_RUN, OPT_DRY, OPT_LIBVIRT, OPT_ROLES,
               OPT_SLOW_AFTER, OPT_SLOW_SEC, OPT_DELAY, OPT_CPUS, OPT_BUILTIN };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "socket", required_argument, NULL, 's' },
                { "textfile-dir", required_argument, NULL, OPT_TEXTFILE },
                { "proc-root", required_argument, NULL, OPT_PROC },
                { "sys-root", required_argument, NULL, OPT_SYS },
                { "cgroup-root", required_argument, NULL, OPT_CGROUP },
                { "libvirt-run-dir", required_argument, NULL, OPT_RUN },
                { "dry-run", no_argument, NULL, OPT_DRY },
                { "libvirt", no_argument, NULL, OPT_LIBVIRT },
                { "roles", required_argument, NULL, OPT_ROLES },
                { "slow-after", required_argument, NULL, OPT_SLOW_AFTER },
                { "slow-seconds", required_argument, NULL, OPT_SLOW_SEC },
                { "action-delay-ms", required_argument, NULL, OPT_DELAY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "builtin", no_argument, NULL, OPT_BUILTIN },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        DaemonOptions o = { .config_path = "/dev/null", .config_explicit = true, .roots = roots_default,
                            .controllers = test_controllers, .n_controllers = 1 };
        static FakeHypervisor hv;
        static VirtDomainStats domains[4];
        static char roles_buf[1024];
        bool use_libvirt = false;
        uint64_t v;
        int c;
        while ((c = getopt_long(argc, argv, "c:s:v", options, NULL)) >= 0) {
                switch (c) {
                case 'c': o.config_path = optarg; break;
                case 's': o.socket_path = optarg; break;
                case OPT_TEXTFILE: o.textfile_dir = optarg; break;
                case OPT_PROC: o.roots.proc = optarg; break;
                case OPT_SYS: o.roots.sys = optarg; break;
                case OPT_CGROUP: o.roots.cgroup = optarg; break;
                case OPT_RUN: o.roots.libvirt_run = optarg; break;
                case OPT_DRY: o.dry_run = true; break;
                case OPT_LIBVIRT: use_libvirt = true; break;
                case OPT_ROLES: {
                        /* NAME,NAME,NAME[,NAME] */
                        strscpy(roles_buf, sizeof(roles_buf), optarg);
                        char *save = NULL;
                        size_t i = 0;
                        roles[3] = NULL;
                        for (char *t = strtok_r(roles_buf, ",", &save); t && i < 4; t = strtok_r(NULL, ",", &save))
                                roles[i++] = t;
                        break;
                }
                case OPT_SLOW_AFTER:
                case OPT_SLOW_SEC:
                case OPT_DELAY:
                        if (parse_u64(optarg, &v) < 0) {
                                fprintf(stderr, "densityd-test: %s: not a number\n", optarg);
                                return 2;
                        }
                        if (c == OPT_SLOW_AFTER)
                                hv.slow_after_calls = (unsigned) v;
                        else if (c == OPT_SLOW_SEC)
                                hv.call_delay_usec = v * USEC_PER_SEC;
                        else
                                hv.action_delay_usec = v * USEC_PER_MSEC;
                        break;
                case OPT_CPUS: cpulist = optarg; break;
                case OPT_BUILTIN:
                        o.controllers = NULL;
                        o.n_controllers = 0;
                        break;
                case 'v': o.verbose = true; break;
                default:
                        fprintf(stderr, "densityd-test: bad option (see the comment at the top of densityd-test.c)\n");
                        return 2;
                }
        }
        if (!use_libvirt) {
                domains[0] = fake_domain("a", UUID("a"), 1);
                domains[1] = fake_domain("b", UUID("b"), 2);
                domains[2] = fake_domain("c", UUID("c"), 3);
                domains[3] = fake_domain("d", UUID("d"), 4);
                hv.domains = domains;
                hv.n_domains = 4;
                o.ops = &virt_fake_ops;
                o.ops_userdata = &hv;
        }
        log_setup("densityd-test", o.verbose);
        int r = daemon_run(&o);
        if (!use_libvirt) {
                pthread_mutex_lock(&hv.lock);
                fprintf(stderr, "densityd-test: fake hypervisor: %zu write calls:", hv.n_write_calls);
                for (size_t i = 0; i < hv.n_write_calls; i++)
                        fprintf(stderr, " %s(%s,%s)", fake_op_name(hv.calls[i].op), hv.calls[i].uuid + 24,
                                hv.calls[i].value);
                fprintf(stderr, "\n");
                pthread_mutex_unlock(&hv.lock);
        }
        return r;
}
