/* numa-controller: the NUMA planner (see numa-controller.h). */
#include "density/numa-controller.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "density/class.h"
#include "density/cpulist.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)
#define NUMA_BOOK_VERSION 1
#define NUMA_CPUS_MAX 8192 /* CPU numbers a node's cpulist may name */

typedef struct NumaState {
        NumaPlace *places;
        size_t n, allocated;
        bool changed;
        bool unreadable;       /* the book could not be read: never overwritten */
        uint64_t moves_total;
        ControllerStatus status;
} NumaState;

/* A node guests may live on, with what this plan has given it so far. */
typedef struct Home {
        const NumaNode *node;
        size_t index;          /* in the snapshot's nodes[] (distances are by index) */
        size_t n_cpus;
        int64_t free_bytes;    /* projected: what placements planned now take or give */
} Home;

/* One guest this plan may act on. */
typedef struct Tenant {
        const GuestSample *g;
        const PolicyClass *c;
        NumaPlace *place;      /* its place in the book, NULL if none */
        uint64_t bytes;        /* the memory it holds */
} Tenant;

static void *numa_state_new(void) {
        NumaState *st = calloc(1, sizeof(NumaState));
        if (st)
                strscpy(st->status.state, sizeof(st->status.state), "starting");
        return st;
}

static void numa_state_free(void *state) {
        NumaState *st = state;
        if (!st)
                return;
        free(st->places);
        free(st);
}

void numa_controller_report(const void *state, NumaReport *ret) {
        const NumaState *st = state;
        *ret = (NumaReport) { .n_places = st->n, .places = st->places, .moves_total = st->moves_total };
}

double numa_local_fraction(const GuestSample *g, int node) {
        uint64_t all = 0, here = 0;
        for (size_t i = 0; i < g->n_nodes; i++) {
                all += g->nodes[i].bytes;
                if (g->nodes[i].node == node)
                        here += g->nodes[i].bytes;
        }
        return all ? (double) here / (double) all : -1.0;
}

static NumaPlace *numa_place_find(NumaState *st, const char *uuid) {
        for (size_t i = 0; i < st->n; i++)
                if (strcmp(st->places[i].uuid, uuid) == 0)
                        return &st->places[i];
        return NULL;
}

/* Add a place (the array may move: earlier pointers into it are stale).
 * Return: the index, or -ENOMEM. */
static ssize_t numa_place_add(NumaState *st, const GuestSample *g) {
        if (st->n == st->allocated) {
                size_t n = st->allocated ? st->allocated * 2 : 16;
                NumaPlace *x = realloc(st->places, n * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                st->places = x;
                st->allocated = n;
        }
        NumaPlace *p = &st->places[st->n];
        *p = (NumaPlace) { .node = -1 };
        strscpy(p->uuid, sizeof(p->uuid), g->uuid);
        strscpy(p->name, sizeof(p->name), g->name);
        return (ssize_t) st->n++;
}

/* The memory a guest holds: its cgroup's per-node figures, else its RSS,
 * else its maximum (what it may come to hold). */
static uint64_t tenant_bytes(const GuestSample *g) {
        uint64_t b = 0;
        for (size_t i = 0; i < g->n_nodes; i++)
                b += g->nodes[i].bytes;
        if (b == 0 && g->has_rss)
                b = g->rss_bytes;
        return b ? b : g->facts.max_memory_bytes;
}

static uint64_t tenant_bytes_on(const GuestSample *g, int node) {
        for (size_t i = 0; i < g->n_nodes; i++)
                if (g->nodes[i].node == node)
                        return g->nodes[i].bytes;
        return 0;
}

/* The node holding most of a guest's memory, or -1. */
static int tenant_main_node(const GuestSample *g) {
        int best = -1;
        uint64_t most = 0;
        for (size_t i = 0; i < g->n_nodes; i++)
                if (g->nodes[i].bytes > most) {
                        most = g->nodes[i].bytes;
                        best = g->nodes[i].node;
                }
        return best;
}

static Home *home_of(Home *homes, size_t n, int node) {
        for (size_t i = 0; i < n; i++)
                if (homes[i].node->id == node)
                        return &homes[i];
        return NULL;
}

static unsigned distance_between(const Snapshot *s, const Home *h, int from_node) {
        if (from_node < 0)
                return 0;
        for (size_t i = 0; i < s->host.numa.n_nodes; i++)
                if (s->host.numa.nodes[i].id == from_node)
                        return i < h->node->n_distances ? h->node->distance[i] : 0;
        return 0;
}

/* Guests of a class with a home on a node, in the book. */
static size_t class_on(const Tenant *t, size_t n, const char *class_name, int node) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (t[i].place && t[i].place->node == node && strcmp(t[i].c->name, class_name) == 0)
                        k++;
        return k;
}

static bool ksm_merges_across_nodes(const Snapshot *s) {
        int64_t v;
        return ksm_sample_get(&s->host.ksm, "merge_across_nodes", &v) < 0 || v != 0;
}

/* Why densityd must not place a guest, or NULL. */
static const char *numa_refusal(const GuestSample *g, const PolicyClass *c, bool ours) {
        const uint32_t busy = 1u << ACTION_PIN_VCPU | 1u << ACTION_PIN_EMULATOR | 1u << ACTION_PIN_MEMORY |
                              1u << ACTION_SAVE | 1u << ACTION_RESTORE | 1u << ACTION_DESTROY;
        if (!g->facts.known)
                return "its domain XML is not read yet";
        if (!c->numa)
                return "its class says Numa=no";
        if (!ours && (g->facts.vcpu_pinned || g->facts.emulator_pinned || g->facts.numatune))
                return "pinned by hand";
        if (g->facts.vcpus == 0)
                return "its vCPU count is unknown";
        if (g->actions_in_flight & busy)
                return "an action is under way for it";
        return NULL;
}

/* Plan the pins that put a guest on a home. */
static int numa_pin(const Tenant *t, const Home *h, const Policy *p, Plan *plan, const char *why) {
        const GuestSample *g = t->g;
        char reason[2 * ACTION_REASON_MAX]; /* the actions keep what fits */
        bool preferred = p->numa.memory_mode == NUMA_MEMORY_PREFERRED;
        snprintf(reason, sizeof(reason), "%s: node %d (CPUs %s, %.0f MiB free), memory %s there", why, h->node->id,
                 h->node->cpulist, (double) h->node->mem_free_bytes / MIB,
                 preferred ? "preferred" : "strictly");
        for (unsigned v = 0; v < g->facts.vcpus; v++) {
                Action a = action_pin_vcpu(numa_controller.name, g, v, h->node->cpulist, "%s", reason);
                int r = plan_add(plan, &a);
                if (r < 0)
                        return r;
        }
        Action e = action_pin_emulator(numa_controller.name, g, h->node->cpulist, "%s", reason);
        int r = plan_add(plan, &e);
        if (r < 0)
                return r;
        char nodeset[16];
        snprintf(nodeset, sizeof(nodeset), "%d", h->node->id);
        Action m = action_pin_memory(numa_controller.name, g, numa_memory_mode_name(p->numa.memory_mode), nodeset, "%s",
                                     reason);
        return plan_add(plan, &m);
}

static void numa_book(NumaState *st, NumaPlace *place, const Home *h, uint64_t now) {
        place->node = h->node->id;
        strscpy(place->cpulist, sizeof(place->cpulist), h->node->cpulist);
        place->since_usec = now;
        st->changed = true;
}

/* The best home for a guest without one, or NULL (ret_why says why). */
static Home *numa_choose(const Snapshot *s, Home *homes, size_t n_homes, const Tenant *all, size_t n_all,
                         const Tenant *t, bool group, const char **ret_why) {
        Home *best = NULL;
        size_t best_group = 0;
        uint64_t best_here = 0;
        int main_node = tenant_main_node(t->g);
        bool cpus = false;
        for (size_t i = 0; i < n_homes; i++) {
                Home *h = &homes[i];
                if (h->n_cpus < t->g->facts.vcpus)
                        continue;
                cpus = true;
                uint64_t here = tenant_bytes_on(t->g, h->node->id);
                int64_t need = (int64_t) (t->bytes > here ? t->bytes - here : 0);
                if (h->free_bytes < need)
                        continue;
                size_t grp = group ? class_on(all, n_all, t->c->name, h->node->id) : 0;
                bool better;
                if (!best)
                        better = true;
                else if (grp != best_group)
                        better = grp > best_group;
                else if (here != best_here)
                        better = here > best_here;
                else if (h->free_bytes != best->free_bytes)
                        better = h->free_bytes > best->free_bytes;
                else
                        better = distance_between(s, h, main_node) < distance_between(s, best, main_node);
                if (better) {
                        best = h;
                        best_group = grp;
                        best_here = here;
                }
        }
        if (!best)
                *ret_why = cpus ? "its memory fits no single node" : "no node has CPUs for all its vCPUs";
        return best;
}

static int tenant_size_cmp(const void *a, const void *b) {
        const Tenant *x = a, *y = b;
        if (x->bytes != y->bytes)
                return x->bytes > y->bytes ? -1 : 1;
        return strcmp(x->g->name, y->g->name);
}

static double free_share(const Home *h) {
        return h->node->mem_total_bytes ? 100.0 * (double) h->free_bytes / (double) h->node->mem_total_bytes : 0;
}

/* One move that narrows the gap between the fullest and the emptiest
 * node, if any. Return: 1 (planned), 0 (none), or -ENOMEM. */
static int numa_balance_once(NumaState *st, const Snapshot *s, const Policy *p, Home *homes, size_t n_homes,
                             Tenant *t, size_t n, bool group, Plan *plan) {
        Home *full = NULL, *empty = NULL;
        for (size_t i = 0; i < n_homes; i++) {
                if (!full || free_share(&homes[i]) < free_share(full))
                        full = &homes[i];
                if (!empty || free_share(&homes[i]) > free_share(empty))
                        empty = &homes[i];
        }
        double gap = free_share(empty) - free_share(full);
        if (full == empty || gap <= p->numa.balance_tolerance_percent)
                return 0;
        uint64_t now = s->timestamp_usec;
        Tenant *pick = NULL;
        double pick_gap = gap;
        size_t pick_group = 0;
        for (size_t i = 0; i < n; i++) {
                Tenant *x = &t[i];
                if (!x->place || x->place->node != full->node->id ||
                    usec_since(now, x->place->since_usec) < p->numa.dwell_usec || empty->n_cpus < x->g->facts.vcpus ||
                    empty->free_bytes < (int64_t) x->bytes)
                        continue;
                Home a = *empty, b = *full;
                a.free_bytes -= (int64_t) x->bytes;
                b.free_bytes += (int64_t) x->bytes;
                double after = free_share(&a) - free_share(&b);
                if (after < 0)
                        after = -after;
                size_t grp = group ? class_on(t, n, x->c->name, empty->node->id) : 0;
                if (after < pick_gap - 0.01 && (!pick || grp > pick_group || (grp == pick_group && after < pick_gap))) {
                        pick = x;
                        pick_gap = after;
                        pick_group = grp;
                }
        }
        if (!pick)
                return 0;
        char why[160];
        snprintf(why, sizeof(why), "moved from node %d (%.0f%% free) to even out the nodes (%.0f%% free; gap %.0f%%, "
                                   "BalanceTolerance=%g%%)",
                 full->node->id, free_share(full), free_share(empty), gap, p->numa.balance_tolerance_percent);
        int r = numa_pin(pick, empty, p, plan, why);
        if (r < 0)
                return r;
        empty->free_bytes -= (int64_t) pick->bytes;
        full->free_bytes += (int64_t) pick->bytes;
        numa_book(st, pick->place, empty, now);
        st->moves_total++;
        return 1;
}

static int numa_plan(const Snapshot *s, const Policy *p, void *state, Plan *plan) {
        NumaState *st = state;
        uint64_t now = s->timestamp_usec;
        if (!p->numa.enable) {
                controller_status_set(&st->status, "off", now, "Enable=no: no guest is placed");
                return 0;
        }
        if (!s->hypervisor_connected) {
                controller_status_set(&st->status, "held", now, "hypervisor unreachable: guests unknown, nothing placed");
                return 0;
        }
        /* Homes: nodes with memory and CPUs. */
        Home homes[DENSITY_MAX_NODES];
        size_t n_homes = 0;
        for (size_t i = 0; i < s->host.numa.n_nodes; i++) {
                const NumaNode *node = &s->host.numa.nodes[i];
                uint8_t map[CPULIST_MAP_BYTES(NUMA_CPUS_MAX)];
                size_t n_cpus = 0;
                if (node->mem_total_bytes == 0 || cpulist_parse(node->cpulist, map, NUMA_CPUS_MAX, &n_cpus) < 0 ||
                    n_cpus == 0)
                        continue;
                homes[n_homes++] = (Home) { .node = node, .index = i, .n_cpus = n_cpus,
                                            .free_bytes = (int64_t) node->mem_free_bytes };
        }
        if (n_homes == 0) {
                controller_status_set(&st->status, "held", now, "no NUMA node with both memory and CPUs is known");
                return 0;
        }
        if (n_homes == 1 && !p->numa.single_node) {
                controller_status_set(&st->status, "single-node", now,
                                      "one NUMA node (%d): nothing to place (SingleNode=no)", homes[0].node->id);
                return 0;
        }

        /* The book follows the guests: one gone leaves it. */
        for (size_t i = 0; i < st->n; i++)
                st->places[i].seen = false;
        for (size_t i = 0; i < s->n_guests; i++) {
                NumaPlace *pl = numa_place_find(st, s->guests[i].uuid);
                if (pl)
                        pl->seen = true;
        }
        size_t k = 0;
        for (size_t i = 0; i < st->n; i++)
                if (st->places[i].seen)
                        st->places[k++] = st->places[i];
        if (k != st->n)
                st->changed = true;
        st->n = k;
        /* Room for a place per guest: pointers into the book then hold. */
        if (st->allocated < st->n + s->n_guests) {
                NumaPlace *x = realloc(st->places, (st->n + s->n_guests) * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                st->places = x;
                st->allocated = st->n + s->n_guests;
        }

        _cleanup_free_ Tenant *t = calloc(s->n_guests ? s->n_guests : 1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        size_t n = 0, left = 0, placed = 0, moved = 0, unfit = 0;
        char unfit_why[128] = "";
        for (size_t i = 0; i < s->n_guests; i++) {
                const GuestSample *g = &s->guests[i];
                const PolicyClass *c = class_of(p, g);
                NumaPlace *pl = numa_place_find(st, g->uuid);
                if (pl && !home_of(homes, n_homes, pl->node)) {
                        pl->node = -1; /* its node is gone: place it again */
                        st->changed = true;
                }
                if (numa_refusal(g, c, pl != NULL)) {
                        left++;
                        continue;
                }
                t[n++] = (Tenant) { .g = g, .c = c, .place = pl && pl->node >= 0 ? pl : NULL, .bytes = tenant_bytes(g) };
        }
        qsort(t, n, sizeof(*t), tenant_size_cmp);
        bool group = !ksm_merges_across_nodes(s);

        /* 1. A home for each guest without one, largest first. */
        for (size_t i = 0; i < n; i++) {
                if (t[i].place)
                        continue;
                const char *why = NULL;
                Home *h = numa_choose(s, homes, n_homes, t, n, &t[i], group, &why);
                if (!h) {
                        unfit++;
                        snprintf(unfit_why, sizeof(unfit_why), "%.64s: %s", t[i].g->name, why);
                        continue;
                }
                char reason[128];
                snprintf(reason, sizeof(reason), "placed%s", group ? " (KSM merges within a node only)" : "");
                int r = numa_pin(&t[i], h, p, plan, reason);
                if (r < 0)
                        return r;
                uint64_t here = tenant_bytes_on(t[i].g, h->node->id);
                h->free_bytes -= (int64_t) (t[i].bytes > here ? t[i].bytes - here : 0);
                NumaPlace *pl = numa_place_find(st, t[i].g->uuid);
                if (!pl) {
                        ssize_t idx = numa_place_add(st, t[i].g);
                        if (idx < 0)
                                return (int) idx;
                        pl = &st->places[idx];
                }
                numa_book(st, pl, h, now);
                t[i].place = pl;
                placed++;
        }

        /* 2. Balance, a few moves at most. */
        for (unsigned m = 0; m < p->numa.max_moves_per_tick; m++) {
                int r = numa_balance_once(st, s, p, homes, n_homes, t, n, group, plan);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                moved++;
        }

        double lo = 100, hi = 0;
        for (size_t i = 0; i < n_homes; i++) {
                double f = free_share(&homes[i]);
                lo = f < lo ? f : lo;
                hi = f > hi ? f : hi;
        }
        const char *word = placed ? "placing" : moved ? "moving" : "steady";
        controller_status_set(&st->status, word, now,
                              "%zu node%s; %zu guest%s placed, %zu placed now, %zu moved now, %zu left alone%s%s%s; free "
                              "memory %.0f%%..%.0f%% of each node",
                              n_homes, n_homes == 1 ? "" : "s", st->n, st->n == 1 ? "" : "s", placed, moved, left,
                              unfit ? "; fits nowhere: " : "", unfit_why, unfit > 1 ? " (and others)" : "", lo, hi);
        return 0;
}

static void numa_status(const void *state, ControllerStatus *ret) {
        const NumaState *st = state;
        *ret = st->status;
}

/* ---------------------------------------------------------------- the book */

int numa_book_parse(const char *text, NumaPlace **ret, size_t *ret_n, char *err, size_t err_size) {
        json_object *o = json_tokener_parse(text);
        json_object *v, *guests;
        if (!o || !json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != NUMA_BOOK_VERSION ||
            !json_object_object_get_ex(o, "guests", &guests) || !json_object_is_type(guests, json_type_array)) {
                json_object_put(o);
                snprintf(err, err_size, "not a version %d book of NUMA placements", NUMA_BOOK_VERSION);
                return -EINVAL;
        }
        size_t n = json_object_array_length(guests);
        NumaPlace *places = calloc(n ? n : 1, sizeof(*places));
        if (!places) {
                json_object_put(o);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(guests, i), *u, *nm, *nd, *cl, *sn;
                if (!json_object_object_get_ex(e, "uuid", &u) || !json_object_object_get_ex(e, "name", &nm) ||
                    !json_object_object_get_ex(e, "node", &nd) || !json_object_object_get_ex(e, "cpulist", &cl) ||
                    !json_object_object_get_ex(e, "since", &sn) || !json_object_is_type(nd, json_type_int) ||
                    !json_object_is_type(sn, json_type_int) || !json_object_is_type(u, json_type_string) ||
                    !json_object_is_type(nm, json_type_string) || !json_object_is_type(cl, json_type_string) ||
                    json_object_get_int(nd) < 0 || json_object_get_int(nd) >= 4096 ||
                    strlen(json_object_get_string(u)) != DENSITY_UUID_LEN - 1) {
                        snprintf(err, err_size, "guests[%zu]: not a placement", i);
                        free(places);
                        json_object_put(o);
                        return -EINVAL;
                }
                strscpy(places[i].uuid, sizeof(places[i].uuid), json_object_get_string(u));
                strscpy(places[i].name, sizeof(places[i].name), json_object_get_string(nm));
                places[i].node = json_object_get_int(nd);
                strscpy(places[i].cpulist, sizeof(places[i].cpulist), json_object_get_string(cl));
                places[i].since_usec = (uint64_t) json_object_get_int64(sn);
        }
        json_object_put(o);
        *ret = places;
        *ret_n = n;
        return 0;
}

static int numa_state_load(void *state, const char *dir, char *err, size_t err_size) {
        NumaState *st = state;
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(dir, NUMA_BOOK_FILE, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                st->unreadable = true;
                snprintf(err, err_size, "cannot read %s/%s: %s; left as it is: the pins it lists count as set by hand",
                         dir, NUMA_BOOK_FILE, strerror(-r));
                return r;
        }
        char why[160];
        NumaPlace *places = NULL;
        size_t n = 0;
        r = numa_book_parse(text, &places, &n, why, sizeof(why));
        if (r == 0) {
                free(st->places);
                st->places = places;
                st->n = n;
                st->allocated = n ? n : 1;
        } else if (r == -EINVAL) {
                snprintf(err, err_size, "%s/%s: %s; started afresh: the pins it listed count as set by hand", dir,
                         NUMA_BOOK_FILE, why);
                st->changed = true; /* overwritten by the next store */
        }
        return r;
}

static int numa_state_store(void *state, const char *dir, char *err, size_t err_size) {
        NumaState *st = state;
        if (!st->changed || st->unreadable)
                return 0;
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        json_object_object_add(o, "version", json_object_new_int(NUMA_BOOK_VERSION));
        for (size_t i = 0; i < st->n; i++) {
                const NumaPlace *pl = &st->places[i];
                if (pl->node < 0)
                        continue;
                json_object *e = json_object_new_object();
                json_object_object_add(e, "uuid", json_object_new_string(pl->uuid));
                json_object_object_add(e, "name", json_object_new_string(pl->name));
                json_object_object_add(e, "node", json_object_new_int(pl->node));
                json_object_object_add(e, "cpulist", json_object_new_string(pl->cpulist));
                json_object_object_add(e, "since", json_object_new_int64((int64_t) pl->since_usec));
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "guests", a);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        char path[PATH_MAX];
        int r = mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
        if (r == 0)
                r = path_join(path, sizeof(path), dir, NUMA_BOOK_FILE);
        if (r == 0)
                r = text ? write_file_durable(path, text, strlen(text), 0600) : -ENOMEM;
        json_object_put(o);
        if (r < 0) {
                snprintf(err, err_size, "cannot write %s/%s: %s", dir, NUMA_BOOK_FILE, strerror(-r));
                return r;
        }
        st->changed = false;
        return 0;
}

const Controller numa_controller = {
        .name = "numa",
        .state_new = numa_state_new,
        .state_free = numa_state_free,
        .plan = numa_plan,
        .status = numa_status,
        .state_load = numa_state_load,
        .state_store = numa_state_store,
};
