/* virt: the one seam to the hypervisor. virt-libvirt.c is the only file
 * that includes <libvirt/libvirt.h>; tests use the fake in tests/virt-fake.c
 * (a test-only library) behind the same table.
 *
 * Threads: a VirtConn may be used by several threads at once (libvirt's
 * connections are thread-safe); densityd opens two, one for the bulk stats
 * round (refresh.c) and one for actions (apply.c), so that a long stats
 * round never delays an action.
 *
 * Errors: every operation returns 0 or a negative errno and, on failure,
 * writes a one-line reason (libvirt's own message where there is one) to
 * err (err may be NULL). -ENOENT: no such domain (it stopped or was
 * undefined); -ECONNRESET or -ENOTCONN: the connection is gone (the caller
 * reconnects); -EINVAL: the request makes no sense for this domain (e.g.
 * managed save of a transient domain); -EIO: anything else. */
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
        DomainFacts facts;     /* from the domain XML (set by refresh, not by all_stats) */
        uint64_t facts_read_usec; /* CLOCK_MONOTONIC of the last attempt to read them (set by refresh) */
} VirtDomainStats;

/* Called from inside all_stats as batches of domains are answered, so a
 * long round on a large host can be told from a hung one. */
typedef void (*VirtProgressFn)(void *userdata, size_t done, size_t total);

/* The cpulist/nodeset strings below use the kernel's list syntax
 * ("0-3,8,10-11"). */
typedef struct VirtOps {
        const char *name;
        /* Connect. May block as long as the hypervisor takes to answer (a
         * hung libvirtd: for ever); refresh.c runs it so that it can be
         * abandoned. Return: 0 or negative errno. */
        int (*open)(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size);
        /* Disconnect and free; accepts NULL. */
        void (*close)(VirtConn *c);
        /* Balloon stats of every running domain, not waiting for domains busy
         * with a job; progress (may be NULL) is called after each batch.
         * Return: 0 with a malloc'd array (caller frees), or negative errno. */
        int (*all_stats)(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, VirtProgressFn progress,
                         void *progress_userdata, char *err, size_t err_size);
        /* The domain's XML (live definition, with metadata) and whether it
         * is persistent. Return: 0 with *ret_xml malloc'd, or -errno. */
        int (*domain_xml)(VirtConn *c, const char *uuid, char **ret_xml, bool *ret_persistent, char *err,
                          size_t err_size);
        /* UUIDs of domains redefined or whose metadata changed since the last
         * call (from hypervisor events), so their XML is read again.
         * Return: 0 with a malloc'd array of *ret_n UUIDs (may be 0), or -errno. */
        int (*take_changed)(VirtConn *c, char (**ret)[DENSITY_UUID_LEN], size_t *ret_n);
        /* Set the balloon target of a running domain (live only). */
        int (*set_balloon)(VirtConn *c, const char *uuid, uint64_t kib, char *err, size_t err_size);
        /* Pin one vCPU / the emulator threads (live only). */
        int (*pin_vcpu)(VirtConn *c, const char *uuid, unsigned vcpu, const char *cpulist, char *err,
                        size_t err_size);
        int (*pin_emulator)(VirtConn *c, const char *uuid, const char *cpulist, char *err, size_t err_size);
        /* Memory placement (live): mode "strict", "preferred", "interleave"
         * or "restrictive", and a nodeset. */
        int (*set_numatune)(VirtConn *c, const char *uuid, const char *mode, const char *nodeset, char *err,
                            size_t err_size);
        /* Save the domain's state to libvirt's managed save image and stop
         * it, bypassing the page cache; persistent domains only (-EINVAL
         * otherwise). Takes seconds. */
        int (*managed_save)(VirtConn *c, const char *uuid, char *err, size_t err_size);
        /* Start a defined domain from its managed save image (bypassing the
         * page cache); -ENOENT if it has none. */
        int (*restore)(VirtConn *c, const char *uuid, char *err, size_t err_size);
        /* Stop the domain at once (its state is lost). */
        int (*destroy)(VirtConn *c, const char *uuid, char *err, size_t err_size);
} VirtOps;

extern const VirtOps virt_libvirt_ops;
