/* sample: see include/density/sample.h */
#include "density/sample.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

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

/* What the sampler remembers per guest between ticks, for as long as the
 * hypervisor table lists the guest. */
typedef struct GuestMemory {
        char uuid[DENSITY_UUID_LEN];
        /* When the guest's own last_update last moved. */
        int64_t last_update;
        uint64_t changed_usec;
        /* The last tick's sample_error, to tell a new one. */
        char sample_error[sizeof(((GuestSample *) NULL)->sample_error)];
        /* The guest's memory cgroup, found once per qemu process: reading
         * /proc/PID/cgroup takes the kernel's cgroup_mutex. */
        pid_t cgroup_pid;           /* the process the lookup was for, 0: none yet */
        int cgroup_version;
        char cgroup_dir[256];       /* "": none (yet), or not the guest's own */
        int cgroup_error;           /* the failed lookup's error (not "gone"), 0 if none */
        uint64_t cgroup_retry_tick; /* look up again at this tick, 0: never */
        /* The qemu process as last read from the pid file (0: read it), for
         * the domain id it was read for, and its statm held open (-1: none). */
        pid_t pid;
        int domain_id;
        int statm_fd;
        /* The slow files' last read (tick, 0: never) and what it gave, kept
         * for the ticks between the guest's turns. */
        uint64_t slow_tick;
        bool has_ksm, has_ksm_profit;
        uint64_t ksm_merging_bytes;
        int64_t ksm_profit_bytes;
        size_t n_nodes;
        GuestNodeBytes *nodes;      /* malloc'd, n_nodes of them */
        char slow_error[sizeof(((GuestSample *) NULL)->sample_error)];
} GuestMemory;

struct Sampler {
        Roots roots;         /* page_size resolved */
        uint64_t ticks;      /* sampler_tick() calls so far */
        size_t slow_per_tick;
        bool read_oom_score_adj;
        /* The proc root is a procfs: a statm held open says when its
         * process is gone (ESRCH). In a fixture tree it would not. */
        bool hold_statm;
        /* statm files held open now, and the most it holds (the rest of
         * RLIMIT_NOFILE is left for everything else: past it a guest's
         * statm is opened and closed each tick, as outside procfs). */
        size_t n_held, max_held;
        GuestMemory *memory; /* one per guest of the last table, sorted by uuid */
        size_t n_memory;
        /* The ksmd kernel thread, found once (looked for again every
         * SAMPLE_CGROUP_RETRY_TICKS ticks while not found), and its CPU time
         * at the previous tick. */
        pid_t ksmd_pid;
        uint64_t ksmd_retry_tick;
        bool ksmd_prev_valid;
        uint64_t ksmd_prev_cpu_usec, ksmd_prev_mono_usec;
};

static size_t roots_page_size(const Roots *roots) {
        return roots->page_size > 0 ? roots->page_size : page_size_bytes();
}

/* A host file the kernel may lack: absent is no error. */
static int host_read_error(int r) {
        return r == -ENOENT ? 0 : r;
}

int sample_host(const Roots *roots, HostSample *ret) {
        HostSample h = { .page_size_bytes = roots_page_size(roots) };
        int r = meminfo_read(roots->proc, &h.mem);
        if (r < 0)
                return r;
        /* The rest is optional: kernels without PSI, KSM, NUMA or a VMs'
         * cgroup (no guest started yet) simply report less. A file that
         * exists but cannot be read is another matter: say so. */
        h.errors.psi = host_read_error(psi_read(roots->proc, &h.psi));
        h.errors.cgroup = host_read_error(cgroup_machine_read(roots->cgroup, &h.cgroup));
        h.errors.ksm = host_read_error(ksm_read(roots->sys, &h.ksm));
        h.errors.numa = host_read_error(numa_read(roots->sys, &h.numa));
        *ret = h;
        return 0;
}

static void pid_file_rel(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s.pid", name);
}

int sample_guest_pid(const Roots *roots, const char *name, pid_t *ret) {
        char rel[DENSITY_NAME_MAX + 8];
        pid_file_rel(rel, sizeof(rel), name);
        uint64_t pid;
        int r = read_u64_at(roots->libvirt_run, rel, &pid);
        if (r == -ERANGE)
                r = -EINVAL; /* "max..." or a number past 2^64: not a PID either */
        if (r < 0)
                return r;
        if (pid == 0 || pid > INT_MAX)
                return -EINVAL;
        *ret = (pid_t) pid;
        return 0;
}

int statm_parse(const char *buf, size_t page_size, uint64_t *ret_rss_bytes) {
        /* "size resident shared text lib data dt", in pages; the first two
         * fields are at most 20 digits each. */
        char text[64];
        strscpy(text, sizeof(text), buf);
        char *save = NULL;
        const char *size = strtok_r(text, " \n", &save);
        const char *resident = size ? strtok_r(NULL, " \n", &save) : NULL;
        if (!resident)
                return -EINVAL;
        uint64_t pages;
        int r = parse_u64(size, &pages);
        if (r == 0)
                r = parse_u64(resident, &pages);
        if (r < 0)
                return r;
        if (page_size == 0)
                return -EINVAL;
        if (pages > UINT64_MAX / page_size)
                return -ERANGE;
        *ret_rss_bytes = pages * page_size;
        return 0;
}

int sample_pid_rss(const char *proc_root, pid_t pid, size_t page_size, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = read_pid_file(proc_root, pid, "statm", &buf);
        if (r < 0)
                return r;
        return statm_parse(buf, page_size, ret);
}

int sampler_new(const Roots *roots, Sampler **ret) {
        Sampler *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->roots = *roots;
        s->roots.page_size = roots_page_size(roots);
        s->slow_per_tick = SAMPLE_SLOW_PER_TICK;
        struct statfs fs;
        s->hold_statm = statfs(roots->proc, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                s->max_held = rl.rlim_cur > SAMPLE_FDS_KEPT_FREE ? rl.rlim_cur - SAMPLE_FDS_KEPT_FREE : 0;
        else
                s->max_held = SIZE_MAX;
        *ret = s;
        return 0;
}

void sampler_configure(Sampler *s, size_t slow_per_tick, bool read_oom_score_adj) {
        s->slow_per_tick = slow_per_tick > 0 ? slow_per_tick : SAMPLE_SLOW_PER_TICK;
        s->read_oom_score_adj = read_oom_score_adj;
}

size_t sample_slow_every(size_t n_guests, size_t slow_per_tick) {
        if (slow_per_tick == 0 || n_guests <= slow_per_tick)
                return 1;
        return (n_guests + slow_per_tick - 1) / slow_per_tick;
}

/* Forget the process: its statm and its slow files' figures (a new
 * process has its turn at once). */
static void memory_release(Sampler *s, GuestMemory *m) {
        if (m->statm_fd >= 0) {
                close(m->statm_fd);
                s->n_held--;
        }
        m->statm_fd = -1;
        m->pid = 0;
        m->slow_tick = 0;
        m->has_ksm = m->has_ksm_profit = false;
        m->slow_error[0] = '\0';
        free(m->nodes);
        m->nodes = NULL;
        m->n_nodes = 0;
}

Sampler *sampler_free(Sampler *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_memory; i++)
                memory_release(s, &s->memory[i]);
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

/* A read of /proc/PID/... that failed because the process is gone. */
static bool pid_gone(int r) {
        return r == -ENOENT || r == -ESRCH;
}

/* Say which file of a guest could not be used and why; the first one of a
 * tick is the one reported. verb: "read" or "parse". */
static void guest_error(GuestSample *g, const char *verb, const char *root, const char *rel, int r) {
        if (g->sample_error[0] != '\0')
                return;
        char path[PATH_MAX];
        if (path_join(path, sizeof(path), root, rel) < 0)
                strscpy(path, sizeof(path), rel);
        if (snprintf(g->sample_error, sizeof(g->sample_error), "cannot %s %s: %s", verb, path, strerror(-r)) < 0)
                strscpy(g->sample_error, sizeof(g->sample_error), "cannot read a file of this guest");
}

static void guest_pid_error(GuestSample *g, const char *proc_root, const char *name, int r) {
        char rel[64];
        snprintf(rel, sizeof(rel), "%d/%s", (int) g->pid, name);
        guest_error(g, "read", proc_root, rel, r);
}

/* Whether a missing pid file means the guest stopped: only when the
 * directory that holds pid files is there (a wrong or missing run directory
 * must not pass for "no guests"). */
static bool run_dir_exists(const Roots *roots) {
        struct stat st;
        return stat(roots->libvirt_run ? roots->libvirt_run : ".", &st) == 0 && S_ISDIR(st.st_mode);
}

static void sample_guest_cgroup_lookup(Sampler *s, GuestMemory *mem, pid_t pid) {
        mem->cgroup_pid = pid;
        mem->cgroup_dir[0] = '\0';
        mem->cgroup_error = 0;
        mem->cgroup_retry_tick = 0;
        int r = cgroup_pid_memory_dir(s->roots.proc, pid, mem->cgroup_dir, sizeof(mem->cgroup_dir),
                                      &mem->cgroup_version);
        if (r < 0) {
                mem->cgroup_retry_tick = s->ticks + SAMPLE_CGROUP_RETRY_TICKS;
                if (!pid_gone(r))
                        mem->cgroup_error = r;
        } else if (!cgroup_is_guest_dir(mem->cgroup_dir))
                mem->cgroup_dir[0] = '\0'; /* no per-guest figures: better none than shared ones */
}

static void sample_guest_numa(Sampler *s, GuestMemory *mem, GuestSample *g) {
        if (mem->cgroup_pid != g->pid || (mem->cgroup_retry_tick > 0 && s->ticks >= mem->cgroup_retry_tick))
                sample_guest_cgroup_lookup(s, mem, g->pid);
        if (mem->cgroup_error < 0)
                guest_pid_error(g, s->roots.proc, "cgroup", mem->cgroup_error);
        if (mem->cgroup_dir[0] == '\0')
                return;

        char rel[sizeof(mem->cgroup_dir) + 32];
        snprintf(rel, sizeof(rel), "%s/memory.numa_stat", mem->cgroup_dir);
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(s->roots.cgroup, rel, &buf, NULL);
        if (r == -ENOENT) {
                /* The cgroup went away (or the kernel keeps no numa_stat):
                 * look the guest's cgroup up again, later. */
                mem->cgroup_dir[0] = '\0';
                mem->cgroup_retry_tick = s->ticks + SAMPLE_CGROUP_RETRY_TICKS;
                return;
        }
        if (r < 0) {
                guest_error(g, "read", s->roots.cgroup, rel, r);
                return;
        }
        r = cgroup_numa_stat_parse(buf, mem->cgroup_version, s->roots.page_size, g->nodes, DENSITY_MAX_NODES,
                                   &g->n_nodes);
        if (r < 0)
                guest_error(g, "parse", s->roots.cgroup, rel, r);
}

static void sample_guest_ksm(Sampler *s, GuestSample *g) {
        KsmProcess k;
        const char *failed = NULL;
        int r = ksm_process_read(s->roots.proc, g->pid, &k, &failed);
        if (r < 0) {
                if (failed) /* not absent, not gone */
                        guest_pid_error(g, s->roots.proc, failed, r);
                return;
        }
        g->has_ksm = k.has_merging;
        g->ksm_merging_bytes = k.merging_pages * s->roots.page_size;
        g->has_ksm_profit = k.has_profit;
        g->ksm_profit_bytes = k.profit_bytes;
}

/* Read the slow files into g and keep what they gave (and the first
 * error) in mem for the ticks until the guest's next turn. */
static void sample_guest_slow(Sampler *s, GuestMemory *mem, GuestSample *g) {
        char before[sizeof(g->sample_error)];
        strscpy(before, sizeof(before), g->sample_error);
        g->sample_error[0] = '\0';
        sample_guest_ksm(s, g);
        sample_guest_numa(s, mem, g);
        strscpy(mem->slow_error, sizeof(mem->slow_error), g->sample_error);
        if (before[0] != '\0')
                strscpy(g->sample_error, sizeof(g->sample_error), before);

        mem->slow_tick = s->ticks;
        mem->has_ksm = g->has_ksm;
        mem->ksm_merging_bytes = g->ksm_merging_bytes;
        mem->has_ksm_profit = g->has_ksm_profit;
        mem->ksm_profit_bytes = g->ksm_profit_bytes;
        free(mem->nodes);
        mem->nodes = NULL;
        mem->n_nodes = 0;
        if (g->n_nodes > 0 && (mem->nodes = malloc(g->n_nodes * sizeof(*mem->nodes)))) {
                memcpy(mem->nodes, g->nodes, g->n_nodes * sizeof(*mem->nodes));
                mem->n_nodes = g->n_nodes;
        }
}

/* Between its turns: the slow files' figures and error of the last read. */
static void sample_guest_kept(const GuestMemory *mem, GuestSample *g) {
        g->has_ksm = mem->has_ksm;
        g->ksm_merging_bytes = mem->ksm_merging_bytes;
        g->has_ksm_profit = mem->has_ksm_profit;
        g->ksm_profit_bytes = mem->ksm_profit_bytes;
        if (mem->n_nodes > 0)
                memcpy(g->nodes, mem->nodes, mem->n_nodes * sizeof(*g->nodes));
        g->n_nodes = mem->n_nodes;
        if (g->sample_error[0] == '\0')
                strscpy(g->sample_error, sizeof(g->sample_error), mem->slow_error);
}

/* The qemu process's RSS from its statm, opened once per process and read
 * with pread every tick (opened every tick outside procfs). Return: 0, or
 * the read's negative errno (the fd is closed then). */
static int sample_guest_rss(Sampler *s, GuestMemory *mem, pid_t pid, uint64_t *ret) {
        bool held = mem->statm_fd >= 0; /* only held fds outlive a tick */
        if (!held) {
                char path[PATH_MAX];
                if (snprintf(path, sizeof(path), "%s/%d/statm", s->roots.proc, (int) pid) >= (int) sizeof(path))
                        return -ENAMETOOLONG;
                mem->statm_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (mem->statm_fd < 0)
                        return -errno;
        }
        char buf[128];
        ssize_t k = pread(mem->statm_fd, buf, sizeof(buf) - 1, 0);
        int r = k < 0 ? -errno : 0;
        if (r == 0) {
                buf[k] = '\0';
                r = statm_parse(buf, s->roots.page_size, ret);
        }
        if (r == 0 && !held && s->hold_statm && s->n_held < s->max_held) {
                s->n_held++; /* keep it */
        } else if (r < 0 || !held) {
                close(mem->statm_fd);
                mem->statm_fd = -1;
                s->n_held -= held;
        }
        return r;
}

/* Fill one guest from the table entry and /proc. Return: 0, or -ENOENT
 * when the guest stopped in the meantime (pid file or process gone). A file
 * that exists but cannot be read leaves its figures out and sets
 * g->sample_error. slow: the guest's turn to read its slow files. */
static int sample_guest(Sampler *s, const VirtDomainStats *d, GuestMemory *mem, uint64_t now,
                        uint64_t stale_after_usec, bool slow, GuestSample *g) {
        *g = (GuestSample) { .id = d->id };
        strscpy(g->name, sizeof(g->name), d->name);
        strscpy(g->uuid, sizeof(g->uuid), d->uuid);

        g->facts = d->facts;
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
        g->has_swap_in = d->has_swap_in;
        g->swap_in_bytes = d->swap_in_kib * KIB;
        g->has_major_faults = d->has_major_fault;
        g->major_faults = d->major_fault;
        g->balloon_last_update = d->has_last_update ? d->last_update : 0;
        g->stats_age_usec = now > d->fetched_usec ? now - d->fetched_usec : 0;

        /* Stale: the hypervisor has not answered for this guest lately, or
         * the guest's own stats clock stopped (driver gone, guest hung).
         * The clock is the hypervisor's figure: it is watched whether or not
         * the guest's files can be read this tick. */
        if (mem->last_update != g->balloon_last_update || mem->changed_usec == 0) {
                mem->last_update = g->balloon_last_update;
                mem->changed_usec = now;
        }
        g->stale = !d->has_last_update || g->stats_age_usec > stale_after_usec ||
                   now - mem->changed_usec > stale_after_usec;

        /* The pid file: in the guest's turn, and whenever the process it
         * named may be another (a new domain id, statm gone). */
        bool pid_fresh = slow || mem->pid == 0 || mem->domain_id != d->id;
        for (;;) {
                int r = 0;
                if (pid_fresh) {
                        r = sample_guest_pid(&s->roots, d->name, &g->pid);
                        if (r == -ENOENT && run_dir_exists(&s->roots))
                                return -ENOENT;
                        if (r < 0) {
                                char rel[DENSITY_NAME_MAX + 8];
                                pid_file_rel(rel, sizeof(rel), d->name);
                                guest_error(g, "read", s->roots.libvirt_run, rel, r);
                                memory_release(s, mem);
                                return 0;
                        }
                        if (g->pid != mem->pid) {
                                memory_release(s, mem);
                                mem->pid = g->pid;
                        }
                        mem->domain_id = d->id;
                } else
                        g->pid = mem->pid;

                r = sample_guest_rss(s, mem, g->pid, &g->rss_bytes);
                if (pid_gone(r) && !pid_fresh) {
                        pid_fresh = true; /* the process named last time is gone: which one runs now? */
                        continue;
                }
                if (pid_gone(r))
                        return -ENOENT;
                if (r < 0)
                        guest_pid_error(g, s->roots.proc, "statm", r);
                else
                        g->has_rss = true;
                break;
        }

        /* Its OOM score adjustment: what a class's OomScoreAdjust= is
         * compared with. Gone or unreadable: unknown, never an error. */
        char rel[32];
        _cleanup_free_ char *adj = NULL;
        int64_t v;
        snprintf(rel, sizeof(rel), "%d/oom_score_adj", (int) g->pid);
        if (s->read_oom_score_adj && read_file_at(s->roots.proc, rel, &adj, NULL) == 0 && parse_i64(adj, &v) == 0 &&
            v >= -1000 && v <= 1000) {
                g->has_oom_score_adj = true;
                g->oom_score_adj = (int) v;
        }

        if (slow)
                sample_guest_slow(s, mem, g);
        else
                sample_guest_kept(mem, g);
        return 0;
}

/* ksmd's CPU time and its share of a core since the previous tick. */
static void sample_ksmd(Sampler *s, KsmSample *k, uint64_t now) {
        if (!k->present)
                return;
        uint64_t usec;
        int r = s->ksmd_pid > 0 ? ksmd_cpu_read(s->roots.proc, s->ksmd_pid, &usec) : -ESRCH;
        if (r == -ESRCH && s->ticks >= s->ksmd_retry_tick) {
                s->ksmd_prev_valid = false;
                s->ksmd_pid = 0;
                if (ksmd_find(s->roots.proc, &s->ksmd_pid) == 0)
                        r = ksmd_cpu_read(s->roots.proc, s->ksmd_pid, &usec);
                else
                        s->ksmd_retry_tick = s->ticks + SAMPLE_CGROUP_RETRY_TICKS;
        }
        if (r < 0) {
                s->ksmd_prev_valid = false;
                return;
        }
        k->has_ksmd_cpu = true;
        k->ksmd_cpu_usec = usec;
        if (s->ksmd_prev_valid && now > s->ksmd_prev_mono_usec && usec >= s->ksmd_prev_cpu_usec) {
                k->has_ksmd_cpu_percent = true;
                k->ksmd_cpu_percent = 100.0 * (double) (usec - s->ksmd_prev_cpu_usec) /
                                      (double) (now - s->ksmd_prev_mono_usec);
        }
        s->ksmd_prev_valid = true;
        s->ksmd_prev_cpu_usec = usec;
        s->ksmd_prev_mono_usec = now;
}

int sampler_tick(Sampler *s, const GuestTable *table, uint64_t stale_after_usec, Snapshot *ret) {
        uint64_t start = now_monotonic_usec();
        Snapshot snap = { .timestamp_usec = now_realtime_usec() };

        int r = sample_host(&s->roots, &snap.host);
        if (r < 0)
                return r;
        sample_ksmd(s, &snap.host.ksm, start);
        snap.hypervisor_connected = table->connected;
        strscpy(snap.hypervisor_error, sizeof(snap.hypervisor_error), table->error);
        /* A hung hypervisor never fails a call: it never answers. A round
         * on a large host legitimately runs 10-15 s, but batches keep being
         * answered: judge the round by the time since its last progress. */
        if (table->round_started_usec > 0 && start > table->round_started_usec) {
                uint64_t last = table->round_progress_usec > table->round_started_usec ? table->round_progress_usec
                                                                                       : table->round_started_usec;
                snap.hypervisor_round_running_usec = start - table->round_started_usec;
                if (start > last && start - last > stale_after_usec) {
                        snap.hypervisor_connected = false;
                        snprintf(snap.hypervisor_error, sizeof(snap.hypervisor_error),
                                 "no answer to the bulk stats call for %llu s (round running %llu s)",
                                 (unsigned long long) ((start - last) / USEC_PER_SEC),
                                 (unsigned long long) (snap.hypervisor_round_running_usec / USEC_PER_SEC));
                }
        }

        _cleanup_free_ GuestSample *guests = calloc(table->n ? table->n : 1, sizeof(*guests));
        _cleanup_free_ GuestMemory *memory = calloc(table->n ? table->n : 1, sizeof(*memory));
        if (!guests || !memory)
                return -ENOMEM;
        s->ticks++;

        /* Every guest the table lists keeps its memory, sampled or not: one
         * unreadable tick must not reset its staleness clock. The slow
         * files: each guest in its turn, at most slow_per_tick guests. */
        size_t every = sample_slow_every(table->n, s->slow_per_tick), n_slow = 0;
        size_t n = 0;
        for (size_t i = 0; i < table->n; i++) {
                const VirtDomainStats *d = &table->domains[i];
                GuestMemory key = { .statm_fd = -1 }, *m = &memory[i];
                strscpy(key.uuid, sizeof(key.uuid), d->uuid);
                GuestMemory *old =
                        s->n_memory > 0 ? bsearch(&key, s->memory, s->n_memory, sizeof(key), memory_cmp) : NULL;
                *m = old ? *old : key;
                if (old) { /* handed over: what it holds is m's now */
                        old->statm_fd = -1;
                        old->nodes = NULL;
                }
                bool slow = (m->slow_tick == 0 || s->ticks - m->slow_tick >= every) && n_slow < s->slow_per_tick;
                n_slow += slow;

                GuestSample *g = &guests[n];
                if (sample_guest(s, d, m, start, stale_after_usec, slow, g) < 0) {
                        m->sample_error[0] = '\0'; /* stopped: an error after a restart is news */
                        continue;
                }
                g->sample_error_new = g->sample_error[0] != '\0' && strcmp(g->sample_error, m->sample_error) != 0;
                strscpy(m->sample_error, sizeof(m->sample_error), g->sample_error);
                n++;
        }

        /* The table is sorted by uuid, so memory is too (sorted anyway:
         * bsearch depends on it). */
        qsort(memory, table->n, sizeof(*memory), memory_cmp);
        for (size_t i = 0; i < s->n_memory; i++) /* guests the table no longer lists */
                memory_release(s, &s->memory[i]);
        free(s->memory);
        s->memory = TAKE_PTR(memory);
        s->n_memory = table->n;

        qsort(guests, n, sizeof(*guests), guest_rss_cmp);
        snap.guests = TAKE_PTR(guests);
        snap.n_guests = n;
        snap.slow_reads_every_ticks = every;
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

const GuestSample *snapshot_guest_by_uuid(const Snapshot *s, const char *uuid) {
        for (size_t i = 0; i < s->n_guests; i++)
                if (strcmp(s->guests[i].uuid, uuid) == 0)
                        return &s->guests[i];
        return NULL;
}
