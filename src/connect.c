/* connect: see include/density/connect.h */
#include "density/connect.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One open call in its own thread. Shared by the thread and the connector
 * until abandoned; freed by whichever lets go last. */
typedef struct Attempt {
        pthread_mutex_t lock;
        pthread_cond_t done_cond;
        unsigned refs;
        bool done;
        bool abandoned;
        int r;
        VirtConn *conn;
        char error[256];
        char uri[512];
        uint64_t started_usec; /* CLOCK_MONOTONIC */
        const VirtOps *ops;
        void *ops_userdata;
        atomic_uint *stuck;    /* the connector's count of abandoned, unfinished attempts */
} Attempt;

struct Connector {
        const VirtOps *ops;
        void *ops_userdata;
        Attempt *attempt;      /* the one under way or finished and not yet collected; NULL if none */
        atomic_uint *stuck;    /* shared with abandoned attempts: outlives the connector if they do */
};

static void attempt_unref(Attempt *a) {
        pthread_mutex_lock(&a->lock);
        unsigned refs = --a->refs;
        pthread_mutex_unlock(&a->lock);
        if (refs > 0)
                return;
        if (a->conn)
                a->ops->close(a->conn);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->done_cond);
        free(a);
}

static void *attempt_main(void *arg) {
        Attempt *a = arg;
        pthread_setname_np(pthread_self(), "density-connect");
        char error[256] = "";
        VirtConn *conn = NULL;
        int r = a->ops->open(a->ops_userdata, a->uri, &conn, error, sizeof(error));

        pthread_mutex_lock(&a->lock);
        a->done = true;
        a->r = r;
        a->conn = r == 0 ? conn : NULL;
        strscpy(a->error, sizeof(a->error), error[0] ? error : strerror(r < 0 ? -r : EIO));
        bool abandoned = a->abandoned;
        atomic_uint *stuck = a->stuck;
        pthread_cond_broadcast(&a->done_cond);
        pthread_mutex_unlock(&a->lock);
        if (abandoned) {
                /* Nobody wants it any more: the last unref closes the connection. */
                if (atomic_fetch_sub(stuck, 1) == 0x80000000u + 1)
                        free(stuck); /* the connector is gone and this was the last one */
        }
        attempt_unref(a);
        return NULL;
}

int connector_new(const VirtOps *ops, void *ops_userdata, Connector **ret) {
        Connector *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->stuck = calloc(1, sizeof(*c->stuck));
        if (!c->stuck) {
                free(c);
                return -ENOMEM;
        }
        atomic_init(c->stuck, 0);
        c->ops = ops;
        c->ops_userdata = ops_userdata;
        *ret = c;
        return 0;
}

/* Let go of the current attempt. One still running is abandoned: it closes
 * what it opens. */
static void connector_drop(Connector *c) {
        Attempt *a = c->attempt;
        if (!a)
                return;
        c->attempt = NULL;
        pthread_mutex_lock(&a->lock);
        if (!a->done) {
                a->abandoned = true;
                atomic_fetch_add(c->stuck, 1);
        }
        pthread_mutex_unlock(&a->lock);
        attempt_unref(a);
}

Connector *connector_free(Connector *c) {
        if (!c)
                return NULL;
        connector_drop(c);
        /* The high bit says "connector gone": the last abandoned attempt to
         * finish frees the counter. */
        if (atomic_fetch_add(c->stuck, 0x80000000u) == 0)
                free(c->stuck);
        free(c);
        return NULL;
}

unsigned connector_stuck(Connector *c) {
        return atomic_load(c->stuck) & 0x7fffffffu;
}

static int connector_start(Connector *c, const char *uri) {
        Attempt *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        pthread_mutex_init(&a->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&a->done_cond, &attr);
        pthread_condattr_destroy(&attr);
        a->refs = 2; /* the connector and the thread */
        strscpy(a->uri, sizeof(a->uri), uri);
        a->started_usec = now_monotonic_usec();
        a->ops = c->ops;
        a->ops_userdata = c->ops_userdata;
        a->stuck = c->stuck;

        pthread_t t;
        pthread_attr_t tattr;
        pthread_attr_init(&tattr);
        pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
        int k = pthread_create(&t, &tattr, attempt_main, a);
        pthread_attr_destroy(&tattr);
        if (k != 0) {
                a->refs = 1;
                attempt_unref(a);
                return -k;
        }
        c->attempt = a;
        return 0;
}

int connector_open(Connector *c, const char *uri, uint64_t wait_usec, VirtConn **ret, char *err, size_t err_size) {
        uint64_t now = now_monotonic_usec();
        Attempt *a = c->attempt;
        if (a) {
                pthread_mutex_lock(&a->lock);
                bool done = a->done;
                pthread_mutex_unlock(&a->lock);
                bool other_uri = strcmp(a->uri, uri) != 0;
                bool too_old = !done && now - a->started_usec >= CONNECT_ABANDON_USEC &&
                               connector_stuck(c) < CONNECT_ABANDONED_MAX;
                if (other_uri || too_old)
                        connector_drop(c);
        }
        if (!c->attempt) {
                int r = connector_start(c, uri);
                if (r < 0) {
                        snprintf(err, err_size, "cannot start a connection thread: %s", strerror(-r));
                        return r;
                }
        }

        a = c->attempt;
        uint64_t deadline = now_monotonic_usec() + wait_usec;
        struct timespec ts = { .tv_sec = (time_t) (deadline / USEC_PER_SEC),
                               .tv_nsec = (long) (deadline % USEC_PER_SEC) * 1000 };
        pthread_mutex_lock(&a->lock);
        while (!a->done)
                if (pthread_cond_timedwait(&a->done_cond, &a->lock, &ts) != 0)
                        break;
        bool done = a->done;
        int r = a->r;
        VirtConn *conn = a->conn;
        a->conn = NULL;
        char error[256];
        strscpy(error, sizeof(error), a->error);
        uint64_t age = now_monotonic_usec() - a->started_usec;
        pthread_mutex_unlock(&a->lock);

        if (!done) {
                snprintf(err, err_size, "no answer from %s for %llu s (connecting)", uri,
                         (unsigned long long) (age / USEC_PER_SEC));
                return -EINPROGRESS;
        }
        c->attempt = NULL;
        attempt_unref(a);
        if (r < 0) {
                snprintf(err, err_size, "%s", error);
                return r;
        }
        *ret = conn;
        return 0;
}
