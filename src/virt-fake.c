/* virt-fake: a hypervisor in memory, behind the same VirtOps as libvirt,
 * for unit tests and benchmarks. */
#include "density/virt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct VirtConn {
        FakeHypervisor *hv;
};

static int fake_open(void *userdata, const char *uri, VirtConn **ret, char *err, size_t err_size) {
        FakeHypervisor *hv = userdata;
        (void) uri;
        if (hv->down) {
                if (err && err_size)
                        snprintf(err, err_size, "fake hypervisor is down");
                return -ECONNREFUSED;
        }
        VirtConn *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->hv = hv;
        hv->n_opens++;
        *ret = c;
        return 0;
}

static void fake_close(VirtConn *c) {
        free(c);
}

static int fake_all_stats(VirtConn *c, VirtDomainStats **ret, size_t *ret_n, char *err, size_t err_size) {
        FakeHypervisor *hv = c->hv;
        hv->n_calls++;
        if (hv->call_delay_usec > 0) {
                struct timespec ts = { .tv_sec = (time_t) (hv->call_delay_usec / 1000000),
                                       .tv_nsec = (long) (hv->call_delay_usec % 1000000) * 1000 };
                nanosleep(&ts, NULL);
        }
        if (hv->down) {
                if (err && err_size)
                        snprintf(err, err_size, "fake hypervisor went away");
                return -ECONNRESET;
        }
        VirtDomainStats *out = calloc(hv->n_domains ? hv->n_domains : 1, sizeof(*out));
        if (!out)
                return -ENOMEM;
        if (hv->n_domains)
                memcpy(out, hv->domains, hv->n_domains * sizeof(*out));
        *ret = out;
        *ret_n = hv->n_domains;
        return 0;
}

const VirtOps virt_fake_ops = {
        .name = "fake",
        .open = fake_open,
        .close = fake_close,
        .all_stats = fake_all_stats,
};
