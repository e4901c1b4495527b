/* connect: see include/density/connect.h */
#include "density/connect.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One open call in its own thread. Shared by the thread and the connector
 * until the connector lets go; freed by whichever lets go last. */
typedef struct Attempt {
        pthread_mutex_t lock;
        pthread_cond_t done_cond;
        unsigned refs;
        bool done;
        bool abandoned;        /* nobody will take its connection: the thread closes it */
        int r;
        VirtConn *conn;
        char error[256];
        char uri[512];
        uint64_t started_usec; /* CLOCK_MONOTONIC */
        const VirtOps *ops;
        void *ops_userdata;
} Attempt;

struct Connector {
        const VirtOps *ops;
        void *ops_userdata;
        Attempt *attempts[CONNECT_ATTEMPTS_MAX]; /* under way or done and not collected, oldest first */
        size_t n;
};

/* Let go of a reference; the last one closes an unclaimed connection. */
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
        pthread_cond_broadcast(&a->done_cond);
        pthread_mutex_unlock(&a->lock);
        attempt_unref(a); /* abandoned: this closes the connection nobody wants */
        return NULL;
}

int connector_new(const VirtOps *ops, void *ops_userdata, Connector **ret) {
        Connector *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->ops = ops;
        c->ops_userdata = ops_userdata;
        *ret = c;
        return 0;
}

/* Remove attempt i; one still running is abandoned. */
static void connector_drop(Connector *c, size_t i) {
        Attempt *a = c->attempts[i];
        memmove(&c->attempts[i], &c->attempts[i + 1], (c->n - i - 1) * sizeof(*c->attempts));
        c->n--;
        pthread_mutex_lock(&a->lock);
        a->abandoned = true;
        pthread_mutex_unlock(&a->lock);
        attempt_unref(a);
}

Connector *connector_free(Connector *c) {
        if (!c)
                return NULL;
        while (c->n > 0)
                connector_drop(c, c->n - 1);
        free(c);
        return NULL;
}

unsigned connector_stuck(Connector *c) {
        unsigned stuck = 0;
        for (size_t i = 0; i < c->n; i++) {
                pthread_mutex_lock(&c->attempts[i]->lock);
                stuck += !c->attempts[i]->done;
                pthread_mutex_unlock(&c->attempts[i]->lock);
        }
        return stuck;
}

static int connector_start(Connector *c, const char *uri) {
        Attempt *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        pthread_mutex_init(&a->lock, NULL);
        cond_init_monotonic(&a->done_cond);
        a->refs = 2; /* the connector and the thread */
        strscpy(a->uri, sizeof(a->uri), uri);
        a->started_usec = now_monotonic_usec();
        a->ops = c->ops;
        a->ops_userdata = c->ops_userdata;

        int k = thread_start_detached(attempt_main, a);
        if (k < 0) {
                a->refs = 1;
                attempt_unref(a);
                return k;
        }
        c->attempts[c->n++] = a;
        return 0;
}

/* Collect what finished: the first connection for uri (*ret), and the error
 * of the newest attempt if it failed (*ret_r). Everything else that finished,
 * or is for another URI, goes. */
static void connector_reap(Connector *c, const char *uri, VirtConn **ret, int *ret_r, char *err, size_t err_size) {
        for (size_t i = 0; i < c->n;) {
                Attempt *a = c->attempts[i];
                bool newest = i + 1 == c->n;
                pthread_mutex_lock(&a->lock);
                bool done = a->done, wanted = strcmp(a->uri, uri) == 0;
                if (done && wanted && a->r == 0 && !*ret) {
                        *ret = a->conn;
                        a->conn = NULL;
                } else if (done && wanted && a->r < 0 && newest) {
                        *ret_r = a->r;
                        snprintf(err, err_size, "%s", a->error);
                }
                pthread_mutex_unlock(&a->lock);
                if (done || !wanted)
                        connector_drop(c, i); /* an unclaimed connection is closed with it */
                else
                        i++;
        }
}

int connector_open(Connector *c, const char *uri, uint64_t wait_usec, VirtConn **ret, char *err, size_t err_size) {
        VirtConn *conn = NULL;
        int failed = 0;
        connector_reap(c, uri, &conn, &failed, err, err_size);
        if (conn) {
                *ret = conn;
                return 0;
        }

        Attempt *newest = c->n ? c->attempts[c->n - 1] : NULL;
        if ((!newest || now_monotonic_usec() - newest->started_usec >= CONNECT_RETRY_USEC) &&
            c->n < CONNECT_ATTEMPTS_MAX) {
                int r = connector_start(c, uri);
                if (r < 0) {
                        snprintf(err, err_size, "cannot start a connection thread: %s", strerror(-r));
                        return r;
                }
        }

        newest = c->attempts[c->n - 1];
        uint64_t deadline = now_monotonic_usec() + wait_usec;
        struct timespec ts = usec_to_timespec(deadline);
        pthread_mutex_lock(&newest->lock);
        while (!newest->done)
                if (pthread_cond_timedwait(&newest->done_cond, &newest->lock, &ts) != 0)
                        break;
        uint64_t age = now_monotonic_usec() - c->attempts[0]->started_usec;
        pthread_mutex_unlock(&newest->lock);

        failed = 0;
        connector_reap(c, uri, &conn, &failed, err, err_size);
        if (conn) {
                *ret = conn;
                return 0;
        }
        if (failed < 0)
                return failed;
        snprintf(err, err_size, "no answer from %s for %llu s (connecting)", uri,
                 (unsigned long long) (age / USEC_PER_SEC));
        return -EINPROGRESS;
}
