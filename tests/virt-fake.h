/* virt-fake: a hypervisor in memory behind VirtOps, for tests only (it is
 * linked into the test programs and the test daemon, never into densityd).
 * A test edits the FakeHypervisor between calls; calls from several
 * threads (the stats worker and the action workers) are recorded under
 * its lock. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "density/virt.h"

#define FAKE_CHANGED_MAX 16

typedef enum FakeOp {
        FAKE_SET_BALLOON,
        FAKE_PIN_VCPU,
        FAKE_PIN_EMULATOR,
        FAKE_SET_NUMATUNE,
        FAKE_MANAGED_SAVE,
        FAKE_RESTORE,
        FAKE_DESTROY,
        FAKE_ABORT_JOB,
        _FAKE_OP_MAX,
} FakeOp;

const char *fake_op_name(FakeOp op);

/* One write operation as the fake received it. */
typedef struct FakeCall {
        FakeOp op;
        char uuid[DENSITY_UUID_LEN];
        char value[160];          /* "262144" (KiB), "1:0-3" (vcpu:cpulist), "0-3", "strict:0", "" */
        uint64_t started_usec;    /* CLOCK_MONOTONIC */
        uint64_t finished_usec;
} FakeCall;

/* The fake hypervisor. Zero-initialised fields are the defaults; the lock
 * of a zeroed struct is a valid unlocked mutex (glibc). */
typedef struct FakeHypervisor {
        pthread_mutex_t lock;     /* guards everything below against the workers */
        VirtDomainStats *domains; /* running domains (id < 0: stopped, left out of all_stats) */
        size_t n_domains;
        const char *const *xml;   /* domain XML by index; NULL (or a NULL entry): a minimal domain */
        const bool *transient;    /* by index; NULL: all persistent */
        bool down;                /* open and every call fail as if libvirtd were gone */
        unsigned n_opens;         /* calls to open that succeeded */
        unsigned n_calls;         /* calls to all_stats */
        unsigned n_xml_reads;     /* calls to domain_xml */
        uint64_t call_delay_usec; /* all_stats sleeps this long (a slow libvirtd) */
        unsigned slow_after_calls; /* ... but only from this call on (0: always) */
        uint64_t open_delay_usec; /* open sleeps this long (a libvirtd slow to answer) */
        uint64_t action_delay_usec; /* every write operation sleeps this long */
        int action_error;         /* write operations fail with this (negative errno); 0: succeed */
        char changed[FAKE_CHANGED_MAX][DENSITY_UUID_LEN]; /* what take_changed reports next */
        size_t n_changed;
        char aborting[DENSITY_UUID_LEN]; /* abort_job asked the save of this domain to stop, "" none */
        FakeCall *calls;          /* write operations, in the order they started (malloc'd) */
        size_t n_write_calls;
} FakeHypervisor;

extern const VirtOps virt_fake_ops; /* userdata: FakeHypervisor * */

/* Free the recorded calls. */
void fake_hypervisor_clear(FakeHypervisor *hv);
