/* virt-libvirt: the libvirt implementation of VirtOps. The only file that
 * includes libvirt. */
#include "density/virt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "density/util.h"

#define VIRT_KEEPALIVE_INTERVAL_SEC 5
#define VIRT_KEEPALIVE_COUNT 3

struct VirtConn {
        virConnectPtr conn;
};

/* libvirt prints every error to stderr by default; we report them ourselves,
 * once, with context. */
static void virt_silent_error(void *userdata, virErrorPtr err) {
        (void) userdata;
        (void) err;
}

static void virt_last_error(char *buf, size_t size, const char *what) {
        if (!buf || size == 0)
                return;
        virErrorPtr e = virGetLastError();
        snprintf(buf, size, "%s: %s", what, e && e->message ? e->message : "unknown error");
}

/* libvirt's client event loop: without it no keepalive runs, and a hung
 * libvirtd would hold a call forever. */
static void *virt_event_loop(void *arg) {
        (void) arg;
        pthread_setname_np(pthread_self(), "density-virtev");
        for (;;)
                if (virEventRunDefaultImpl() < 0)
                        usleep(100 * 1000); /* never spin */
        return NULL;
}

static int virt_initialize(char *err, size_t err_size) {
        static bool initialized;
        if (initialized)
                return 0;
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
                virt_last_error(err, err_size, "libvirt initialization failed");
                return -EIO;
        }
        virSetErrorFunc(NULL, virt_silent_error);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int k = pthread_create(&t, &attr, virt_event_loop, NULL);
        pthread_attr_destroy(&attr);
        if (k != 0) {
                snprintf(err, err_size, "cannot start libvirt's event thread: %s", strerror(k));
                return -k;
        }
        initialized = true;
        return 0;
}

static int virt_open(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size) {
        (void) userdata;
        int r = virt_initialize(err, err_size);
        if (r < 0)
                return r;

        VirtConn *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->conn = virConnectOpen(uri);
        if (!c->conn) {
                virt_last_error(err, err_size, uri);
                free(c);
                return -ECONNREFUSED;
        }
        /* A libvirtd that stops answering is dropped after about
         * VIRT_KEEPALIVE_INTERVAL_SEC * (VIRT_KEEPALIVE_COUNT + 1) seconds. */
        (void) virConnectSetKeepAlive(c->conn, VIRT_KEEPALIVE_INTERVAL_SEC, VIRT_KEEPALIVE_COUNT);
        *ret = c;
        return 0;
}

static void virt_close(VirtConn *c) {
        if (!c)
                return;
        if (c->conn)
                virConnectClose(c->conn);
        free(c);
}

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
                else if (strcmp(p->field, "balloon.last-update") == 0)
                        s->last_update = (int64_t) v, s->has_last_update = true;
        }
}

static int virt_all_stats(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, VirtProgressFn progress,
                          void *progress_userdata, char *err, size_t err_size) {
        virDomainStatsRecordPtr *recs = NULL;
        int n = virConnectGetAllDomainStats(c->conn, VIR_DOMAIN_STATS_BALLOON,
                                            &recs,
                                            VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
        if (n < 0) {
                virt_last_error(err, err_size, "virConnectGetAllDomainStats");
                return virConnectIsAlive(c->conn) == 1 ? -EIO : -ECONNRESET;
        }

        VirtDomainStats *out = calloc(n > 0 ? (size_t) n : 1, sizeof(*out));
        if (!out) {
                virDomainStatsRecordListFree(recs);
                return -ENOMEM;
        }
        for (int i = 0; i < n; i++)
                virt_record_to_stats(recs[i], &out[i]);
        virDomainStatsRecordListFree(recs);
        if (progress)
                progress(progress_userdata, (size_t) n, (size_t) n);
        *ret = out;
        *ret_n = (size_t) n;
        return 0;
}

const VirtOps virt_libvirt_ops = {
        .name = "libvirt",
        .open = virt_open,
        .close = virt_close,
        .all_stats = virt_all_stats,
};
