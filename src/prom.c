/* prom: see include/density/prom.h */
#include "density/prom.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "density/util.h"

static void prom_family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline. */
static void prom_label_value(FILE *f, const char *v) {
        size_t plain = strcspn(v, "\\\"\n");
        if (v[plain] == '\0') { /* nearly always: nothing to escape */
                fwrite(v, 1, plain, f);
                return;
        }
        for (; *v; v++) {
                if (*v == '\\')
                        fputs("\\\\", f);
                else if (*v == '"')
                        fputs("\\\"", f);
                else if (*v == '\n')
                        fputs("\\n", f);
                else
                        fputc(*v, f);
        }
}

static void prom_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
        prom_family(f, name, type, help);
        fprintf(f, "%s %llu\n", name, (unsigned long long) v);
}

/* KSM sysfs files we export, and how. Files not listed still show in
 * `densityctl status --json`; they are left out here because their unit
 * is not known to us. */
static const struct {
        const char *file;
        const char *metric;
        const char *type;
        double scale;
        const char *help;
} ksm_metrics[] = {
        { "run", "density_ksm_run", "gauge", 1, "KSM run mode (0 stopped, 1 running, 2 unmerge)." },
        { "pages_to_scan", "density_ksm_pages_to_scan", "gauge", 1, "Pages ksmd scans per wake-up." },
        { "sleep_millisecs", "density_ksm_sleep_seconds", "gauge", 1e-3, "Time ksmd sleeps between scans." },
        { "pages_shared", "density_ksm_pages_shared", "gauge", 1, "Shared KSM pages in use." },
        { "pages_sharing", "density_ksm_pages_sharing", "gauge", 1, "Pages deduplicated onto shared pages." },
        { "pages_unshared", "density_ksm_pages_unshared", "gauge", 1, "Unique pages KSM keeps checking." },
        { "pages_volatile", "density_ksm_pages_volatile", "gauge", 1, "Pages changing too fast to merge." },
        { "pages_skipped", "density_ksm_pages_skipped", "gauge", 1, "Pages smart scan skipped." },
        { "full_scans", "density_ksm_full_scans_total", "counter", 1, "Completed full KSM scans." },
        { "general_profit", "density_ksm_general_profit_bytes", "gauge", 1, "Memory KSM saves net of its metadata." },
        { "ksm_zero_pages", "density_ksm_zero_pages", "gauge", 1, "Empty pages merged with the zero page." },
        { "use_zero_pages", "density_ksm_use_zero_pages", "gauge", 1, "Whether empty pages merge with the zero page." },
        { "merge_across_nodes", "density_ksm_merge_across_nodes", "gauge", 1, "Whether KSM merges across NUMA nodes." },
        { "max_page_sharing", "density_ksm_max_page_sharing", "gauge", 1, "Most pages sharing one KSM page." },
        { "stable_node_chains", "density_ksm_stable_node_chains", "gauge", 1, "KSM stable node chains." },
        { "stable_node_dups", "density_ksm_stable_node_dups", "gauge", 1, "KSM stable node duplicates." },
        { "smart_scan", "density_ksm_smart_scan", "gauge", 1, "Whether smart scan is on." },
        { "advisor_max_cpu", "density_ksm_advisor_max_cpu_percent", "gauge", 1, "KSM advisor CPU ceiling in percent." },
        { "advisor_target_scan_time", "density_ksm_advisor_target_scan_time_seconds", "gauge", 1, "KSM advisor target scan time." },
};

static void prom_host(FILE *f, const Snapshot *s) {
        const HostSample *h = &s->host;

        prom_u64(f, "density_host_memory_total_bytes", "gauge", "Host MemTotal.", h->mem.mem_total_bytes);
        prom_u64(f, "density_host_memory_available_bytes", "gauge", "Host MemAvailable.", h->mem.mem_available_bytes);
        prom_u64(f, "density_host_anon_bytes", "gauge", "Host AnonPages.", h->mem.anon_bytes);
        prom_u64(f, "density_host_swap_total_bytes", "gauge", "Host SwapTotal.", h->mem.swap_total_bytes);
        prom_u64(f, "density_host_swap_free_bytes", "gauge", "Host SwapFree.", h->mem.swap_free_bytes);
        prom_u64(f, "density_host_page_size_bytes", "gauge", "Host page size.", h->page_size_bytes);
        if (h->mem.has_oom_kill)
                prom_u64(f, "density_host_oom_kills_total", "counter",
                         "Processes the kernel OOM killer killed on the host (vmstat oom_kill).", h->mem.oom_kill_total);

        if (h->psi.has_some) {
                const struct {
                        const char *kind;
                        bool has;
                        const PsiLine *l;
                } lines[] = { { "some", h->psi.has_some, &h->psi.some }, { "full", h->psi.has_full, &h->psi.full } };
                prom_family(f, "density_host_memory_pressure_ratio", "gauge",
                            "Share of time tasks stalled on memory (PSI), by kind and averaging window.");
                for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                        if (!lines[i].has)
                                continue;
                        fprintf(f, "density_host_memory_pressure_ratio{kind=\"%s\",window=\"10s\"} %.4f\n",
                                lines[i].kind, lines[i].l->avg10 / 100.0);
                        fprintf(f, "density_host_memory_pressure_ratio{kind=\"%s\",window=\"60s\"} %.4f\n",
                                lines[i].kind, lines[i].l->avg60 / 100.0);
                        fprintf(f, "density_host_memory_pressure_ratio{kind=\"%s\",window=\"300s\"} %.4f\n",
                                lines[i].kind, lines[i].l->avg300 / 100.0);
                }
                prom_family(f, "density_host_memory_pressure_stall_seconds_total", "counter",
                            "Total time tasks stalled on memory (PSI), by kind.");
                for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                        if (lines[i].has)
                                fprintf(f, "density_host_memory_pressure_stall_seconds_total{kind=\"%s\"} %.6f\n",
                                        lines[i].kind, (double) lines[i].l->total_usec / 1e6);
        }

        if (h->cgroup.version > 0) {
                prom_u64(f, "density_machine_memory_usage_bytes", "gauge",
                         "Memory charged to the VMs' cgroup.", h->cgroup.usage_bytes);
                if (h->cgroup.has_limit)
                        prom_u64(f, "density_machine_memory_limit_bytes", "gauge",
                                 "Memory limit of the VMs' cgroup (absent when unlimited).", h->cgroup.limit_bytes);
                if (h->cgroup.has_oom_kill)
                        prom_u64(f, "density_machine_oom_kills_total", "counter",
                                 "Processes the kernel OOM killer killed in the VMs' cgroup.", h->cgroup.oom_kill_total);
        }

        prom_u64(f, "density_ksm_present", "gauge", "Whether the kernel has KSM.", h->ksm.present);
        if (h->ksm.present) {
                for (size_t i = 0; i < ELEMENTSOF(ksm_metrics); i++) {
                        int64_t v;
                        if (ksm_sample_get(&h->ksm, ksm_metrics[i].file, &v) < 0)
                                continue;
                        prom_family(f, ksm_metrics[i].metric, ksm_metrics[i].type, ksm_metrics[i].help);
                        fprintf(f, "%s %.15g\n", ksm_metrics[i].metric, (double) v * ksm_metrics[i].scale);
                }
                prom_u64(f, "density_ksm_saved_bytes", "gauge",
                         "Memory KSM saves: (pages_sharing + ksm_zero_pages) times page size.",
                         snapshot_ksm_saved_bytes(h));
                double rate;
                if (ksm_scan_rate(&h->ksm, &rate) == 0) {
                        prom_family(f, "density_ksm_scan_rate_pages_per_second", "gauge",
                                    "Pages ksmd may scan per second as set (0 when stopped).");
                        fprintf(f, "density_ksm_scan_rate_pages_per_second %.15g\n", rate);
                }
                if (h->ksm.has_ksmd_cpu) {
                        prom_family(f, "density_ksmd_cpu_seconds_total", "counter",
                                    "CPU time of the ksmd kernel thread.");
                        fprintf(f, "density_ksmd_cpu_seconds_total %.6f\n", (double) h->ksm.ksmd_cpu_usec / 1e6);
                }
        }

        if (h->numa.n_nodes > 0) {
                prom_family(f, "density_numa_node_memory_total_bytes", "gauge", "NUMA node MemTotal.");
                for (size_t i = 0; i < h->numa.n_nodes; i++)
                        fprintf(f, "density_numa_node_memory_total_bytes{node=\"%d\"} %llu\n", h->numa.nodes[i].id,
                                (unsigned long long) h->numa.nodes[i].mem_total_bytes);
                prom_family(f, "density_numa_node_memory_free_bytes", "gauge", "NUMA node MemFree.");
                for (size_t i = 0; i < h->numa.n_nodes; i++)
                        fprintf(f, "density_numa_node_memory_free_bytes{node=\"%d\"} %llu\n", h->numa.nodes[i].id,
                                (unsigned long long) h->numa.nodes[i].mem_free_bytes);
        }
}

typedef enum GuestField {
        G_RSS,
        G_ACTUAL,
        G_MAXIMUM,
        G_UNUSED,
        G_AVAILABLE,
        G_USABLE,
        G_DISK_CACHES,
        G_KSM_MERGING,
        G_KSM_PROFIT,
        G_KSM_MERGEABLE,
        G_STALE,
        G_STATS_AGE,
} GuestField;

static const struct {
        GuestField field;
        const char *metric;
        const char *help;
} guest_metrics[] = {
        { G_RSS, "density_guest_rss_bytes", "Host-side resident memory of the guest's qemu process." },
        { G_ACTUAL, "density_guest_balloon_actual_bytes", "Memory the guest currently has (balloon actual)." },
        { G_MAXIMUM, "density_guest_balloon_maximum_bytes", "Memory the guest may have at most." },
        { G_UNUSED, "density_guest_unused_bytes", "Memory the guest reports unused." },
        { G_AVAILABLE, "density_guest_available_bytes", "Memory the guest kernel sees in total." },
        { G_USABLE, "density_guest_usable_bytes", "Memory the guest could use without swapping." },
        { G_DISK_CACHES, "density_guest_disk_caches_bytes", "Guest page cache that can be reclaimed." },
        { G_KSM_MERGING, "density_guest_ksm_merging_bytes", "Guest memory KSM has merged." },
        { G_KSM_PROFIT, "density_guest_ksm_profit_bytes", "KSM profit for the guest's process, net of metadata." },
        { G_KSM_MERGEABLE, "density_guest_ksm_mergeable", "1 when KSM may merge the guest's memory (no <nosharepages/>)." },
        { G_STALE, "density_guest_stale", "1 when the guest's balloon stats are missing or stopped updating, so are not trusted." },
        { G_STATS_AGE, "density_guest_stats_age_seconds", "Time since the hypervisor last answered for the guest." },
};

/* Return false where the guest has no such figure. */
static bool guest_value(const GuestSample *g, GuestField field, double *ret) {
        switch (field) {
        case G_RSS: *ret = (double) g->rss_bytes; return g->has_rss;
        case G_ACTUAL: *ret = (double) g->balloon_actual_bytes; return g->has_balloon;
        case G_MAXIMUM: *ret = (double) g->balloon_maximum_bytes; return g->has_balloon;
        case G_UNUSED: *ret = (double) g->unused_bytes; return g->has_unused;
        case G_AVAILABLE: *ret = (double) g->available_bytes; return g->has_available;
        case G_USABLE: *ret = (double) g->usable_bytes; return g->has_usable;
        case G_DISK_CACHES: *ret = (double) g->disk_caches_bytes; return g->has_disk_caches;
        case G_KSM_MERGING: *ret = (double) g->ksm_merging_bytes; return g->has_ksm;
        case G_KSM_PROFIT: *ret = (double) g->ksm_profit_bytes; return g->has_ksm_profit;
        case G_KSM_MERGEABLE: *ret = !g->facts.nosharepages; return g->facts.known;
        case G_STALE: *ret = g->stale; return true;
        case G_STATS_AGE: *ret = (double) g->stats_age_usec / 1e6; return true;
        }
        return false;
}

/* A sample value as "%.15g" writes it, integers below 10^15 (all byte
 * counts) without printf: thousands of guests' series are mostly these. */
static void prom_value(FILE *f, double v) {
        if (v > -1e15 && v < 1e15 && v == (double) (int64_t) v) {
                char buf[24], *p = buf + sizeof(buf);
                int64_t i = (int64_t) v;
                uint64_t u = i < 0 ? (uint64_t) -i : (uint64_t) i;
                do
                        *--p = (char) ('0' + u % 10);
                while ((u /= 10) > 0);
                if (i < 0)
                        *--p = '-';
                fwrite(p, 1, (size_t) (buf + sizeof(buf) - p), f);
        } else
                fprintf(f, "%.15g", v);
}

static void prom_guests(FILE *f, const Snapshot *s) {
        prom_u64(f, "density_guests", "gauge", "Running guests densityd sees.", s->n_guests);
        prom_u64(f, "density_hypervisor_up", "gauge", "Whether the hypervisor connection works.",
                 s->hypervisor_connected);
        for (size_t m = 0; m < ELEMENTSOF(guest_metrics); m++) {
                bool header = false;
                for (size_t i = 0; i < s->n_guests; i++) {
                        double v;
                        if (!guest_value(&s->guests[i], guest_metrics[m].field, &v))
                                continue;
                        if (!header) {
                                prom_family(f, guest_metrics[m].metric, "gauge", guest_metrics[m].help);
                                header = true;
                        }
                        fputs(guest_metrics[m].metric, f);
                        fputs("{domain=\"", f);
                        prom_label_value(f, s->guests[i].name);
                        fputs("\"} ", f);
                        prom_value(f, v);
                        fputc('\n', f);
                }
        }
        bool header = false;
        for (size_t i = 0; i < s->n_guests; i++)
                for (size_t k = 0; k < s->guests[i].n_nodes; k++) {
                        if (!header) {
                                prom_family(f, "density_guest_numa_memory_bytes", "gauge",
                                            "Guest memory on each NUMA node (cgroup numa_stat).");
                                header = true;
                        }
                        fprintf(f, "density_guest_numa_memory_bytes{domain=\"");
                        prom_label_value(f, s->guests[i].name);
                        fprintf(f, "\",node=\"%d\"} %llu\n", s->guests[i].nodes[k].node,
                                (unsigned long long) s->guests[i].nodes[k].bytes);
                }
}

static void prom_actions(FILE *f, const JournalCounter *c, size_t n) {
        if (n == 0)
                return;
        prom_family(f, "density_actions_total", "counter",
                    "Actions the controllers planned, by controller, action and final result "
                    "(done, failed, timeout, skipped, would).");
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "density_actions_total{controller=\"");
                prom_label_value(f, c[i].controller);
                fprintf(f, "\",action=\"%s\",result=\"%s\"} %llu\n", action_kind_name(c[i].kind),
                        action_result_name(c[i].result), (unsigned long long) c[i].count);
        }
}

/* Sheds and restores that were done, from the journal's counters; and the
 * guests shed now, one series each (they are not running, so not among
 * the guests' series). */
static void prom_shed(FILE *f, const JournalCounter *c, size_t n, const ControllerReport *r, size_t n_reports) {
        const ShedBook *book = NULL;
        for (size_t i = 0; i < n_reports; i++)
                if (r[i].shed_book)
                        book = r[i].shed_book;
        if (!book)
                return;
        uint64_t saved = 0, destroyed = 0, restored = 0;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(c[i].controller, "shed") != 0 || c[i].result != RESULT_DONE)
                        continue;
                if (c[i].kind == ACTION_SAVE)
                        saved += c[i].count;
                else if (c[i].kind == ACTION_DESTROY)
                        destroyed += c[i].count;
                else if (c[i].kind == ACTION_RESTORE)
                        restored += c[i].count;
        }
        prom_family(f, "density_shed_total", "counter", "Guests shed (done), by action: save or destroy.");
        fprintf(f, "density_shed_total{action=\"save\"} %llu\n", (unsigned long long) saved);
        fprintf(f, "density_shed_total{action=\"destroy\"} %llu\n", (unsigned long long) destroyed);
        prom_family(f, "density_restore_total", "counter", "Shed guests brought back (done).");
        fprintf(f, "density_restore_total %llu\n", (unsigned long long) restored);
        prom_family(f, "density_shed_guests", "gauge", "Guests densityd shed and has not brought back.");
        fprintf(f, "density_shed_guests %zu\n", book->n);
        if (book->n == 0)
                return;
        prom_family(f, "density_guest_shed", "gauge",
                    "A guest densityd shed (labels: domain, stage, action); always 1.");
        for (size_t i = 0; i < book->n; i++) {
                const ShedEntry *e = &book->entries[i];
                fprintf(f, "density_guest_shed{domain=\"");
                prom_label_value(f, e->name);
                fprintf(f, "\",stage=\"%s\",action=\"%s\"} 1\n", shed_stage_name(e->stage), shed_mode_name(e->action));
        }
}

/* The balloon controller: per guest its target, lower bound, qemu's own
 * overhead and state; bytes inflated and deflated since densityd started. */
static void prom_balloon(FILE *f, const ControllerReport *r, size_t n_reports) {
        const BalloonReport *b = NULL;
        for (size_t i = 0; i < n_reports; i++)
                if (r[i].has_balloon)
                        b = &r[i].balloon;
        if (!b)
                return;
        prom_u64(f, "density_balloon_inflated_bytes_total", "counter",
                 "Memory the guests' balloons were seen to take (balloon sizes falling), since densityd started.",
                 b->inflated_bytes_total);
        prom_u64(f, "density_balloon_deflated_bytes_total", "counter",
                 "Memory the guests' balloons were seen to give back (balloon sizes rising), since densityd started.",
                 b->deflated_bytes_total);
        if (b->has_host) {
                prom_u64(f, "density_balloon_capacity_bytes", "gauge",
                         "Memory the guests share: the VMs' cgroup limit, else the host's memory.", b->capacity_bytes);
                prom_u64(f, "density_balloon_target_use_bytes", "gauge",
                         "The guests' use the balloon controller keeps under ([Balloon] HostTarget= of capacity).",
                         b->target_use_bytes);
        }
        const struct {
                const char *name, *help;
        } fam[] = {
                { "density_guest_balloon_target_bytes", "The balloon target densityd last set for the guest." },
                { "density_guest_balloon_lower_bytes",
                  "The least the balloon controller leaves the guest: its class floor, or what it uses plus its "
                  "free target, whichever is larger." },
                { "density_guest_qemu_overhead_bytes", "Host RSS of the guest's qemu above its balloon size." },
        };
        for (size_t k = 0; k < ELEMENTSOF(fam); k++) {
                bool any = false;
                for (size_t i = 0; i < b->n_guests; i++) {
                        const BalloonGuest *g = &b->guests[i];
                        bool has = k == 0 ? g->target_usec != 0 : k == 1 ? g->lower_bytes != 0 : g->has_rss;
                        if (!has)
                                continue;
                        if (!any)
                                prom_family(f, fam[k].name, "gauge", fam[k].help);
                        any = true;
                        uint64_t v = k == 0 ? g->target_bytes : k == 1 ? g->lower_bytes : g->overhead_bytes;
                        fprintf(f, "%s{domain=\"", fam[k].name);
                        prom_label_value(f, g->name);
                        fprintf(f, "\"} %llu\n", (unsigned long long) v);
                }
        }
        if (b->n_guests == 0)
                return;
        prom_family(f, "density_guest_balloon_state", "gauge",
                    "What the balloon controller makes of the guest (labels: domain, state); always 1.");
        for (size_t i = 0; i < b->n_guests; i++) {
                fprintf(f, "density_guest_balloon_state{domain=\"");
                prom_label_value(f, b->guests[i].name);
                fprintf(f, "\",state=\"");
                prom_label_value(f, b->guests[i].state);
                fprintf(f, "\"} 1\n");
        }
}

/* The NUMA controller: each placed guest's node and the share of its
 * memory there; moves since densityd started. */
static void prom_numa(FILE *f, const Snapshot *s, const ControllerReport *r, size_t n_reports) {
        const NumaReport *nr = NULL;
        for (size_t i = 0; i < n_reports; i++)
                if (r[i].has_numa)
                        nr = &r[i].numa;
        if (!nr)
                return;
        prom_u64(f, "density_numa_moves_total", "counter", "Guests the NUMA controller moved between nodes.",
                 nr->moves_total);
        bool node_family = false, local_family = false;
        for (size_t i = 0; i < nr->n_places; i++) {
                const NumaPlace *pl = &nr->places[i];
                if (pl->node < 0)
                        continue;
                if (!node_family)
                        prom_family(f, "density_guest_numa_node", "gauge", "The node densityd placed the guest on.");
                node_family = true;
                fprintf(f, "density_guest_numa_node{domain=\"");
                prom_label_value(f, pl->name);
                fprintf(f, "\"} %d\n", pl->node);
        }
        UuidIndex guests = {}; /* out of memory: no ratios this time */
        if (nr->n_places > 0)
                (void) uuid_index_build(s->guests, s->n_guests, sizeof(*s->guests), offsetof(GuestSample, uuid), &guests);
        for (size_t i = 0; i < nr->n_places; i++) {
                const NumaPlace *pl = &nr->places[i];
                const GuestSample *g = uuid_index_find(&guests, pl->uuid);
                double frac = g && pl->node >= 0 ? numa_local_fraction(g, pl->node) : -1;
                if (frac < 0)
                        continue;
                if (!local_family)
                        prom_family(f, "density_guest_numa_local_ratio", "gauge",
                                    "Share of the guest's memory on the node it was placed on.");
                local_family = true;
                fprintf(f, "density_guest_numa_local_ratio{domain=\"");
                prom_label_value(f, pl->name);
                fprintf(f, "\"} %.3f\n", frac);
        }
        uuid_index_clear(&guests);
}

/* The controllers' states: one series per controller, its labels saying
 * the mode and state, value 1; and since when. */
static void prom_controllers(FILE *f, const ControllerReport *c, size_t n) {
        if (n == 0)
                return;
        prom_family(f, "density_controller_state", "gauge",
                    "A controller's current state (labels: controller, mode, state); always 1.");
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "density_controller_state{controller=\"");
                prom_label_value(f, c[i].name);
                fprintf(f, "\",mode=\"");
                prom_label_value(f, c[i].status.mode);
                fprintf(f, "\",state=\"");
                prom_label_value(f, c[i].status.state);
                fprintf(f, "\"} 1\n");
        }
        prom_family(f, "density_controller_state_since_timestamp_seconds", "gauge",
                    "When a controller entered its current state.");
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "density_controller_state_since_timestamp_seconds{controller=\"");
                prom_label_value(f, c[i].name);
                fprintf(f, "\"} %.3f\n", (double) c[i].status.since_usec / 1e6);
        }
}

int prom_render(const Snapshot *s, const JournalCounter *counters, size_t n_counters,
                const ControllerReport *controllers, size_t n_controllers, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        __fsetlocking(f, FSETLOCKING_BYCALLER); /* this thread's own: no lock per character */

        prom_host(f, s);
        prom_guests(f, s);
        prom_actions(f, counters, n_counters);
        prom_controllers(f, controllers, n_controllers);
        prom_shed(f, counters, n_counters, controllers, n_controllers);
        prom_balloon(f, controllers, n_controllers);
        prom_numa(f, s, controllers, n_controllers);
        prom_family(f, "density_sample_duration_seconds", "gauge", "Time the last tick spent sampling.");
        fprintf(f, "density_sample_duration_seconds %.6f\n", (double) s->sample_duration_usec / 1e6);
        if (s->tick_cpu_usec > 0) {
                prom_family(f, "density_tick_cpu_seconds", "gauge",
                            "CPU time densityd's previous tick took (sample, plan, apply, this file).");
                fprintf(f, "density_tick_cpu_seconds %.6f\n", (double) s->tick_cpu_usec / 1e6);
        }
        if (s->textfile_write_usec > 0) {
                prom_family(f, "density_textfile_write_seconds", "gauge", "Time the previous write of this file took.");
                fprintf(f, "density_textfile_write_seconds %.6f\n", (double) s->textfile_write_usec / 1e6);
        }
        prom_family(f, "density_last_sample_timestamp_seconds", "gauge", "When the last tick sampled.");
        fprintf(f, "density_last_sample_timestamp_seconds %.3f\n", (double) s->timestamp_usec / 1e6);

        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

int prom_write(const char *dir, const Snapshot *s, const JournalCounter *counters, size_t n_counters,
               const ControllerReport *controllers, size_t n_controllers) {
        char path[PATH_MAX];
        int r = path_join(path, sizeof(path), dir, PROM_FILENAME);
        if (r < 0)
                return r;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        r = prom_render(s, counters, n_counters, controllers, n_controllers, &buf, &len);
        if (r < 0)
                return r;
        return write_file_atomic(path, buf, len, 0644);
}
