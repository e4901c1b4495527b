/* daemon: see include/density/daemon.h */
#include "density/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "density/apply.h"
#include "density/class.h"
#include "density/control.h"
#include "density/journal.h"
#include "density/ksm.h"
#include "density/cgroup.h"
#include "density/ksm-controller.h"
#include "density/balloon-controller.h"
#include "density/numa-controller.h"
#include "density/meminfo.h"
#include "density/psi.h"
#include "density/shed-controller.h"
#include "density/log.h"
#include "density/plan.h"
#include "density/policy.h"
#include "density/prom.h"
#include "density/record.h"
#include "density/refresh.h"
#include "density/server.h"
#include "density/util.h"

/* Before the hypervisor's first answer, tick often so READY=1 and the first
 * complete status come quickly; give up waiting after this long. */
#define FIRST_SAMPLE_POLL_USEC (200 * USEC_PER_MSEC)
#define FIRST_SAMPLE_MAX_WAIT_USEC (15 * USEC_PER_SEC)
#define TICK_ACCURACY_USEC (1 * USEC_PER_MSEC)
/* The shed path must outlive what it protects: the OOM killer's last
 * choice, as the shipped unit's OOMScoreAdjust= says, also outside systemd. */
#define DENSITYD_OOM_SCORE_ADJ -900
/* A tick brought forward (memory short between ticks) comes at most this
 * often: one tick samples, plans and applies; the next sees its effect. */
#define EARLY_TICK_MIN_GAP_USEC (500 * USEC_PER_MSEC)
/* The PSI trigger's window (1 s where the kernel allows it, else 2 s). */
#define PSI_TRIGGER_WINDOW_USEC (1 * USEC_PER_SEC)
#define STOP_RESTORE_WAIT_USEC (3 * USEC_PER_SEC)

/* Targets whose last action failed, remembered so that the same failure
 * again is not logged at warning level each time. */
#define DAEMON_FAILING_MAX 64
#define DAEMON_FAILING_KEY_MAX (ACTION_CONTROLLER_MAX + DENSITY_UUID_LEN + 96)
typedef struct FailingAction {
        char key[DAEMON_FAILING_KEY_MAX];
        char message[JOURNAL_MESSAGE_MAX];
} FailingAction;

typedef struct Daemon {
        DaemonOptions opts;
        sd_event *event;
        sd_event_source *tick_source;
        Server *server;
        const char *socket_path;
        SharedText *status_reply; /* rendered at most once per tick */

        Policy policy;
        Refresher *refresher;
        Sampler *sampler;

        /* The control plane: planners, their states, the applier and the
         * decision journal. */
        const Controller *const *controllers;
        size_t n_controllers;
        void **controller_state;
        Journal *journal;
        Applier *applier;
        Recorder *recorder;               /* Record=; NULL: off, or not opened yet */
        int last_record_error;
        sd_event_source *applier_source;  /* results from the workers */
        sd_event_source *deadline_source; /* the next action timeout */
        sd_event_source *watchdog_source;
        uint64_t watchdog_usec;           /* 0: no watchdog */
        uint64_t last_tick_mono_usec;
        bool watchdog_overdue_logged;

        Snapshot snap;
        bool have_snapshot;
        bool ready;
        uint64_t started_usec;     /* realtime */
        uint64_t started_mono_usec;
        uint64_t ticks;
        uint64_t round_usec;
        uint64_t tick_cpu_usec;       /* the last tick's CPU time, event-loop thread */
        uint64_t prom_write_usec;     /* the last textfile write, wall time */

        /* Last reported states, so a lasting failure is logged once. */
        int last_prom_error;
        int last_sample_error;
        HostReadErrors last_read_errors;
        char last_store_error[256];  /* a controller state that could not be stored, "" if none */
        /* Actions failing: the same target failing the same way again is
         * logged at debug level (the decision journal keeps every try). */
        FailingAction failing[DAEMON_FAILING_MAX];
        size_t n_failing;

        /* Between ticks, for the shed controller: a PSI trigger and a
         * memory check whose interval shrinks with the headroom; either
         * brings the next tick forward when memory runs short. */
        sd_event_source *psi_source;
        int psi_fd;
        sd_event_source *cgroup_psi_source; /* the VMs' cgroup's memory.pressure (cgroup v2) */
        int cgroup_psi_fd;
        bool cgroup_psi_tried;
        sd_event_source *memcheck_source;
        uint64_t memcheck_prev_mono_usec;
        uint64_t memcheck_prev_headroom;
        uint64_t last_early_tick_mono_usec;
        uint64_t early_ticks;
        int last_save_dir_error;
        bool was_connected;
        bool logged_connect_state;
} Daemon;

/* Whether a failed action repeats the last failure of the same target (a
 * KSM knob, a guest's balloon, ...) word for word; remembers it if not.
 * A success forgets the target and says whether it had been failing. */
static bool failing_repeat(Daemon *d, const JournalEntry *e, bool *ret_recovered) {
        const Action *a = &e->action;
        char key[DAEMON_FAILING_KEY_MAX];
        snprintf(key, sizeof(key), "%s/%s/%s/%s/%u", a->controller, action_kind_name(a->kind), a->uuid, a->knob,
                 a->vcpu);
        size_t i = 0;
        while (i < d->n_failing && strcmp(d->failing[i].key, key) != 0)
                i++;
        bool failed = e->result == RESULT_FAILED || e->result == RESULT_TIMEOUT;
        *ret_recovered = false;
        if (!failed) {
                if (e->result == RESULT_DONE && i < d->n_failing) {
                        d->failing[i] = d->failing[--d->n_failing];
                        *ret_recovered = true;
                }
                return false;
        }
        if (i < d->n_failing && strcmp(d->failing[i].message, e->message) == 0)
                return true;
        if (i == d->n_failing) {
                if (d->n_failing == DAEMON_FAILING_MAX) /* full: the oldest goes */
                        memmove(&d->failing[0], &d->failing[1], --d->n_failing * sizeof(d->failing[0]));
                i = d->n_failing++;
                strscpy(d->failing[i].key, sizeof(d->failing[i].key), key);
        }
        strscpy(d->failing[i].message, sizeof(d->failing[i].message), e->message);
        return false;
}

static bool daemon_dry_run(const Daemon *d) {
        return d->opts.dry_run || d->policy.dry_run;
}

static void daemon_remove_prom(Daemon *d) {
        char path[PATH_MAX];
        if (path_join(path, sizeof(path), d->policy.textfile_directory, PROM_FILENAME) == 0)
                unlink(path);
}

/* The sampler reads each qemu's oom_score_adj only for a policy with a
 * class that sets OomScoreAdjust= (one file per guest per tick less). */
static void daemon_configure_sampler(Daemon *d) {
        bool oom = false;
        for (size_t i = 0; i < d->policy.n_classes; i++)
                oom |= d->policy.classes[i].has_oom_score_adj;
        sampler_configure(d->sampler, SAMPLE_SLOW_PER_TICK, oom);
}

static void daemon_apply_policy(Daemon *d, const Policy *p, bool initial) {
        if (!initial && strcmp(p->control_socket, d->policy.control_socket) != 0 && !d->opts.socket_path)
                log_warning("ControlSocket= changed to %s: takes effect when densityd restarts", p->control_socket);
        if (!initial && d->ticks > 0 && !d->opts.textfile_dir &&
            strcmp(p->textfile_directory, d->policy.textfile_directory) != 0)
                daemon_remove_prom(d); /* nobody would update it any more */
        char keep_socket[sizeof(d->policy.control_socket)];
        strscpy(keep_socket, sizeof(keep_socket), d->policy.control_socket);
        d->policy = *p;
        if (!initial)
                strscpy(d->policy.control_socket, sizeof(d->policy.control_socket), keep_socket);
        if (d->opts.textfile_dir)
                strscpy(d->policy.textfile_directory, sizeof(d->policy.textfile_directory), d->opts.textfile_dir);
        if (d->sampler)
                daemon_configure_sampler(d);
        if (d->refresher)
                refresher_configure(d->refresher, d->policy.libvirt_uri, d->policy.interval_usec);
        if (d->applier)
                applier_configure(d->applier, d->policy.libvirt_uri, d->opts.roots.sys, daemon_dry_run(d),
                                  d->policy.action_timeout_usec, d->policy.shed.save_timeout_usec);
}

/* Load the policy file. On errors, log each and keep what we have.
 * Return: 0, or the number of errors. */
static int daemon_load_policy(Daemon *d, bool initial) {
        Policy p;
        PolicyErrors errors = {};
        int r = policy_load(d->opts.config_path, &p, &errors);
        if (r > 0 && initial && !d->opts.config_explicit && access(d->opts.config_path, F_OK) < 0) {
                log_notice("%s does not exist: using the built-in defaults", d->opts.config_path);
                policy_defaults(&p);
                r = 0;
        }
        if (r != 0) {
                for (size_t i = 0; i < errors.n; i++)
                        log_error("%s", errors.lines[i]);
                if (r < 0)
                        log_error("%s: %s", d->opts.config_path, strerror(-r));
                if (!initial)
                        log_error("reload failed: keeping the policy in force");
                policy_errors_clear(&errors);
                return r < 0 ? 1 : r;
        }
        policy_errors_clear(&errors);
        daemon_apply_policy(d, &p, initial);
        d->status_reply = shared_text_unref(d->status_reply); /* it shows the interval */
        if (!initial) {
                log_notice("reloaded %s", d->opts.config_path);
                /* Tick now under the new interval. */
                sd_event_source_set_time_relative(d->tick_source, 0);
                sd_event_source_set_enabled(d->tick_source, SD_EVENT_ONESHOT);
        }
        return 0;
}

static void daemon_report_hypervisor(Daemon *d, const GuestTable *t, const Snapshot *s) {
        if (t->rounds == 0 && s->hypervisor_error[0] == '\0')
                return; /* first round still running, not for long yet */
        bool connected = s->hypervisor_connected;
        if (d->logged_connect_state && connected == d->was_connected)
                return;
        if (connected)
                log_notice("connected to %s: %zu running guest%s", d->policy.libvirt_uri, t->n, t->n == 1 ? "" : "s");
        else
                log_warning("hypervisor %s unreachable, retrying: %s", d->policy.libvirt_uri,
                            s->hypervisor_error[0] ? s->hypervisor_error : "no answer");
        d->was_connected = connected;
        d->logged_connect_state = true;
}

/* Each controller's status, for the reporters; NULL when out of memory. */
static ControllerReport *daemon_controller_reports(Daemon *d) {
        ControllerReport *r = calloc(d->n_controllers ? d->n_controllers : 1, sizeof(*r));
        for (size_t i = 0; r && i < d->n_controllers; i++) {
                r[i].name = d->controllers[i]->name;
                if (d->controllers[i]->status)
                        d->controllers[i]->status(d->controller_state[i], &r[i].status);
                if (d->controllers[i] == &shed_controller)
                        r[i].shed_book = shed_controller_book(d->controller_state[i], NULL);
                if (d->controllers[i] == &balloon_controller) {
                        r[i].has_balloon = true;
                        balloon_controller_report(d->controller_state[i], &r[i].balloon);
                }
                if (d->controllers[i] == &numa_controller) {
                        r[i].has_numa = true;
                        numa_controller_report(d->controller_state[i], &r[i].numa);
                }
        }
        return r;
}

static void daemon_write_prom(Daemon *d) {
        uint64_t start = now_monotonic_usec();
        size_t n_counters;
        const JournalCounter *counters = journal_counters(d->journal, &n_counters);
        _cleanup_free_ ControllerReport *reports = daemon_controller_reports(d);
        int r = reports ? prom_write(d->policy.textfile_directory, &d->snap, counters, n_counters, reports,
                                     d->n_controllers)
                        : -ENOMEM;
        if (r < 0 && r != d->last_prom_error)
                log_warning("cannot write %s/%s: %s (will keep trying)", d->policy.textfile_directory, PROM_FILENAME,
                            strerror(-r));
        else if (r == 0 && d->last_prom_error != 0)
                log_notice("writing %s/%s again", d->policy.textfile_directory, PROM_FILENAME);
        d->last_prom_error = r;
        d->prom_write_usec = now_monotonic_usec() - start;
}

static void daemon_notify_status(Daemon *d) {
        size_t stale = 0;
        for (size_t i = 0; i < d->snap.n_guests; i++)
                stale += d->snap.guests[i].stale;
        char avail[32];
        snprintf(avail, sizeof(avail), "%.0f MiB", (double) d->snap.host.mem.mem_available_bytes / (1024.0 * 1024.0));
        sd_notifyf(false, "%sSTATUS=%zu guests (%zu stale), host available %s, KSM saves %.0f MiB%s%s",
                   d->ready ? "" : "READY=1\n", d->snap.n_guests, stale, avail,
                   (double) snapshot_ksm_saved_bytes(&d->snap.host) / (1024.0 * 1024.0),
                   d->snap.hypervisor_connected ? "" : ", hypervisor unreachable",
                   daemon_dry_run(d) ? ", dry run" : "");
}

/* Files that exist but cannot be read are reported once, when that starts
 * and when it ends; absent files (older kernels) are not errors. */
static void daemon_report_read_errors(Daemon *d, const Snapshot *s) {
        static const struct {
                const char *what;
                size_t offset;
        } files[] = {
                { "memory pressure (PSI)", offsetof(HostReadErrors, psi) },
                { "the VMs' cgroup", offsetof(HostReadErrors, cgroup) },
                { "KSM sysfs", offsetof(HostReadErrors, ksm) },
                { "NUMA nodes", offsetof(HostReadErrors, numa) },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int now = *(const int *) ((const char *) &s->host.errors + files[i].offset);
                int *was = (int *) ((char *) &d->last_read_errors + files[i].offset);
                if (now != 0 && now != *was)
                        log_warning("cannot read %s: %s (figures left out until it reads again)", files[i].what,
                                    strerror(-now));
                else if (now == 0 && *was != 0)
                        log_notice("%s readable again", files[i].what);
                *was = now;
        }
        for (size_t i = 0; i < s->n_guests; i++)
                if (s->guests[i].sample_error_new)
                        log_warning("guest %s: %s (kept, its figures are unknown)", s->guests[i].name,
                                    s->guests[i].sample_error);
}

/* Every controller, in order; a controller that runs out of memory loses
 * its actions for this tick, not the tick. State that outlives the process
 * is stored before the actions are applied: a crash after a save starts
 * still finds it in the book. */
static void daemon_plan(Daemon *d, const Snapshot *s, Plan *plan) {
        char err[256] = "";
        for (size_t i = 0; i < d->n_controllers; i++) {
                const Controller *c = d->controllers[i];
                size_t before = plan->n;
                if (c->plan(s, &d->policy, d->controller_state[i], plan) < 0) {
                        log_error("controller %s: out of memory planning: its actions this tick are dropped", c->name);
                        plan->n = before;
                }
                char why[256] = "";
                if (c->state_store &&
                    c->state_store(d->controller_state[i], d->policy.state_directory, why, sizeof(why)) < 0) {
                        /* What cannot be recorded is not done (a save the
                         * book does not know of would not come back after
                         * a restart), where the controller can undo it. */
                        if (c->plan_discard && plan->n > before) {
                                c->plan_discard(d->controller_state[i]);
                                plan->n = before;
                        }
                        if (!err[0])
                                snprintf(err, sizeof(err), "controller %s: %s%s", c->name, why,
                                         c->plan_discard ? " (its actions are held back until it can)" : "");
                }
        }
        for (size_t i = 0; i < plan->n_notes; i++) {
                const PlanNote *o = &plan->notes[i];
                log_notice("%s: %s%s%s", o->controller, o->guest, o->guest[0] ? ": " : "", o->text);
        }
        if (err[0] && strcmp(err, d->last_store_error) != 0)
                log_error("%s (tried again every tick)", err);
        else if (!err[0] && d->last_store_error[0])
                log_notice("controller state stored again in %s", d->policy.state_directory);
        strscpy(d->last_store_error, sizeof(d->last_store_error), err);
}

/* The recording (Record=): the snapshot as the planners saw it and what
 * they planned, one line per tick. A write that fails is said once, when
 * it starts failing, and the tick goes on. */
static void daemon_record(Daemon *d, const Snapshot *s, const Plan *plan) {
        const char *dir = d->policy.state_directory;
        if (d->policy.record_bytes == 0) {
                d->recorder = recorder_free(d->recorder);
                return;
        }
        int r = 0;
        if (!recorder_is(d->recorder, dir, d->policy.record_bytes)) {
                d->recorder = recorder_free(d->recorder);
                r = recorder_new(dir, d->policy.record_bytes, &d->recorder);
        }
        _cleanup_free_ char *line = NULL;
        size_t len = 0;
        if (r == 0)
                r = record_format(d->ticks + 1, journal_next_id(d->journal), s, plan, &line, &len);
        if (r == 0)
                r = recorder_write(d->recorder, line, len);
        if (r < 0 && r != d->last_record_error) {
                if (r == -EFBIG)
                        log_warning("a tick's record (%zu bytes) is over half of Record=: not recorded (said once)",
                                    len);
                else
                        log_warning("cannot record to %s/%s: %s (the tick goes on; said once)", dir, RECORD_FILE,
                                    strerror(-r));
        } else if (r == 0 && d->last_record_error != 0)
                log_notice("recording to %s/%s again", dir, RECORD_FILE);
        d->last_record_error = r;
}

/* Free space where managed saves go, for the shed controller's room check;
 * unknown (and said once) when the directory cannot be read. */
static void daemon_sample_save_dir(Daemon *d, Snapshot *s) {
        struct statvfs v;
        int r = statvfs(d->policy.shed.save_directory, &v) < 0 ? -errno : 0;
        if (r == 0) {
                s->host.has_save_free = true;
                s->host.save_free_bytes = (uint64_t) v.f_bavail * v.f_frsize;
        }
        if (r < 0 && r != d->last_save_dir_error && d->policy.shed.enable)
                log_warning("cannot read the free space of %s: %s (a save's room is not checked)",
                            d->policy.shed.save_directory, strerror(-r));
        d->last_save_dir_error = r;
}

static void daemon_arm_deadline(Daemon *d, uint64_t next_mono_usec) {
        if (next_mono_usec == 0) {
                sd_event_source_set_enabled(d->deadline_source, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_time(d->deadline_source, next_mono_usec);
        sd_event_source_set_enabled(d->deadline_source, SD_EVENT_ONESHOT);
}

/* Journal what the workers finished and what timed out. */
static void daemon_dispatch(Daemon *d) {
        daemon_arm_deadline(d, applier_dispatch(d->applier));
        d->status_reply = shared_text_unref(d->status_reply); /* it shows the latest decisions */
}

static int daemon_on_applier(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) s, (void) fd, (void) revents;
        daemon_dispatch(userdata);
        return 0;
}

static int daemon_on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s, (void) usec;
        daemon_dispatch(userdata);
        return 0;
}

static uint64_t daemon_tick_period(const Daemon *d) {
        return d->ready ? d->policy.interval_usec : FIRST_SAMPLE_POLL_USEC;
}

/* The watchdog is fed while the tick keeps its schedule: a tick that stops
 * re-arming (a bug, a hang in sampling) stops the pings, and systemd acts.
 * Pings also come from the tick itself. */
static int daemon_on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        (void) usec;
        uint64_t late = now_monotonic_usec() - d->last_tick_mono_usec;
        if (late <= daemon_tick_period(d) + d->watchdog_usec / 2) {
                sd_notify(false, "WATCHDOG=1");
                d->watchdog_overdue_logged = false;
        } else if (!d->watchdog_overdue_logged) {
                log_error("the tick is %llu ms overdue: not feeding the watchdog",
                          (unsigned long long) ((late - daemon_tick_period(d)) / USEC_PER_MSEC));
                d->watchdog_overdue_logged = true;
        }
        sd_event_source_set_time_relative(s, d->watchdog_usec / 2);
        return 0;
}

/* Lower our OOM score to DENSITYD_OOM_SCORE_ADJ unless it is lower
 * already (systemd, or an operator, may have set it). Only the running
 * process: tests with fixture roots leave it alone. */
static void daemon_protect_from_oom(Daemon *d) {
        if (strcmp(d->opts.roots.proc, "/proc") != 0)
                return;
        _cleanup_free_ char *text = NULL;
        size_t len;
        int64_t now;
        if (read_file_at("/proc", "self/oom_score_adj", &text, &len) < 0 || parse_i64(text, &now) < 0)
                return;
        if (now <= DENSITYD_OOM_SCORE_ADJ)
                return;
        char value[16];
        int n = snprintf(value, sizeof(value), "%d\n", DENSITYD_OOM_SCORE_ADJ);
        _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, value, (size_t) n) != n)
                log_notice("cannot lower densityd's OOM score to %d (%s): the OOM killer may pick densityd before "
                           "the guests it would shed",
                           DENSITYD_OOM_SCORE_ADJ, strerror(errno));
        else
                log_debug("OOM score adjusted from %lld to %d", (long long) now, DENSITYD_OOM_SCORE_ADJ);
}

/* Bring the next tick forward: memory got short between ticks (only while
 * shedding is enabled), or an operator asked for a shed or restore. */
static void daemon_tick_soon(Daemon *d, const char *why, bool operator) {
        uint64_t now = now_monotonic_usec();
        if (!d->ready || (!operator && !d->policy.shed.enable) ||
            now - d->last_early_tick_mono_usec < EARLY_TICK_MIN_GAP_USEC)
                return;
        /* While a shed is under way, memory stays short until it ends: a
         * tick now would sample every guest for nothing. */
        for (size_t i = 0; !operator && i < d->n_controllers; i++)
                if (d->controllers[i] == &shed_controller && shed_controller_busy(d->controller_state[i]))
                        return;
        d->last_early_tick_mono_usec = now;
        d->early_ticks++;
        log_debug("tick brought forward: %s", why);
        sd_event_source_set_time(d->tick_source, now);
        sd_event_source_set_enabled(d->tick_source, SD_EVENT_ONESHOT);
}

static int daemon_on_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Daemon *d = userdata;
        (void) fd;
        if (revents & EPOLLERR) {
                log_warning("the memory pressure trigger failed: memory is checked by the timer only");
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        if (revents & EPOLLPRI)
                daemon_tick_soon(d, "memory pressure (PSI) trigger", false);
        return 0;
}

/* The memory check between ticks: meminfo and the VMs' cgroup only (cheap),
 * again sooner the faster the headroom to a shed threshold shrinks. */
static int daemon_on_memcheck(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        (void) usec;
        HostSample h = { .page_size_bytes = page_size_bytes() };
        uint64_t now = now_monotonic_usec(), next = daemon_tick_period(d);
        if (d->policy.shed.enable && meminfo_read(d->opts.roots.proc, &h.mem) == 0) {
                (void) cgroup_machine_read(d->opts.roots.cgroup, &h.cgroup);
                uint64_t headroom = shed_headroom_bytes(&h, &d->policy.shed);
                double fill = 0;
                if (d->memcheck_prev_mono_usec && now > d->memcheck_prev_mono_usec)
                        fill = ((double) d->memcheck_prev_headroom - (double) headroom) * 1e6 /
                               (double) (now - d->memcheck_prev_mono_usec);
                d->memcheck_prev_mono_usec = now;
                d->memcheck_prev_headroom = headroom;
                ShedPressure x;
                shed_pressure(&h, &d->policy.shed, &x);
                if (x.level == SHED_LEVEL_SHORT)
                        daemon_tick_soon(d, x.reason, false);
                next = shed_check_interval_usec(headroom, fill, daemon_tick_period(d));
        }
        sd_event_source_set_time_relative(s, next);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* A PSI trigger on ROOT/REL that brings the tick forward: "some" stalls
 * (they come before "full" ones) over PsiFullAbove= of the window.
 * Return: 0 (*ret_fd and *ret_source set), or -errno with path said. */
static int daemon_psi_watch(Daemon *d, const char *root, const char *rel, const char *description, int *ret_fd,
                            sd_event_source **ret_source, char *path, size_t path_size) {
        uint64_t window = 0;
        uint64_t stall = (uint64_t) ((double) PSI_TRIGGER_WINDOW_USEC * d->policy.shed.psi_full_above_percent / 100.0);
        int r = path_join(path, path_size, root, rel);
        if (r < 0)
                return r;
        int fd = psi_trigger_open(path, "some", stall, PSI_TRIGGER_WINDOW_USEC, &window);
        if (fd < 0)
                return fd;
        r = sd_event_add_io(d->event, ret_source, fd, EPOLLPRI, daemon_on_psi, d);
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        sd_event_source_set_description(*ret_source, description);
        log_debug("memory pressure trigger armed on %s (%llu ms window)", path,
                  (unsigned long long) (window / USEC_PER_MSEC));
        return 0;
}

/* On cgroup v2, a trigger on the VMs' cgroup's own memory.pressure too:
 * a budget runs short while the host has memory to spare. Tried once,
 * when a tick has found the cgroup. */
static void daemon_arm_cgroup_psi(Daemon *d, const CgroupSample *cg) {
        if (d->cgroup_psi_tried || cg->version != 2 || !cg->path[0])
                return;
        d->cgroup_psi_tried = true;
        char rel[PATH_MAX], path[PATH_MAX] = "";
        snprintf(rel, sizeof(rel), "%s/memory.pressure", cg->path);
        int r = daemon_psi_watch(d, d->opts.roots.cgroup, rel, "cgroup-psi-trigger", &d->cgroup_psi_fd,
                                 &d->cgroup_psi_source, path, sizeof(path));
        if (r < 0)
                log_debug("no memory pressure trigger on %s: %s", path, strerror(-r));
}

/* Arm the between-ticks checks: the PSI trigger where the kernel has one,
 * and the memory check always. */
static int daemon_arm_memory_watch(Daemon *d) {
        char path[PATH_MAX] = "";
        int r = daemon_psi_watch(d, d->opts.roots.proc, "pressure/memory", "psi-trigger", &d->psi_fd, &d->psi_source,
                                 path, sizeof(path));
        if (r < 0)
                log_notice("no memory pressure trigger on %s (%s): memory is checked by the timer only", path,
                           strerror(-r));
        r = sd_event_add_time_relative(d->event, &d->memcheck_source, CLOCK_MONOTONIC, daemon_tick_period(d),
                                       TICK_ACCURACY_USEC, daemon_on_memcheck, d);
        if (r < 0)
                return r;
        sd_event_source_set_description(d->memcheck_source, "memory-check");
        return 0;
}

static int daemon_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        (void) s;
        (void) usec;
        d->last_tick_mono_usec = now_monotonic_usec();
        uint64_t cpu_start = thread_cpu_usec();

        /* 1. Sample: the hypervisor's latest table, then host and guest files. */
        GuestTable table = {};
        if (refresher_get(d->refresher, &table) < 0) {
                log_error("out of memory copying guest table");
                goto rearm;
        }
        d->round_usec = table.round_usec;

        Snapshot snap;
        int r = sampler_tick(d->sampler, &table, d->policy.stale_after_usec, &snap);
        if (r < 0) {
                if (r != d->last_sample_error)
                        log_error("cannot sample host memory: %s", strerror(-r));
                d->last_sample_error = r;
                goto rearm;
        }
        d->last_sample_error = 0;
        daemon_report_hypervisor(d, &table, &snap);
        daemon_report_read_errors(d, &snap);

        /* 2. Plan: judge each guest's class and what is in flight, then ask
         *    every controller. */
        class_assign(&d->policy, &snap);
        applier_annotate(d->applier, &snap);
        daemon_sample_save_dir(d, &snap);
        daemon_arm_cgroup_psi(d, &snap.host.cgroup);
        Plan plan = {};
        daemon_plan(d, &snap, &plan);
        daemon_record(d, &snap, &plan);

        /* 3. Apply: queue (or, dry, only journal) every action; the outcome
         *    comes back through applier_fd. */
        applier_apply(d->applier, &plan);
        plan_clear(&plan);
        daemon_dispatch(d);

        /* 4. Report. */
        d->status_reply = shared_text_unref(d->status_reply);
        snapshot_clear(&d->snap);
        d->snap = snap;
        d->snap.tick_cpu_usec = d->tick_cpu_usec;
        d->snap.textfile_write_usec = d->prom_write_usec;
        d->have_snapshot = true;
        d->ticks++;
        daemon_write_prom(d);
        d->tick_cpu_usec = thread_cpu_usec() - cpu_start;
        log_debug("tick %llu: %zu guests, sampled in %llu us, hypervisor %s (last bulk call %llu us)",
                  (unsigned long long) d->ticks, snap.n_guests, (unsigned long long) snap.sample_duration_usec,
                  d->snap.hypervisor_connected ? "connected" : "unreachable", (unsigned long long) table.round_usec);

        bool first_round_done = table.rounds > 0;
        bool waited_too_long = now_monotonic_usec() - d->started_mono_usec > FIRST_SAMPLE_MAX_WAIT_USEC;
        if (d->ready || first_round_done || waited_too_long) {
                if (!d->ready && !first_round_done)
                        log_warning("no answer from the hypervisor yet: ready without guest figures");
                daemon_notify_status(d);
                if (!d->ready)
                        log_info("first sample complete: %zu guests", d->snap.n_guests);
                d->ready = true;
        }
        if (d->watchdog_usec)
                sd_notify(false, "WATCHDOG=1");

rearm:
        guest_table_clear(&table);
        sd_event_source_set_time_relative(d->tick_source, daemon_tick_period(d));
        sd_event_source_set_enabled(d->tick_source, SD_EVENT_ONESHOT);
        return 0;
}

static void daemon_journal_sink(const JournalEntry *e, void *userdata) {
        Daemon *d = userdata;
        const Action *a = &e->action;
        /* Short actions are journaled once, with their outcome; long ones
         * (save, restore, destroy) also when queued and started. A failure
         * that repeats the last one of its target is a debug message: the
         * first said it (a read-only KSM sysfs fails every retry). */
        bool transient = e->result == RESULT_QUEUED || e->result == RESULT_STARTED;
        bool recovered = false;
        bool repeat = !transient && failing_repeat(d, e, &recovered);
        int prio = repeat                                                ? LOG_DEBUG
                   : e->result == RESULT_FAILED || e->result == RESULT_TIMEOUT ? LOG_WARNING
                   : recovered                                           ? LOG_NOTICE
                   : transient && !action_kind_is_long(a->kind)        ? LOG_DEBUG
                   : action_kind_is_long(a->kind)                        ? LOG_NOTICE
                                                                         : LOG_INFO;
        char line[1024], what[512];
        journal_entry_format(e, line, sizeof(line));
        action_describe(a, what, sizeof(what));
        char msg[1100];
        snprintf(msg, sizeof(msg), "action %llu: %s%s%s", (unsigned long long) e->id, line,
                 repeat ? " (failing as before)" : "", recovered ? " (it had been failing)" : "");

        char f_ctl[64], f_act[64], f_guest[DENSITY_NAME_MAX + 32], f_uuid[64], f_reason[ACTION_REASON_MAX + 32],
                f_result[48], f_id[48], f_what[600], f_msg[JOURNAL_MESSAGE_MAX + 32], f_dry[32];
        snprintf(f_ctl, sizeof(f_ctl), "DENSITY_CONTROLLER=%s", a->controller);
        snprintf(f_act, sizeof(f_act), "DENSITY_ACTION=%s", action_kind_name(a->kind));
        snprintf(f_guest, sizeof(f_guest), "DENSITY_GUEST=%s", a->guest);
        snprintf(f_uuid, sizeof(f_uuid), "DENSITY_GUEST_UUID=%s", a->uuid);
        snprintf(f_reason, sizeof(f_reason), "DENSITY_REASON=%s", a->reason);
        snprintf(f_result, sizeof(f_result), "DENSITY_RESULT=%s%s", e->late ? "late-" : "", action_result_name(e->result));
        snprintf(f_id, sizeof(f_id), "DENSITY_ACTION_ID=%llu", (unsigned long long) e->id);
        snprintf(f_what, sizeof(f_what), "DENSITY_WHAT=%s", what);
        snprintf(f_msg, sizeof(f_msg), "DENSITY_MESSAGE=%s", e->message);
        snprintf(f_dry, sizeof(f_dry), "DENSITY_DRY_RUN=%d", e->dry_run);
        const char *const fields[] = { f_ctl, f_act, f_guest, f_uuid, f_reason, f_result, f_id, f_what, f_msg, f_dry };
        log_struct(prio, action_kind_message_id(a->kind), msg, fields, ELEMENTSOF(fields));
}

static SharedText *daemon_status_reply(Daemon *d) {
        if (!d->have_snapshot)
                return shared_text_new(control_reply_error("no sample yet: densityd is starting"));
        if (!d->status_reply) {
                ControlDaemonInfo info = {
                        .version = DENSITY_VERSION,
                        .pid = getpid(),
                        .interval_usec = d->policy.interval_usec,
                        .policy_path = d->opts.config_path,
                        .libvirt_uri = d->policy.libvirt_uri,
                        .started_usec = d->started_usec,
                        .ticks = d->ticks,
                        .hypervisor_round_usec = d->round_usec,
                        .dry_run = daemon_dry_run(d),
                        .actions_in_flight = applier_in_flight(d->applier),
                };
                JournalEntry *recent = NULL;
                JournalFilter f = { .n = CONTROL_STATUS_DECISIONS };
                if (journal_query(d->journal, &f, &recent, &info.n_decisions) < 0)
                        return NULL;
                info.decisions = recent;
                ControllerReport *reports = daemon_controller_reports(d);
                info.controllers = reports;
                info.n_controllers = reports ? d->n_controllers : 0;
                json_object *st = control_status_json(&d->snap, &info);
                free(reports);
                free(recent);
                d->status_reply = st ? shared_text_new(control_reply_ok(st)) : NULL;
        }
        return shared_text_ref(d->status_reply);
}

static SharedText *daemon_log_reply(Daemon *d, const ControlRequest *req) {
        JournalFilter f = { .guest = req->guest, .controller = req->controller,
                            .n = req->n ? req->n : CONTROL_LOG_DEFAULT };
        JournalEntry *entries = NULL;
        size_t n = 0;
        if (journal_query(d->journal, &f, &entries, &n) < 0)
                return NULL;
        json_object *o = control_log_json(entries, n);
        free(entries);
        return o ? shared_text_new(control_reply_ok_with("log", o)) : NULL;
}

/* densityctl shed/restore: queued for the shed controller's next plan,
 * which comes at once. */
static SharedText *daemon_shed_request(Daemon *d, const ControlRequest *req, uid_t uid) {
        void *state = NULL;
        for (size_t i = 0; i < d->n_controllers; i++)
                if (d->controllers[i] == &shed_controller)
                        state = d->controller_state[i];
        if (!state)
                return shared_text_new(control_reply_error("the shed controller does not run in this densityd"));
        if (!d->have_snapshot)
                return shared_text_new(control_reply_error("no sample yet: try again in a moment"));
        char err[512];
        ActionKind kind = req->command == CONTROL_SHED ? ACTION_SAVE : ACTION_RESTORE;
        if (shed_controller_request(state, &d->snap, &d->policy, kind, req->guest, err, sizeof(err)) < 0)
                return shared_text_new(control_reply_error("%s", err));
        log_info("%s of %s requested by uid %u", control_command_name(req->command), req->guest, (unsigned) uid);
        daemon_tick_soon(d, "an operator's request", true);
        return shared_text_new(control_reply_ok(NULL));
}

static SharedText *daemon_handle_request(const char *request, uid_t uid, void *userdata) {
        Daemon *d = userdata;
        ControlRequest req;
        char err[256];
        if (control_request_parse(request, &req, err, sizeof(err)) < 0)
                return shared_text_new(control_reply_error("%s", err));
        ControlCommand cmd = req.command;
        if (control_command_privileged(cmd) && uid != 0)
                return shared_text_new(
                        control_reply_error("'%s' changes the daemon and is for root only", control_command_name(cmd)));

        switch (cmd) {
        case CONTROL_STATUS:
                return daemon_status_reply(d);
        case CONTROL_RELOAD: {
                int n = daemon_load_policy(d, false);
                if (n > 0)
                        return shared_text_new(control_reply_error(
                                "%s has %d error%s: kept the policy in force (see the log)", d->opts.config_path, n,
                                n == 1 ? "" : "s"));
                return shared_text_new(control_reply_ok(NULL));
        }
        case CONTROL_LOG:
                return daemon_log_reply(d, &req);
        case CONTROL_SHED:
        case CONTROL_RESTORE:
                return daemon_shed_request(d, &req, uid);
        case _CONTROL_COMMAND_MAX:
                break;
        }
        return shared_text_new(control_reply_error("unhandled command"));
}

static int daemon_on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        (void) si;
        log_info("SIGHUP: reloading %s", ((Daemon *) userdata)->opts.config_path);
        daemon_load_policy(userdata, false);
        return 0;
}

/* On a clean stop: what the controllers put back (RestoreOnExit=), judged
 * on the KSM files as they are now (the last tick's sample predates its own
 * writes), applied and journaled before the applier goes. Waits at most
 * STOP_RESTORE_WAIT_USEC. */
static void daemon_stop_controllers(Daemon *d) {
        if (!d->have_snapshot || !d->applier)
                return;
        Snapshot now = d->snap; /* shares the guest array: not cleared here */
        if (ksm_read(d->opts.roots.sys, &now.host.ksm) < 0)
                return; /* unreadable: better to leave the knobs than to guess */
        Plan plan = {};
        for (size_t i = 0; i < d->n_controllers; i++) {
                const Controller *c = d->controllers[i];
                if (c->plan_stop && c->plan_stop(&now, &d->policy, d->controller_state[i], &plan) < 0)
                        log_error("controller %s: out of memory planning what to put back", c->name);
        }
        if (plan.n > 0) {
                log_info("putting back %zu setting%s as found", plan.n, plan.n == 1 ? "" : "s");
                applier_apply(d->applier, &plan);
                uint64_t deadline = now_monotonic_usec() + STOP_RESTORE_WAIT_USEC;
                while (applier_in_flight(d->applier) > 0 && now_monotonic_usec() < deadline) {
                        struct pollfd p = { .fd = applier_fd(d->applier), .events = POLLIN };
                        (void) poll(&p, 1, 100);
                        applier_dispatch(d->applier);
                }
                applier_dispatch(d->applier);
        }
        plan_clear(&plan);
        /* What the controllers keep across restarts says they stopped
         * cleanly (the KSM knobs as found are no longer needed). */
        for (size_t i = 0; i < d->n_controllers; i++) {
                char err[256] = "";
                if (d->controllers[i]->state_store &&
                    d->controllers[i]->state_store(d->controller_state[i], d->policy.state_directory, err,
                                                   sizeof(err)) < 0)
                        log_error("controller %s: %s", d->controllers[i]->name, err);
        }
}

static int daemon_on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        (void) s;
        log_info("%s: stopping", strsignal((int) si->ssi_signo));
        sd_notify(false, "STOPPING=1");
        daemon_stop_controllers(d);
        sd_event_exit(d->event, 0);
        return 0;
}

static void daemon_cleanup(Daemon *d) {
        sd_event_source_disable_unref(d->tick_source);
        sd_event_source_disable_unref(d->psi_source);
        sd_event_source_disable_unref(d->cgroup_psi_source);
        sd_event_source_disable_unref(d->memcheck_source);
        if (d->psi_fd >= 0)
                close(d->psi_fd);
        if (d->cgroup_psi_fd >= 0)
                close(d->cgroup_psi_fd);
        sd_event_source_disable_unref(d->applier_source);
        sd_event_source_disable_unref(d->deadline_source);
        sd_event_source_disable_unref(d->watchdog_source);
        server_free(d->server);
        shared_text_unref(d->status_reply);
        /* Metrics of a stopped daemon would look current to Prometheus. */
        if (d->ticks > 0)
                daemon_remove_prom(d);
        refresher_free(d->refresher);
        /* Actions still running are not waited for beyond a few seconds: a
         * managed save that libvirtd carries on with completes without us,
         * and the next start sees the saved guest. */
        size_t left = d->applier ? applier_in_flight(d->applier) : 0;
        if (left > 0)
                log_notice("stopping with %zu action%s in flight", left, left == 1 ? "" : "s");
        applier_free(d->applier);
        journal_free(d->journal);
        recorder_free(d->recorder);
        for (size_t i = 0; d->controller_state && i < d->n_controllers; i++)
                if (d->controllers[i]->state_free)
                        d->controllers[i]->state_free(d->controller_state[i]);
        free(d->controller_state);
        sampler_free(d->sampler);
        snapshot_clear(&d->snap);
        sd_event_unref(d->event);
}

int daemon_run(const DaemonOptions *opts) {
        Daemon d = { .opts = *opts, .psi_fd = -1, .cgroup_psi_fd = -1 };
        int r;

        if (!d.opts.ops)
                d.opts.ops = &virt_libvirt_ops;
        d.started_usec = now_realtime_usec();
        d.started_mono_usec = now_monotonic_usec();
        policy_defaults(&d.policy);
        if (daemon_load_policy(&d, true) != 0)
                return EXIT_FAILURE;

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = sd_event_default(&d.event);
        if (r < 0) {
                log_error("sd-event: %s", strerror(-r));
                return EXIT_FAILURE;
        }
        if ((r = sd_event_add_signal(d.event, NULL, SIGTERM, daemon_on_exit_signal, &d)) < 0 ||
            (r = sd_event_add_signal(d.event, NULL, SIGINT, daemon_on_exit_signal, &d)) < 0 ||
            (r = sd_event_add_signal(d.event, NULL, SIGHUP, daemon_on_sighup, &d)) < 0) {
                log_error("sd-event setup: %s", strerror(-r));
                goto fail;
        }

        d.controllers = d.opts.controllers ? d.opts.controllers : controllers_builtin;
        d.n_controllers = d.opts.controllers ? d.opts.n_controllers : controllers_builtin_n;
        d.controller_state = calloc(d.n_controllers ? d.n_controllers : 1, sizeof(void *));
        r = d.controller_state ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < d.n_controllers; i++)
                if (d.controllers[i]->state_new && !(d.controller_state[i] = d.controllers[i]->state_new()))
                        r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < d.n_controllers; i++) {
                char err[512] = "";
                int k = d.controllers[i]->state_load
                                ? d.controllers[i]->state_load(d.controller_state[i], d.policy.state_directory, err,
                                                               sizeof(err))
                                : 0;
                if (k < 0)
                        log_error("controller %s: %s", d.controllers[i]->name, err);
                else if (k > 0)
                        log_notice("controller %s: %s", d.controllers[i]->name, err);
        }
        /* The sampler holds each guest's statm open (sample.h): as many
         * descriptors as the hard limit allows, not the soft 1024 systemd
         * starts services with (densityd uses no select()). */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
        }
        if (r >= 0)
                r = sampler_new(&d.opts.roots, &d.sampler);
        if (r >= 0)
                daemon_configure_sampler(&d);
        if (r >= 0)
                r = refresher_new(d.opts.ops, d.opts.ops_userdata, d.policy.libvirt_uri, d.policy.interval_usec,
                                  &d.refresher);
        if (r >= 0)
                r = journal_new(JOURNAL_CAPACITY_DEFAULT, daemon_journal_sink, &d, &d.journal);
        if (r >= 0)
                r = applier_new(d.opts.ops, d.opts.ops_userdata, d.journal, &d.applier);
        if (r < 0) {
                log_error("cannot set up: %s", strerror(-r));
                goto fail;
        }
        applier_set_proc_root(d.applier, d.opts.roots.proc);
        applier_configure(d.applier, d.policy.libvirt_uri, d.opts.roots.sys, daemon_dry_run(&d),
                          d.policy.action_timeout_usec, d.policy.shed.save_timeout_usec);
        d.socket_path = d.opts.socket_path ? d.opts.socket_path : d.policy.control_socket;
        r = server_new(d.event, d.socket_path, daemon_handle_request, &d, &d.server);
        if (r < 0) {
                if (r == -EADDRINUSE)
                        log_error("another densityd already listens on %s", d.socket_path);
                else if (r == -EEXIST)
                        log_error("cannot listen on %s: it exists and is not a socket (left alone)", d.socket_path);
                else
                        log_error("cannot listen on %s: %s", d.socket_path, strerror(-r));
                goto fail;
        }
        r = refresher_start(d.refresher);
        if (r >= 0)
                r = applier_start(d.applier);
        if (r < 0) {
                log_error("cannot start the hypervisor threads: %s", strerror(-r));
                goto fail;
        }
        if ((r = sd_event_add_io(d.event, &d.applier_source, applier_fd(d.applier), EPOLLIN, daemon_on_applier,
                                 &d)) < 0 ||
            (r = sd_event_add_time(d.event, &d.deadline_source, CLOCK_MONOTONIC, UINT64_MAX, TICK_ACCURACY_USEC,
                                   daemon_on_deadline, &d)) < 0) {
                log_error("sd-event setup: %s", strerror(-r));
                goto fail;
        }
        sd_event_source_set_description(d.applier_source, "applier");
        sd_event_source_set_description(d.deadline_source, "action-timeouts");
        sd_event_source_set_enabled(d.deadline_source, SD_EVENT_OFF);
        if (sd_watchdog_enabled(false, &d.watchdog_usec) > 0 && d.watchdog_usec > 0) {
                r = sd_event_add_time_relative(d.event, &d.watchdog_source, CLOCK_MONOTONIC, d.watchdog_usec / 2,
                                               TICK_ACCURACY_USEC, daemon_on_watchdog, &d);
                if (r < 0) {
                        log_error("cannot add the watchdog timer: %s", strerror(-r));
                        goto fail;
                }
                sd_event_source_set_enabled(d.watchdog_source, SD_EVENT_ON);
                sd_event_source_set_description(d.watchdog_source, "watchdog");
        } else
                d.watchdog_usec = 0;
        d.last_tick_mono_usec = now_monotonic_usec();

        /* sd-event's default accuracy (250 ms) would stretch a 1 s tick by a quarter. */
        r = sd_event_add_time_relative(d.event, &d.tick_source, CLOCK_MONOTONIC, 0, TICK_ACCURACY_USEC, daemon_tick, &d);
        if (r < 0) {
                log_error("cannot add the tick timer: %s", strerror(-r));
                goto fail;
        }
        sd_event_source_set_description(d.tick_source, "tick");
        daemon_protect_from_oom(&d);
        r = daemon_arm_memory_watch(&d);
        if (r < 0) {
                log_error("cannot add the memory checks between ticks: %s", strerror(-r));
                goto fail;
        }

        char iv[32];
        policy_format_duration(d.policy.interval_usec, iv, sizeof(iv));
        log_info("densityd %s starting: policy %s, interval %s, hypervisor %s (%s), socket %s, %zu controller%s%s",
                 DENSITY_VERSION, d.opts.config_path, iv, d.policy.libvirt_uri, d.opts.ops->name, d.socket_path,
                 d.n_controllers, d.n_controllers == 1 ? "" : "s",
                 daemon_dry_run(&d) ? "; dry run: every action is planned and journaled, nothing is changed" : "");

        r = sd_event_loop(d.event);
        daemon_cleanup(&d);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

fail:
        daemon_cleanup(&d);
        return EXIT_FAILURE;
}
