/* daemon: densityd's event loop (sd-event). The tick is sample -> plan ->
 * apply -> report; around it: the control socket, the applier's results,
 * SIGHUP reload, sd_notify READY/STATUS and a watchdog fed only while the
 * tick keeps its schedule. */
#pragma once

#include <stdbool.h>

#include "density/controller.h"
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
        const Controller *const *controllers; /* NULL: controllers_builtin */
        size_t n_controllers;
        bool dry_run;              /* --dry-run: as DryRun=yes, whatever the policy says */
        bool verbose;
} DaemonOptions;

/* Run until SIGTERM/SIGINT. Return: the process exit status. */
int daemon_run(const DaemonOptions *opts);
