/* densityd-scale: densityd with its built-in controllers and the stand-in
 * hypervisor of contrib/bench/scale.sh (tests/scale-world.c, asked over a
 * Unix socket by virt-scale.c). Never installed.
 *
 *   densityd-scale --world SOCKET [--config FILE] [--socket PATH]
 *                  [--textfile-dir DIR] [--libvirt-run-dir DIR] [--dry-run]
 *
 * /proc, /sys and the cgroup mount are the host's own: the guests are real
 * processes. Run it dry (--dry-run or DryRun=yes): it must not touch the
 * host's KSM knobs. */
#include <getopt.h>
#include <stdio.h>

#include "density/daemon.h"
#include "density/log.h"
#include "virt-scale.h"

int main(int argc, char **argv) {
        enum { OPT_WORLD = 256, OPT_TEXTFILE, OPT_RUN, OPT_DRY };
        static const struct option options[] = {
                { "world", required_argument, NULL, OPT_WORLD },
                { "config", required_argument, NULL, 'c' },
                { "socket", required_argument, NULL, 's' },
                { "textfile-dir", required_argument, NULL, OPT_TEXTFILE },
                { "libvirt-run-dir", required_argument, NULL, OPT_RUN },
                { "dry-run", no_argument, NULL, OPT_DRY },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        DaemonOptions o = { .config_path = "/dev/null", .config_explicit = true, .roots = roots_default,
                            .ops = &virt_scale_ops };
        int c;
        while ((c = getopt_long(argc, argv, "c:s:v", options, NULL)) >= 0) {
                switch (c) {
                case OPT_WORLD: o.ops_userdata = optarg; break;
                case 'c': o.config_path = optarg; break;
                case 's': o.socket_path = optarg; break;
                case OPT_TEXTFILE: o.textfile_dir = optarg; break;
                case OPT_RUN: o.roots.libvirt_run = optarg; break;
                case OPT_DRY: o.dry_run = true; break;
                case 'v': o.verbose = true; break;
                default:
                        fprintf(stderr, "densityd-scale: bad option (see the comment at the top of densityd-scale.c)\n");
                        return 2;
                }
        }
        if (!o.ops_userdata) {
                fprintf(stderr, "densityd-scale: --world SOCKET is required\n");
                return 2;
        }
        log_setup("densityd-scale", o.verbose);
        return daemon_run(&o);
}
