/* virt-libvirt: the libvirt implementation of VirtOps. The only file that
 * includes libvirt. */
#include "density/virt.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "density/cpulist.h"
#include "density/domfacts.h"
#include "density/util.h"

#define VIRT_KEEPALIVE_INTERVAL_SEC 5
#define VIRT_KEEPALIVE_COUNT 3
/* Domains per virDomainListGetStats call: one round on 5000 guests is ~80
 * calls, each answered in well under a second, with progress in between. */
#define VIRT_STATS_BATCH 64
/* NUMA node numbers a nodeset may name (Linux's MAX_NUMNODES at most). */
#define VIRT_NODESET_BITS 1024

/* UUIDs the event callbacks collected for take_changed. Shared between the
 * VirtConn and libvirt's two callback registrations, each holding a
 * reference: libvirt may still be inside a callback when deregistration
 * returns, and drops its reference (virt_events_unref as the free
 * callback) only once it is out. */
typedef struct VirtEvents {
        pthread_mutex_t lock;
        unsigned refs;
        bool overflow; /* more than VIRT_CHANGED_MAX: the next take reports every domain */
        size_t n, allocated;
        char (*uuids)[DENSITY_UUID_LEN];
} VirtEvents;

struct VirtConn {
        virConnectPtr conn;
        VirtEvents *events;
        int lifecycle_cb; /* callback ids, -1: not registered */
        int metadata_cb;
};

static void virt_domain_freep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}
#define _cleanup_domain_ _cleanup_(virt_domain_freep)

/* libvirt prints every error to stderr by default; we report them ourselves,
 * once, with context. */
static void virt_silent_error(void *userdata, virErrorPtr err) {
        (void) userdata;
        (void) err;
}

/* "what who: message" on one line. */
static void virt_message(char *buf, size_t size, const char *what, const char *who, const char *msg) {
        if (!buf || size == 0)
                return;
        snprintf(buf, size, "%s%s%s: %s", what, who ? " " : "", who ? who : "", msg ? msg : "unknown error");
        for (char *p = buf; *p; p++)
                if ((unsigned char) *p < 0x20)
                        *p = ' ';
}

/**
 * virt_fail() - turn the failure of the libvirt call just made into our
 * errno, and libvirt's message (prefixed with what was attempted) into err.
 * @live_dom: for an operation on a running domain, the domain: "not
 *     running" then means it stopped (-ENOENT), not a bad request
 *
 * Return: -ENOENT, -ECONNRESET, -EINVAL or -EIO.
 */
static int virt_fail(VirtConn *c, virDomainPtr live_dom, const char *what, const char *who, char *err,
                     size_t err_size) {
        /* Every libvirt call resets the thread's last error: copy it first. */
        virErrorPtr e = virGetLastError();
        int code = e ? e->code : VIR_ERR_OK;
        virt_message(err, err_size, what, who, e ? e->message : NULL);

        if (code == VIR_ERR_NO_DOMAIN)
                return -ENOENT;
        if (virConnectIsAlive(c->conn) != 1)
                return -ECONNRESET;
        switch (code) {
        case VIR_ERR_OPERATION_INVALID:
                if (live_dom && virDomainIsActive(live_dom) == 0)
                        return -ENOENT;
                return -EINVAL;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
        case VIR_ERR_CONFIG_UNSUPPORTED:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* ---------------------------------------------------------------- events */

static VirtEvents *virt_events_new(void) {
        VirtEvents *ev = calloc(1, sizeof(*ev));
        if (!ev)
                return NULL;
        pthread_mutex_init(&ev->lock, NULL);
        ev->refs = 1;
        return ev;
}

static void virt_events_ref(VirtEvents *ev) {
        pthread_mutex_lock(&ev->lock);
        ev->refs++;
        pthread_mutex_unlock(&ev->lock);
}

static void virt_events_unref(void *opaque) {
        VirtEvents *ev = opaque;
        if (!ev)
                return;
        pthread_mutex_lock(&ev->lock);
        unsigned left = --ev->refs;
        pthread_mutex_unlock(&ev->lock);
        if (left > 0)
                return;
        pthread_mutex_destroy(&ev->lock);
        free(ev->uuids);
        free(ev);
}

/* In libvirt's event thread: remember that dom changed, once. */
static void virt_events_add(VirtEvents *ev, virDomainPtr dom) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(dom, uuid) < 0)
                return;
        pthread_mutex_lock(&ev->lock);
        if (ev->overflow)
                goto out;
        for (size_t i = 0; i < ev->n; i++)
                if (strcmp(ev->uuids[i], uuid) == 0)
                        goto out;
        if (ev->n == ev->allocated) {
                size_t want = ev->allocated ? ev->allocated * 2 : 64;
                if (want > VIRT_CHANGED_MAX)
                        want = VIRT_CHANGED_MAX;
                void *p = ev->n < VIRT_CHANGED_MAX ? realloc(ev->uuids, want * DENSITY_UUID_LEN) : NULL;
                if (!p) {
                        /* Full, or no memory: this change would be lost, so
                         * from now on everything counts as changed. */
                        ev->overflow = true;
                        ev->n = 0;
                        goto out;
                }
                ev->uuids = p;
                ev->allocated = want;
        }
        strscpy(ev->uuids[ev->n++], DENSITY_UUID_LEN, uuid);
out:
        pthread_mutex_unlock(&ev->lock);
}

static int virt_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        (void) conn;
        (void) detail;
        /* DEFINED (any detail: added, updated, renamed, from snapshot): a new
         * definition. STARTED: a new live definition (a transient domain
         * created again under the same UUID has no DEFINED event). */
        if (event == VIR_DOMAIN_EVENT_DEFINED || event == VIR_DOMAIN_EVENT_STARTED)
                virt_events_add(opaque, dom);
        return 0;
}

static void virt_on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque) {
        (void) conn;
        /* Only our element matters (not <title>, <description> or another
         * application's metadata). */
        if (type == VIR_DOMAIN_METADATA_ELEMENT && (!nsuri || strcmp(nsuri, DOMFACTS_NAMESPACE) == 0))
                virt_events_add(opaque, dom);
}

static int virt_register(VirtConn *c, int event_id, virConnectDomainEventGenericCallback cb, int *ret_id,
                         char *err, size_t err_size) {
        virt_events_ref(c->events); /* libvirt's, dropped through the free callback */
        int id = virConnectDomainEventRegisterAny(c->conn, NULL, event_id, cb, c->events, virt_events_unref);
        if (id < 0) {
                int r = virt_fail(c, NULL, "virConnectDomainEventRegisterAny", NULL, err, err_size);
                virt_events_unref(c->events); /* not called by libvirt on failure */
                return r;
        }
        *ret_id = id;
        return 0;
}

/* ---------------------------------------------------------------- connection */

/* libvirt's client event loop: without it no keepalive runs, a hung
 * libvirtd would hold a call forever, and no domain event arrives. */
static void *virt_event_loop(void *arg) {
        (void) arg;
        pthread_setname_np(pthread_self(), "density-virtev");
        for (;;)
                if (virEventRunDefaultImpl() < 0)
                        usleep(100 * 1000); /* never spin */
        return NULL;
}

static int virt_initialize(char *err, size_t err_size) {
        /* The stats and action threads may open their connections at once. */
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static bool initialized;
        int r = 0;
        pthread_mutex_lock(&lock);
        if (initialized)
                goto out;
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
                virErrorPtr e = virGetLastError();
                virt_message(err, err_size, "libvirt initialization failed", NULL, e ? e->message : NULL);
                r = -EIO;
                goto out;
        }
        virSetErrorFunc(NULL, virt_silent_error);
        int k = thread_start_detached(virt_event_loop, NULL);
        if (k < 0) {
                snprintf(err, err_size, "cannot start libvirt's event thread: %s", strerror(-k));
                r = k;
                goto out;
        }
        initialized = true;
out:
        pthread_mutex_unlock(&lock);
        return r;
}

static void virt_close(VirtConn *c) {
        if (!c)
                return;
        if (c->conn) {
                if (c->lifecycle_cb >= 0)
                        (void) virConnectDomainEventDeregisterAny(c->conn, c->lifecycle_cb);
                if (c->metadata_cb >= 0)
                        (void) virConnectDomainEventDeregisterAny(c->conn, c->metadata_cb);
                virConnectClose(c->conn);
        }
        virt_events_unref(c->events);
        free(c);
}

static int virt_open(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size) {
        (void) userdata;
        int r = virt_initialize(err, err_size);
        if (r < 0)
                return r;

        VirtConn *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->lifecycle_cb = c->metadata_cb = -1;
        c->events = virt_events_new();
        if (!c->events) {
                free(c);
                return -ENOMEM;
        }
        c->conn = virConnectOpen(uri);
        if (!c->conn) {
                virErrorPtr e = virGetLastError();
                virt_message(err, err_size, "virConnectOpen", uri ? uri : "(default)", e ? e->message : NULL);
                virt_close(c);
                return -ECONNREFUSED;
        }
        /* A libvirtd that stops answering is dropped after about
         * VIRT_KEEPALIVE_INTERVAL_SEC * (VIRT_KEEPALIVE_COUNT + 1) seconds. */
        (void) virConnectSetKeepAlive(c->conn, VIRT_KEEPALIVE_INTERVAL_SEC, VIRT_KEEPALIVE_COUNT);

        r = virt_register(c, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(virt_on_lifecycle),
                          &c->lifecycle_cb, err, err_size);
        if (r == 0)
                r = virt_register(c, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(virt_on_metadata),
                                  &c->metadata_cb, err, err_size);
        if (r < 0) {
                virt_close(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* ---------------------------------------------------------------- stats */

static void virt_record_to_stats(virDomainStatsRecordPtr rec, VirtDomainStats *s) {
        memset(s, 0, sizeof(*s));
        strscpy(s->name, sizeof(s->name), virDomainGetName(rec->dom));
        virDomainGetUUIDString(rec->dom, s->uuid);
        s->id = (int) virDomainGetID(rec->dom);

        for (int i = 0; i < rec->nparams; i++) {
                virTypedParameterPtr p = &rec->params[i];
                uint64_t v;
                if (p->type == VIR_TYPED_PARAM_ULLONG)
                        v = p->value.ul;
                else if (p->type == VIR_TYPED_PARAM_LLONG)
                        v = (uint64_t) p->value.l;
                else
                        continue;
                if (strcmp(p->field, "balloon.current") == 0)
                        s->current_kib = v, s->has_current = true;
                else if (strcmp(p->field, "balloon.maximum") == 0)
                        s->maximum_kib = v, s->has_maximum = true;
                else if (strcmp(p->field, "balloon.unused") == 0)
                        s->unused_kib = v, s->has_unused = true;
                else if (strcmp(p->field, "balloon.available") == 0)
                        s->available_kib = v, s->has_available = true;
                else if (strcmp(p->field, "balloon.usable") == 0)
                        s->usable_kib = v, s->has_usable = true;
                else if (strcmp(p->field, "balloon.disk_caches") == 0)
                        s->disk_caches_kib = v, s->has_disk_caches = true;
                else if (strcmp(p->field, "balloon.swap_in") == 0)
                        s->swap_in_kib = v, s->has_swap_in = true;
                else if (strcmp(p->field, "balloon.major_fault") == 0)
                        s->major_fault = v, s->has_major_fault = true;
                else if (strcmp(p->field, "balloon.last-update") == 0)
                        s->last_update = (int64_t) v, s->has_last_update = true;
        }
}

static void virt_domain_list_free(virDomainPtr *doms, int n) {
        for (int i = 0; i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
}

/* Stats of a NULL-terminated list of domains, appended to out (room for
 * every domain asked about). A domain that no longer exists is left out
 * by libvirt; one that stopped since it was listed is left out here. */
static int virt_stats_batch(VirtConn *c, virDomainPtr *batch, VirtDomainStats *out, size_t *n_out, size_t room,
                            char *err, size_t err_size) {
        virDomainStatsRecordPtr *recs = NULL;
        int m = virDomainListGetStats(batch, VIR_DOMAIN_STATS_BALLOON, &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
        if (m < 0)
                return virt_fail(c, NULL, "virDomainListGetStats", NULL, err, err_size);
        for (int j = 0; j < m && *n_out < room; j++) {
                if (virDomainGetID(recs[j]->dom) == (unsigned) -1)
                        continue;
                virt_record_to_stats(recs[j], &out[(*n_out)++]);
        }
        virDomainStatsRecordListFree(recs);
        return 0;
}

static int virt_all_stats(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, VirtProgressFn progress,
                          void *progress_userdata, char *err, size_t err_size) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) {
                int r = virt_fail(c, NULL, "virConnectListAllDomains", NULL, err, err_size);
                return r == -ECONNRESET ? r : -EIO;
        }
        size_t total = (size_t) n;
        VirtDomainStats *out = calloc(total ? total : 1, sizeof(*out));
        if (!out) {
                virt_domain_list_free(doms, n);
                return -ENOMEM;
        }

        size_t got = 0;
        int r = 0;
        for (size_t i = 0; i < total && r == 0; i += VIRT_STATS_BATCH) {
                size_t k = total - i < VIRT_STATS_BATCH ? total - i : VIRT_STATS_BATCH;
                virDomainPtr batch[VIRT_STATS_BATCH + 1];
                memcpy(batch, doms + i, k * sizeof(batch[0]));
                batch[k] = NULL;
                r = virt_stats_batch(c, batch, out, &got, total, err, err_size);
                if (r == -ENOENT) {
                        /* A driver that fails the whole list for one domain
                         * gone since the listing: ask one by one, skip it. */
                        r = 0;
                        for (size_t j = 0; j < k && r == 0; j++) {
                                virDomainPtr one[2] = { doms[i + j], NULL };
                                r = virt_stats_batch(c, one, out, &got, total, err, err_size);
                                if (r == -ENOENT)
                                        r = 0;
                        }
                }
                if (r == 0 && progress)
                        progress(progress_userdata, i + k, total);
        }
        virt_domain_list_free(doms, n);
        if (r < 0) {
                free(out);
                return r == -ECONNRESET || r == -ENOMEM ? r : -EIO;
        }
        if (total == 0 && progress)
                progress(progress_userdata, 0, 0);
        *ret = out;
        *ret_n = got;
        return 0;
}

/* ---------------------------------------------------------------- domains */

/* The domain and its name (for messages). The name is taken here, not
 * when a later call has failed: every libvirt call, virDomainGetName too,
 * resets the thread's last error. */
static int virt_lookup(VirtConn *c, const char *uuid, virDomainPtr *ret, const char **ret_name, char *err,
                       size_t err_size) {
        if (!uuid) {
                virt_message(err, err_size, "virDomainLookupByUUIDString", NULL, "no UUID");
                return -EINVAL;
        }
        virDomainPtr d = virDomainLookupByUUIDString(c->conn, uuid);
        if (!d)
                return virt_fail(c, NULL, "virDomainLookupByUUIDString", uuid, err, err_size);
        const char *name = virDomainGetName(d);
        *ret = d;
        *ret_name = name ? name : uuid;
        return 0;
}

static int virt_domain_xml(VirtConn *c, const char *uuid, char **ret_xml, bool *ret_persistent, char *err,
                           size_t err_size) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        int r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        /* flags 0: the live definition of a running domain, metadata included */
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0);
        if (!xml)
                return virt_fail(c, NULL, "virDomainGetXMLDesc", name, err, err_size);
        int p = virDomainIsPersistent(dom);
        if (p < 0)
                return virt_fail(c, NULL, "virDomainIsPersistent", name, err, err_size);
        *ret_xml = TAKE_PTR(xml);
        *ret_persistent = p == 1;
        return 0;
}

static int virt_take_changed(VirtConn *c, char (**ret)[DENSITY_UUID_LEN], size_t *ret_n) {
        VirtEvents *ev = c->events;
        pthread_mutex_lock(&ev->lock);
        if (!ev->overflow) {
                size_t n = ev->n;
                char(*out)[DENSITY_UUID_LEN] = calloc(n ? n : 1, DENSITY_UUID_LEN);
                if (!out) {
                        pthread_mutex_unlock(&ev->lock);
                        return -ENOMEM;
                }
                if (n)
                        memcpy(out, ev->uuids, n * DENSITY_UUID_LEN);
                ev->n = 0;
                pthread_mutex_unlock(&ev->lock);
                *ret = out;
                *ret_n = n;
                return 0;
        }
        /* Lost track: every domain counts as changed. Changes from now on
         * collect again (and may repeat one listed here: harmless). */
        ev->overflow = false;
        ev->n = 0;
        pthread_mutex_unlock(&ev->lock);

        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c->conn, &doms, 0);
        char(*out)[DENSITY_UUID_LEN] = n >= 0 ? calloc(n > 0 ? (size_t) n : 1, DENSITY_UUID_LEN) : NULL;
        if (!out) {
                int r = n < 0 ? virt_fail(c, NULL, "virConnectListAllDomains", NULL, NULL, 0) : -ENOMEM;
                if (n >= 0)
                        virt_domain_list_free(doms, n);
                pthread_mutex_lock(&ev->lock);
                ev->overflow = true; /* still owed */
                pthread_mutex_unlock(&ev->lock);
                return r == -ECONNRESET || r == -ENOMEM ? r : -EIO;
        }
        size_t k = 0;
        for (int i = 0; i < n; i++)
                if (virDomainGetUUIDString(doms[i], out[k]) == 0)
                        k++;
        virt_domain_list_free(doms, n);
        *ret = out;
        *ret_n = k;
        return 0;
}

static int virt_set_balloon(VirtConn *c, const char *uuid, uint64_t kib, char *err, size_t err_size) {
        /* 0 would take every page from the guest: a bug upstream, never a plan. */
        if (kib == 0 || kib > ULONG_MAX) {
                char what[64];
                snprintf(what, sizeof(what), "a balloon target of %llu KiB", (unsigned long long) kib);
                virt_message(err, err_size, "virDomainSetMemoryFlags", uuid, what);
                return -EINVAL;
        }
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        int r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        if (virDomainSetMemoryFlags(dom, (unsigned long) kib, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_fail(c, dom, "virDomainSetMemoryFlags", name, err, err_size);
        return 0;
}

/* A cpumap for libvirt from a kernel cpulist, sized by the host's CPUs. */
static int virt_cpumap(VirtConn *c, const char *what, const char *uuid, const char *cpulist, unsigned char **ret,
                       int *ret_len, char *err, size_t err_size) {
        int ncpus = virNodeGetCPUMap(c->conn, NULL, NULL, 0);
        if (ncpus <= 0) {
                virNodeInfo info;
                if (virNodeGetInfo(c->conn, &info) < 0)
                        return virt_fail(c, NULL, "virNodeGetInfo", NULL, err, err_size);
                ncpus = (int) VIR_NODEINFO_MAXCPUS(info);
        }
        if (ncpus <= 0) {
                virt_message(err, err_size, what, uuid, "the host reports no CPUs");
                return -EIO;
        }
        size_t nbits = (size_t) ncpus;
        _cleanup_free_ unsigned char *map = calloc(CPULIST_MAP_BYTES(nbits), 1);
        if (!map)
                return -ENOMEM;
        size_t count = 0;
        int r = cpulist_parse(cpulist, map, nbits, &count);
        if (r < 0 || count == 0) {
                char why[160];
                snprintf(why, sizeof(why), "cpulist '%.64s' %s", cpulist ? cpulist : "(null)",
                         r == -ERANGE ? "names a CPU the host does not have"
                         : r < 0      ? "is not a CPU list (like 0-3,8)"
                                      : "is empty");
                if (r == -ERANGE)
                        snprintf(why + strlen(why), sizeof(why) - strlen(why), " (CPUs 0-%d)", ncpus - 1);
                virt_message(err, err_size, what, uuid, why);
                return -EINVAL;
        }
        *ret = TAKE_PTR(map);
        *ret_len = (int) CPULIST_MAP_BYTES(nbits);
        return 0;
}

/* Pin vCPU vcpu, or the emulator threads, to cpulist (live). */
static int virt_pin(VirtConn *c, const char *uuid, bool emulator, unsigned vcpu, const char *cpulist, char *err,
                    size_t err_size) {
        const char *what = emulator ? "virDomainPinEmulator" : "virDomainPinVcpuFlags";
        _cleanup_free_ unsigned char *map = NULL;
        int len = 0;
        int r = virt_cpumap(c, what, uuid, cpulist, &map, &len, err, err_size);
        if (r < 0)
                return r;
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        int k = emulator ? virDomainPinEmulator(dom, map, len, VIR_DOMAIN_AFFECT_LIVE)
                         : virDomainPinVcpuFlags(dom, vcpu, map, len, VIR_DOMAIN_AFFECT_LIVE);
        if (k < 0)
                return virt_fail(c, dom, what, name, err, err_size);
        return 0;
}

static int virt_pin_vcpu(VirtConn *c, const char *uuid, unsigned vcpu, const char *cpulist, char *err,
                         size_t err_size) {
        return virt_pin(c, uuid, false, vcpu, cpulist, err, err_size);
}

static int virt_pin_emulator(VirtConn *c, const char *uuid, const char *cpulist, char *err, size_t err_size) {
        return virt_pin(c, uuid, true, 0, cpulist, err, err_size);
}

static int virt_numatune_mode(const char *mode) {
        static const struct {
                const char *word;
                int mode;
        } modes[] = {
                { "strict", VIR_DOMAIN_NUMATUNE_MEM_STRICT },
                { "preferred", VIR_DOMAIN_NUMATUNE_MEM_PREFERRED },
                { "interleave", VIR_DOMAIN_NUMATUNE_MEM_INTERLEAVE },
                { "restrictive", VIR_DOMAIN_NUMATUNE_MEM_RESTRICTIVE },
        };
        for (size_t i = 0; mode && i < ELEMENTSOF(modes); i++)
                if (strcmp(mode, modes[i].word) == 0)
                        return modes[i].mode;
        return -EINVAL;
}

static int virt_set_numatune(VirtConn *c, const char *uuid, const char *mode, const char *nodeset, char *err,
                             size_t err_size) {
        int m = virt_numatune_mode(mode);
        if (m < 0) {
                char why[96];
                snprintf(why, sizeof(why), "mode '%.16s' is not strict, preferred, interleave or restrictive",
                         mode ? mode : "(null)");
                virt_message(err, err_size, "virDomainSetNumaParameters", uuid, why);
                return -EINVAL;
        }
        /* libvirt reads ranges and commas, not the kernel's strides or
         * blanks: hand it the canonical form. */
        uint8_t nodes[CPULIST_MAP_BYTES(VIRT_NODESET_BITS)];
        size_t count = 0;
        char canonical[256];
        int r = cpulist_parse(nodeset, nodes, VIRT_NODESET_BITS, &count);
        if (r == 0 && count > 0)
                r = cpulist_format(nodes, VIRT_NODESET_BITS, canonical, sizeof(canonical));
        if (r < 0 || count == 0) {
                char why[128];
                snprintf(why, sizeof(why), "nodeset '%.64s' %s", nodeset ? nodeset : "(null)",
                         r == 0 ? "is empty" : "is not a node list (like 0-1,3)");
                virt_message(err, err_size, "virDomainSetNumaParameters", uuid, why);
                return -EINVAL;
        }

        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        virTypedParameterPtr params = NULL;
        int nparams = 0, maxparams = 0;
        if (virTypedParamsAddInt(&params, &nparams, &maxparams, VIR_DOMAIN_NUMA_MODE, m) < 0 ||
            virTypedParamsAddString(&params, &nparams, &maxparams, VIR_DOMAIN_NUMA_NODESET, canonical) < 0) {
                virTypedParamsFree(params, nparams);
                return -ENOMEM;
        }
        /* The persistent definition first (the guest's next start); then
         * the running guest, where libvirt can: it changes a running
         * guest's nodeset only in the mode it was started with (in 9.0,
         * restrictive), never the mode. A persistent guest whose running
         * binding cannot change is done, with why in the message. */
        bool persistent = virDomainIsPersistent(dom) == 1;
        if (persistent && virDomainSetNumaParameters(dom, params, nparams, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
                r = virt_fail(c, dom, "virDomainSetNumaParameters", name, err, err_size);
                virTypedParamsFree(params, nparams);
                return r;
        }
        if (virDomainSetNumaParameters(dom, params, nparams, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                char live[256];
                r = virt_fail(c, dom, "virDomainSetNumaParameters", name, live, sizeof(live));
                if (r == -EINVAL && persistent) {
                        snprintf(err, err_size, "set in the persistent definition, from its next start; not while it "
                                                "runs: %.180s", live);
                        r = 0;
                } else
                        strscpy(err, err_size, live);
        }
        virTypedParamsFree(params, nparams);
        return r;
}

static int virt_abort_job(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        int r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        if (virDomainAbortJob(dom) < 0)
                return virt_fail(c, dom, "virDomainAbortJob", name, err, err_size);
        return 0;
}

static int virt_managed_save(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        int r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        /* Asked first, not left to the driver: a transient domain that some
         * driver did save would vanish when it stops, its image with it. */
        int p = virDomainIsPersistent(dom);
        if (p < 0)
                return virt_fail(c, NULL, "virDomainIsPersistent", name, err, err_size);
        if (p == 0) {
                virt_message(err, err_size, "virDomainManagedSave", name,
                             "not attempted: cannot do managed save for transient domain");
                return -EINVAL;
        }
        if (virDomainManagedSave(dom, VIR_DOMAIN_SAVE_BYPASS_CACHE) < 0)
                return virt_fail(c, dom, "virDomainManagedSave", name, err, err_size);
        return 0;
}

static int virt_restore(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        int r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        int has = virDomainHasManagedSaveImage(dom, 0);
        if (has < 0)
                return virt_fail(c, NULL, "virDomainHasManagedSaveImage", name, err, err_size);
        if (has == 0) {
                virt_message(err, err_size, "virDomainHasManagedSaveImage", name,
                             "no managed save image");
                return -ENOENT;
        }
        if (virDomainCreateWithFlags(dom, VIR_DOMAIN_START_BYPASS_CACHE) < 0)
                return virt_fail(c, NULL, "virDomainCreateWithFlags", name, err, err_size);
        return 0;
}

static int virt_destroy(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        _cleanup_domain_ virDomainPtr dom = NULL;
        const char *name;
        int r = virt_lookup(c, uuid, &dom, &name, err, err_size);
        if (r < 0)
                return r;
        if (virDomainDestroy(dom) < 0)
                return virt_fail(c, dom, "virDomainDestroy", name, err, err_size);
        return 0;
}

const VirtOps virt_libvirt_ops = {
        .name = "libvirt",
        .open = virt_open,
        .close = virt_close,
        .all_stats = virt_all_stats,
        .domain_xml = virt_domain_xml,
        .take_changed = virt_take_changed,
        .set_balloon = virt_set_balloon,
        .pin_vcpu = virt_pin_vcpu,
        .pin_emulator = virt_pin_emulator,
        .set_numatune = virt_set_numatune,
        .managed_save = virt_managed_save,
        .abort_job = virt_abort_job,
        .restore = virt_restore,
        .destroy = virt_destroy,
};
