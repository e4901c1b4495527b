/* sample: see include/density/sample.h */
#include "density/sample.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "density/cgroup.h"
#include "density/ksm.h"
#include "density/meminfo.h"
#include "density/numa.h"
#include "density/psi.h"
#include "density/util.h"

#define KIB UINT64_C(1024)

const Roots roots_default = {
        .proc = "/proc",
        .sys = "/sys",
        .cgroup = "/sys/fs/cgroup",
        .libvirt_run = "/run/libvirt/qemu",
};

/* What the sampler remembers per guest between ticks: when the guest's own
 * last_update last moved. */
typedef struct GuestMemory {
        char uuid[DENSITY_UUID_LEN];
        int64_t last_update;
        uint64_t changed_usec;
        /* The guest's memory cgroup, found once per qemu process: reading
         * /proc/PID/cgroup takes the kernel's cgroup_mutex. */
        pid_t cgroup_pid;
        int cgroup_version;
        char cgroup_dir[256];
} GuestMemory;

struct Sampler {
        Roots roots;
        GuestMemory *memory; /* sorted by uuid */
        size_t n_memory;
};

int sample_host(const Roots *roots, HostSample *ret) {
        HostSample h = {};
        int r = meminfo_read(roots->proc, &h.mem);
        if (r < 0)
                return r;
        /* The rest is optional: kernels without PSI, KSM, NUMA or a VMs'
         * cgroup (no guest started yet) simply report less. */
        (void) psi_read(roots->proc, &h.psi);
        (void) cgroup_machine_read(roots->cgroup, &h.cgroup);
        (void) ksm_read(roots->sys, &h.ksm);
        (void) numa_read(roots->sys, &h.numa);
        *ret = h;
        return 0;
}

int sample_guest_pid(const Roots *roots, const char *name, pid_t *ret) {
        char rel[DENSITY_NAME_MAX + 8];
        snprintf(rel, sizeof(rel), "%s.pid", name);
        uint64_t pid;
        int r = read_u64_at(roots->libvirt_run, rel, &pid);
        if (r < 0)
                return r;
        if (pid == 0 || pid > INT_MAX)
                return -EINVAL;
        *ret = (pid_t) pid;
        return 0;
}

int sample_pid_rss(const char *proc_root, pid_t pid, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = read_pid_file(proc_root, pid, "statm", &buf);
        if (r < 0)
                return r;
        unsigned long long size, resident;
        if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
                return -EINVAL;
        *ret = resident * page_size_bytes();
        return 0;
}

int sampler_new(const Roots *roots, Sampler **ret) {
        Sampler *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->roots = *roots;
        *ret = s;
        return 0;
}

Sampler *sampler_free(Sampler *s) {
        if (!s)
                return NULL;
        free(s->memory);
        free(s);
        return NULL;
}

static int memory_cmp(const void *a, const void *b) {
        return strcmp(((const GuestMemory *) a)->uuid, ((const GuestMemory *) b)->uuid);
}

static int guest_rss_cmp(const void *a, const void *b) {
        const GuestSample *x = a, *y = b;
        if (x->rss_bytes != y->rss_bytes)
                return x->rss_bytes > y->rss_bytes ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void sample_guest_numa(const Roots *roots, GuestMemory *mem, GuestSample *g) {
        if (mem->cgroup_pid != g->pid) {
                mem->cgroup_pid = g->pid;
                if (cgroup_pid_memory_dir(roots->proc, g->pid, mem->cgroup_dir, sizeof(mem->cgroup_dir),
                                          &mem->cgroup_version) < 0 ||
                    !cgroup_is_guest_dir(mem->cgroup_dir))
                        mem->cgroup_dir[0] = '\0'; /* no per-guest figures: better none than shared ones */
        }
        if (mem->cgroup_dir[0] == '\0')
                return;

        char rel[sizeof(mem->cgroup_dir) + 32];
        snprintf(rel, sizeof(rel), "%s/memory.numa_stat", mem->cgroup_dir);
        _cleanup_free_ char *buf = NULL;
        if (read_file_at(roots->cgroup, rel, &buf, NULL) < 0) {
                mem->cgroup_pid = 0; /* look again next tick */
                return;
        }
        if (cgroup_numa_stat_parse(buf, mem->cgroup_version, g->nodes, DENSITY_MAX_NODES, &g->n_nodes) < 0)
                g->n_nodes = 0;
}

/* Fill one guest from the table entry and /proc. Return: 0, or -ENOENT
 * when the guest stopped in the meantime. */
static int sample_guest(Sampler *s, const VirtDomainStats *d, GuestMemory *mem, uint64_t now,
                        uint64_t stale_after_usec, GuestSample *g) {
        *g = (GuestSample) { .id = d->id };
        strscpy(g->name, sizeof(g->name), d->name);
        strscpy(g->uuid, sizeof(g->uuid), d->uuid);

        if (sample_guest_pid(&s->roots, d->name, &g->pid) < 0)
                return -ENOENT;
        if (sample_pid_rss(s->roots.proc, g->pid, &g->rss_bytes) < 0)
                return -ENOENT;

        g->has_balloon = d->has_current;
        g->balloon_actual_bytes = d->current_kib * KIB;
        g->balloon_maximum_bytes = d->maximum_kib * KIB;
        g->has_unused = d->has_unused;
        g->unused_bytes = d->unused_kib * KIB;
        g->has_available = d->has_available;
        g->available_bytes = d->available_kib * KIB;
        g->has_usable = d->has_usable;
        g->usable_bytes = d->usable_kib * KIB;
        g->has_disk_caches = d->has_disk_caches;
        g->disk_caches_bytes = d->disk_caches_kib * KIB;
        g->balloon_last_update = d->has_last_update ? d->last_update : 0;
        g->stats_age_usec = now > d->fetched_usec ? now - d->fetched_usec : 0;

        /* Stale: the hypervisor has not answered for this guest lately, or
         * the guest's own stats clock stopped (driver gone, guest hung). */
        if (mem->last_update != g->balloon_last_update || mem->changed_usec == 0) {
                mem->last_update = g->balloon_last_update;
                mem->changed_usec = now;
        }
        g->stale = !d->has_last_update || g->stats_age_usec > stale_after_usec ||
                   now - mem->changed_usec > stale_after_usec;

        KsmProcess k;
        if (ksm_process_read(s->roots.proc, g->pid, &k) == 0) {
                g->has_ksm = k.has_merging;
                g->ksm_merging_bytes = k.merging_pages * page_size_bytes();
                g->has_ksm_profit = k.has_profit;
                g->ksm_profit_bytes = k.profit_bytes;
        }
        sample_guest_numa(&s->roots, mem, g);
        return 0;
}

int sampler_tick(Sampler *s, const GuestTable *table, uint64_t stale_after_usec, Snapshot *ret) {
        uint64_t start = now_monotonic_usec();
        Snapshot snap = { .timestamp_usec = now_realtime_usec() };

        int r = sample_host(&s->roots, &snap.host);
        if (r < 0)
                return r;
        snap.hypervisor_connected = table->connected;
        strscpy(snap.hypervisor_error, sizeof(snap.hypervisor_error), table->error);
        /* A hung hypervisor never fails a call: it never answers. */
        if (table->round_started_usec > 0 && start > table->round_started_usec &&
            start - table->round_started_usec > stale_after_usec) {
                snap.hypervisor_connected = false;
                snprintf(snap.hypervisor_error, sizeof(snap.hypervisor_error),
                         "no answer to the bulk stats call for %llu s",
                         (unsigned long long) ((start - table->round_started_usec) / USEC_PER_SEC));
        }

        _cleanup_free_ GuestSample *guests = calloc(table->n ? table->n : 1, sizeof(*guests));
        _cleanup_free_ GuestMemory *memory = calloc(table->n ? table->n : 1, sizeof(*memory));
        if (!guests || !memory)
                return -ENOMEM;

        size_t n = 0;
        for (size_t i = 0; i < table->n; i++) {
                const VirtDomainStats *d = &table->domains[i];
                GuestMemory key = {}, *m = &memory[n];
                strscpy(key.uuid, sizeof(key.uuid), d->uuid);
                const GuestMemory *old =
                        s->n_memory > 0 ? bsearch(&key, s->memory, s->n_memory, sizeof(key), memory_cmp) : NULL;
                *m = old ? *old : key;
                if (sample_guest(s, d, m, start, stale_after_usec, &guests[n]) == 0)
                        n++;
        }

        /* The table is sorted by uuid, so memory is too. */
        qsort(memory, n, sizeof(*memory), memory_cmp);
        free(s->memory);
        s->memory = TAKE_PTR(memory);
        s->n_memory = n;

        qsort(guests, n, sizeof(*guests), guest_rss_cmp);
        snap.guests = TAKE_PTR(guests);
        snap.n_guests = n;
        snap.sample_duration_usec = now_monotonic_usec() - start;
        *ret = snap;
        return 0;
}

void snapshot_clear(Snapshot *s) {
        if (!s)
                return;
        free(s->guests);
        *s = (Snapshot) {};
}
