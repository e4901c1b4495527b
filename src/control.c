/* control: see include/density/control.h */
#include "density/control.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "density/class.h"
#include "density/util.h"

#define CONTROL_CALL_TIMEOUT_MSEC 10000

static const struct {
        const char *name;
        bool privileged;
} control_commands[_CONTROL_COMMAND_MAX] = {
        [CONTROL_STATUS] = { "status", false },
        [CONTROL_RELOAD] = { "reload", true },
        [CONTROL_LOG] = { "log", false },
        [CONTROL_SHED] = { "shed", true },
        [CONTROL_RESTORE] = { "restore", true },
};

const char *control_command_name(ControlCommand c) {
        return c < _CONTROL_COMMAND_MAX ? control_commands[c].name : NULL;
}

int control_command_from_name(const char *name, ControlCommand *ret) {
        for (int i = 0; i < _CONTROL_COMMAND_MAX; i++)
                if (strcmp(control_commands[i].name, name) == 0) {
                        *ret = (ControlCommand) i;
                        return 0;
                }
        return -EINVAL;
}

bool control_command_privileged(ControlCommand c) {
        return c < _CONTROL_COMMAND_MAX && control_commands[c].privileged;
}

/* Copy a string member of a request. Return: 0, 1 when absent, -EINVAL. */
static int request_string(json_object *v, const char *key, char *dst, size_t size, char *err, size_t err_size) {
        if (!json_object_is_type(v, json_type_string)) {
                snprintf(err, err_size, "\"%s\" must be a string", key);
                return -EINVAL;
        }
        const char *t = json_object_get_string(v);
        if (strlen(t) >= size) {
                snprintf(err, err_size, "\"%s\" is longer than %zu characters", key, size - 1);
                return -EINVAL;
        }
        strscpy(dst, size, t);
        return 0;
}

int control_request_parse(const char *buf, ControlRequest *ret, char *err, size_t err_size) {
        json_object *o = json_tokener_parse(buf);
        json_object *cmd;
        ControlRequest req = {};
        int r = 0;
        if (!o || !json_object_is_type(o, json_type_object)) {
                snprintf(err, err_size, "request is not a JSON object");
                r = -EINVAL;
        } else if (!json_object_object_get_ex(o, "command", &cmd) || !json_object_is_type(cmd, json_type_string)) {
                snprintf(err, err_size, "request has no \"command\" string");
                r = -EINVAL;
        } else if (control_command_from_name(json_object_get_string(cmd), &req.command) < 0) {
                snprintf(err, err_size, "unknown command \"%.64s\"", json_object_get_string(cmd));
                r = -EINVAL;
        }
        if (r == 0) {
                json_object_object_foreach(o, key, v) {
                        if (strcmp(key, "command") == 0)
                                continue;
                        bool guest_cmd = req.command == CONTROL_SHED || req.command == CONTROL_RESTORE;
                        if (guest_cmd && strcmp(key, "guest") == 0)
                                r = request_string(v, key, req.guest, sizeof(req.guest), err, err_size);
                        else if (req.command != CONTROL_LOG) {
                                snprintf(err, err_size, "\"%s\" takes no argument \"%.64s\"",
                                         control_command_name(req.command), key);
                                r = -EINVAL;
                        } else if (strcmp(key, "guest") == 0)
                                r = request_string(v, key, req.guest, sizeof(req.guest), err, err_size);
                        else if (strcmp(key, "controller") == 0)
                                r = request_string(v, key, req.controller, sizeof(req.controller), err, err_size);
                        else if (strcmp(key, "n") == 0) {
                                int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
                                if (n < 1 || n > JOURNAL_CAPACITY_DEFAULT) {
                                        snprintf(err, err_size, "\"n\" must be an integer 1..%d",
                                                 JOURNAL_CAPACITY_DEFAULT);
                                        r = -EINVAL;
                                } else
                                        req.n = (unsigned) n;
                        } else {
                                snprintf(err, err_size, "unknown argument \"%.64s\" for \"log\"", key);
                                r = -EINVAL;
                        }
                        if (r < 0)
                                break;
                }
        }
        if (r == 0 && (req.command == CONTROL_SHED || req.command == CONTROL_RESTORE) && !req.guest[0]) {
                snprintf(err, err_size, "\"%s\" needs \"guest\" (a name or UUID)", control_command_name(req.command));
                r = -EINVAL;
        }
        json_object_put(o);
        if (r == 0)
                *ret = req;
        return r;
}

int control_request_format(const ControlRequest *req, char **ret) {
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "command", json_object_new_string(control_command_name(req->command)));
        if (req->guest[0])
                json_object_object_add(o, "guest", json_object_new_string(req->guest));
        if (req->controller[0])
                json_object_object_add(o, "controller", json_object_new_string(req->controller));
        if (req->n)
                json_object_object_add(o, "n", json_object_new_int((int) req->n));
        const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *line = NULL;
        int r = t && asprintf(&line, "%s\n", t) >= 0 ? 0 : -ENOMEM;
        json_object_put(o);
        if (r == 0)
                *ret = line;
        return r;
}

/* json-c has no unsigned 64-bit constructor before 0.14's uint64 on all
 * builds; byte counts fit int64 comfortably. */
static json_object *ju(uint64_t v) {
        return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t) v);
}

/* A double with at most `decimals` decimals and no trailing zeros, so the
 * document shows 0.00053, not 0.00052999999999999998. */
static json_object *jd(double v, int decimals) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*f", decimals, v);
        char *dot = strchr(buf, '.');
        if (dot) {
                char *e = buf + strlen(buf) - 1;
                while (e > dot + 1 && *e == '0')
                        *e-- = '\0';
        }
        return json_object_new_double_s(v, buf);
}

static void jadd(json_object *o, const char *k, json_object *v) {
        json_object_object_add(o, k, v);
}

static json_object *control_host_json(const HostSample *h) {
        json_object *o = json_object_new_object();
        jadd(o, "mem_total_bytes", ju(h->mem.mem_total_bytes));
        jadd(o, "mem_available_bytes", ju(h->mem.mem_available_bytes));
        jadd(o, "anon_bytes", ju(h->mem.anon_bytes));
        jadd(o, "swap_total_bytes", ju(h->mem.swap_total_bytes));
        jadd(o, "swap_free_bytes", ju(h->mem.swap_free_bytes));
        jadd(o, "oom_kills", h->mem.has_oom_kill ? ju(h->mem.oom_kill_total) : NULL);
        jadd(o, "page_size_bytes", ju(h->page_size_bytes));
        jadd(o, "zfs_arc_bytes", h->mem.has_zfs_arc ? ju(h->mem.zfs_arc_bytes) : NULL);
        jadd(o, "zfs_arc_min_bytes", h->mem.has_zfs_arc ? ju(h->mem.zfs_arc_min_bytes) : NULL);

        json_object *psi = NULL;
        if (h->psi.has_some) {
                psi = json_object_new_object();
                const PsiLine *lines[] = { &h->psi.some, h->psi.has_full ? &h->psi.full : NULL };
                const char *names[] = { "some", "full" };
                for (size_t i = 0; i < 2; i++) {
                        if (!lines[i])
                                continue;
                        json_object *l = json_object_new_object();
                        jadd(l, "avg10", jd(lines[i]->avg10, 2));
                        jadd(l, "avg60", jd(lines[i]->avg60, 2));
                        jadd(l, "avg300", jd(lines[i]->avg300, 2));
                        jadd(l, "total_usec", ju(lines[i]->total_usec));
                        jadd(psi, names[i], l);
                }
        }
        jadd(o, "psi", psi);

        json_object *cg = NULL;
        if (h->cgroup.version > 0) {
                cg = json_object_new_object();
                jadd(cg, "version", json_object_new_int(h->cgroup.version));
                jadd(cg, "path", json_object_new_string(h->cgroup.path));
                jadd(cg, "limit_bytes", h->cgroup.has_limit ? ju(h->cgroup.limit_bytes) : NULL);
                jadd(cg, "usage_bytes", ju(h->cgroup.usage_bytes));
                jadd(cg, "oom_kills", h->cgroup.has_oom_kill ? ju(h->cgroup.oom_kill_total) : NULL);
        }
        jadd(o, "cgroup", cg);

        json_object *ksm = json_object_new_object();
        jadd(ksm, "present", json_object_new_boolean(h->ksm.present));
        jadd(ksm, "saved_bytes", ju(snapshot_ksm_saved_bytes(h)));
        double rate;
        jadd(ksm, "scan_rate_pages_per_second", ksm_scan_rate(&h->ksm, &rate) == 0 ? jd(rate, 0) : NULL);
        jadd(ksm, "ksmd_cpu_seconds", h->ksm.has_ksmd_cpu ? jd((double) h->ksm.ksmd_cpu_usec / 1e6, 3) : NULL);
        jadd(ksm, "ksmd_cpu_percent", h->ksm.has_ksmd_cpu_percent ? jd(h->ksm.ksmd_cpu_percent, 1) : NULL);
        json_object *files = json_object_new_object();
        for (size_t i = 0; i < h->ksm.n_values; i++) {
                const KsmValue *v = &h->ksm.values[i];
                jadd(files, v->name, v->numeric ? json_object_new_int64(v->value) : json_object_new_string(v->text));
        }
        jadd(ksm, "files", files);
        jadd(o, "ksm", ksm);

        json_object *numa = json_object_new_array();
        for (size_t i = 0; i < h->numa.n_nodes; i++) {
                const NumaNode *n = &h->numa.nodes[i];
                json_object *no = json_object_new_object();
                jadd(no, "node", json_object_new_int(n->id));
                jadd(no, "mem_total_bytes", ju(n->mem_total_bytes));
                jadd(no, "mem_free_bytes", ju(n->mem_free_bytes));
                jadd(no, "cpulist", json_object_new_string(n->cpulist));
                json_object_array_add(numa, no);
        }
        jadd(o, "numa", numa);
        return o;
}

static json_object *control_guest_json(const GuestSample *g) {
        json_object *o = json_object_new_object();
        jadd(o, "name", json_object_new_string(g->name));
        jadd(o, "uuid", json_object_new_string(g->uuid));
        jadd(o, "id", json_object_new_int(g->id));
        jadd(o, "pid", json_object_new_int((int) g->pid));
        jadd(o, "rss_bytes", g->has_rss ? ju(g->rss_bytes) : NULL);
        jadd(o, "oom_score_adj", g->has_oom_score_adj ? json_object_new_int(g->oom_score_adj) : NULL);
        jadd(o, "sample_error", g->sample_error[0] ? json_object_new_string(g->sample_error) : NULL);
        jadd(o, "balloon_actual_bytes", g->has_balloon ? ju(g->balloon_actual_bytes) : NULL);
        jadd(o, "balloon_maximum_bytes", g->has_balloon ? ju(g->balloon_maximum_bytes) : NULL);
        jadd(o, "unused_bytes", g->has_unused ? ju(g->unused_bytes) : NULL);
        jadd(o, "available_bytes", g->has_available ? ju(g->available_bytes) : NULL);
        jadd(o, "usable_bytes", g->has_usable ? ju(g->usable_bytes) : NULL);
        jadd(o, "disk_caches_bytes", g->has_disk_caches ? ju(g->disk_caches_bytes) : NULL);
        jadd(o, "swap_in_bytes", g->has_swap_in ? ju(g->swap_in_bytes) : NULL);
        jadd(o, "major_faults", g->has_major_faults ? ju(g->major_faults) : NULL);
        jadd(o, "balloon_last_update", g->balloon_last_update ? json_object_new_int64(g->balloon_last_update) : NULL);
        jadd(o, "stats_age_seconds", jd((double) g->stats_age_usec / 1e6, 3));
        jadd(o, "ksm_merging_bytes", g->has_ksm ? ju(g->ksm_merging_bytes) : NULL);
        jadd(o, "ksm_profit_bytes", g->has_ksm_profit ? json_object_new_int64(g->ksm_profit_bytes) : NULL);
        jadd(o, "ksm_mergeable", g->facts.known ? json_object_new_boolean(!g->facts.nosharepages) : NULL);
        json_object *nodes = json_object_new_array();
        for (size_t i = 0; i < g->n_nodes; i++) {
                json_object *n = json_object_new_object();
                jadd(n, "node", json_object_new_int(g->nodes[i].node));
                jadd(n, "bytes", ju(g->nodes[i].bytes));
                json_object_array_add(nodes, n);
        }
        jadd(o, "numa_nodes", nodes);
        jadd(o, "stale", json_object_new_boolean(g->stale));
        jadd(o, "class", json_object_new_string(g->class_name));
        jadd(o, "class_source", json_object_new_string(class_source_name(g->class_source)));

        const DomainFacts *f = &g->facts;
        json_object *fo = json_object_new_object();
        jadd(fo, "known", json_object_new_boolean(f->known));
        jadd(fo, "error", f->known || !f->error[0] ? NULL : json_object_new_string(f->error));
        if (f->known) {
                jadd(fo, "persistent", json_object_new_boolean(f->persistent));
                jadd(fo, "balloon", json_object_new_boolean(f->has_balloon));
                jadd(fo, "balloon_model", json_object_new_string(f->balloon_model));
                jadd(fo, "balloon_stats_period_seconds", json_object_new_int((int) f->balloon_period_sec));
                jadd(fo, "free_page_reporting", json_object_new_boolean(f->free_page_reporting));
                jadd(fo, "deflate_on_oom", json_object_new_boolean(f->autodeflate));
                jadd(fo, "vcpus_pinned", json_object_new_boolean(f->vcpu_pinned));
                jadd(fo, "emulator_pinned", json_object_new_boolean(f->emulator_pinned));
                jadd(fo, "numatune", f->numatune ? json_object_new_string(f->numatune_mode) : NULL);
                jadd(fo, "numatune_nodeset", f->numatune ? json_object_new_string(f->numatune_nodeset) : NULL);
                jadd(fo, "max_memory_bytes", ju(f->max_memory_bytes));
                jadd(fo, "metadata_class", f->metadata_class[0] ? json_object_new_string(f->metadata_class) : NULL);
        }
        jadd(o, "facts", fo);
        json_object *kinds = json_object_new_array();
        for (int k = 0; k < _ACTION_KIND_MAX; k++)
                if (g->actions_in_flight & (UINT32_C(1) << k))
                        json_object_array_add(kinds, json_object_new_string(action_kind_name((ActionKind) k)));
        jadd(o, "actions_in_flight", kinds);
        return o;
}

static json_object *jtime(uint64_t usec) {
        return usec ? jd((double) usec / 1e6, 3) : NULL;
}

json_object *control_entry_json(const JournalEntry *e) {
        const Action *a = &e->action;
        json_object *o = json_object_new_object();
        char what[512];
        action_describe(a, what, sizeof(what));
        jadd(o, "id", ju(e->id));
        jadd(o, "time", jtime(e->planned_usec));
        jadd(o, "controller", json_object_new_string(a->controller));
        jadd(o, "action", json_object_new_string(action_kind_name(a->kind)));
        jadd(o, "guest", a->uuid[0] ? json_object_new_string(a->guest) : NULL);
        jadd(o, "uuid", a->uuid[0] ? json_object_new_string(a->uuid) : NULL);
        jadd(o, "what", json_object_new_string(what));
        switch (a->kind) {
        case ACTION_BALLOON:
                jadd(o, "bytes", ju(a->bytes));
                break;
        case ACTION_KSM_KNOB:
                jadd(o, "knob", json_object_new_string(a->knob));
                jadd(o, "value", json_object_new_string(a->value));
                break;
        case ACTION_PIN_VCPU:
                jadd(o, "vcpu", json_object_new_int((int) a->vcpu));
                jadd(o, "value", json_object_new_string(a->value));
                break;
        case ACTION_PIN_MEMORY:
                jadd(o, "mode", json_object_new_string(a->mode));
                jadd(o, "value", json_object_new_string(a->value));
                break;
        case ACTION_OOM_SCORE_ADJ:
                jadd(o, "pid", json_object_new_int((int) a->pid));
                jadd(o, "value", json_object_new_string(a->value));
                break;
        case ACTION_PIN_EMULATOR:
                jadd(o, "value", json_object_new_string(a->value));
                break;
        default:
                break;
        }
        jadd(o, "reason", json_object_new_string(a->reason));
        jadd(o, "result", json_object_new_string(action_result_name(e->result)));
        jadd(o, "message", e->message[0] ? json_object_new_string(e->message) : NULL);
        jadd(o, "dry_run", json_object_new_boolean(e->dry_run));
        jadd(o, "late", json_object_new_boolean(e->late));
        jadd(o, "started", jtime(e->started_usec));
        jadd(o, "finished", jtime(e->finished_usec));
        return o;
}

json_object *control_log_json(const JournalEntry *entries, size_t n) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object *a = json_object_new_array_ext((int) n);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, control_entry_json(&entries[i]));
        jadd(o, "entries", a);
        return o;
}

static json_object *control_shed_entry_json(const ShedEntry *e) {
        json_object *o = json_object_new_object();
        jadd(o, "name", json_object_new_string(e->name));
        jadd(o, "uuid", json_object_new_string(e->uuid));
        jadd(o, "class", json_object_new_string(e->class_name));
        jadd(o, "priority", json_object_new_int((int) e->priority));
        jadd(o, "action", json_object_new_string(shed_mode_name(e->action)));
        jadd(o, "stage", json_object_new_string(shed_stage_name(e->stage)));
        jadd(o, "memory_bytes", ju(e->bytes));
        jadd(o, "since", jtime(e->since_usec));
        jadd(o, "stage_since", jtime(e->stage_usec));
        jadd(o, "restore_failures", json_object_new_int((int) e->failures));
        jadd(o, "reason", json_object_new_string(e->reason));
        return o;
}

static json_object *control_balloon_guest_json(const BalloonGuest *b) {
        json_object *o = json_object_new_object();
        jadd(o, "state", json_object_new_string(b->state));
        jadd(o, "reason", json_object_new_string(b->reason));
        jadd(o, "target_bytes", b->target_usec ? ju(b->target_bytes) : NULL);
        jadd(o, "target_set", jtime(b->target_usec));
        jadd(o, "lower_bytes", b->lower_bytes ? ju(b->lower_bytes) : NULL);
        jadd(o, "floor_bytes", b->floor_bytes ? ju(b->floor_bytes) : NULL);
        jadd(o, "overhead_bytes", b->has_rss ? ju(b->overhead_bytes) : NULL);
        jadd(o, "last_action", b->last_action[0] ? json_object_new_string(b->last_action) : NULL);
        return o;
}

static json_object *control_balloon_json(const BalloonReport *r) {
        json_object *o = json_object_new_object();
        jadd(o, "capacity_bytes", r->has_host ? ju(r->capacity_bytes) : NULL);
        jadd(o, "use_bytes", r->has_host ? ju(r->use_bytes) : NULL);
        jadd(o, "target_use_bytes", r->has_host ? ju(r->target_use_bytes) : NULL);
        jadd(o, "inflated_bytes_total", ju(r->inflated_bytes_total));
        jadd(o, "deflated_bytes_total", ju(r->deflated_bytes_total));
        return o;
}

json_object *control_status_json(const Snapshot *s, const ControlDaemonInfo *info) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        jadd(o, "version", json_object_new_int(CONTROL_PROTOCOL_VERSION));
        jadd(o, "timestamp", jd((double) s->timestamp_usec / 1e6, 3));

        json_object *d = json_object_new_object();
        jadd(d, "version", json_object_new_string(info->version));
        jadd(d, "pid", json_object_new_int((int) info->pid));
        jadd(d, "interval_seconds", jd((double) info->interval_usec / 1e6, 6));
        jadd(d, "policy", json_object_new_string(info->policy_path));
        jadd(d, "started", jd((double) info->started_usec / 1e6, 3));
        jadd(d, "ticks", ju(info->ticks));
        jadd(d, "dry_run", json_object_new_boolean(info->dry_run));
        jadd(d, "actions_in_flight", ju(info->actions_in_flight));
        jadd(d, "sample_seconds", jd((double) s->sample_duration_usec / 1e6, 6));
        jadd(d, "slow_reads_every_ticks", ju(s->slow_reads_every_ticks));
        jadd(d, "tick_cpu_seconds", s->tick_cpu_usec ? jd((double) s->tick_cpu_usec / 1e6, 6) : NULL);
        jadd(d, "prom_write_seconds", s->textfile_write_usec ? jd((double) s->textfile_write_usec / 1e6, 6) : NULL);
        json_object *hv = json_object_new_object();
        jadd(hv, "uri", json_object_new_string(info->libvirt_uri));
        jadd(hv, "connected", json_object_new_boolean(s->hypervisor_connected));
        jadd(hv, "error", s->hypervisor_error[0] ? json_object_new_string(s->hypervisor_error) : NULL);
        jadd(hv, "stats_round_seconds", jd((double) info->hypervisor_round_usec / 1e6, 6));
        jadd(hv, "round_running_seconds", jd((double) s->hypervisor_round_running_usec / 1e6, 3));
        jadd(d, "hypervisor", hv);
        jadd(o, "daemon", d);

        jadd(o, "host", control_host_json(&s->host));
        const BalloonReport *balloon = NULL;
        const NumaReport *numa = NULL;
        for (size_t i = 0; i < info->n_controllers; i++) {
                if (info->controllers[i].has_balloon)
                        balloon = &info->controllers[i].balloon;
                if (info->controllers[i].has_numa)
                        numa = &info->controllers[i].numa;
        }
        /* Each guest's balloon record and NUMA place, by uuid: indexed, not
         * searched for guest by guest (thousands of each). Out of memory, an
         * index finds nothing: the status lacks those parts, but answers. */
        UuidIndex balloon_ix = {}, numa_ix = {};
        if (balloon)
                (void) uuid_index_build(balloon->guests, balloon->n_guests, sizeof(*balloon->guests),
                                        offsetof(BalloonGuest, uuid), &balloon_ix);
        if (numa)
                (void) uuid_index_build(numa->places, numa->n_places, sizeof(*numa->places),
                                        offsetof(NumaPlace, uuid), &numa_ix);
        json_object *guests = json_object_new_array_ext((int) s->n_guests);
        for (size_t i = 0; i < s->n_guests; i++) {
                json_object *g = control_guest_json(&s->guests[i]);
                const BalloonGuest *b = uuid_index_find(&balloon_ix, s->guests[i].uuid);
                jadd(g, "balloon", b ? control_balloon_guest_json(b) : NULL);
                const NumaPlace *pl = uuid_index_find(&numa_ix, s->guests[i].uuid);
                if (pl && pl->node < 0)
                        pl = NULL;
                json_object *no = NULL;
                if (pl) {
                        no = json_object_new_object();
                        double f = numa_local_fraction(&s->guests[i], pl->node);
                        jadd(no, "node", json_object_new_int(pl->node));
                        jadd(no, "cpulist", json_object_new_string(pl->cpulist));
                        jadd(no, "since", jtime(pl->since_usec));
                        jadd(no, "local_fraction", f >= 0 ? jd(f, 3) : NULL);
                }
                jadd(g, "numa", no);
                json_object_array_add(guests, g);
        }
        uuid_index_clear(&balloon_ix);
        uuid_index_clear(&numa_ix);
        jadd(o, "guests", guests);
        jadd(o, "balloon", balloon ? control_balloon_json(balloon) : NULL);
        json_object *nm = NULL;
        if (numa) {
                nm = json_object_new_object();
                jadd(nm, "placed", ju(numa->n_places));
                jadd(nm, "moves_total", ju(numa->moves_total));
        }
        jadd(o, "numa", nm);
        jadd(o, "decisions", control_log_json(info->decisions, info->n_decisions));
        json_object *ctl = json_object_new_array();
        for (size_t i = 0; i < info->n_controllers; i++) {
                const ControllerReport *c = &info->controllers[i];
                json_object *co = json_object_new_object();
                jadd(co, "name", json_object_new_string(c->name));
                jadd(co, "mode", c->status.mode[0] ? json_object_new_string(c->status.mode) : NULL);
                jadd(co, "state", json_object_new_string(c->status.state));
                jadd(co, "reason", json_object_new_string(c->status.reason));
                jadd(co, "since", c->status.since_usec ? jtime(c->status.since_usec) : NULL);
                json_object_array_add(ctl, co);
        }
        jadd(o, "controllers", ctl);
        json_object *shed = json_object_new_array();
        for (size_t i = 0; i < info->n_controllers; i++) {
                const ShedBook *b = info->controllers[i].shed_book;
                for (size_t k = 0; b && k < b->n; k++)
                        json_object_array_add(shed, control_shed_entry_json(&b->entries[k]));
        }
        jadd(o, "shed", shed);
        return o;
}

static char *control_reply_finish(json_object *o) {
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *s = NULL;
        if (text && asprintf(&s, "%s\n", text) < 0)
                s = NULL;
        json_object_put(o);
        return s;
}

char *control_reply_ok_with(const char *key, json_object *value) {
        json_object *o = json_object_new_object();
        if (!o) {
                json_object_put(value);
                return NULL;
        }
        jadd(o, "ok", json_object_new_boolean(true));
        if (value)
                jadd(o, key, value);
        return control_reply_finish(o);
}

char *control_reply_ok(json_object *status) {
        return control_reply_ok_with("status", status);
}

char *control_reply_error(const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        jadd(o, "ok", json_object_new_boolean(false));
        jadd(o, "error", json_object_new_string(msg));
        return control_reply_finish(o);
}

int control_call(const char *socket_path, const ControlRequest *request, json_object **ret, char *err,
                 size_t err_size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(socket_path) >= sizeof(sa.sun_path)) {
                snprintf(err, err_size, "%s: socket path too long", socket_path);
                return -ENAMETOOLONG;
        }
        strscpy(sa.sun_path, sizeof(sa.sun_path), socket_path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                snprintf(err, err_size, "socket: %s", strerror(errno));
                return -errno;
        }
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                snprintf(err, err_size, "%s: %s", socket_path, strerror(errno));
                return r;
        }

        _cleanup_free_ char *req = NULL;
        if (control_request_format(request, &req) < 0) {
                snprintf(err, err_size, "out of memory");
                return -ENOMEM;
        }
        ssize_t n = (ssize_t) strlen(req);
        if (send(fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
                int r = errno ? -errno : -EIO;
                snprintf(err, err_size, "sending request: %s", strerror(-r));
                return r;
        }

        json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        if (!tok) {
                snprintf(err, err_size, "out of memory");
                return -ENOMEM;
        }
        json_object *reply = NULL;
        int r = 0;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int k = poll(&p, 1, CONTROL_CALL_TIMEOUT_MSEC);
                if (k == 0) {
                        snprintf(err, err_size, "daemon did not answer within %d s", CONTROL_CALL_TIMEOUT_MSEC / 1000);
                        r = -ETIMEDOUT;
                        break;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                char buf[65536];
                ssize_t got = k < 0 ? -1 : read(fd, buf, sizeof(buf));
                if (got < 0) {
                        r = -errno;
                        snprintf(err, err_size, "reading reply: %s", strerror(errno));
                        break;
                }
                if (got == 0) {
                        snprintf(err, err_size, "daemon closed the connection without a complete reply");
                        r = -EPROTO;
                        break;
                }
                reply = json_tokener_parse_ex(tok, buf, (int) got);
                enum json_tokener_error je = json_tokener_get_error(tok);
                if (reply)
                        break;
                if (je != json_tokener_continue) {
                        snprintf(err, err_size, "bad reply: %s", json_tokener_error_desc(je));
                        r = -EPROTO;
                        break;
                }
        }
        json_tokener_free(tok);
        if (r < 0)
                return r;
        *ret = reply;
        return 0;
}
