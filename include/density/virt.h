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
 * managed save of a transient domain); -EIO: anything else.
 * With libvirt: VIR_ERR_NO_DOMAIN is -ENOENT, and so is "operation invalid"
 * from a live-only operation (balloon, pins, numatune, managed save,
 * destroy) on a domain that is not running; a dead connection
 * (virConnectIsAlive) is -ECONNRESET; VIR_ERR_OPERATION_INVALID,
 * _INVALID_ARG, _ARGUMENT_UNSUPPORTED and _CONFIG_UNSUPPORTED are -EINVAL.
 * err reads "<libvirt call> <domain name or UUID>: <libvirt's message>".
 *
 * Changed domains (take_changed): each VirtConn collects, from libvirt's
 * domain events (lifecycle DEFINED of any detail, lifecycle STARTED, and
 * metadata changes of the densityd namespace), the UUIDs of domains whose
 * definition may have changed, each once, at most VIRT_CHANGED_MAX of them
 * between two calls. Past that the set is dropped and the next call
 * returns the UUID of every domain libvirt knows (running or not): a lost
 * change is never silent, it only costs reading every XML once. Events are
 * asynchronous: a UUID may arrive after the change was already read, or
 * name a domain that is gone by then (domain_xml: -ENOENT). A new VirtConn
 * starts with nothing collected and sees nothing that happened before it
 * was opened (or while it was disconnected): after (re)connecting, the
 * caller counts every domain's facts as stale and reads them again.
 * Live tuning (virsh vcpupin/emulatorpin/numatune --live, and densityd's
 * own pin_* and set_numatune) sends TUNABLE events, which are not
 * collected: pinning and numatune facts are those of the XML as last read.
 *
 * Bulk stats (all_stats): active domains are listed, then asked about in
 * batches (64 with libvirt), progress after each. A domain that vanished
 * or stopped between the listing and its batch is left out, not an error. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "density/snapshot.h"

typedef struct VirtConn VirtConn; /* owned by the ops implementation */

/* Changed domains a VirtConn remembers between two take_changed calls;
 * beyond that, every domain counts as changed (see above). */
#define VIRT_CHANGED_MAX 4096

/* One running domain as the hypervisor reports it. Balloon sizes in KiB,
 * as libvirt gives them; has_* false where the guest gave no figure. */
typedef struct VirtDomainStats {
        char name[DENSITY_NAME_MAX];
        char uuid[DENSITY_UUID_LEN];
        int id;
        bool has_current, has_maximum, has_unused, has_available, has_usable, has_disk_caches;
        bool has_last_update, has_swap_in, has_major_fault;
        uint64_t current_kib;
        uint64_t maximum_kib;
        uint64_t unused_kib;
        uint64_t available_kib;
        uint64_t usable_kib;
        uint64_t disk_caches_kib;
        uint64_t swap_in_kib;  /* swapped in since the guest booted */
        uint64_t major_fault;  /* major page faults since the guest booted */
        int64_t last_update;   /* guest clock, seconds */
        uint64_t fetched_usec; /* CLOCK_MONOTONIC when these figures arrived (set by refresh) */
        DomainFacts facts;     /* from the domain XML (set by refresh, not by all_stats) */
        uint64_t facts_read_usec; /* CLOCK_MONOTONIC of the last attempt to read them (set by refresh) */
} VirtDomainStats;

/* Called from inside all_stats as batches of domains are answered, so a
 * long round on a large host can be told from a hung one: done of total
 * domains listed, after each batch (once with 0, 0 when none runs). */
typedef void (*VirtProgressFn)(void *userdata, size_t done, size_t total);

/* The cpulist/nodeset strings below use the kernel's list syntax
 * ("0-3,8,10-11"; cpulist.h). A list that does not parse, is empty, or
 * names a CPU the host lacks is -EINVAL before the hypervisor is asked. */
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
        /* Set the balloon target of a running domain (live only); 0 KiB
         * is -EINVAL. A domain without a balloon device: -EINVAL. */
        int (*set_balloon)(VirtConn *c, const char *uuid, uint64_t kib, char *err, size_t err_size);
        /* Pin one vCPU / the emulator threads (live only). */
        int (*pin_vcpu)(VirtConn *c, const char *uuid, unsigned vcpu, const char *cpulist, char *err,
                        size_t err_size);
        int (*pin_emulator)(VirtConn *c, const char *uuid, const char *cpulist, char *err, size_t err_size);
        /* Memory placement: mode "strict", "preferred", "interleave" or
         * "restrictive", and a nodeset; in the persistent definition (from
         * the next start) and in the running guest where the hypervisor
         * can (libvirt changes a running guest's nodeset only in the mode
         * it started with, never the mode): a persistent guest it cannot
         * rebind while running is 0, with why in err. */
        int (*set_numatune)(VirtConn *c, const char *uuid, const char *mode, const char *nodeset, char *err,
                            size_t err_size);
        /* Save the domain's state to libvirt's managed save image and stop
         * it, bypassing the page cache; persistent domains only (-EINVAL
         * otherwise, checked before the hypervisor is asked: a transient
         * domain that stopped would be gone, and its image with it).
         * Takes seconds. */
        int (*managed_save)(VirtConn *c, const char *uuid, char *err, size_t err_size);
        /* Start a defined domain from its managed save image (bypassing the
         * page cache); -ENOENT if it has none. */
        int (*restore)(VirtConn *c, const char *uuid, char *err, size_t err_size);
        /* Stop the domain at once (its state is lost). */
        int (*destroy)(VirtConn *c, const char *uuid, char *err, size_t err_size);
        /* Abort the domain's job in progress (a managed save that overran):
         * the save fails, the domain keeps running. Called while another
         * thread waits in managed_save. -EINVAL: no job to abort. */
        int (*abort_job)(VirtConn *c, const char *uuid, char *err, size_t err_size);
} VirtOps;

extern const VirtOps virt_libvirt_ops;
