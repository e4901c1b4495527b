/* apply: the only code that changes the host. It takes a Plan and either
 * journals every action as "would" (dry run) or carries it out, off the
 * event loop:
 *   - KSM knobs: written below the injectable /sys root by one thread, in
 *     the order planned (a write of run=2 unmerges and can take long);
 *   - hypervisor actions: run by APPLY_HV_WORKERS threads on a connection
 *     of their own (never the bulk stats connection, so a stats round of
 *     10-15 s on a large host never delays an action), actions for one
 *     guest one after another, in the order planned.
 * Results come back to the event loop through a file descriptor
 * (applier_fd) and are journaled there by applier_dispatch(), which also
 * reports actions that have had no outcome within ActionTimeout= (a
 * started one is still tracked, and its late outcome journaled). A guest
 * with an action in flight gets no second one of the same kind: it is
 * journaled as skipped. The event loop never waits on a worker. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "density/journal.h"
#include "density/plan.h"
#include "density/snapshot.h"
#include "density/virt.h"

#define APPLY_HV_WORKERS 4
#define APPLY_IN_FLIGHT_MAX 10000  /* actions queued or running at once */

typedef struct Applier Applier;

/* The journal is the caller's (the event loop's); the applier journals into
 * it only from applier_apply() and applier_dispatch(). Return: 0 or -errno. */
int applier_new(const VirtOps *ops, void *ops_userdata, Journal *journal, Applier **ret);

/* Start the worker threads. Return: 0 or -errno. */
int applier_start(Applier *a);

/* Stop the workers: a worker stuck in a hypervisor call for more than a few
 * seconds is left behind (the process is about to exit). Accepts NULL.
 * Return: NULL. */
Applier *applier_free(Applier *a);

/* What the policy says (on start and on every reload). sys_root: where
 * /sys is. A managed save still running save_timeout_usec after it
 * started is aborted (the hypervisor's abort_job, from another worker):
 * it ends failed, journaled as aborted; 0: never. */
void applier_configure(Applier *a, const char *uri, const char *sys_root, bool dry_run, uint64_t action_timeout_usec,
                       uint64_t save_timeout_usec);

/* Where /proc is (OOM score writes): "/proc" unless set. */
void applier_set_proc_root(Applier *a, const char *proc_root);

/* Readable when results wait for applier_dispatch(). */
int applier_fd(Applier *a);

/* Take a plan: journal and queue (or, dry, journal as "would") each action. */
void applier_apply(Applier *a, const Plan *p);

/* Journal what came back and what timed out. Return: the next time
 * (CLOCK_MONOTONIC usec) at which something may time out, 0 if nothing is
 * in flight; the caller wakes up then and calls again. */
uint64_t applier_dispatch(Applier *a);

/* Mark each guest's actions_in_flight (bit 1 << kind) in the snapshot. */
void applier_annotate(Applier *a, Snapshot *s);

/* Actions queued or running now. */
size_t applier_in_flight(Applier *a);
