/* virt: the one seam to the hypervisor. virt-libvirt.c is the only file
 * that includes <libvirt/libvirt.h>; tests and benchmarks use the fake in
 * virt-fake.c behind the same table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "density/snapshot.h"

typedef struct VirtConn VirtConn; /* owned by the ops implementation */

/* One running domain as the hypervisor reports it. Balloon sizes in KiB,
 * as libvirt gives them; has_* false where the guest gave no figure. */
typedef struct VirtDomainStats {
        char name[DENSITY_NAME_MAX];
        char uuid[DENSITY_UUID_LEN];
        int id;
        bool has_current, has_maximum, has_unused, has_available, has_usable, has_disk_caches;
        bool has_last_update;
        uint64_t current_kib;
        uint64_t maximum_kib;
        uint64_t unused_kib;
        uint64_t available_kib;
        uint64_t usable_kib;
        uint64_t disk_caches_kib;
        int64_t last_update;   /* guest clock, seconds */
        uint64_t fetched_usec; /* CLOCK_MONOTONIC when these figures arrived (set by refresh) */
} VirtDomainStats;

typedef struct VirtOps {
        const char *name;
        /* Connect. Return: 0 or negative errno; *ret_error (may be NULL)
         * gets a one-line reason on failure. */
        int (*open)(void *userdata, const char *uri, VirtConn **ret, char *ret_error, size_t error_size);
        /* Disconnect and free; accepts NULL. */
        void (*close)(VirtConn *c);
        /* Balloon stats of every running domain in one bulk call, not
         * waiting for domains busy with a job. Return: 0 with a malloc'd
         * array (caller frees), or negative errno: -ECONNRESET/-ENOTCONN when
         * the connection is gone (caller reconnects). */
        int (*all_stats)(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, char *ret_error, size_t error_size);
} VirtOps;

extern const VirtOps virt_libvirt_ops;

/* The fake hypervisor: a list of domains a test edits between calls. */
typedef struct FakeHypervisor {
        VirtDomainStats *domains;
        size_t n_domains;
        bool down;            /* open and all_stats fail as if libvirtd were gone */
        unsigned n_opens;     /* calls to open that succeeded */
        unsigned n_calls;     /* calls to all_stats */
        uint64_t call_delay_usec; /* all_stats sleeps this long (a slow libvirtd) */
} FakeHypervisor;

extern const VirtOps virt_fake_ops; /* userdata: FakeHypervisor * */
