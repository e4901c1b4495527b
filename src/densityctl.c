/* densityctl: talks to densityd over its control socket. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "density/control.h"
#include "density/top.h"
#include "density/util.h"
#include "density/view.h"

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
                "      --json         status, log: the JSON document\n"
                "  -h, --help         show this help\n"
                "      --version      show the version\n"
                "\n"
                "Environment: DENSITYD_SOCKET sets the socket when --socket is not given.\n"
                "Exit status: 0 ok, 1 the daemon refused or failed, 2 usage error,\n"
                "3 densityd is not running. See densityctl(8).\n",
                CONTROL_LOG_DEFAULT, CONTROL_DEFAULT_SOCKET, JOURNAL_CAPACITY_DEFAULT);
}

int main(int argc, char **argv) {
        enum { OPT_VERSION = 256, OPT_JSON };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
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
        const char *n_arg = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "s:g:C:n:i:o:h", options, NULL)) >= 0) {
                switch (c) {
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
        if (strcmp(name, "top") == 0) {
                uint64_t n = 0;
                if (optind < argc) {
                        fprintf(stderr, "densityctl: unexpected argument '%s'\n", argv[optind]);
                        return 2;
                }
                if (json || log_args) {
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
                fprintf(stderr, "densityctl: --json goes with status and log\n");
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
