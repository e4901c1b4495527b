/* densityctl: talks to densityd over its control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "density/control.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: densityctl [--socket PATH] COMMAND [OPTION]...\n"
                "Ask densityd what it sees, or tell it what to do.\n"
                "\n"
                "Commands:\n"
                "  status [--json]   host memory, VMs' budget, PSI, KSM, NUMA, then every guest\n"
                "                    by RSS (--json: the full status document)\n"
                "  reload            re-read the policy file (root only)\n"
                "\n"
                "Options:\n"
                "  -s, --socket PATH  control socket (default %s)\n"
                "  -h, --help         show this help\n"
                "      --version      show the version\n"
                "\n"
                "Environment: DENSITYD_SOCKET sets the socket when --socket is not given.\n"
                "Exit status: 0 ok, 1 the daemon refused or failed, 2 usage error,\n"
                "3 densityd is not running. See densityctl(8).\n",
                CONTROL_DEFAULT_SOCKET);
}

int main(int argc, char **argv) {
        enum { OPT_VERSION = 256, OPT_JSON };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, OPT_JSON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        const char *socket_path = getenv("DENSITYD_SOCKET") ? getenv("DENSITYD_SOCKET") : CONTROL_DEFAULT_SOCKET;
        bool json = false;
        int c;

        while ((c = getopt_long(argc, argv, "s:h", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        socket_path = optarg;
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
        ControlCommand cmd;
        if (control_command_from_name(name, &cmd) < 0) {
                fprintf(stderr, "densityctl: unknown command '%s'\nTry 'densityctl --help'.\n", name);
                return 2;
        }
        if (optind < argc) {
                fprintf(stderr, "densityctl: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (json && cmd != CONTROL_STATUS) {
                fprintf(stderr, "densityctl: --json goes with status\n");
                return 2;
        }

        json_object *reply = NULL;
        char err[512];
        int r = control_call(socket_path, cmd, &reply, err, sizeof(err));
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
        } else
                printf("%s: done\n", name);
        json_object_put(reply);
        return status;
}
