/* densityctl: talks to densityd over its control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "density/control.h"
#include "density/util.h"

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
                "\n"
                "Options:\n"
                "  -s, --socket PATH  control socket (default %s)\n"
                "  -g, --guest NAME   log: only this guest (name or UUID)\n"
                "  -C, --controller NAME  log: only this controller's decisions\n"
                "  -n N               log: the last N entries (1..%d)\n"
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
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        const char *socket_path = getenv("DENSITYD_SOCKET") ? getenv("DENSITYD_SOCKET") : CONTROL_DEFAULT_SOCKET;
        bool json = false;
        ControlRequest req = {};
        bool log_args = false;
        int c;

        while ((c = getopt_long(argc, argv, "s:g:C:n:h", options, NULL)) >= 0) {
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
                case 'n': {
                        uint64_t n;
                        if (parse_u64(optarg, &n) < 0 || n < 1 || n > JOURNAL_CAPACITY_DEFAULT) {
                                fprintf(stderr, "densityctl: -n %s: not a number 1..%d\n", optarg,
                                        JOURNAL_CAPACITY_DEFAULT);
                                return 2;
                        }
                        req.n = (unsigned) n;
                        log_args = true;
                        break;
                }
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
                fprintf(stderr, "densityctl: --guest, --controller and -n go with log\n");
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
                else if (control_status_print_table(stdout, v) < 0) {
                        fprintf(stderr, "densityctl: the daemon's status document is incomplete\n");
                        status = EXIT_FAILURE;
                }
        } else if (cmd == CONTROL_LOG) {
                json_object_object_get_ex(reply, "log", &v);
                json_object *entries = NULL;
                if (json)
                        printf("%s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
                else if (!json_object_object_get_ex(v, "entries", &entries) || control_log_print(stdout, entries) < 0) {
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
