/* apply: see include/density/apply.h */
#include "density/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "density/connect.h"
#include "density/util.h"

#define KIB UINT64_C(1024)
#define APPLY_CONNECT_SLICE_USEC (1 * USEC_PER_SEC) /* one wait for the connection, between stop checks */
#define APPLY_JOIN_TIMEOUT_SEC 5

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_FINISHED,
} JobState;

typedef enum Lane {
        LANE_SYSFS,
        LANE_HYPERVISOR,
} Lane;

typedef enum AbortState {
        ABORT_NONE,
        ABORT_WANTED,   /* dispatch saw the save overrun: a worker asks the hypervisor */
        ABORT_SENT,
} AbortState;

typedef struct Job {
        struct Job *next;
        JournalEntry entry;     /* as journaled; updated as the job goes on */
        Lane lane;
        JobState state;
        uint64_t deadline_usec; /* CLOCK_MONOTONIC */
        bool started_reported;
        bool timeout_reported;
        int r;                  /* outcome, when finished */
        char error[JOURNAL_MESSAGE_MAX];
        /* A managed save that overruns SaveTimeout= is aborted. */
        uint64_t abort_at_usec;  /* CLOCK_MONOTONIC; 0: never */
        AbortState abort;
        char abort_error[JOURNAL_MESSAGE_MAX]; /* why the abort itself failed, "" if it did not */
} Job;

/* A connection shared by the hypervisor workers; the last user of a broken
 * one closes it. */
typedef struct ConnRef {
        VirtConn *conn;
        unsigned refs;
} ConnRef;

struct Applier {
        const VirtOps *ops;
        void *ops_userdata;
        Journal *journal;
        int efd;

        pthread_mutex_t lock;   /* guards everything below */
        pthread_cond_t wake;
        Job *jobs;              /* queued, running, finished: in the order planned */
        Job **tail;
        size_t n_jobs;
        char uri[512];
        char sys_root[PATH_MAX];
        char proc_root[PATH_MAX];
        bool dry_run;
        uint64_t timeout_usec;
        uint64_t save_timeout_usec; /* 0: saves are never aborted */
        bool stop;
        ConnRef *conn;          /* the hypervisor workers' connection, NULL: none */
        bool conn_stale;        /* conn is to a URI no longer wanted */

        pthread_mutex_t connect_lock; /* one worker connects at a time */
        Connector *connector;

        size_t n_threads;
        pthread_t threads[APPLY_HV_WORKERS + 1];
        bool leave_behind;      /* a worker did not stop: leak rather than free under it */
};

int applier_new(const VirtOps *ops, void *ops_userdata, Journal *journal, Applier **ret) {
        Applier *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->ops = ops;
        a->ops_userdata = ops_userdata;
        a->journal = journal;
        a->tail = &a->jobs;
        a->timeout_usec = 120 * USEC_PER_SEC;
        strscpy(a->sys_root, sizeof(a->sys_root), "/sys");
        strscpy(a->proc_root, sizeof(a->proc_root), "/proc");
        a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (a->efd < 0) {
                int r = -errno;
                free(a);
                return r;
        }
        int r = connector_new(ops, ops_userdata, &a->connector);
        if (r < 0) {
                close(a->efd);
                free(a);
                return r;
        }
        pthread_mutex_init(&a->lock, NULL);
        pthread_mutex_init(&a->connect_lock, NULL);
        cond_init_monotonic(&a->wake);
        *ret = a;
        return 0;
}

/* Drop n references, with a->lock held. Return: the connection to close
 * once the lock is released (closing may wait on a hung libvirtd), or NULL. */
static VirtConn *conn_unref(ConnRef *c, unsigned n) {
        c->refs -= n;
        if (c->refs > 0)
                return NULL;
        VirtConn *conn = c->conn;
        free(c);
        return conn;
}

void applier_configure(Applier *a, const char *uri, const char *sys_root, bool dry_run, uint64_t action_timeout_usec,
                       uint64_t save_timeout_usec) {
        pthread_mutex_lock(&a->lock);
        /* A new LibvirtURI=: the next action connects there (the worker
         * that notices closes the old connection: a close may wait on a
         * hung libvirtd, so never here on the event loop). */
        if (strcmp(a->uri, uri) != 0 && a->conn)
                a->conn_stale = true;
        strscpy(a->uri, sizeof(a->uri), uri);
        strscpy(a->sys_root, sizeof(a->sys_root), sys_root);
        a->dry_run = dry_run;
        a->timeout_usec = action_timeout_usec;
        a->save_timeout_usec = save_timeout_usec;
        pthread_mutex_unlock(&a->lock);
}

int applier_fd(Applier *a) {
        return a->efd;
}

static void applier_notify(Applier *a) {
        uint64_t one = 1;
        (void) !write(a->efd, &one, sizeof(one));
}


/* Get the workers' connection, opening one if needed, until deadline.
 * Return: 0 with a reference, or -errno with err. */
static int applier_conn_get(Applier *a, uint64_t deadline, ConnRef **ret, char *err, size_t err_size) {
        pthread_mutex_lock(&a->connect_lock);
        for (;;) {
                pthread_mutex_lock(&a->lock);
                if (a->conn && a->conn_stale) {
                        VirtConn *old = conn_unref(a->conn, 1);
                        a->conn = NULL;
                        a->conn_stale = false;
                        pthread_mutex_unlock(&a->lock);
                        if (old)
                                a->ops->close(old);
                        continue;
                }
                ConnRef *c = a->conn;
                char uri[sizeof(a->uri)];
                strscpy(uri, sizeof(uri), a->uri);
                bool stop = a->stop;
                if (c)
                        c->refs++;
                pthread_mutex_unlock(&a->lock);
                if (c) {
                        pthread_mutex_unlock(&a->connect_lock);
                        *ret = c;
                        return 0;
                }
                if (stop) {
                        snprintf(err, err_size, "densityd is stopping");
                        pthread_mutex_unlock(&a->connect_lock);
                        return -ECANCELED;
                }
                VirtConn *vc = NULL;
                int r = connector_open(a->connector, uri, APPLY_CONNECT_SLICE_USEC, &vc, err, err_size);
                if (r == 0) {
                        ConnRef *n = calloc(1, sizeof(*n));
                        if (!n) {
                                a->ops->close(vc);
                                pthread_mutex_unlock(&a->connect_lock);
                                return -ENOMEM;
                        }
                        *n = (ConnRef) { .conn = vc, .refs = 1 };
                        pthread_mutex_lock(&a->lock);
                        a->conn = n;
                        pthread_mutex_unlock(&a->lock);
                        continue;
                }
                /* A libvirtd that refuses is down: fail now. One that does
                 * not answer may yet: wait until the action's deadline. */
                if (r != -EINPROGRESS || now_monotonic_usec() >= deadline) {
                        pthread_mutex_unlock(&a->connect_lock);
                        return r == -EINPROGRESS ? -ETIMEDOUT : r;
                }
        }
}

static void applier_conn_put(Applier *a, ConnRef *c, bool broken) {
        pthread_mutex_lock(&a->lock);
        unsigned drop = 1;
        if (broken && a->conn == c) {
                a->conn = NULL;
                drop++; /* the applier's own reference too */
        }
        VirtConn *close_it = conn_unref(c, drop);
        pthread_mutex_unlock(&a->lock);
        if (close_it)
                a->ops->close(close_it);
}

void applier_set_proc_root(Applier *a, const char *proc_root) {
        pthread_mutex_lock(&a->lock);
        strscpy(a->proc_root, sizeof(a->proc_root), proc_root);
        pthread_mutex_unlock(&a->lock);
}

/* Whether PID is still the guest's qemu: its command line names the guest
 * ("guest=NAME," in -name), so a PID the kernel gave to another process
 * since the sample is never written to. */
static bool apply_pid_is_guest(const char *proc_root, pid_t pid, const char *guest) {
        char rel[64];
        snprintf(rel, sizeof(rel), "%d/cmdline", (int) pid);
        _cleanup_free_ char *cmd = NULL;
        size_t len = 0;
        if (read_file_at(proc_root, rel, &cmd, &len) < 0)
                return false;
        char want[DENSITY_NAME_MAX + 16];
        snprintf(want, sizeof(want), "guest=%s,", guest);
        size_t wl = strlen(want);
        for (size_t i = 0; i + wl <= len; i++)
                if (memcmp(cmd + i, want, wl) == 0)
                        return true;
        /* "-name guest=NAME" with nothing after NAME ends at a NUL. */
        want[wl - 1] = '\0';
        for (size_t i = 0; i + wl <= len; i++)
                if (memcmp(cmd + i, want, wl) == 0)
                        return true;
        return false;
}

/* Write value to ROOT/REL, an existing file (no O_CREAT: a knob this
 * kernel lacks is an error, not a new file). */
static int apply_write(const char *root, const char *rel, const char *value, char *err, size_t err_size) {
        char path[PATH_MAX];
        int r = path_join(path, sizeof(path), root, rel);
        if (r < 0) {
                snprintf(err, err_size, "%s: path too long", rel);
                return r;
        }
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                snprintf(err, err_size, "open %.160s: %s", path, strerror(errno));
                return r;
        }
        size_t len = strlen(value);
        ssize_t k = write(fd, value, len);
        if (k < 0 || (size_t) k != len) {
                r = k < 0 ? -errno : -EIO;
                snprintf(err, err_size, "write %.160s=%.32s: %s", path, value, strerror(-r));
                return r;
        }
        return 0;
}

static int apply_oom_score_adj(const char *proc_root, const Action *act, char *err, size_t err_size) {
        if (!apply_pid_is_guest(proc_root, act->pid, act->guest)) {
                snprintf(err, err_size, "pid %d is no longer %.160s's qemu", (int) act->pid, act->guest);
                return -ESRCH;
        }
        char rel[64];
        snprintf(rel, sizeof(rel), "%d/oom_score_adj", (int) act->pid);
        int r = apply_write(proc_root, rel, act->value, err, err_size);
        if (r == -EACCES || r == -EPERM) {
                size_t n = strlen(err);
                snprintf(err + n, err_size - n, " (lowering it needs CAP_SYS_RESOURCE)");
        }
        return r;
}

static int apply_sysfs(const char *sys_root, const Action *act, char *err, size_t err_size) {
        const char *refused = action_ksm_refusal(act->knob, act->value);
        if (refused) {
                snprintf(err, err_size, "%.40s=%.40s: %s", act->knob, act->value, refused);
                return -EINVAL;
        }
        char rel[128];
        snprintf(rel, sizeof(rel), "kernel/mm/ksm/%s", act->knob);
        return apply_write(sys_root, rel, act->value, err, err_size);
}

static int apply_hypervisor(Applier *a, const Action *act, uint64_t deadline, char *err, size_t err_size) {
        const VirtOps *o = a->ops;
        ConnRef *c = NULL;
        int r = applier_conn_get(a, deadline, &c, err, err_size);
        if (r < 0)
                return r;
        VirtConn *vc = c->conn;
        switch (act->kind) {
        case ACTION_BALLOON:
                r = o->set_balloon(vc, act->uuid, act->bytes / KIB, err, err_size);
                break;
        case ACTION_PIN_VCPU:
                r = o->pin_vcpu(vc, act->uuid, act->vcpu, act->value, err, err_size);
                break;
        case ACTION_PIN_EMULATOR:
                r = o->pin_emulator(vc, act->uuid, act->value, err, err_size);
                break;
        case ACTION_PIN_MEMORY:
                r = o->set_numatune(vc, act->uuid, act->mode, act->value, err, err_size);
                break;
        case ACTION_SAVE:
                r = o->managed_save(vc, act->uuid, err, err_size);
                break;
        case ACTION_RESTORE:
                r = o->restore(vc, act->uuid, err, err_size);
                break;
        case ACTION_DESTROY:
                r = o->destroy(vc, act->uuid, err, err_size);
                break;
        default:
                snprintf(err, err_size, "not a hypervisor action");
                r = -EINVAL;
                break;
        }
        applier_conn_put(a, c, r == -ECONNRESET || r == -ENOTCONN);
        return r;
}

/* The next job a worker of this lane may run, or NULL. Jobs for one target
 * (a guest; for KSM knobs, whose target is "", the host) run one at a time
 * in the order planned: a job waits while an earlier one for the same
 * target is queued or running. With a->lock held. */
static Job *applier_next_job(Applier *a, Lane lane) {
        uint64_t now = now_monotonic_usec();
        for (Job *j = a->jobs; j; j = j->next) {
                if (j->lane != lane || j->state != JOB_QUEUED || now >= j->deadline_usec)
                        continue; /* too late to start: dispatch reports it */
                bool waits = false;
                for (const Job *o = a->jobs; o != j && !waits; o = o->next)
                        waits = o->lane == lane && o->state != JOB_FINISHED &&
                                strcmp(o->entry.action.uuid, j->entry.action.uuid) == 0;
                if (!waits)
                        return j;
        }
        return NULL;
}

/* Ask the hypervisor to abort a save that overran, if one waits for it:
 * from a worker of its own, as the save's worker waits in the call. With
 * a->lock held (dropped during the call). Return: whether one was sent. */
static bool applier_abort_one(Applier *a) {
        Job *j;
        for (j = a->jobs; j; j = j->next)
                if (j->abort == ABORT_WANTED && j->state == JOB_RUNNING)
                        break;
        if (!j)
                return false;
        j->abort = ABORT_SENT;
        uint64_t id = j->entry.id; /* the job may be freed while we are out: find it again by id */
        char uuid[DENSITY_UUID_LEN];
        strscpy(uuid, sizeof(uuid), j->entry.action.uuid);
        uint64_t deadline = now_monotonic_usec() + a->timeout_usec;
        pthread_mutex_unlock(&a->lock);

        char err[JOURNAL_MESSAGE_MAX] = "";
        ConnRef *c = NULL;
        int r = applier_conn_get(a, deadline, &c, err, sizeof(err));
        if (r == 0) {
                r = a->ops->abort_job ? a->ops->abort_job(c->conn, uuid, err, sizeof(err)) : -EOPNOTSUPP;
                if (r == -EOPNOTSUPP)
                        snprintf(err, sizeof(err), "this hypervisor cannot abort a job");
                applier_conn_put(a, c, r == -ECONNRESET || r == -ENOTCONN);
        }

        pthread_mutex_lock(&a->lock);
        /* The save may have ended (the abort's doing) and dispatch freed
         * its job meanwhile: then there is nobody to tell. */
        for (Job *k = a->jobs; k && r < 0; k = k->next)
                if (k->entry.id == id)
                        strscpy(k->abort_error, sizeof(k->abort_error), err);
        return true;
}

typedef struct Worker {
        Applier *applier;
        Lane lane;
} Worker;

static void *applier_worker(void *arg) {
        Worker w = *(Worker *) arg;
        free(arg);
        Applier *a = w.applier;
        pthread_setname_np(pthread_self(), w.lane == LANE_SYSFS ? "density-sysfs" : "density-act");

        pthread_mutex_lock(&a->lock);
        while (!a->stop) {
                if (w.lane == LANE_HYPERVISOR && applier_abort_one(a))
                        continue;
                Job *j = applier_next_job(a, w.lane);
                if (!j) {
                        pthread_cond_wait(&a->wake, &a->lock);
                        continue;
                }
                j->state = JOB_RUNNING;
                j->entry.started_usec = now_realtime_usec();
                if (j->entry.action.kind == ACTION_SAVE && a->save_timeout_usec)
                        j->abort_at_usec = now_monotonic_usec() + a->save_timeout_usec;
                Action act = j->entry.action;
                uint64_t deadline = j->deadline_usec;
                char sys_root[PATH_MAX], proc_root[PATH_MAX];
                strscpy(sys_root, sizeof(sys_root), a->sys_root);
                strscpy(proc_root, sizeof(proc_root), a->proc_root);
                pthread_mutex_unlock(&a->lock);
                applier_notify(a); /* long actions are journaled as started */

                char err[JOURNAL_MESSAGE_MAX] = "";
                int r = w.lane == LANE_HYPERVISOR              ? apply_hypervisor(a, &act, deadline, err, sizeof(err))
                        : act.kind == ACTION_OOM_SCORE_ADJ ? apply_oom_score_adj(proc_root, &act, err, sizeof(err))
                                                           : apply_sysfs(sys_root, &act, err, sizeof(err));

                pthread_mutex_lock(&a->lock);
                j->state = JOB_FINISHED;
                j->r = r;
                strscpy(j->error, sizeof(j->error), err);
                j->entry.finished_usec = now_realtime_usec();
                pthread_cond_broadcast(&a->wake); /* a guest may be free for its next action */
                applier_notify(a);
        }
        pthread_mutex_unlock(&a->lock);
        return NULL;
}

int applier_start(Applier *a) {
        for (size_t i = 0; i < APPLY_HV_WORKERS + 1; i++) {
                Worker *w = malloc(sizeof(*w));
                if (!w)
                        return -ENOMEM;
                *w = (Worker) { .applier = a, .lane = i == 0 ? LANE_SYSFS : LANE_HYPERVISOR };
                int k = pthread_create(&a->threads[a->n_threads], NULL, applier_worker, w);
                if (k != 0) {
                        free(w);
                        return -k;
                }
                a->n_threads++;
        }
        return 0;
}

Applier *applier_free(Applier *a) {
        if (!a)
                return NULL;
        pthread_mutex_lock(&a->lock);
        a->stop = true;
        pthread_cond_broadcast(&a->wake);
        pthread_mutex_unlock(&a->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += APPLY_JOIN_TIMEOUT_SEC;
        for (size_t i = 0; i < a->n_threads; i++)
                if (pthread_timedjoin_np(a->threads[i], NULL, &ts) != 0)
                        a->leave_behind = true;
        if (a->leave_behind)
                return NULL; /* a worker is stuck in a call: it may still touch a */
        while (a->jobs) {
                Job *j = a->jobs;
                a->jobs = j->next;
                free(j);
        }
        if (a->conn) {
                VirtConn *c = conn_unref(a->conn, 1);
                if (c)
                        a->ops->close(c);
        }
        connector_free(a->connector);
        close(a->efd);
        pthread_mutex_destroy(&a->lock);
        pthread_mutex_destroy(&a->connect_lock);
        pthread_cond_destroy(&a->wake);
        free(a);
        return NULL;
}

/* Why an action cannot be applied as planned, or NULL. */
static const char *applier_invalid(Applier *a, const Action *act) {
        if (act->kind >= _ACTION_KIND_MAX)
                return "unknown kind of action";
        if (act->kind == ACTION_KSM_KNOB)
                return action_ksm_refusal(act->knob, act->value);
        if (act->uuid[0] == '\0')
                return "no guest";
        if (act->kind == ACTION_OOM_SCORE_ADJ) {
                int64_t v;
                if (act->pid <= 0)
                        return "no qemu process";
                if (parse_i64(act->value, &v) < 0 || v < -1000 || v > 1000)
                        return "an OOM score adjustment is -1000..1000";
                return NULL;
        }
        const VirtOps *o = a->ops;
        bool supported = (act->kind == ACTION_BALLOON && o->set_balloon) ||
                         (act->kind == ACTION_PIN_VCPU && o->pin_vcpu) ||
                         (act->kind == ACTION_PIN_EMULATOR && o->pin_emulator) ||
                         (act->kind == ACTION_PIN_MEMORY && o->set_numatune) ||
                         (act->kind == ACTION_SAVE && o->managed_save) ||
                         (act->kind == ACTION_RESTORE && o->restore) ||
                         (act->kind == ACTION_DESTROY && o->destroy);
        if (!supported)
                return "the hypervisor connection cannot do this";
        if (act->kind == ACTION_BALLOON && act->bytes < KIB)
                return "balloon target below 1 KiB";
        return NULL;
}

/* An action of the same kind for the same target in flight, or NULL. */
static const Job *applier_same_in_flight(Applier *a, const Action *act) {
        for (const Job *j = a->jobs; j; j = j->next) {
                const Action *o = &j->entry.action;
                if (o->kind != act->kind)
                        continue;
                if (act->kind == ACTION_KSM_KNOB ? strcmp(o->knob, act->knob) == 0 : strcmp(o->uuid, act->uuid) == 0)
                        return j;
        }
        return NULL;
}

void applier_apply(Applier *a, const Plan *p) {
        for (size_t i = 0; i < p->n; i++) {
                JournalEntry e = { .action = p->actions[i], .planned_usec = now_realtime_usec() };
                pthread_mutex_lock(&a->lock);
                bool dry = a->dry_run;
                e.dry_run = dry;
                const char *invalid = applier_invalid(a, &e.action);
                const Job *same = invalid || dry ? NULL : applier_same_in_flight(a, &e.action);
                Job *job = NULL;
                if (invalid) {
                        e.result = RESULT_SKIPPED;
                        snprintf(e.message, sizeof(e.message), "invalid action: %s", invalid);
                } else if (dry) {
                        e.result = RESULT_WOULD;
                } else if (same) {
                        e.result = RESULT_SKIPPED;
                        snprintf(e.message, sizeof(e.message), "a %s action for %.100s is in flight (action %llu, %s)",
                                 action_kind_name(e.action.kind),
                                 e.action.kind == ACTION_KSM_KNOB ? e.action.knob : e.action.guest,
                                 (unsigned long long) same->entry.id,
                                 same->state == JOB_QUEUED ? "queued" : "running");
                } else if (a->n_jobs >= APPLY_IN_FLIGHT_MAX) {
                        e.result = RESULT_SKIPPED;
                        snprintf(e.message, sizeof(e.message), "%d actions in flight already", APPLY_IN_FLIGHT_MAX);
                } else if (!(job = calloc(1, sizeof(*job)))) {
                        e.result = RESULT_SKIPPED;
                        snprintf(e.message, sizeof(e.message), "out of memory");
                } else
                        e.result = RESULT_QUEUED;
                pthread_mutex_unlock(&a->lock);

                journal_add(a->journal, &e); /* assigns the id the job carries */
                if (!job)
                        continue;
                *job = (Job) { .entry = e };
                job->lane = action_kind_is_hypervisor(e.action.kind) ? LANE_HYPERVISOR : LANE_SYSFS;
                pthread_mutex_lock(&a->lock);
                job->deadline_usec = now_monotonic_usec() + a->timeout_usec;
                *a->tail = job;
                a->tail = &job->next;
                a->n_jobs++;
                pthread_cond_broadcast(&a->wake);
                pthread_mutex_unlock(&a->lock);
        }
}

static void applier_unlink(Applier *a, Job **pp) {
        Job *j = *pp;
        *pp = j->next;
        if (a->tail == &j->next)
                a->tail = pp;
        a->n_jobs--;
        free(j);
}

uint64_t applier_dispatch(Applier *a) {
        uint64_t drained;
        (void) !read(a->efd, &drained, sizeof(drained));

        uint64_t next = 0;
        uint64_t now = now_monotonic_usec();
        size_t n_out = 0;

        pthread_mutex_lock(&a->lock);
        /* At most one record per job and call. */
        JournalEntry *out = a->n_jobs ? malloc(a->n_jobs * sizeof(*out)) : NULL;
        if (a->n_jobs && !out) {
                pthread_mutex_unlock(&a->lock);
                return now + USEC_PER_SEC; /* out of memory: try again in a second */
        }
        for (Job **pp = &a->jobs; *pp;) {
                Job *j = *pp;
                JournalEntry e = j->entry;
                bool emit = false, drop = false;
                if (j->state == JOB_FINISHED) {
                        e.result = j->r == 0 ? RESULT_DONE : RESULT_FAILED;
                        if (j->abort == ABORT_SENT && j->r < 0 && !j->abort_error[0])
                                snprintf(e.message, sizeof(e.message), "aborted after SaveTimeout=%.3g s: %.200s",
                                         (double) a->save_timeout_usec / 1e6, j->error);
                        else if (j->abort == ABORT_SENT && j->abort_error[0])
                                snprintf(e.message, sizeof(e.message),
                                         "overran SaveTimeout=%.3g s and could not be aborted (%.90s)%s%.90s",
                                         (double) a->save_timeout_usec / 1e6, j->abort_error, j->r < 0 ? ": " : "",
                                         j->r < 0 ? j->error : "");
                        else
                                strscpy(e.message, sizeof(e.message), j->error);
                        e.late = j->timeout_reported;
                        emit = drop = true;
                } else if (now >= j->deadline_usec && !j->timeout_reported) {
                        char t[32];
                        snprintf(t, sizeof(t), "%.0f s", (double) a->timeout_usec / 1e6);
                        e.result = RESULT_TIMEOUT;
                        e.finished_usec = now_realtime_usec();
                        if (j->state == JOB_QUEUED) {
                                snprintf(e.message, sizeof(e.message),
                                         "not started within ActionTimeout=%s (hypervisor not answering?): dropped", t);
                                drop = true;
                        } else
                                snprintf(e.message, sizeof(e.message),
                                         "no outcome within ActionTimeout=%s; still waiting for it", t);
                        j->timeout_reported = true;
                        emit = true;
                } else if (j->state == JOB_RUNNING && !j->started_reported &&
                           action_kind_is_long(j->entry.action.kind)) {
                        e.result = RESULT_STARTED;
                        j->started_reported = true;
                        emit = true;
                }
                if (j->state == JOB_RUNNING && j->abort == ABORT_NONE && j->abort_at_usec && now >= j->abort_at_usec) {
                        j->abort = ABORT_WANTED;
                        pthread_cond_broadcast(&a->wake);
                }
                if (emit)
                        out[n_out++] = e;
                if (drop) {
                        applier_unlink(a, pp);
                        continue;
                }
                if (!j->timeout_reported && (next == 0 || j->deadline_usec < next))
                        next = j->deadline_usec;
                if (j->state == JOB_RUNNING && j->abort == ABORT_NONE && j->abort_at_usec &&
                    (next == 0 || j->abort_at_usec < next))
                        next = j->abort_at_usec;
                pp = &j->next;
        }
        pthread_mutex_unlock(&a->lock);

        for (size_t i = 0; i < n_out; i++)
                journal_update(a->journal, &out[i]);
        free(out);
        return next;
}

typedef struct InFlight {
        char uuid[DENSITY_UUID_LEN];
        uint32_t kinds;
} InFlight;

static int in_flight_cmp(const void *x, const void *y) {
        return strcmp(((const InFlight *) x)->uuid, ((const InFlight *) y)->uuid);
}

void applier_annotate(Applier *a, Snapshot *s) {
        for (size_t i = 0; i < s->n_guests; i++)
                s->guests[i].actions_in_flight = 0;
        /* Jobs by guest, sorted, then one search per guest: thousands of
         * guests and actions stay cheap, and the lock is held only to copy. */
        pthread_mutex_lock(&a->lock);
        size_t n = 0;
        InFlight *f = a->n_jobs ? malloc(a->n_jobs * sizeof(*f)) : NULL;
        for (const Job *j = a->jobs; f && j; j = j->next)
                if (j->entry.action.uuid[0]) {
                        strscpy(f[n].uuid, sizeof(f[n].uuid), j->entry.action.uuid);
                        f[n++].kinds = UINT32_C(1) << j->entry.action.kind;
                }
        pthread_mutex_unlock(&a->lock);
        if (!f)
                return; /* nothing in flight, or out of memory: the applier still refuses doubles */
        qsort(f, n, sizeof(*f), in_flight_cmp);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) /* merge each guest's kinds */
                if (m > 0 && strcmp(f[m - 1].uuid, f[i].uuid) == 0)
                        f[m - 1].kinds |= f[i].kinds;
                else
                        f[m++] = f[i];
        for (size_t i = 0; i < s->n_guests && m > 0; i++) {
                InFlight key;
                strscpy(key.uuid, sizeof(key.uuid), s->guests[i].uuid);
                const InFlight *hit = bsearch(&key, f, m, sizeof(*f), in_flight_cmp);
                if (hit)
                        s->guests[i].actions_in_flight = hit->kinds;
        }
        free(f);
}

size_t applier_in_flight(Applier *a) {
        pthread_mutex_lock(&a->lock);
        size_t n = a->n_jobs;
        pthread_mutex_unlock(&a->lock);
        return n;
}
