/* shed: the pure parts of shedding and restoring guests (see shed.h). */
#include "density/shed.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "density/class.h"
#include "density/plan.h"
#include "density/meminfo.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)

static const char *const stage_names[_SHED_STAGE_MAX] = {
        [SHED_STAGE_SHEDDING] = "shedding",
        [SHED_STAGE_SHED] = "shed",
        [SHED_STAGE_RESTORING] = "restoring",
};

const char *shed_stage_name(ShedStage s) {
        return (unsigned) s < _SHED_STAGE_MAX ? stage_names[s] : "?";
}

const char *shed_level_name(ShedLevel l) {
        static const char *const names[] = {
                [SHED_LEVEL_UNKNOWN] = "unknown",
                [SHED_LEVEL_SHORT] = "short",
                [SHED_LEVEL_TIGHT] = "tight",
                [SHED_LEVEL_ROOMY] = "roomy",
        };
        return (unsigned) l < ELEMENTSOF(names) ? names[l] : "?";
}

void shed_book_clear(ShedBook *b) {
        if (!b)
                return;
        free(b->entries);
        *b = (ShedBook) {};
}

ShedEntry *shed_book_find(const ShedBook *b, const char *uuid) {
        for (size_t i = 0; i < b->n; i++)
                if (strcmp(b->entries[i].uuid, uuid) == 0)
                        return &b->entries[i];
        return NULL;
}

int shed_book_put(ShedBook *b, const ShedEntry *e) {
        ShedEntry *old = shed_book_find(b, e->uuid);
        if (old) {
                *old = *e;
                return 0;
        }
        if (b->n == b->allocated) {
                size_t n = b->allocated ? b->allocated * 2 : 16;
                ShedEntry *x = reallocarray(b->entries, n, sizeof(*x));
                if (!x)
                        return -ENOMEM;
                b->entries = x;
                b->allocated = n;
        }
        b->entries[b->n++] = *e;
        return 0;
}

int shed_book_remove(ShedBook *b, const char *uuid) {
        ShedEntry *e = shed_book_find(b, uuid);
        if (!e)
                return -ENOENT;
        size_t i = (size_t) (e - b->entries);
        memmove(e, e + 1, (b->n - i - 1) * sizeof(*e));
        b->n--;
        return 0;
}

static json_object *json_u64(uint64_t v) {
        return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t) v);
}

int shed_book_format(const ShedBook *b, char **ret) {
        json_object *root = json_object_new_object(), *guests = json_object_new_array();
        if (!root || !guests) {
                json_object_put(root);
                json_object_put(guests);
                return -ENOMEM;
        }
        json_object_object_add(root, "version", json_object_new_int(SHED_BOOK_VERSION));
        json_object_object_add(root, "guests", guests);
        for (size_t i = 0; i < b->n; i++) {
                const ShedEntry *e = &b->entries[i];
                json_object *o = json_object_new_object();
                if (!o || json_object_array_add(guests, o) < 0) {
                        json_object_put(o);
                        json_object_put(root);
                        return -ENOMEM;
                }
                json_object_object_add(o, "uuid", json_object_new_string(e->uuid));
                json_object_object_add(o, "name", json_object_new_string(e->name));
                json_object_object_add(o, "class", json_object_new_string(e->class_name));
                json_object_object_add(o, "priority", json_object_new_int((int) e->priority));
                json_object_object_add(o, "action", json_object_new_string(shed_mode_name(e->action)));
                json_object_object_add(o, "stage", json_object_new_string(shed_stage_name(e->stage)));
                json_object_object_add(o, "bytes", json_u64(e->bytes));
                json_object_object_add(o, "since_usec", json_u64(e->since_usec));
                json_object_object_add(o, "stage_usec", json_u64(e->stage_usec));
                json_object_object_add(o, "failures", json_object_new_int64(e->failures));
                json_object_object_add(o, "by_hand", json_object_new_boolean(e->by_hand));
                json_object_object_add(o, "reason", json_object_new_string(e->reason));
        }
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy = text ? strdup(text) : NULL;
        json_object_put(root);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* A string member that fits dst and is not empty. */
static int member_string(json_object *o, const char *key, char *dst, size_t size, const char *where, char *err,
                         size_t err_size) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
                snprintf(err, err_size, "%s.%s: missing, or not a string", where, key);
                return -EINVAL;
        }
        const char *s = json_object_get_string(v);
        if (s[0] == '\0' || strlen(s) >= size) {
                snprintf(err, err_size, "%s.%s: empty, or longer than %zu characters", where, key, size - 1);
                return -EINVAL;
        }
        strscpy(dst, size, s);
        return 0;
}

static int member_u64(json_object *o, const char *key, uint64_t max, uint64_t *ret, const char *where, char *err,
                      size_t err_size) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
                snprintf(err, err_size, "%s.%s: missing, or not an integer", where, key);
                return -EINVAL;
        }
        int64_t x = json_object_get_int64(v);
        if (x < 0 || (uint64_t) x > max) {
                snprintf(err, err_size, "%s.%s: %lld is out of range 0..%llu", where, key, (long long) x,
                         (unsigned long long) max);
                return -EINVAL;
        }
        *ret = (uint64_t) x;
        return 0;
}

static int parse_entry(json_object *o, const char *where, ShedEntry *e, char *err, size_t err_size) {
        char word[32];
        uint64_t v;
        int r;
        *e = (ShedEntry) {};
        if (!json_object_is_type(o, json_type_object)) {
                snprintf(err, err_size, "%s: not an object", where);
                return -EINVAL;
        }
        if ((r = member_string(o, "uuid", e->uuid, sizeof(e->uuid), where, err, err_size)) < 0 ||
            (r = member_string(o, "name", e->name, sizeof(e->name), where, err, err_size)) < 0 ||
            (r = member_string(o, "class", e->class_name, sizeof(e->class_name), where, err, err_size)) < 0)
                return r;
        if ((r = member_u64(o, "priority", 100, &v, where, err, err_size)) < 0)
                return r;
        e->priority = (unsigned) v;
        if ((r = member_string(o, "action", word, sizeof(word), where, err, err_size)) < 0)
                return r;
        if (shed_mode_from_name(word, &e->action) < 0 || e->action == SHED_NEVER) {
                snprintf(err, err_size, "%s.action: '%s' is not save or destroy", where, word);
                return -EINVAL;
        }
        if ((r = member_string(o, "stage", word, sizeof(word), where, err, err_size)) < 0)
                return r;
        size_t i;
        for (i = 0; i < _SHED_STAGE_MAX; i++)
                if (strcmp(word, stage_names[i]) == 0)
                        break;
        if (i == _SHED_STAGE_MAX) {
                snprintf(err, err_size, "%s.stage: unknown stage '%s'", where, word);
                return -EINVAL;
        }
        e->stage = (ShedStage) i;
        if ((r = member_u64(o, "bytes", INT64_MAX, &e->bytes, where, err, err_size)) < 0 ||
            (r = member_u64(o, "since_usec", INT64_MAX, &e->since_usec, where, err, err_size)) < 0)
                return r;
        /* Optional: the stage began when the guest was shed; no failures. */
        e->stage_usec = e->since_usec;
        if (json_object_object_get_ex(o, "stage_usec", NULL) &&
            (r = member_u64(o, "stage_usec", INT64_MAX, &e->stage_usec, where, err, err_size)) < 0)
                return r;
        if (json_object_object_get_ex(o, "failures", NULL)) {
                if ((r = member_u64(o, "failures", UINT_MAX, &v, where, err, err_size)) < 0)
                        return r;
                e->failures = (unsigned) v;
        }
        json_object *by_hand;
        if (json_object_object_get_ex(o, "by_hand", &by_hand)) {
                if (!json_object_is_type(by_hand, json_type_boolean)) {
                        snprintf(err, err_size, "%s.by_hand: not a boolean", where);
                        return -EINVAL;
                }
                e->by_hand = json_object_get_boolean(by_hand);
        }
        json_object *reason;
        if (json_object_object_get_ex(o, "reason", &reason) && json_object_is_type(reason, json_type_string))
                strscpy(e->reason, sizeof(e->reason), json_object_get_string(reason));
        return 0;
}

int shed_book_parse(const char *text, ShedBook *ret, char *err, size_t err_size) {
        ShedBook b = {};
        int r = 0;
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *root = json_tokener_parse_ex(tok, text, (int) strnlen(text, INT_MAX));
        if (!root || json_tokener_get_error(tok) != json_tokener_success) {
                snprintf(err, err_size, "not JSON: %s", json_tokener_error_desc(json_tokener_get_error(tok)));
                r = -EINVAL;
                goto out;
        }
        json_object *version, *guests;
        if (!json_object_object_get_ex(root, "version", &version) || !json_object_is_type(version, json_type_int) ||
            json_object_get_int(version) != SHED_BOOK_VERSION) {
                snprintf(err, err_size, "version: not %d", SHED_BOOK_VERSION);
                r = -EINVAL;
                goto out;
        }
        if (!json_object_object_get_ex(root, "guests", &guests) || !json_object_is_type(guests, json_type_array)) {
                snprintf(err, err_size, "guests: missing, or not an array");
                r = -EINVAL;
                goto out;
        }
        for (size_t i = 0; i < json_object_array_length(guests); i++) {
                char where[32];
                ShedEntry e;
                snprintf(where, sizeof(where), "guests[%zu]", i);
                r = parse_entry(json_object_array_get_idx(guests, i), where, &e, err, err_size);
                if (r < 0)
                        goto out;
                if (shed_book_find(&b, e.uuid)) {
                        snprintf(err, err_size, "%s.uuid: %s is listed twice", where, e.uuid);
                        r = -EINVAL;
                        goto out;
                }
                r = shed_book_put(&b, &e);
                if (r < 0)
                        goto out;
        }
        *ret = b;
        b = (ShedBook) {};
out:
        shed_book_clear(&b);
        json_object_put(root);
        json_tokener_free(tok);
        return r;
}

int shed_book_store(const char *dir, const ShedBook *b) {
        char path[PATH_MAX];
        int r = path_join(path, sizeof(path), dir, SHED_BOOK_FILE);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        r = shed_book_format(b, &text);
        if (r < 0)
                return r;
        return write_file_durable(path, text, strlen(text), 0600);
}

int shed_book_load(const char *dir, ShedBook *ret, char *err, size_t err_size) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_file_at(dir, SHED_BOOK_FILE, &text, &len);
        if (r < 0)
                return r;
        char why[200] = "";
        r = shed_book_parse(text, ret, why, sizeof(why));
        if (r == -EINVAL)
                snprintf(err, err_size, "%s/%s: %s", dir, SHED_BOOK_FILE, why);
        return r;
}

/* What a size key means on this host: a percent is of MemTotal. */
static uint64_t host_size(const PolicySize *s, const HostSample *h) {
        return policy_size_bytes(s, h->mem.mem_total_bytes);
}

void shed_pressure(const HostSample *h, const PolicyShed *p, ShedPressure *ret) {
        ShedPressure x = { .level = SHED_LEVEL_UNKNOWN };
        const MeminfoSample *m = &h->mem;
        if (m->mem_total_bytes == 0) {
                snprintf(x.reason, sizeof(x.reason), "host memory unknown (no MemTotal)");
                *ret = x;
                return;
        }
        x.mem_available_bytes = meminfo_available_bytes(m);
        x.shed_below_bytes = host_size(&p->mem_available_below, h);
        x.restore_above_bytes = host_size(&p->restore_above, h);
        const CgroupSample *cg = &h->cgroup;
        bool limited = cg->version > 0 && cg->has_limit && cg->limit_bytes > 0;
        double cg_percent = limited ? 100.0 * (double) cg->usage_bytes / (double) cg->limit_bytes : 0;
        double full = h->psi.has_full ? h->psi.full.avg10 : 0;

        if (x.mem_available_bytes < x.shed_below_bytes) {
                x.level = SHED_LEVEL_SHORT;
                snprintf(x.reason, sizeof(x.reason), "MemAvailable%s %.0f MiB is below MemAvailableBelow= (%.0f MiB)",
                         m->has_zfs_arc ? " (with the ZFS ARC above its minimum)" : "",
                         (double) x.mem_available_bytes / MIB, (double) x.shed_below_bytes / MIB);
        } else if (limited && cg_percent > p->cgroup_usage_above_percent) {
                x.level = SHED_LEVEL_SHORT;
                snprintf(x.reason, sizeof(x.reason),
                         "the VMs' cgroup uses %.1f%% of its %.0f MiB limit, above CgroupUsageAbove=%.3g%%", cg_percent,
                         (double) cg->limit_bytes / MIB, p->cgroup_usage_above_percent);
        } else if (h->psi.has_full && full > p->psi_full_above_percent) {
                x.level = SHED_LEVEL_SHORT;
                snprintf(x.reason, sizeof(x.reason), "memory full stalls at %.1f%% (avg10), above PsiFullAbove=%.3g%%",
                         full, p->psi_full_above_percent);
        } else if (x.mem_available_bytes >= x.restore_above_bytes &&
                   (!limited || cg_percent <= p->cgroup_restore_below_percent) &&
                   full < p->psi_full_above_percent / 2) {
                x.level = SHED_LEVEL_ROOMY;
                snprintf(x.reason, sizeof(x.reason), "MemAvailable %.0f MiB is at least RestoreAbove= (%.0f MiB)",
                         (double) x.mem_available_bytes / MIB, (double) x.restore_above_bytes / MIB);
        } else {
                x.level = SHED_LEVEL_TIGHT;
                snprintf(x.reason, sizeof(x.reason),
                         "MemAvailable %.0f MiB: between MemAvailableBelow= (%.0f MiB) and RestoreAbove= (%.0f MiB)",
                         (double) x.mem_available_bytes / MIB, (double) x.shed_below_bytes / MIB,
                         (double) x.restore_above_bytes / MIB);
        }
        *ret = x;
}

uint64_t shed_guest_bytes(const GuestSample *g) {
        uint64_t sum = 0;
        for (size_t i = 0; i < g->n_nodes; i++)
                sum += g->nodes[i].bytes;
        if (g->n_nodes > 0 && sum > 0)
                return sum;
        return g->has_rss ? g->rss_bytes : 0;
}

uint64_t shed_frees_bytes(const GuestSample *g) {
        uint64_t held = shed_guest_bytes(g), merged = g->has_ksm ? g->ksm_merging_bytes : 0;
        return held > merged ? held - merged : 0;
}

const char *shed_refusal(const GuestSample *g, const Policy *p) {
        const PolicyClass *c = class_of(p, g);
        const uint32_t busy = 1u << ACTION_SAVE | 1u << ACTION_RESTORE | 1u << ACTION_DESTROY;
        if (c->shed == SHED_NEVER)
                return "its class says Shed=never";
        if (!g->facts.known)
                return "its domain XML is not read yet";
        if (c->shed == SHED_SAVE && !g->facts.persistent)
                return "transient: a managed save needs a defined domain";
        if (!g->has_rss)
                return "its memory use is unknown";
        if (g->actions_in_flight & busy)
                return "a save, restore or destroy is under way";
        return NULL;
}

bool shed_save_fits(const HostSample *h, const GuestSample *g, ShedMode action) {
        if (action != SHED_SAVE || !h->has_save_free)
                return true;
        double need = (double) shed_guest_bytes(g) * 1.05 + 64.0 * MIB;
        return (double) h->save_free_bytes >= need;
}

uint64_t shed_headroom_bytes(const HostSample *h, const PolicyShed *p) {
        uint64_t below = host_size(&p->mem_available_below, h);
        uint64_t avail = meminfo_available_bytes(&h->mem);
        uint64_t room = avail > below ? avail - below : 0;
        const CgroupSample *cg = &h->cgroup;
        if (cg->version > 0 && cg->has_limit && cg->limit_bytes > 0) {
                double edge = (double) cg->limit_bytes * p->cgroup_usage_above_percent / 100.0;
                uint64_t cg_room = (double) cg->usage_bytes < edge ? (uint64_t) (edge - (double) cg->usage_bytes) : 0;
                if (cg_room < room)
                        room = cg_room;
        }
        return room;
}

uint64_t shed_check_interval_usec(uint64_t headroom_bytes, double fill_bytes_per_sec, uint64_t max_usec) {
        double usec = fill_bytes_per_sec > 0 ? (double) headroom_bytes / fill_bytes_per_sec * 1e6 / 2 : (double) max_usec;
        if (usec > (double) max_usec)
                usec = (double) max_usec;
        if (usec < (double) SHED_CHECK_MIN_USEC)
                usec = (double) SHED_CHECK_MIN_USEC;
        return (uint64_t) usec;
}

typedef struct RankCtx {
        const Snapshot *s;
        const Policy *p;
} RankCtx;

/* qsort_r: lowest priority, then most freed, then by name. */
static int rank_cmp(const void *a, const void *b, void *userdata) {
        const RankCtx *ctx = userdata;
        const GuestSample *x = &ctx->s->guests[*(const size_t *) a], *y = &ctx->s->guests[*(const size_t *) b];
        unsigned px = class_of(ctx->p, x)->priority, py = class_of(ctx->p, y)->priority;
        if (px != py)
                return px < py ? -1 : 1;
        uint64_t fx = shed_frees_bytes(x), fy = shed_frees_bytes(y);
        if (fx != fy)
                return fx > fy ? -1 : 1;
        return strcmp(x->name, y->name);
}

size_t shed_rank(const Snapshot *s, const Policy *p, size_t *order, size_t max) {
        _cleanup_free_ size_t *all = calloc(s->n_guests ? s->n_guests : 1, sizeof(*all));
        size_t n = 0;
        for (size_t i = 0; i < s->n_guests; i++) {
                if (shed_refusal(&s->guests[i], p))
                        continue;
                if (all)
                        all[n] = i;
                n++;
        }
        if (!all) {
                /* No memory for the sort: the first sheddable guests, unranked,
                 * is still better than none. */
                size_t k = 0;
                for (size_t i = 0; i < s->n_guests && k < max; i++)
                        if (!shed_refusal(&s->guests[i], p))
                                order[k++] = i;
                return n;
        }
        RankCtx ctx = { s, p };
        qsort_r(all, n, sizeof(*all), rank_cmp, &ctx);
        memcpy(order, all, (n < max ? n : max) * sizeof(*order));
        return n;
}

uint64_t shed_restore_backoff_usec(unsigned failures) {
        uint64_t d = SHED_RETRY_MIN_USEC;
        for (unsigned i = 1; i < failures && d < SHED_RETRY_MAX_USEC; i++)
                d *= 2;
        return d < SHED_RETRY_MAX_USEC ? d : SHED_RETRY_MAX_USEC;
}

int shed_pick_restore(const HostSample *h, const PolicyShed *p, const ShedBook *b, uint64_t now_usec,
                      size_t *ret_index) {
        if (h->mem.mem_total_bytes == 0)
                return -ENODATA;
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < b->n; i++) {
                const ShedEntry *e = &b->entries[i];
                if (e->stage == SHED_STAGE_RESTORING)
                        return -EBUSY;
                if (e->stage != SHED_STAGE_SHED || e->by_hand)
                        continue;
                if (e->failures > 0 && now_usec >= e->stage_usec &&
                    now_usec - e->stage_usec < shed_restore_backoff_usec(e->failures))
                        continue; /* waits out its back-off, holding back no other */
                if (best == SIZE_MAX)
                        best = i;
                else {
                        const ShedEntry *o = &b->entries[best];
                        if (e->priority > o->priority || (e->priority == o->priority && e->since_usec < o->since_usec))
                                best = i;
                }
        }
        if (best == SIZE_MAX)
                return -ENOENT;
        const ShedEntry *e = &b->entries[best];
        uint64_t avail = meminfo_available_bytes(&h->mem), keep = host_size(&p->restore_above, h);
        bool fits = avail >= e->bytes && avail - e->bytes >= keep;
        const CgroupSample *cg = &h->cgroup;
        if (fits && cg->version > 0 && cg->has_limit && cg->limit_bytes > 0)
                fits = (double) (cg->usage_bytes + e->bytes) <=
                       (double) cg->limit_bytes * p->cgroup_restore_below_percent / 100.0;
        *ret_index = best;
        return fits ? 0 : -ENOSPC;
}
