/* daemon: densityd's event loop (sd-event): the tick (sample, report), the
 * control socket, SIGHUP reload, sd_notify READY/STATUS/WATCHDOG. */
#pragma once

#include <stdbool.h>

#include "density/sample.h"
#include "density/virt.h"

typedef struct DaemonOptions {
        const char *config_path;   /* policy file */
        bool config_explicit;      /* given on the command line: must exist */
        const char *socket_path;   /* overrides ControlSocket= when set */
        const char *textfile_dir;  /* overrides TextfileDirectory= when set */
        Roots roots;
        const VirtOps *ops;        /* hypervisor; NULL: libvirt */
        void *ops_userdata;
        bool verbose;
} DaemonOptions;

/* Run until SIGTERM/SIGINT. Return: the process exit status. */
int daemon_run(const DaemonOptions *opts);
