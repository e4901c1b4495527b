/* virt-fake: see tests/virt-fake.h */
#include "virt-fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "density/util.h"

struct VirtConn {
        FakeHypervisor *hv;
};

static const char *const fake_op_names[_FAKE_OP_MAX] = {
        [FAKE_SET_BALLOON] = "set_balloon",   [FAKE_PIN_VCPU] = "pin_vcpu",
        [FAKE_PIN_EMULATOR] = "pin_emulator", [FAKE_SET_NUMATUNE] = "set_numatune",
        [FAKE_MANAGED_SAVE] = "managed_save", [FAKE_RESTORE] = "restore",
        [FAKE_DESTROY] = "destroy", [FAKE_ABORT_JOB] = "abort_job",
};

const char *fake_op_name(FakeOp op) {
        return op < _FAKE_OP_MAX ? fake_op_names[op] : "?";
}

static void fake_sleep(uint64_t usec) {
        if (usec == 0)
                return;
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC),
                               .tv_nsec = (long) (usec % USEC_PER_SEC) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void fake_error(char *err, size_t size, const char *msg) {
        if (err && size)
                snprintf(err, size, "%s", msg);
}

static int fake_open(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size) {
        FakeHypervisor *hv = userdata;
        (void) uri;
        pthread_mutex_lock(&hv->lock);
        uint64_t delay = hv->open_delay_usec;
        pthread_mutex_unlock(&hv->lock);
        fake_sleep(delay);

        pthread_mutex_lock(&hv->lock);
        int r = 0;
        if (hv->down) {
                fake_error(err, err_size, "fake hypervisor is down");
                r = -ECONNREFUSED;
        } else {
                VirtConn *c = calloc(1, sizeof(*c));
                if (!c)
                        r = -ENOMEM;
                else {
                        c->hv = hv;
                        hv->n_opens++;
                        *ret = c;
                }
        }
        pthread_mutex_unlock(&hv->lock);
        return r;
}

static void fake_close(VirtConn *c) {
        free(c);
}

static int fake_all_stats(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, VirtProgressFn progress,
                          void *progress_userdata, char *err, size_t err_size) {
        FakeHypervisor *hv = c->hv;
        pthread_mutex_lock(&hv->lock);
        hv->n_calls++;
        uint64_t delay = hv->slow_after_calls == 0 || hv->n_calls >= hv->slow_after_calls ? hv->call_delay_usec : 0;
        pthread_mutex_unlock(&hv->lock);
        fake_sleep(delay);

        pthread_mutex_lock(&hv->lock);
        if (hv->down) {
                pthread_mutex_unlock(&hv->lock);
                fake_error(err, err_size, "fake hypervisor went away");
                return -ECONNRESET;
        }
        VirtDomainStats *out = calloc(hv->n_domains ? hv->n_domains : 1, sizeof(*out));
        if (!out) {
                pthread_mutex_unlock(&hv->lock);
                return -ENOMEM;
        }
        size_t n = 0;
        for (size_t i = 0; i < hv->n_domains; i++)
                if (hv->domains[i].id >= 0)
                        out[n++] = hv->domains[i];
        pthread_mutex_unlock(&hv->lock);
        if (progress)
                progress(progress_userdata, n, n);
        *ret = out;
        *ret_n = n;
        return 0;
}

/* Index of a domain by uuid, or -1. Call with the lock held. */
static ssize_t fake_find(FakeHypervisor *hv, const char *uuid) {
        for (size_t i = 0; i < hv->n_domains; i++)
                if (strcmp(hv->domains[i].uuid, uuid) == 0)
                        return (ssize_t) i;
        return -1;
}

static int fake_domain_xml(VirtConn *c, const char *uuid, char **ret_xml, bool *ret_persistent, char *err,
                           size_t err_size) {
        FakeHypervisor *hv = c->hv;
        pthread_mutex_lock(&hv->lock);
        hv->n_xml_reads++;
        ssize_t i = fake_find(hv, uuid);
        int r = 0;
        char *xml = NULL;
        if (hv->down) {
                fake_error(err, err_size, "fake hypervisor went away");
                r = -ECONNRESET;
        } else if (i < 0) {
                fake_error(err, err_size, "no such domain");
                r = -ENOENT;
        } else if (hv->xml && hv->xml[i]) {
                xml = strdup(hv->xml[i]);
        } else {
                const VirtDomainStats *d = &hv->domains[i];
                if (asprintf(&xml,
                             "<domain type='qemu'><name>%s</name><uuid>%s</uuid>"
                             "<memory unit='KiB'>%llu</memory><vcpu>1</vcpu>"
                             "<devices><memballoon model='virtio'><stats period='2'/></memballoon></devices>"
                             "</domain>",
                             d->name, d->uuid, (unsigned long long) d->maximum_kib) < 0)
                        xml = NULL;
        }
        if (r == 0 && !xml)
                r = -ENOMEM;
        if (r == 0) {
                *ret_xml = xml;
                *ret_persistent = !(hv->transient && hv->transient[i]);
        }
        pthread_mutex_unlock(&hv->lock);
        return r;
}

static int fake_take_changed(VirtConn *c, char (**ret)[DENSITY_UUID_LEN], size_t *ret_n) {
        FakeHypervisor *hv = c->hv;
        pthread_mutex_lock(&hv->lock);
        size_t n = hv->n_changed;
        char(*out)[DENSITY_UUID_LEN] = calloc(n ? n : 1, DENSITY_UUID_LEN);
        if (!out) {
                pthread_mutex_unlock(&hv->lock);
                return -ENOMEM;
        }
        memcpy(out, hv->changed, n * DENSITY_UUID_LEN);
        hv->n_changed = 0;
        pthread_mutex_unlock(&hv->lock);
        *ret = out;
        *ret_n = n;
        return 0;
}

/* Record a write operation, sleep as told, and apply its effect. */
static int fake_write(VirtConn *c, FakeOp op, const char *uuid, const char *value, uint64_t balloon_kib, char *err,
                      size_t err_size) {
        FakeHypervisor *hv = c->hv;
        pthread_mutex_lock(&hv->lock);
        FakeCall *n = realloc(hv->calls, (hv->n_write_calls + 1) * sizeof(*n));
        if (!n) {
                pthread_mutex_unlock(&hv->lock);
                return -ENOMEM;
        }
        hv->calls = n;
        size_t slot = hv->n_write_calls++;
        FakeCall *call = &hv->calls[slot];
        *call = (FakeCall) { .op = op, .started_usec = now_monotonic_usec() };
        strscpy(call->uuid, sizeof(call->uuid), uuid);
        strscpy(call->value, sizeof(call->value), value);
        uint64_t delay = hv->action_delay_usec;
        pthread_mutex_unlock(&hv->lock);

        /* A managed save sleeps in slices: abort_job may end it early. */
        bool aborted = false;
        if (op == FAKE_MANAGED_SAVE && delay > 0) {
                uint64_t end = now_monotonic_usec() + delay;
                while (!aborted && now_monotonic_usec() < end) {
                        fake_sleep(10 * USEC_PER_MSEC);
                        pthread_mutex_lock(&hv->lock);
                        aborted = strcmp(hv->aborting, uuid) == 0;
                        if (aborted)
                                hv->aborting[0] = '\0';
                        pthread_mutex_unlock(&hv->lock);
                }
        } else
                fake_sleep(delay);

        pthread_mutex_lock(&hv->lock);
        hv->calls[slot].finished_usec = now_monotonic_usec(); /* calls may have moved: index again */
        int r = aborted ? -ECANCELED : hv->action_error;
        ssize_t i = fake_find(hv, uuid);
        if (r == 0 && hv->down)
                r = -ECONNRESET;
        if (r == 0 && (i < 0 || (op != FAKE_RESTORE && hv->domains[i].id < 0)))
                r = -ENOENT;
        if (r == 0 && op == FAKE_MANAGED_SAVE && hv->transient && hv->transient[i])
                r = -EINVAL;
        if (r == 0) {
                VirtDomainStats *d = &hv->domains[i];
                if (op == FAKE_SET_BALLOON)
                        d->current_kib = balloon_kib;
                else if (op == FAKE_MANAGED_SAVE || op == FAKE_DESTROY)
                        d->id = -1;
                else if (op == FAKE_RESTORE)
                        d->id = 1000 + (int) i;
        }
        pthread_mutex_unlock(&hv->lock);
        if (r < 0)
                fake_error(err, err_size,
                           r == -ECANCELED ? "fake: operation aborted: job 'save' canceled by client"
                           : r == -ENOENT ? "fake: no such running domain"
                           : r == -EINVAL ? "fake: cannot do managed save for transient domain"
                                          : "fake: operation failed");
        return r;
}

static int fake_set_balloon(VirtConn *c, const char *uuid, uint64_t kib, char *err, size_t err_size) {
        char v[32];
        snprintf(v, sizeof(v), "%llu", (unsigned long long) kib);
        return fake_write(c, FAKE_SET_BALLOON, uuid, v, kib, err, err_size);
}

static int fake_pin_vcpu(VirtConn *c, const char *uuid, unsigned vcpu, const char *cpulist, char *err,
                         size_t err_size) {
        char v[160];
        snprintf(v, sizeof(v), "%u:%s", vcpu, cpulist);
        return fake_write(c, FAKE_PIN_VCPU, uuid, v, 0, err, err_size);
}

static int fake_pin_emulator(VirtConn *c, const char *uuid, const char *cpulist, char *err, size_t err_size) {
        return fake_write(c, FAKE_PIN_EMULATOR, uuid, cpulist, 0, err, err_size);
}

static int fake_set_numatune(VirtConn *c, const char *uuid, const char *mode, const char *nodeset, char *err,
                             size_t err_size) {
        char v[160];
        snprintf(v, sizeof(v), "%s:%s", mode, nodeset);
        return fake_write(c, FAKE_SET_NUMATUNE, uuid, v, 0, err, err_size);
}

static int fake_managed_save(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        return fake_write(c, FAKE_MANAGED_SAVE, uuid, "", 0, err, err_size);
}

static int fake_restore(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        return fake_write(c, FAKE_RESTORE, uuid, "", 0, err, err_size);
}

static int fake_destroy(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        return fake_write(c, FAKE_DESTROY, uuid, "", 0, err, err_size);
}

static int fake_abort_job(VirtConn *c, const char *uuid, char *err, size_t err_size) {
        FakeHypervisor *hv = c->hv;
        pthread_mutex_lock(&hv->lock);
        /* A save of this domain is running when its call has not finished. */
        bool running = false;
        for (size_t i = 0; i < hv->n_write_calls; i++)
                running |= hv->calls[i].op == FAKE_MANAGED_SAVE && hv->calls[i].finished_usec == 0 &&
                           strcmp(hv->calls[i].uuid, uuid) == 0;
        FakeCall *n = realloc(hv->calls, (hv->n_write_calls + 1) * sizeof(*n));
        if (n) {
                hv->calls = n;
                hv->calls[hv->n_write_calls] = (FakeCall) { .op = FAKE_ABORT_JOB, .started_usec = now_monotonic_usec(),
                                                            .finished_usec = now_monotonic_usec() };
                strscpy(hv->calls[hv->n_write_calls].uuid, sizeof(hv->calls[0].uuid), uuid);
                hv->n_write_calls++;
        }
        if (running)
                strscpy(hv->aborting, sizeof(hv->aborting), uuid);
        pthread_mutex_unlock(&hv->lock);
        if (!running) {
                fake_error(err, err_size, "fake: no job to abort");
                return -EINVAL;
        }
        return 0;
}

void fake_hypervisor_clear(FakeHypervisor *hv) {
        pthread_mutex_lock(&hv->lock);
        free(hv->calls);
        hv->calls = NULL;
        hv->n_write_calls = 0;
        pthread_mutex_unlock(&hv->lock);
}

const VirtOps virt_fake_ops = {
        .name = "fake",
        .open = fake_open,
        .close = fake_close,
        .all_stats = fake_all_stats,
        .domain_xml = fake_domain_xml,
        .take_changed = fake_take_changed,
        .set_balloon = fake_set_balloon,
        .pin_vcpu = fake_pin_vcpu,
        .pin_emulator = fake_pin_emulator,
        .set_numatune = fake_set_numatune,
        .managed_save = fake_managed_save,
        .restore = fake_restore,
        .destroy = fake_destroy,
        .abort_job = fake_abort_job,
};
