/* virt-scale: see virt-scale.h */
#include "virt-scale.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "density/util.h"

#define SCALE_BATCH 64 /* progress every so many domains, as libvirt's batches */

struct VirtConn {
        pthread_mutex_t lock; /* one request at a time */
        int fd;
        FILE *in;
};

static void scale_error(char *err, size_t size, const char *what, int r) {
        if (err)
                snprintf(err, size, "scale world: %s: %s", what, strerror(-r));
}

static int scale_open(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size) {
        (void) uri;
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        strscpy(addr.sun_path, sizeof(addr.sun_path), userdata);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                scale_error(err, err_size, "connect", r);
                return -ECONNREFUSED;
        }
        VirtConn *c = calloc(1, sizeof(*c));
        FILE *in = c ? fdopen(fd, "r") : NULL;
        if (!in) {
                free(c);
                close(fd);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->lock, NULL);
        c->fd = fd;
        c->in = in;
        *ret = c;
        return 0;
}

static void scale_close(VirtConn *c) {
        if (!c)
                return;
        fclose(c->in);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

/* Send a request, read the first line of the answer into *line. */
static int scale_ask(VirtConn *c, const char *req, char **line, size_t *size) {
        size_t len = strlen(req);
        if (write(c->fd, req, len) != (ssize_t) len)
                return -ECONNRESET;
        return getline(line, size, c->in) > 0 ? 0 : -ECONNRESET;
}

static int scale_all_stats(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, VirtProgressFn progress,
                           void *progress_userdata, char *err, size_t err_size) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0, n = 0;
        _cleanup_free_ VirtDomainStats *d = NULL;
        pthread_mutex_lock(&c->lock);
        int r = scale_ask(c, "stats\n", &line, &size);
        if (r == 0 && sscanf(line, "%zu", &n) != 1)
                r = -EIO;
        if (r == 0 && !(d = calloc(n ? n : 1, sizeof(*d))))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                unsigned long long cur, max, unused, avail, usable, caches;
                long long last;
                if (getline(&line, &size, c->in) <= 0) {
                        r = -ECONNRESET;
                        break;
                }
                if (sscanf(line, "%d %36s %255s %llu %llu %llu %llu %llu %llu %lld", &d[i].id, d[i].uuid, d[i].name,
                           &cur, &max, &unused, &avail, &usable, &caches, &last) != 10) {
                        r = -EIO;
                        break;
                }
                d[i].has_current = d[i].has_maximum = d[i].has_unused = d[i].has_available = true;
                d[i].has_usable = d[i].has_disk_caches = d[i].has_last_update = true;
                d[i].current_kib = cur;
                d[i].maximum_kib = max;
                d[i].unused_kib = unused;
                d[i].available_kib = avail;
                d[i].usable_kib = usable;
                d[i].disk_caches_kib = caches;
                d[i].last_update = last;
                if (progress && ((i + 1) % SCALE_BATCH == 0 || i + 1 == n))
                        progress(progress_userdata, i + 1, n);
        }
        pthread_mutex_unlock(&c->lock);
        if (r < 0) {
                scale_error(err, err_size, "stats", r);
                return r;
        }
        if (progress && n == 0)
                progress(progress_userdata, 0, 0);
        *ret = TAKE_PTR(d);
        *ret_n = n;
        return 0;
}

static int scale_domain_xml(VirtConn *c, const char *uuid, char **ret_xml, bool *ret_persistent, char *err,
                            size_t err_size) {
        _cleanup_free_ char *line = NULL, *xml = NULL;
        size_t size = 0, len = 0;
        char req[64];
        snprintf(req, sizeof(req), "xml %s\n", uuid);
        pthread_mutex_lock(&c->lock);
        int r = scale_ask(c, req, &line, &size);
        if (r == 0 && strncmp(line, "ENOENT", 6) == 0)
                r = -ENOENT;
        else if (r == 0 && sscanf(line, "OK %zu", &len) != 1)
                r = -EIO;
        if (r == 0 && !(xml = malloc(len + 1)))
                r = -ENOMEM;
        if (r == 0 && fread(xml, 1, len, c->in) != len)
                r = -ECONNRESET;
        pthread_mutex_unlock(&c->lock);
        if (r < 0) {
                scale_error(err, err_size, uuid, r);
                return r;
        }
        xml[len] = '\0';
        *ret_xml = TAKE_PTR(xml);
        *ret_persistent = true;
        return 0;
}

static int scale_take_changed(VirtConn *c, char (**ret)[DENSITY_UUID_LEN], size_t *ret_n) {
        (void) c;
        char(*out)[DENSITY_UUID_LEN] = calloc(1, DENSITY_UUID_LEN);
        if (!out)
                return -ENOMEM;
        *ret = out;
        *ret_n = 0;
        return 0;
}

static int scale_set_balloon(VirtConn *c, const char *uuid, uint64_t kib, char *err, size_t err_size) {
        (void) c, (void) uuid, (void) kib, (void) err, (void) err_size;
        return 0;
}

static int scale_pin_vcpu(VirtConn *c, const char *uuid, unsigned vcpu, const char *cpulist, char *err,
                          size_t err_size) {
        (void) c, (void) uuid, (void) vcpu, (void) cpulist, (void) err, (void) err_size;
        return 0;
}

static int scale_pin_emulator(VirtConn *c, const char *uuid, const char *cpulist, char *err, size_t err_size) {
        (void) c, (void) uuid, (void) cpulist, (void) err, (void) err_size;
        return 0;
}

static int scale_set_numatune(VirtConn *c, const char *uuid, const char *mode, const char *nodeset, char *err,
                              size_t err_size) {
        (void) c, (void) uuid, (void) mode, (void) nodeset, (void) err, (void) err_size;
        return 0;
}

static int scale_guest_op(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        (void) c, (void) uuid, (void) err, (void) err_size;
        return 0;
}

const VirtOps virt_scale_ops = {
        .name = "scale",
        .open = scale_open,
        .close = scale_close,
        .all_stats = scale_all_stats,
        .domain_xml = scale_domain_xml,
        .take_changed = scale_take_changed,
        .set_balloon = scale_set_balloon,
        .pin_vcpu = scale_pin_vcpu,
        .pin_emulator = scale_pin_emulator,
        .set_numatune = scale_set_numatune,
        .managed_save = scale_guest_op,
        .restore = scale_guest_op,
        .destroy = scale_guest_op,
        .abort_job = scale_guest_op,
};
