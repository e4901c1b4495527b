/* densityctl: talks to densityd over its control socket, and replays
 * densityd's recording offline (simulate). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "density/control.h"
#include "density/top.h"
#include "density/simulate.h"
#include "density/util.h"
#include "density/view.h"

#define MIB (UINT64_C(1024) * 1024)

static void usage(FILE *f) {
        fprintf(f,
                "Usage: densityctl [--socket PATH] COMMAND [OPTION]...\n"
                "Ask densityd what it sees, or tell it what to do.\n"
                "\n"
                "Commands:\n"
                "  status [--json]   host memory, VMs' budget, PSI, KSM, NUMA, then every guest\n"
                "                    by RSS with its class, and the latest decisions\n"
                "                    (--json: the full status document)\n"
                "  log [--guest NAME] [--controller NAME] [-n N] [--json]\n"
                "                    the decision journal: what densityd planned and did, and\n"
                "                    why, oldest first (default: the last %d entries)\n"
                "  reload            re-read the policy file (root only)\n"
                "  shed NAME         set a running guest aside now: managed save, its state\n"
                "                    kept; it stays shed until restored by hand (root only)\n"
                "  restore NAME      bring back a guest densityd shed (root only)\n"
                "  top [--interval SECONDS] [--sort COLUMN] [-n N]\n"
                "                    status live: host, VMs' budget, PSI, KSM, the guests\n"
                "                    sorted by a column, the latest decisions; keys: s/S or\n"
                "                    1-6 sort column, r reverse, p pause, space refresh, q quit\n"
                "  simulate --policy FILE [--recording FILE] [--guest-size MIB] [--json]\n"
                "                    run the planners offline over densityd's recording\n"
                "                    (Record=) under the policy FILE: the actions they would\n"
                "                    have planned, with reasons, the memory each controller\n"
                "                    would have freed, and how many more guests would have\n"
                "                    fit without a shed or a thrash (no daemon needed)\n"
                "\n"
                "Options:\n"
                "  -s, --socket PATH  control socket (default %s)\n"
                "  -g, --guest NAME   log: only this guest (name or UUID)\n"
                "  -C, --controller NAME  log: only this controller's decisions\n"
                "  -n N               log: the last N entries (1..%d)\n"
                "  -n, --iterations N top: show N screens, then exit (default: until q;\n"
                "                     one when stdout is not a terminal)\n"
                "  -i, --interval SECONDS  top: between refreshes (default 2)\n"
                "  -o, --sort COLUMN  top: name, rss (default), balloon, usable, ksm, class\n"
                "  -p, --policy FILE  simulate: the policy to try\n"
                "  -r, --recording FILE  simulate: the recording (default StateDirectory=\n"
                "                     of the policy: record.jsonl.1, then record.jsonl)\n"
                "      --guest-size MIB  simulate: the size of a guest that might have fit\n"
                "                     (default: the mean of the last tick's guests)\n"
                "      --json         status, log, simulate: the JSON document\n"
                "  -h, --help         show this help\n"
                "      --version      show the version\n"
                "\n"
                "Environment: DENSITYD_SOCKET sets the socket when --socket is not given.\n"
                "Exit status: 0 ok, 1 the daemon refused or failed (simulate: a bad policy\n"
                "or recording), 2 usage error, 3 densityd is not running. See densityctl(8).\n",
                CONTROL_LOG_DEFAULT, CONTROL_DEFAULT_SOCKET, JOURNAL_CAPACITY_DEFAULT);
}

static int simulate_tick(RecordTick *t, void *userdata) {
        int r = simulation_step(userdata, t);
        record_tick_clear(t);
        return r;
}

/* densityctl simulate: the policy read as densityd reads it, the recording
 * replayed through the built-in controllers. */
static int simulate(const char *policy_path, const char *recording, uint64_t guest_bytes, bool json) {
        Policy p;
        PolicyErrors errors = {};
        int r = policy_load(policy_path, &p, &errors);
        policy_errors_print(&errors, stderr);
        if (r != 0) {
                if (r < 0)
                        fprintf(stderr, "densityctl: %s: %s\n", policy_path, strerror(-r));
                return EXIT_FAILURE;
        }
        char paths[2][PATH_MAX];
        size_t n = 0;
        if (recording)
                strscpy(paths[n++], sizeof(paths[0]), recording);
        else {
                if (path_join(paths[n], sizeof(paths[n]), p.state_directory, RECORD_FILE_OLD) == 0 &&
                    access(paths[n], F_OK) == 0)
                        n++;
                if (path_join(paths[n], sizeof(paths[n]), p.state_directory, RECORD_FILE) < 0) {
                        fprintf(stderr, "densityctl: %s: StateDirectory= too long\n", policy_path);
                        return EXIT_FAILURE;
                }
                n++;
        }
        Simulation *sim = NULL;
        if (simulation_new(&p, controllers_builtin, controllers_builtin_n, &sim) < 0) {
                fprintf(stderr, "densityctl: out of memory\n");
                return EXIT_FAILURE;
        }
        int status = EXIT_SUCCESS;
        for (size_t i = 0; i < n && status == EXIT_SUCCESS; i++) {
                char err[1024];
                if (record_read(paths[i], simulate_tick, sim, err, sizeof(err)) < 0) {
                        fprintf(stderr, "densityctl: %s\n", err);
                        status = EXIT_FAILURE;
                }
        }
        const SimulationResult *res = simulation_result(sim);
        if (status == EXIT_SUCCESS && res->n_ticks == 0) {
                fprintf(stderr, "densityctl: %s: no ticks recorded\n", paths[n - 1]);
                status = EXIT_FAILURE;
        }
        if (!guest_bytes)
                guest_bytes = res->mean_guest_bytes;
        if (status == EXIT_SUCCESS && json) {
                json_object *o = simulation_json(res, guest_bytes);
                json_object *files = json_object_new_array();
                for (size_t i = 0; o && files && i < n; i++)
                        json_object_array_add(files, json_object_new_string(paths[i]));
                json_object_object_add(o, "policy", json_object_new_string(policy_path));
                json_object_object_add(o, "recordings", files);
                if (o)
                        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                else
                        status = EXIT_FAILURE;
                json_object_put(o);
        } else if (status == EXIT_SUCCESS) {
                printf("Policy %s, recording %s%s%s\n", policy_path, paths[0], n > 1 ? " and " : "",
                       n > 1 ? paths[1] : "");
                simulation_print(stdout, res, guest_bytes);
        }
        simulation_free(sim);
        return status;
}

int main(int argc, char **argv) {
        enum { OPT_VERSION = 256, OPT_JSON, OPT_GUEST_SIZE };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "policy", required_argument, NULL, 'p' },
                { "recording", required_argument, NULL, 'r' },
                { "guest-size", required_argument, NULL, OPT_GUEST_SIZE },
                { "json", no_argument, NULL, OPT_JSON },
                { "guest", required_argument, NULL, 'g' },
                { "controller", required_argument, NULL, 'C' },
                { "iterations", required_argument, NULL, 'n' },
                { "interval", required_argument, NULL, 'i' },
                { "sort", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        const char *socket_path = getenv("DENSITYD_SOCKET") ? getenv("DENSITYD_SOCKET") : CONTROL_DEFAULT_SOCKET;
        bool json = false;
        ControlRequest req = {};
        bool log_args = false, top_args = false;
        TopOptions top = { .interval_usec = TOP_INTERVAL_DEFAULT_USEC, .sort = VIEW_SORT_RSS };
        const char *n_arg = NULL, *policy_path = NULL, *recording = NULL;
        uint64_t guest_bytes = 0;
        int c;

        while ((c = getopt_long(argc, argv, "s:g:C:n:i:o:p:r:h", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        policy_path = optarg;
                        break;
                case 'r':
                        recording = optarg;
                        break;
                case OPT_GUEST_SIZE: {
                        uint64_t mib;
                        if (parse_u64(optarg, &mib) < 0 || mib < 1 || mib > UINT64_C(1) << 30) {
                                fprintf(stderr, "densityctl: --guest-size %s: not a number of MiB 1..%llu\n", optarg,
                                        (unsigned long long) (UINT64_C(1) << 30));
                                return 2;
                        }
                        guest_bytes = mib * MIB;
                        break;
                }
                case 's':
                        socket_path = optarg;
                        break;
                case 'g':
                        if (strlen(optarg) >= sizeof(req.guest)) {
                                fprintf(stderr, "densityctl: --guest: name too long\n");
                                return 2;
                        }
                        strscpy(req.guest, sizeof(req.guest), optarg);
                        log_args = true;
                        break;
                case 'C':
                        if (strlen(optarg) >= sizeof(req.controller)) {
                                fprintf(stderr, "densityctl: --controller: name too long\n");
                                return 2;
                        }
                        strscpy(req.controller, sizeof(req.controller), optarg);
                        log_args = true;
                        break;
                case 'n':
                        n_arg = optarg; /* log's or top's: checked once the command is known */
                        break;
                case 'i': {
                        char *end = NULL;
                        errno = 0;
                        double sec = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !(sec >= 0.1 && sec <= 3600)) {
                                fprintf(stderr, "densityctl: --interval %s: not a number of seconds 0.1..3600\n",
                                        optarg);
                                return 2;
                        }
                        top.interval_usec = (uint64_t) (sec * 1e6);
                        top_args = true;
                        break;
                }
                case 'o':
                        if (view_sort_from_name(optarg, &top.sort) < 0) {
                                fprintf(stderr,
                                        "densityctl: --sort %s: not a column (name, rss, balloon, usable, ksm, "
                                        "class)\n",
                                        optarg);
                                return 2;
                        }
                        top_args = true;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case OPT_VERSION:
                        printf("densityctl %s\n", DENSITY_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'densityctl --help'.\n");
                        return 2;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "densityctl: missing command\nTry 'densityctl --help'.\n");
                return 2;
        }
        const char *name = argv[optind++];
        bool sim_args = policy_path || recording || guest_bytes;
        if (strcmp(name, "top") == 0) {
                uint64_t n = 0;
                if (optind < argc) {
                        fprintf(stderr, "densityctl: unexpected argument '%s'\n", argv[optind]);
                        return 2;
                }
                if (json || log_args || sim_args) {
                        fprintf(stderr, "densityctl: top takes --interval, --sort and -n\n");
                        return 2;
                }
                if (n_arg && (parse_u64(n_arg, &n) < 0 || n < 1 || n > UINT_MAX)) {
                        fprintf(stderr, "densityctl: -n %s: not a number of screens\n", n_arg);
                        return 2;
                }
                top.socket_path = socket_path;
                top.iterations = (unsigned) n;
                int r = top_run(&top);
                if (r < 0) {
                        fprintf(stderr, "densityctl: top: the terminal: %s\n", strerror(-r));
                        return 1;
                }
                return r == TOP_NO_DAEMON ? 3 : EXIT_SUCCESS;
        }
        if (strcmp(name, "simulate") == 0) {
                if (optind < argc) {
                        fprintf(stderr, "densityctl: unexpected argument '%s'\n", argv[optind]);
                        return 2;
                }
                if (!policy_path) {
                        fprintf(stderr, "densityctl: simulate needs --policy FILE\n");
                        return 2;
                }
                if (log_args || n_arg) {
                        fprintf(stderr, "densityctl: --guest, --controller and -n go with log\n");
                        return 2;
                }
                if (top_args) {
                        fprintf(stderr, "densityctl: --interval and --sort go with top\n");
                        return 2;
                }
                return simulate(policy_path, recording, guest_bytes, json);
        }
        if (sim_args) {
                fprintf(stderr, "densityctl: --policy, --recording and --guest-size go with simulate\n");
                return 2;
        }
        if (top_args) {
                fprintf(stderr, "densityctl: --interval and --sort go with top\n");
                return 2;
        }
        if (n_arg) {
                uint64_t n;
                if (parse_u64(n_arg, &n) < 0 || n < 1 || n > JOURNAL_CAPACITY_DEFAULT) {
                        fprintf(stderr, "densityctl: -n %s: not a number 1..%d\n", n_arg, JOURNAL_CAPACITY_DEFAULT);
                        return 2;
                }
                req.n = (unsigned) n;
                log_args = true;
        }
        ControlCommand cmd;
        if (control_command_from_name(name, &cmd) < 0) {
                fprintf(stderr, "densityctl: unknown command '%s'\nTry 'densityctl --help'.\n", name);
                return 2;
        }
        if (cmd == CONTROL_SHED || cmd == CONTROL_RESTORE) {
                if (optind >= argc) {
                        fprintf(stderr, "densityctl: %s needs a guest (name or UUID)\n", name);
                        return 2;
                }
                if (strlen(argv[optind]) >= sizeof(req.guest)) {
                        fprintf(stderr, "densityctl: guest name too long\n");
                        return 2;
                }
                strscpy(req.guest, sizeof(req.guest), argv[optind++]);
        }
        if (optind < argc) {
                fprintf(stderr, "densityctl: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (json && cmd != CONTROL_STATUS && cmd != CONTROL_LOG) {
                fprintf(stderr, "densityctl: --json goes with status, log and simulate\n");
                return 2;
        }
        if (log_args && cmd != CONTROL_LOG) {
                fprintf(stderr, "densityctl: --guest, --controller and -n go with log (-n also with top)\n");
                return 2;
        }
        req.command = cmd;

        json_object *reply = NULL;
        char err[512];
        int r = control_call(socket_path, &req, &reply, err, sizeof(err));
        if (r == -ENOENT || r == -ECONNREFUSED) {
                fprintf(stderr, "densityctl: densityd is not running (nothing listens on %s)\n", socket_path);
                return 3;
        }
        if (r < 0) {
                fprintf(stderr, "densityctl: %s\n", err);
                return 1;
        }

        json_object *ok = NULL, *v = NULL;
        int status = EXIT_SUCCESS;
        if (!json_object_object_get_ex(reply, "ok", &ok) || !json_object_get_boolean(ok)) {
                fprintf(stderr, "densityctl: %s: %s\n", name,
                        json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : "failed");
                status = EXIT_FAILURE;
        } else if (cmd == CONTROL_STATUS) {
                json_object_object_get_ex(reply, "status", &v);
                if (json)
                        printf("%s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
                else if (view_status_print(stdout, v) < 0) {
                        fprintf(stderr, "densityctl: the daemon's status document is incomplete\n");
                        status = EXIT_FAILURE;
                }
        } else if (cmd == CONTROL_LOG) {
                json_object_object_get_ex(reply, "log", &v);
                json_object *entries = NULL;
                if (json)
                        printf("%s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
                else if (!json_object_object_get_ex(v, "entries", &entries) || view_log_print(stdout, entries) < 0) {
                        fprintf(stderr, "densityctl: the daemon's log reply is incomplete\n");
                        status = EXIT_FAILURE;
                } else if (json_object_array_length(entries) == 0)
                        printf("no decisions yet%s\n", req.guest[0] || req.controller[0] ? " that match" : "");
        } else if (cmd == CONTROL_SHED || cmd == CONTROL_RESTORE)
                printf("%s %s: under way (densityctl log --guest %s shows how it ends)\n", name, req.guest, req.guest);
        else
                printf("%s: done\n", name);
        json_object_put(reply);
        return status;
}
