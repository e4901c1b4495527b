/* daemon: see include/density/daemon.h */
#include "density/daemon.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "density/control.h"
#include "density/log.h"
#include "density/policy.h"
#include "density/prom.h"
#include "density/refresh.h"
#include "density/server.h"
#include "density/util.h"

/* Before the hypervisor's first answer, tick often so READY=1 and the first
 * complete status come quickly; give up waiting after this long. */
#define FIRST_SAMPLE_POLL_USEC (200 * USEC_PER_MSEC)
#define FIRST_SAMPLE_MAX_WAIT_USEC (15 * USEC_PER_SEC)
#define TICK_ACCURACY_USEC (1 * USEC_PER_MSEC)

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

        Snapshot snap;
        bool have_snapshot;
        bool ready;
        uint64_t started_usec;     /* realtime */
        uint64_t started_mono_usec;
        uint64_t ticks;
        uint64_t round_usec;

        /* Last reported states, so a lasting failure is logged once. */
        int last_prom_error;
        int last_sample_error;
        bool was_connected;
        bool logged_connect_state;
} Daemon;

static void daemon_remove_prom(Daemon *d) {
        char path[PATH_MAX];
        if (path_join(path, sizeof(path), d->policy.textfile_directory, PROM_FILENAME) == 0)
                unlink(path);
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
        if (d->refresher)
                refresher_configure(d->refresher, d->policy.libvirt_uri, d->policy.interval_usec);
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

static void daemon_write_prom(Daemon *d) {
        int r = prom_write(d->policy.textfile_directory, &d->snap);
        if (r < 0 && r != d->last_prom_error)
                log_warning("cannot write %s/%s: %s (will keep trying)", d->policy.textfile_directory, PROM_FILENAME,
                            strerror(-r));
        else if (r == 0 && d->last_prom_error != 0)
                log_notice("writing %s/%s again", d->policy.textfile_directory, PROM_FILENAME);
        d->last_prom_error = r;
}

static void daemon_notify_status(Daemon *d) {
        size_t stale = 0;
        for (size_t i = 0; i < d->snap.n_guests; i++)
                stale += d->snap.guests[i].stale;
        char avail[32];
        snprintf(avail, sizeof(avail), "%.0f MiB", (double) d->snap.host.mem.mem_available_bytes / (1024.0 * 1024.0));
        sd_notifyf(false, "%sSTATUS=%zu guests (%zu stale), host available %s, KSM saves %.0f MiB%s",
                   d->ready ? "" : "READY=1\n", d->snap.n_guests, stale, avail,
                   (double) snapshot_ksm_saved_bytes(&d->snap.host) / (1024.0 * 1024.0),
                   d->snap.hypervisor_connected ? "" : ", hypervisor unreachable");
}

static int daemon_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        (void) s;
        (void) usec;

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
        d->status_reply = shared_text_unref(d->status_reply);
        snapshot_clear(&d->snap);
        d->snap = snap;
        d->have_snapshot = true;
        d->ticks++;
        daemon_write_prom(d);
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

rearm:;
        uint64_t next = d->ready ? d->policy.interval_usec : FIRST_SAMPLE_POLL_USEC;
        guest_table_clear(&table);
        sd_event_source_set_time_relative(d->tick_source, next);
        sd_event_source_set_enabled(d->tick_source, SD_EVENT_ONESHOT);
        return 0;
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
                };
                json_object *st = control_status_json(&d->snap, &info);
                d->status_reply = st ? shared_text_new(control_reply_ok(st)) : NULL;
        }
        return shared_text_ref(d->status_reply);
}

static SharedText *daemon_handle_request(const char *request, uid_t uid, void *userdata) {
        Daemon *d = userdata;
        ControlCommand cmd;
        char err[256];
        if (control_request_parse(request, &cmd, err, sizeof(err)) < 0)
                return shared_text_new(control_reply_error("%s", err));
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

static int daemon_on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        (void) s;
        log_info("%s: stopping", strsignal((int) si->ssi_signo));
        sd_notify(false, "STOPPING=1");
        sd_event_exit(d->event, 0);
        return 0;
}

static void daemon_cleanup(Daemon *d) {
        sd_event_source_disable_unref(d->tick_source);
        server_free(d->server);
        shared_text_unref(d->status_reply);
        /* Metrics of a stopped daemon would look current to Prometheus. */
        if (d->ticks > 0)
                daemon_remove_prom(d);
        refresher_free(d->refresher);
        sampler_free(d->sampler);
        snapshot_clear(&d->snap);
        sd_event_unref(d->event);
}

int daemon_run(const DaemonOptions *opts) {
        Daemon d = { .opts = *opts };
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
            (r = sd_event_add_signal(d.event, NULL, SIGHUP, daemon_on_sighup, &d)) < 0 ||
            (r = sd_event_set_watchdog(d.event, true)) < 0) {
                log_error("sd-event setup: %s", strerror(-r));
                goto fail;
        }

        r = sampler_new(&d.opts.roots, &d.sampler);
        if (r >= 0)
                r = refresher_new(d.opts.ops, d.opts.ops_userdata, d.policy.libvirt_uri, d.policy.interval_usec,
                                  &d.refresher);
        if (r < 0) {
                log_error("out of memory");
                goto fail;
        }
        d.socket_path = d.opts.socket_path ? d.opts.socket_path : d.policy.control_socket;
        r = server_new(d.event, d.socket_path, daemon_handle_request, &d, &d.server);
        if (r < 0) {
                if (r == -EADDRINUSE)
                        log_error("another densityd already listens on %s", d.socket_path);
                else
                        log_error("cannot listen on %s: %s", d.socket_path, strerror(-r));
                goto fail;
        }
        r = refresher_start(d.refresher);
        if (r < 0) {
                log_error("cannot start the hypervisor thread: %s", strerror(-r));
                goto fail;
        }

        /* sd-event's default accuracy (250 ms) would stretch a 1 s tick by a quarter. */
        r = sd_event_add_time_relative(d.event, &d.tick_source, CLOCK_MONOTONIC, 0, TICK_ACCURACY_USEC, daemon_tick, &d);
        if (r < 0) {
                log_error("cannot add the tick timer: %s", strerror(-r));
                goto fail;
        }
        sd_event_source_set_description(d.tick_source, "tick");

        char iv[32];
        policy_format_duration(d.policy.interval_usec, iv, sizeof(iv));
        log_info("densityd %s starting: policy %s, interval %s, hypervisor %s (%s), socket %s", DENSITY_VERSION,
                 d.opts.config_path, iv, d.policy.libvirt_uri, d.opts.ops->name, d.socket_path);

        r = sd_event_loop(d.event);
        daemon_cleanup(&d);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

fail:
        daemon_cleanup(&d);
        return EXIT_FAILURE;
}
