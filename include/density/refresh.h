/* refresh: guest stats and domain facts from the hypervisor, fetched beside
 * the tick.
 *
 * libvirtd answers balloon stats with one QMP query per guest, one after
 * another (2-3 ms each), so one bulk call over 5000 guests takes seconds.
 * A worker thread owns the hypervisor connection, runs the bulk call every
 * interval, reconnects when the connection breaks (through connect.h, so a
 * libvirtd that never answers a connect does not hold it), and publishes
 * the latest table under a mutex. The tick and the control socket only copy
 * that table: they never wait on the hypervisor.
 *
 * Each domain's XML is read once, when the domain is first seen, again when
 * the hypervisor reports it redefined or its metadata changed, and after a
 * reconnect (events may have been missed); a failed read is retried after
 * REFRESH_FACTS_RETRY_USEC. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "density/util.h"
#include "density/virt.h"

#define REFRESH_FACTS_RETRY_USEC (60 * USEC_PER_SEC)
#define REFRESH_CONNECT_WAIT_USEC (1 * USEC_PER_SEC)

typedef struct GuestTable {
        VirtDomainStats *domains; /* malloc'd, n entries */
        size_t n;
        bool connected;
        char error[256];          /* last failure, "" when the last round worked */
        uint64_t rounds;          /* completed rounds, successful or not */
        uint64_t round_usec;      /* duration of the last round */
        uint64_t round_started_usec; /* CLOCK_MONOTONIC start of the round in progress, 0 if none */
        uint64_t round_progress_usec; /* CLOCK_MONOTONIC of the round's last sign of life: its start,
                                       * a batch of stats answered, a domain XML read */
} GuestTable;

void guest_table_clear(GuestTable *t);

typedef struct Refresher Refresher;

/* Create; the thread starts with refresher_start(). Return: 0 or -errno. */
int refresher_new(const VirtOps *ops, void *userdata, const char *uri, uint64_t interval_usec,
                  Refresher **ret);
int refresher_start(Refresher *r);
/* Stop and join the thread, close the connection; accepts NULL. A worker
 * stuck in a hypervisor call for more than a few seconds is left behind
 * (the process is about to exit). Return NULL. */
Refresher *refresher_free(Refresher *r);

/* New URI (reconnect) or interval, e.g. after a reload. */
int refresher_configure(Refresher *r, const char *uri, uint64_t interval_usec);

/* Run one round in the caller's thread (tests; no thread started). */
void refresher_run_once(Refresher *r);

/* Copy the latest table. Return: 0 or -ENOMEM. */
int refresher_get(Refresher *r, GuestTable *ret);

/* Merge a fresh bulk answer into the previous table: domains gone from the
 * answer are dropped; a domain the answer left without the guest's own
 * figures (busy with a job, NOWAIT) keeps its previous ones and their age,
 * with the fresh current/maximum; a domain that had no figures before
 * either (no balloon, stats off) counts as answered now. Facts are carried
 * over from the previous table. The result is sorted by uuid. */
void refresh_merge(const VirtDomainStats *prev, size_t n_prev, VirtDomainStats *fresh, size_t n_fresh,
                   uint64_t now_usec);
