/* refresh: see include/density/refresh.h */
#include "density/refresh.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "density/connect.h"
#include "density/domfacts.h"
#include "density/util.h"

/* After a failed connect, retry sooner than a whole interval so that a
 * restarted libvirtd is found again within a tick or two. */
#define REFRESH_RETRY_USEC (1 * USEC_PER_SEC)
#define REFRESH_JOIN_TIMEOUT_SEC 5

struct Refresher {
        const VirtOps *ops;
        void *userdata;

        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t wake;
        char uri[512];
        bool uri_changed;
        uint64_t interval_usec;
        bool stop;
        bool started;
        pthread_t thread;
        GuestTable table;

        VirtConn *conn; /* only the worker touches these two */
        Connector *connector;
        bool reread_facts; /* a new connection: events may have been missed */
        bool connecting;   /* the last round waited for a connect that has not answered yet */
};

void guest_table_clear(GuestTable *t) {
        free(t->domains);
        *t = (GuestTable) {};
}

int refresher_new(const VirtOps *ops, void *userdata, const char *uri, uint64_t interval_usec,
                  Refresher **ret) {
        Refresher *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->ops = ops;
        r->userdata = userdata;
        strscpy(r->uri, sizeof(r->uri), uri);
        r->interval_usec = interval_usec;
        int k = connector_new(ops, userdata, &r->connector);
        if (k < 0) {
                free(r);
                return k;
        }
        pthread_mutex_init(&r->lock, NULL);
        cond_init_monotonic(&r->wake);
        *ret = r;
        return 0;
}

static int uuid_cmp(const void *a, const void *b) {
        return strcmp(((const VirtDomainStats *) a)->uuid, ((const VirtDomainStats *) b)->uuid);
}

void refresh_merge(const VirtDomainStats *prev, size_t n_prev, VirtDomainStats *fresh, size_t n_fresh,
                   uint64_t now_usec) {
        for (size_t i = 0; i < n_fresh; i++) {
                VirtDomainStats *f = &fresh[i];
                /* libvirt always reports current/maximum (from the domain
                 * definition); the guest's own figures are what NOWAIT skips. */
                bool answered = f->has_last_update || f->has_unused || f->has_available || f->has_usable ||
                                f->has_disk_caches;
                f->fetched_usec = now_usec;
                /* prev is sorted by uuid (refresh keeps it so). */
                const VirtDomainStats *p = n_prev > 0 ? bsearch(f, prev, n_prev, sizeof(*prev), uuid_cmp) : NULL;
                if (p) {
                        f->facts = p->facts;
                        f->facts_read_usec = p->facts_read_usec;
                }
                bool had_figures = p && (p->has_last_update || p->has_unused || p->has_available || p->has_usable ||
                                         p->has_disk_caches);
                /* No figures now and none before: the guest reports none
                 * (no balloon, stats off, no driver), and the hypervisor did
                 * answer for it: its age is 0, not the time since it started. */
                if (answered || !had_figures)
                        continue;
                f->has_unused = p->has_unused;
                f->unused_kib = p->unused_kib;
                f->has_available = p->has_available;
                f->available_kib = p->available_kib;
                f->has_usable = p->has_usable;
                f->usable_kib = p->usable_kib;
                f->has_disk_caches = p->has_disk_caches;
                f->disk_caches_kib = p->disk_caches_kib;
                f->has_swap_in = p->has_swap_in;
                f->swap_in_kib = p->swap_in_kib;
                f->has_major_fault = p->has_major_fault;
                f->major_fault = p->major_fault;
                f->has_last_update = p->has_last_update;
                f->last_update = p->last_update;
                f->fetched_usec = p->fetched_usec; /* their age keeps growing */
        }
        qsort(fresh, n_fresh, sizeof(*fresh), uuid_cmp);
}

static void refresher_publish_error(Refresher *r, const char *error) {
        pthread_mutex_lock(&r->lock);
        r->table.round_started_usec = 0;
        r->table.connected = false;
        strscpy(r->table.error, sizeof(r->table.error), error);
        r->table.rounds++;
        pthread_mutex_unlock(&r->lock);
}

/* A sign of life during the round (called from inside the bulk call). */
static void refresher_progress(void *userdata, size_t done, size_t total) {
        Refresher *r = userdata;
        (void) done, (void) total;
        pthread_mutex_lock(&r->lock);
        r->table.round_progress_usec = now_monotonic_usec();
        pthread_mutex_unlock(&r->lock);
}

static bool uuid_in(const char (*list)[DENSITY_UUID_LEN], size_t n, const char *uuid) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], uuid) == 0)
                        return true;
        return false;
}

/* Read the facts of domains that lack them, were redefined, or whose last
 * read failed long enough ago. Return: 0, or -ECONNRESET/-ENOTCONN when the
 * connection broke (the round fails). */
static int refresher_read_facts(Refresher *r, VirtDomainStats *d, size_t n) {
        char(*changed)[DENSITY_UUID_LEN] = NULL;
        size_t n_changed = 0;
        if (r->ops->take_changed && r->ops->take_changed(r->conn, &changed, &n_changed) < 0)
                n_changed = 0;
        bool all = r->reread_facts;
        r->reread_facts = false;

        int result = 0;
        for (size_t i = 0; i < n && result == 0; i++) {
                uint64_t now = now_monotonic_usec();
                bool due = all || uuid_in((const char(*)[DENSITY_UUID_LEN]) changed, n_changed, d[i].uuid) ||
                           d[i].facts_read_usec == 0 ||
                           (!d[i].facts.known && now - d[i].facts_read_usec >= REFRESH_FACTS_RETRY_USEC);
                if (!due || !r->ops->domain_xml)
                        continue;
                d[i].facts_read_usec = now;
                _cleanup_free_ char *xml = NULL;
                bool persistent = false;
                char err[128] = "";
                DomainFacts f = {};
                int k = r->ops->domain_xml(r->conn, d[i].uuid, &xml, &persistent, err, sizeof(err));
                if (k == 0)
                        k = domain_facts_parse(xml, strlen(xml), persistent, &f, err, sizeof(err));
                if (k < 0) {
                        f = (DomainFacts) {};
                        strscpy(f.error, sizeof(f.error), err[0] ? err : strerror(-k));
                        if (k == -ECONNRESET || k == -ENOTCONN)
                                result = k;
                }
                d[i].facts = f;
                refresher_progress(r, i + 1, n);
        }
        free(changed);
        return result;
}

void refresher_run_once(Refresher *r) {
        char error[256] = "";
        char uri[512];
        uint64_t start = now_monotonic_usec();

        pthread_mutex_lock(&r->lock);
        r->table.round_started_usec = start;
        r->table.round_progress_usec = start;
        strscpy(uri, sizeof(uri), r->uri);
        bool reconnect = r->uri_changed;
        r->uri_changed = false;
        pthread_mutex_unlock(&r->lock);

        if (reconnect && r->conn) {
                r->ops->close(r->conn);
                r->conn = NULL;
        }
        if (!r->conn) {
                int k = connector_open(r->connector, uri, REFRESH_CONNECT_WAIT_USEC, &r->conn, error, sizeof(error));
                r->connecting = k == -EINPROGRESS;
                if (k < 0) {
                        r->conn = NULL;
                        refresher_publish_error(r, error);
                        return;
                }
                r->reread_facts = true;
        }

        VirtDomainStats *fresh = NULL;
        size_t n = 0;
        int k = r->ops->all_stats(r->conn, &fresh, &n, refresher_progress, r, error, sizeof(error));
        if (k == 0) {
                /* Copy figures and facts over from the previous table. Only
                 * this thread writes the table, so reading it unlocked here
                 * is safe; the merge sorts fresh by uuid. */
                refresh_merge(r->table.domains, r->table.n, fresh, n, now_monotonic_usec());
                k = refresher_read_facts(r, fresh, n);
                if (k < 0)
                        snprintf(error, sizeof(error), "reading domain XML: connection lost");
        }
        if (k < 0) {
                free(fresh);
                if (k == -ECONNRESET || k == -ENOTCONN) {
                        r->ops->close(r->conn);
                        r->conn = NULL;
                }
                refresher_publish_error(r, error);
                return;
        }

        uint64_t now = now_monotonic_usec();
        pthread_mutex_lock(&r->lock);
        free(r->table.domains);
        r->table.domains = fresh;
        r->table.n = n;
        r->table.connected = true;
        r->table.error[0] = '\0';
        r->table.rounds++;
        r->table.round_usec = now - start;
        r->table.round_started_usec = 0;
        pthread_mutex_unlock(&r->lock);
}

static void *refresher_main(void *arg) {
        Refresher *r = arg;
        pthread_setname_np(pthread_self(), "density-virt");
        for (;;) {
                uint64_t start = now_monotonic_usec();
                refresher_run_once(r);

                pthread_mutex_lock(&r->lock);
                for (;;) {
                        /* Re-read each time: a reload may shorten the interval. */
                        uint64_t wait = r->table.connected ? r->interval_usec : REFRESH_RETRY_USEC;
                        if (wait > r->interval_usec)
                                wait = r->interval_usec;
                        uint64_t deadline = start + wait;
                        /* A connect that has not answered yet was waited on
                                 * already: go on at once (a fresh attempt starts
                                 * beside it after CONNECT_RETRY_USEC). */
                        if (r->stop || r->uri_changed || r->connecting || now_monotonic_usec() >= deadline)
                                break;
                        struct timespec ts = usec_to_timespec(deadline);
                        pthread_cond_timedwait(&r->wake, &r->lock, &ts);
                }
                bool stop = r->stop;
                pthread_mutex_unlock(&r->lock);
                if (stop)
                        break;
        }
        return NULL;
}

int refresher_start(Refresher *r) {
        int k = pthread_create(&r->thread, NULL, refresher_main, r);
        if (k != 0)
                return -k;
        r->started = true;
        return 0;
}

int refresher_configure(Refresher *r, const char *uri, uint64_t interval_usec) {
        pthread_mutex_lock(&r->lock);
        if (strcmp(r->uri, uri) != 0) {
                strscpy(r->uri, sizeof(r->uri), uri);
                r->uri_changed = true;
        }
        r->interval_usec = interval_usec;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        return 0;
}

int refresher_get(Refresher *r, GuestTable *ret) {
        pthread_mutex_lock(&r->lock);
        GuestTable t = r->table;
        t.domains = malloc((t.n ? t.n : 1) * sizeof(*t.domains));
        if (t.domains && t.n)
                memcpy(t.domains, r->table.domains, t.n * sizeof(*t.domains));
        pthread_mutex_unlock(&r->lock);
        if (!t.domains)
                return -ENOMEM;
        *ret = t;
        return 0;
}

Refresher *refresher_free(Refresher *r) {
        if (!r)
                return NULL;
        if (r->started) {
                pthread_mutex_lock(&r->lock);
                r->stop = true;
                pthread_cond_signal(&r->wake);
                pthread_mutex_unlock(&r->lock);
                /* A worker stuck in a call to a hung hypervisor must not hang
                 * our shutdown: leave it (and its connection) to exit(). */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += REFRESH_JOIN_TIMEOUT_SEC;
                if (pthread_timedjoin_np(r->thread, NULL, &ts) != 0)
                        return NULL;
        }
        r->ops->close(r->conn);
        connector_free(r->connector);
        guest_table_clear(&r->table);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->wake);
        free(r);
        return NULL;
}
