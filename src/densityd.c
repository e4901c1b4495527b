/* densityd: the host agent. Thin: options, then daemon_run(). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "density/daemon.h"
#include "density/log.h"
#include "density/policy.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: densityd [OPTION]...\n"
                "Host agent that packs many small virtual machines safely: samples host and\n"
                "guest memory every tick, plans what its controllers would change, applies it\n"
                "(or, with --dry-run, only journals it), and reports (densityctl status and\n"
                "log, Prometheus textfile, journal).\n"
                "\n"
                "  -c, --config FILE        policy file (default %s)\n"
                "      --check-config[=FILE] check the policy file, print every error or\n"
                "                           \"configuration OK\", and exit\n"
                "  -n, --dry-run            plan and journal every action as \"would\", change\n"
                "                           nothing (as DryRun=yes, whatever the policy says)\n"
                "  -s, --socket PATH        control socket (overrides ControlSocket=)\n"
                "      --textfile-dir DIR   Prometheus textfile directory (overrides\n"
                "                           TextfileDirectory=)\n"
                "      --proc-root DIR      where /proc is (tests)\n"
                "      --sys-root DIR       where /sys is (tests)\n"
                "      --cgroup-root DIR    where the cgroup mount is (tests)\n"
                "      --libvirt-run-dir DIR  where libvirt keeps qemu pid files\n"
                "  -v, --verbose            log debug messages\n"
                "  -h, --help               show this help\n"
                "      --version            show the version\n"
                "\n"
                "Signals: SIGHUP reloads the policy (a bad file keeps the one in force),\n"
                "SIGTERM or SIGINT stops. See densityd(8), densityd-policy(5), densityctl(8).\n",
                POLICY_DEFAULT_PATH);
}

static int check_config(const char *path) {
        Policy p;
        PolicyErrors errors = {};
        int r = policy_load(path, &p, &errors);
        policy_errors_print(&errors, stderr);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return EXIT_FAILURE;
        }
        if (r > 0) {
                fprintf(stderr, "%s: %d error%s\n", path, r, r == 1 ? "" : "s");
                return EXIT_FAILURE;
        }
        printf("configuration OK\n");
        return EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        enum { OPT_CHECK = 256, OPT_TEXTFILE, OPT_PROC, OPT_SYS, OPT_CGROUP, OPT_RUN, OPT_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", optional_argument, NULL, OPT_CHECK },
                { "socket", required_argument, NULL, 's' },
                { "dry-run", no_argument, NULL, 'n' },
                { "textfile-dir", required_argument, NULL, OPT_TEXTFILE },
                { "proc-root", required_argument, NULL, OPT_PROC },
                { "sys-root", required_argument, NULL, OPT_SYS },
                { "cgroup-root", required_argument, NULL, OPT_CGROUP },
                { "libvirt-run-dir", required_argument, NULL, OPT_RUN },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        DaemonOptions o = { .config_path = POLICY_DEFAULT_PATH, .roots = roots_default };
        bool check = false;
        const char *check_path = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "c:s:nvh", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        o.config_path = optarg;
                        o.config_explicit = true;
                        break;
                case OPT_CHECK:
                        check = true;
                        check_path = optarg;
                        break;
                case 's':
                        o.socket_path = optarg;
                        break;
                case 'n':
                        o.dry_run = true;
                        break;
                case OPT_TEXTFILE:
                        o.textfile_dir = optarg;
                        break;
                case OPT_PROC:
                        o.roots.proc = optarg;
                        break;
                case OPT_SYS:
                        o.roots.sys = optarg;
                        break;
                case OPT_CGROUP:
                        o.roots.cgroup = optarg;
                        break;
                case OPT_RUN:
                        o.roots.libvirt_run = optarg;
                        break;
                case 'v':
                        o.verbose = true;
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case OPT_VERSION:
                        printf("densityd %s\n", DENSITY_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'densityd --help'.\n");
                        return 2;
                }
        }
        /* --check-config FILE (with a space) leaves FILE as an operand. */
        if (check && !check_path && optind < argc)
                check_path = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, "densityd: unexpected argument '%s'\nTry 'densityd --help'.\n", argv[optind]);
                return 2;
        }
        if (check)
                return check_config(check_path ? check_path : o.config_path);

        log_setup("densityd", o.verbose);
        return daemon_run(&o);
}
