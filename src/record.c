/* record: see include/density/record.h */
#include "density/record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <json-c/json.h>

#include "density/util.h"

/* The line is written and read through tables of fields, one per struct:
 * each field's JSON name is its C name, so a field added to snapshot.h is
 * one line here. */
typedef enum FieldType {
        FIELD_U64,
        FIELD_I64,
        FIELD_SIZE,    /* size_t */
        FIELD_UINT,    /* unsigned, uint32_t */
        FIELD_U16,
        FIELD_INT,     /* int, pid_t */
        FIELD_BOOL,
        FIELD_DOUBLE,
        FIELD_STRING,  /* char[size] */
        FIELD_OBJECT,  /* a struct: .sub */
        FIELD_ARRAY,   /* T[max] of .sub structs, the count at .count_offset (size_t) */
        FIELD_LIST,    /* T * of .sub structs, malloc'd, the count at .count_offset */
        FIELD_U16S,    /* uint16_t[max], the count at .count_offset */
        FIELD_KIND,    /* ActionKind, by name */
} FieldType;

typedef struct Field Field;
struct Field {
        const char *name;
        FieldType type;
        size_t offset, size;
        int64_t min, max;          /* FIELD_INT: its range (enums); arrays: max = capacity */
        size_t count_offset, elem_size;
        const Field *sub;
        size_t n_sub;
};

/* offsetof() and sizeof() of a field, checked at build time to be of the
 * C type the field type reads and writes. */
#define AT(T, f, ctype)                                                                              \
        .name = #f, .offset = offsetof(T, f),                                                        \
        .size = sizeof(((T *) 0)->f) +                                                               \
                0 * sizeof(struct {                                                                  \
                        _Static_assert(__builtin_types_compatible_p(__typeof__(((T *) 0)->f), ctype), \
                                       #T "." #f " is not " #ctype);                                 \
                        int dummy;                                                                   \
                })
#define SUB(table) .sub = table, .n_sub = ELEMENTSOF(table)
#define COUNT(T, f) .count_offset = offsetof(T, f)

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "FIELD_UINT holds uint32_t");
_Static_assert(sizeof(pid_t) == sizeof(int), "FIELD_INT holds pid_t");
_Static_assert(sizeof(ActionKind) == sizeof(int) && sizeof(ClassSource) == sizeof(int), "enums are int");

static const Field meminfo_fields[] = {
        { AT(MeminfoSample, mem_total_bytes, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, mem_available_bytes, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, anon_bytes, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, swap_total_bytes, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, swap_free_bytes, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, has_oom_kill, bool), .type = FIELD_BOOL },
        { AT(MeminfoSample, oom_kill_total, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, has_zfs_arc, bool), .type = FIELD_BOOL },
        { AT(MeminfoSample, zfs_arc_bytes, uint64_t), .type = FIELD_U64 },
        { AT(MeminfoSample, zfs_arc_min_bytes, uint64_t), .type = FIELD_U64 },
};

static const Field psi_line_fields[] = {
        { AT(PsiLine, avg10, double), .type = FIELD_DOUBLE },
        { AT(PsiLine, avg60, double), .type = FIELD_DOUBLE },
        { AT(PsiLine, avg300, double), .type = FIELD_DOUBLE },
        { AT(PsiLine, total_usec, uint64_t), .type = FIELD_U64 },
};

static const Field psi_fields[] = {
        { AT(PsiSample, has_some, bool), .type = FIELD_BOOL },
        { AT(PsiSample, has_full, bool), .type = FIELD_BOOL },
        { AT(PsiSample, some, PsiLine), .type = FIELD_OBJECT, SUB(psi_line_fields) },
        { AT(PsiSample, full, PsiLine), .type = FIELD_OBJECT, SUB(psi_line_fields) },
};

static const Field cgroup_fields[] = {
        { AT(CgroupSample, version, int), .type = FIELD_INT, .min = 0, .max = 2 },
        { AT(CgroupSample, path, char[256]), .type = FIELD_STRING },
        { AT(CgroupSample, has_limit, bool), .type = FIELD_BOOL },
        { AT(CgroupSample, limit_bytes, uint64_t), .type = FIELD_U64 },
        { AT(CgroupSample, usage_bytes, uint64_t), .type = FIELD_U64 },
        { AT(CgroupSample, has_oom_kill, bool), .type = FIELD_BOOL },
        { AT(CgroupSample, oom_kill_total, uint64_t), .type = FIELD_U64 },
};

static const Field ksm_value_fields[] = {
        { AT(KsmValue, name, char[48]), .type = FIELD_STRING },
        { AT(KsmValue, numeric, bool), .type = FIELD_BOOL },
        { AT(KsmValue, value, int64_t), .type = FIELD_I64 },
        { AT(KsmValue, text, char[48]), .type = FIELD_STRING },
};

static const Field ksm_fields[] = {
        { AT(KsmSample, present, bool), .type = FIELD_BOOL },
        { AT(KsmSample, values, KsmValue[DENSITY_KSM_MAX]), .type = FIELD_ARRAY, .max = DENSITY_KSM_MAX,
          COUNT(KsmSample, n_values), .elem_size = sizeof(KsmValue), SUB(ksm_value_fields) },
        { AT(KsmSample, has_ksmd_cpu, bool), .type = FIELD_BOOL },
        { AT(KsmSample, ksmd_cpu_usec, uint64_t), .type = FIELD_U64 },
        { AT(KsmSample, has_ksmd_cpu_percent, bool), .type = FIELD_BOOL },
        { AT(KsmSample, ksmd_cpu_percent, double), .type = FIELD_DOUBLE },
};

static const Field numa_node_fields[] = {
        { AT(NumaNode, id, int), .type = FIELD_INT, .min = 0, .max = INT_MAX },
        { AT(NumaNode, mem_total_bytes, uint64_t), .type = FIELD_U64 },
        { AT(NumaNode, mem_free_bytes, uint64_t), .type = FIELD_U64 },
        { AT(NumaNode, cpulist, char[128]), .type = FIELD_STRING },
        { AT(NumaNode, distance, uint16_t[DENSITY_MAX_NODES]), .type = FIELD_U16S, .max = DENSITY_MAX_NODES,
          COUNT(NumaNode, n_distances) },
};

static const Field numa_fields[] = {
        { AT(NumaSample, nodes, NumaNode[DENSITY_MAX_NODES]), .type = FIELD_ARRAY, .max = DENSITY_MAX_NODES,
          COUNT(NumaSample, n_nodes), .elem_size = sizeof(NumaNode), SUB(numa_node_fields) },
};

static const Field errors_fields[] = {
        { AT(HostReadErrors, psi, int), .type = FIELD_INT, .min = -4095, .max = 0 },
        { AT(HostReadErrors, cgroup, int), .type = FIELD_INT, .min = -4095, .max = 0 },
        { AT(HostReadErrors, ksm, int), .type = FIELD_INT, .min = -4095, .max = 0 },
        { AT(HostReadErrors, numa, int), .type = FIELD_INT, .min = -4095, .max = 0 },
};

static const Field host_fields[] = {
        { AT(HostSample, page_size_bytes, size_t), .type = FIELD_SIZE },
        { AT(HostSample, errors, HostReadErrors), .type = FIELD_OBJECT, SUB(errors_fields) },
        { AT(HostSample, mem, MeminfoSample), .type = FIELD_OBJECT, SUB(meminfo_fields) },
        { AT(HostSample, psi, PsiSample), .type = FIELD_OBJECT, SUB(psi_fields) },
        { AT(HostSample, cgroup, CgroupSample), .type = FIELD_OBJECT, SUB(cgroup_fields) },
        { AT(HostSample, ksm, KsmSample), .type = FIELD_OBJECT, SUB(ksm_fields) },
        { AT(HostSample, numa, NumaSample), .type = FIELD_OBJECT, SUB(numa_fields) },
        { AT(HostSample, has_save_free, bool), .type = FIELD_BOOL },
        { AT(HostSample, save_free_bytes, uint64_t), .type = FIELD_U64 },
};

static const Field node_bytes_fields[] = {
        { AT(GuestNodeBytes, node, int), .type = FIELD_INT, .min = 0, .max = INT_MAX },
        { AT(GuestNodeBytes, bytes, uint64_t), .type = FIELD_U64 },
};

static const Field facts_fields[] = {
        { AT(DomainFacts, known, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, error, char[128]), .type = FIELD_STRING },
        { AT(DomainFacts, persistent, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, has_balloon, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, balloon_model, char[32]), .type = FIELD_STRING },
        { AT(DomainFacts, balloon_period_sec, unsigned), .type = FIELD_UINT },
        { AT(DomainFacts, free_page_reporting, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, autodeflate, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, vcpu_pinned, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, emulator_pinned, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, vcpus, unsigned), .type = FIELD_UINT },
        { AT(DomainFacts, vcpu_cpuset, char[128]), .type = FIELD_STRING },
        { AT(DomainFacts, emulator_cpuset, char[128]), .type = FIELD_STRING },
        { AT(DomainFacts, nosharepages, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, numatune, bool), .type = FIELD_BOOL },
        { AT(DomainFacts, numatune_mode, char[16]), .type = FIELD_STRING },
        { AT(DomainFacts, numatune_nodeset, char[64]), .type = FIELD_STRING },
        { AT(DomainFacts, max_memory_bytes, uint64_t), .type = FIELD_U64 },
        { AT(DomainFacts, metadata_class, char[DENSITY_CLASS_MAX]), .type = FIELD_STRING },
};

static const Field guest_fields[] = {
        { AT(GuestSample, name, char[DENSITY_NAME_MAX]), .type = FIELD_STRING },
        { AT(GuestSample, uuid, char[DENSITY_UUID_LEN]), .type = FIELD_STRING },
        { AT(GuestSample, id, int), .type = FIELD_INT, .min = INT_MIN, .max = INT_MAX },
        { AT(GuestSample, pid, pid_t), .type = FIELD_INT, .min = 0, .max = INT_MAX },
        { AT(GuestSample, has_rss, bool), .type = FIELD_BOOL },
        { AT(GuestSample, rss_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, has_oom_score_adj, bool), .type = FIELD_BOOL },
        { AT(GuestSample, oom_score_adj, int), .type = FIELD_INT, .min = -1000, .max = 1000 },
        { AT(GuestSample, sample_error, char[256]), .type = FIELD_STRING },
        { AT(GuestSample, sample_error_new, bool), .type = FIELD_BOOL },
        { AT(GuestSample, has_balloon, bool), .type = FIELD_BOOL },
        { AT(GuestSample, balloon_actual_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, balloon_maximum_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, has_unused, bool), .type = FIELD_BOOL },
        { AT(GuestSample, has_available, bool), .type = FIELD_BOOL },
        { AT(GuestSample, has_usable, bool), .type = FIELD_BOOL },
        { AT(GuestSample, has_disk_caches, bool), .type = FIELD_BOOL },
        { AT(GuestSample, unused_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, available_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, usable_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, disk_caches_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, has_swap_in, bool), .type = FIELD_BOOL },
        { AT(GuestSample, has_major_faults, bool), .type = FIELD_BOOL },
        { AT(GuestSample, swap_in_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, major_faults, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, balloon_last_update, int64_t), .type = FIELD_I64 },
        { AT(GuestSample, stats_age_usec, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, stale, bool), .type = FIELD_BOOL },
        { AT(GuestSample, has_ksm, bool), .type = FIELD_BOOL },
        { AT(GuestSample, ksm_merging_bytes, uint64_t), .type = FIELD_U64 },
        { AT(GuestSample, has_ksm_profit, bool), .type = FIELD_BOOL },
        { AT(GuestSample, ksm_profit_bytes, int64_t), .type = FIELD_I64 },
        { AT(GuestSample, nodes, GuestNodeBytes[DENSITY_MAX_NODES]), .type = FIELD_ARRAY, .max = DENSITY_MAX_NODES,
          COUNT(GuestSample, n_nodes), .elem_size = sizeof(GuestNodeBytes), SUB(node_bytes_fields) },
        { AT(GuestSample, facts, DomainFacts), .type = FIELD_OBJECT, SUB(facts_fields) },
        { AT(GuestSample, class_name, char[DENSITY_CLASS_MAX]), .type = FIELD_STRING },
        { AT(GuestSample, class_source, ClassSource), .type = FIELD_INT, .min = 0,
          .max = CLASS_SOURCE_METADATA_UNKNOWN },
        { AT(GuestSample, actions_in_flight, uint32_t), .type = FIELD_UINT },
};

static const Field snapshot_fields[] = {
        { AT(Snapshot, timestamp_usec, uint64_t), .type = FIELD_U64 },
        { AT(Snapshot, sample_duration_usec, uint64_t), .type = FIELD_U64 },
        { AT(Snapshot, host, HostSample), .type = FIELD_OBJECT, SUB(host_fields) },
        { AT(Snapshot, hypervisor_connected, bool), .type = FIELD_BOOL },
        { AT(Snapshot, hypervisor_error, char[256]), .type = FIELD_STRING },
        { AT(Snapshot, hypervisor_round_running_usec, uint64_t), .type = FIELD_U64 },
        { AT(Snapshot, guests, GuestSample *), .type = FIELD_LIST, COUNT(Snapshot, n_guests),
          .elem_size = sizeof(GuestSample), SUB(guest_fields) },
};

static const Field action_fields[] = {
        { AT(Action, controller, char[ACTION_CONTROLLER_MAX]), .type = FIELD_STRING },
        { AT(Action, kind, ActionKind), .type = FIELD_KIND },
        { AT(Action, uuid, char[DENSITY_UUID_LEN]), .type = FIELD_STRING },
        { AT(Action, guest, char[DENSITY_NAME_MAX]), .type = FIELD_STRING },
        { AT(Action, bytes, uint64_t), .type = FIELD_U64 },
        { AT(Action, vcpu, unsigned), .type = FIELD_UINT },
        { AT(Action, pid, pid_t), .type = FIELD_INT, .min = 0, .max = INT_MAX },
        { AT(Action, knob, char[48]), .type = FIELD_STRING },
        { AT(Action, mode, char[16]), .type = FIELD_STRING },
        { AT(Action, value, char[ACTION_VALUE_MAX]), .type = FIELD_STRING },
        { AT(Action, reason, char[ACTION_REASON_MAX]), .type = FIELD_STRING },
};

/* Where a value is, for messages: "snapshot.guests[2].facts.vcpus". */
#define RECORD_WHERE_MAX 256

void record_tick_clear(RecordTick *t) {
        if (!t)
                return;
        snapshot_clear(&t->snap);
        plan_clear(&t->plan);
        *t = (RecordTick) {};
}

/* ------------------------------------------------------------ writing */

static bool all_zero(const void *p, size_t size) {
        const unsigned char *b = p;
        for (size_t i = 0; i < size; i++)
                if (b[i])
                        return false;
        return true;
}

static json_object *format_object(const Field *fields, size_t n, const void *base);

/* The JSON value of one field, or NULL when it is zero (left out) or out
 * of memory (*oom set). */
static json_object *format_field(const Field *f, const void *base, bool *oom) {
        const char *p = (const char *) base + f->offset;
        json_object *v = NULL;
        switch (f->type) {
        case FIELD_U64:
        case FIELD_SIZE:
        case FIELD_UINT:
        case FIELD_U16: {
                uint64_t x = f->type == FIELD_U64    ? *(const uint64_t *) p
                             : f->type == FIELD_SIZE ? *(const size_t *) p
                             : f->type == FIELD_UINT ? *(const unsigned *) p
                                                     : *(const uint16_t *) p;
                if (x == 0)
                        return NULL;
                v = json_object_new_uint64(x);
                break;
        }
        case FIELD_I64:
        case FIELD_INT:
        case FIELD_KIND: {
                int64_t x = f->type == FIELD_I64 ? *(const int64_t *) p : *(const int *) p;
                if (f->type == FIELD_KIND)
                        v = json_object_new_string(action_kind_name((ActionKind) x));
                else if (x == 0)
                        return NULL;
                else
                        v = json_object_new_int64(x);
                break;
        }
        case FIELD_BOOL:
                if (!*(const bool *) p)
                        return NULL;
                v = json_object_new_boolean(true);
                break;
        case FIELD_DOUBLE:
                if (*(const double *) p == 0)
                        return NULL;
                v = json_object_new_double(*(const double *) p);
                break;
        case FIELD_STRING:
                if (!p[0])
                        return NULL;
                v = json_object_new_string_len(p, (int) strnlen(p, f->size - 1));
                break;
        case FIELD_OBJECT:
                if (all_zero(p, f->size))
                        return NULL;
                v = format_object(f->sub, f->n_sub, p);
                break;
        case FIELD_ARRAY:
        case FIELD_LIST:
        case FIELD_U16S: {
                size_t count = *(const size_t *) ((const char *) base + f->count_offset);
                if (count == 0)
                        return NULL;
                const char *elems = f->type == FIELD_LIST ? *(const char *const *) p : p;
                if (f->type != FIELD_LIST && count > (size_t) f->max)
                        count = (size_t) f->max;
                v = json_object_new_array_ext((int) count);
                for (size_t i = 0; v && i < count; i++) {
                        json_object *e = f->type == FIELD_U16S
                                                 ? json_object_new_int(((const uint16_t *) p)[i])
                                                 : format_object(f->sub, f->n_sub, elems + i * f->elem_size);
                        if (!e || json_object_array_add(v, e) < 0) {
                                json_object_put(e);
                                json_object_put(v);
                                v = NULL;
                        }
                }
                break;
        }
        }
        if (!v)
                *oom = true;
        return v;
}

/* The struct at base as an object of its non-zero fields; NULL: out of memory. */
static json_object *format_object(const Field *fields, size_t n, const void *base) {
        json_object *o = json_object_new_object();
        bool oom = false;
        for (size_t i = 0; o && i < n && !oom; i++) {
                json_object *v = format_field(&fields[i], base, &oom);
                if (v && json_object_object_add(o, fields[i].name, v) < 0) {
                        json_object_put(v);
                        oom = true;
                }
        }
        if (oom) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int record_format(uint64_t tick, uint64_t first_action_id, const Snapshot *s, const Plan *p, char **ret,
                  size_t *ret_len) {
        json_object *root = json_object_new_object();
        json_object *snap = format_object(snapshot_fields, ELEMENTSOF(snapshot_fields), s);
        json_object *actions = json_object_new_array();
        int r = root && snap && actions ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && p && i < p->n; i++) {
                json_object *a = format_object(action_fields, ELEMENTSOF(action_fields), &p->actions[i]);
                if (a && first_action_id)
                        json_object_object_add(a, "id", json_object_new_uint64(first_action_id + i));
                if (!a || json_object_array_add(actions, a) < 0) {
                        json_object_put(a);
                        r = -ENOMEM;
                }
        }
        if (r == 0) {
                json_object_object_add(root, "version", json_object_new_int(RECORD_VERSION));
                json_object_object_add(root, "tick", json_object_new_uint64(tick));
                json_object_object_add(root, "snapshot", TAKE_PTR(snap));
                json_object_object_add(root, "actions", TAKE_PTR(actions));
        }
        size_t len = 0;
        const char *text = r == 0 ? json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN |
                                                                                 JSON_C_TO_STRING_NOSLASHESCAPE,
                                                                       &len)
                                  : NULL;
        char *line = text ? malloc(len + 2) : NULL;
        if (line) {
                memcpy(line, text, len);
                line[len++] = '\n';
                line[len] = '\0';
                *ret = line;
                if (ret_len)
                        *ret_len = len;
        } else
                r = -ENOMEM;
        json_object_put(snap);
        json_object_put(actions);
        json_object_put(root);
        return r;
}

/* ------------------------------------------------------------ reading */

__attribute__((format(printf, 4, 5))) static int parse_fail(char *err, size_t err_size, const char *where,
                                                            const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(err, err_size, "%s: %s", where, msg);
        return -EINVAL;
}

static int parse_object(json_object *o, const Field *fields, size_t n, void *base, const char *where, char *err,
                        size_t err_size);

/* An unsigned JSON integer up to max. */
static int parse_unsigned(json_object *v, uint64_t max, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return -EINVAL;
        uint64_t x = json_object_get_uint64(v);
        if (x > max)
                return -EINVAL;
        *ret = x;
        return 0;
}

/* A signed JSON integer in min..max. */
static int parse_signed(json_object *v, int64_t min, int64_t max, int64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        int64_t x = json_object_get_int64(v);
        if (x == INT64_MAX && json_object_get_uint64(v) > (uint64_t) INT64_MAX)
                return -EINVAL;
        if (x < min || x > max)
                return -EINVAL;
        *ret = x;
        return 0;
}

/* One element of an array or list, named where[i]. */
static int parse_element(const Field *f, json_object *e, size_t i, char *elems, const char *where, char *err,
                         size_t err_size) {
        char at[RECORD_WHERE_MAX];
        if (snprintf(at, sizeof(at), "%s[%zu]", where, i) >= (int) sizeof(at))
                return parse_fail(err, err_size, where, "nested too deep");
        if (f->type == FIELD_U16S) {
                uint64_t x;
                if (parse_unsigned(e, UINT16_MAX, &x) < 0)
                        return parse_fail(err, err_size, at, "not a number 0..%u", UINT16_MAX);
                ((uint16_t *) elems)[i] = (uint16_t) x;
                return 0;
        }
        return parse_object(e, f->sub, f->n_sub, elems + i * f->elem_size, at, err, err_size);
}

static int parse_field(const Field *f, json_object *v, void *base, const char *where, char *err, size_t err_size) {
        char *p = (char *) base + f->offset;
        uint64_t u;
        int64_t s;
        switch (f->type) {
        case FIELD_U64:
        case FIELD_SIZE:
        case FIELD_UINT:
        case FIELD_U16: {
                uint64_t max = f->type == FIELD_U64 ? UINT64_MAX
                               : f->type == FIELD_SIZE ? SIZE_MAX
                               : f->type == FIELD_UINT ? UINT_MAX
                                                       : UINT16_MAX;
                if (parse_unsigned(v, max, &u) < 0)
                        return parse_fail(err, err_size, where, "not a number 0..%llu", (unsigned long long) max);
                if (f->type == FIELD_U64)
                        *(uint64_t *) p = u;
                else if (f->type == FIELD_SIZE)
                        *(size_t *) p = (size_t) u;
                else if (f->type == FIELD_UINT)
                        *(unsigned *) p = (unsigned) u;
                else
                        *(uint16_t *) p = (uint16_t) u;
                return 0;
        }
        case FIELD_I64:
                if (parse_signed(v, INT64_MIN, INT64_MAX, &s) < 0)
                        return parse_fail(err, err_size, where, "not a 64-bit integer");
                *(int64_t *) p = s;
                return 0;
        case FIELD_INT:
                if (parse_signed(v, f->min, f->max, &s) < 0)
                        return parse_fail(err, err_size, where, "not an integer %lld..%lld", (long long) f->min,
                                          (long long) f->max);
                *(int *) p = (int) s;
                return 0;
        case FIELD_KIND: {
                ActionKind k;
                if (!json_object_is_type(v, json_type_string) || action_kind_from_name(json_object_get_string(v), &k) < 0)
                        return parse_fail(err, err_size, where, "not an action kind");
                *(ActionKind *) p = k;
                return 0;
        }
        case FIELD_BOOL:
                if (!json_object_is_type(v, json_type_boolean))
                        return parse_fail(err, err_size, where, "not true or false");
                *(bool *) p = json_object_get_boolean(v);
                return 0;
        case FIELD_DOUBLE:
                if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                        return parse_fail(err, err_size, where, "not a number");
                *(double *) p = json_object_get_double(v);
                return 0;
        case FIELD_STRING: {
                if (!json_object_is_type(v, json_type_string))
                        return parse_fail(err, err_size, where, "not a string");
                size_t len = (size_t) json_object_get_string_len(v);
                const char *str = json_object_get_string(v);
                if (len >= f->size || strlen(str) != len)
                        return parse_fail(err, err_size, where, "longer than %zu characters, or with a NUL",
                                          f->size - 1);
                memcpy(p, str, len + 1);
                return 0;
        }
        case FIELD_OBJECT:
                return parse_object(v, f->sub, f->n_sub, p, where, err, err_size);
        case FIELD_ARRAY:
        case FIELD_LIST:
        case FIELD_U16S: {
                if (!json_object_is_type(v, json_type_array))
                        return parse_fail(err, err_size, where, "not an array");
                size_t count = json_object_array_length(v);
                if (f->type != FIELD_LIST && count > (size_t) f->max)
                        return parse_fail(err, err_size, where, "more than %lld entries", (long long) f->max);
                char *elems = p;
                if (f->type == FIELD_LIST) {
                        if (!(elems = calloc(count ? count : 1, f->elem_size)))
                                return -ENOMEM;
                        *(char **) p = elems;
                }
                *(size_t *) ((char *) base + f->count_offset) = count;
                for (size_t i = 0; i < count; i++) {
                        int r = parse_element(f, json_object_array_get_idx(v, i), i, elems, where, err, err_size);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        }
        return parse_fail(err, err_size, where, "unhandled field type");
}

static int parse_object(json_object *o, const Field *fields, size_t n, void *base, const char *where, char *err,
                        size_t err_size) {
        if (!json_object_is_type(o, json_type_object))
                return parse_fail(err, err_size, where, "not an object");
        json_object_object_foreach(o, key, v) {
                char at[RECORD_WHERE_MAX];
                if (snprintf(at, sizeof(at), "%s.%s", where, key) >= (int) sizeof(at))
                        return parse_fail(err, err_size, where, "a field name too long");
                size_t i = 0;
                while (i < n && strcmp(fields[i].name, key) != 0)
                        i++;
                if (i == n)
                        return parse_fail(err, err_size, at, "unknown field");
                int r = parse_field(&fields[i], v, base, at, err, err_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The actions of a line into plan; their journal ids, in order. */
static int parse_actions(json_object *a, Plan *plan, uint64_t *first_id, char *err, size_t err_size) {
        if (!json_object_is_type(a, json_type_array))
                return parse_fail(err, err_size, "actions", "not an array");
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                char at[64];
                Action x = {};
                snprintf(at, sizeof(at), "actions[%zu]", i);
                json_object *kind, *id;
                json_object *o = json_object_array_get_idx(a, i);
                if (json_object_is_type(o, json_type_object) && !json_object_object_get_ex(o, "kind", &kind))
                        return parse_fail(err, err_size, at, "no kind");
                if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "id", &id)) {
                        uint64_t n;
                        if (parse_unsigned(id, UINT64_MAX, &n) < 0 || n == 0 || (i > 0 && n != *first_id + i))
                                return parse_fail(err, err_size, at, "id: not a number, or not the one after the last");
                        if (i == 0)
                                *first_id = n;
                        json_object_object_del(o, "id"); /* not an Action field */
                } else if (i > 0 && *first_id)
                        return parse_fail(err, err_size, at, "no id");
                int r = parse_object(o, action_fields, ELEMENTSOF(action_fields), &x, at, err, err_size);
                if (r == 0)
                        r = plan_add(plan, &x);
                if (r < 0)
                        return r;
        }
        return 0;
}

int record_parse(const char *line, RecordTick *ret, char *err, size_t err_size) {
        RecordTick t = {};
        json_object *root = NULL;
        int r;
        size_t len = strlen(line);
        if (len > RECORD_LINE_MAX)
                return parse_fail(err, err_size, "line", "longer than %d bytes", RECORD_LINE_MAX);
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, line, (int) len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success) {
                snprintf(err, err_size, "not JSON: %s", json_tokener_error_desc(json_tokener_get_error(tok)));
                r = -EINVAL;
                goto out;
        }
        if (line[json_tokener_get_parse_end(tok) + strspn(line + json_tokener_get_parse_end(tok), " \t\r\n")] !=
            '\0') {
                r = parse_fail(err, err_size, "line", "text after the JSON object");
                goto out;
        }
        if (!json_object_is_type(root, json_type_object)) {
                r = parse_fail(err, err_size, "line", "not a JSON object");
                goto out;
        }
        json_object *version = NULL, *snap = NULL, *actions = NULL;
        uint64_t v;
        if (!json_object_object_get_ex(root, "version", &version) || parse_unsigned(version, INT_MAX, &v) < 0 ||
            v != RECORD_VERSION) {
                r = parse_fail(err, err_size, "version", "not %d (a recording of another densityd version?)",
                               RECORD_VERSION);
                goto out;
        }
        json_object_object_foreach(root, key, value) {
                if (strcmp(key, "tick") == 0) {
                        if (parse_unsigned(value, UINT64_MAX, &t.tick) < 0) {
                                r = parse_fail(err, err_size, "tick", "not a number");
                                goto out;
                        }
                } else if (strcmp(key, "snapshot") == 0)
                        snap = value;
                else if (strcmp(key, "actions") == 0)
                        actions = value;
                else if (strcmp(key, "version") != 0) {
                        r = parse_fail(err, err_size, key, "unknown field");
                        goto out;
                }
        }
        if (!snap) {
                r = parse_fail(err, err_size, "snapshot", "missing");
                goto out;
        }
        r = parse_object(snap, snapshot_fields, ELEMENTSOF(snapshot_fields), &t.snap, "snapshot", err, err_size);
        if (r == 0 && actions)
                r = parse_actions(actions, &t.plan, &t.first_action_id, err, err_size);
        if (r == 0) {
                *ret = t;
                t = (RecordTick) {};
        }
out:
        record_tick_clear(&t);
        json_object_put(root);
        json_tokener_free(tok);
        return r;
}

int record_read(const char *path, int (*fn)(RecordTick *t, void *userdata), void *userdata, char *err,
                size_t err_size) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
                return r;
        }
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        ssize_t len;
        unsigned n = 0;
        int r = 0;
        errno = 0;
        while (r >= 0 && (len = getline(&line, &size, f)) >= 0) {
                n++;
                if (line[len - 1] != '\n')
                        break; /* the last, without its newline: the daemon is writing it right now */
                if (strspn(line, " \t\r\n") == (size_t) len)
                        continue;
                if ((size_t) len != strlen(line)) {
                        snprintf(err, err_size, "%s:%u: a NUL byte in the line", path, n);
                        return -EINVAL;
                }
                RecordTick t;
                char why[512];
                r = record_parse(line, &t, why, sizeof(why));
                if (r == -EINVAL) {
                        snprintf(err, err_size, "%s:%u: %s", path, n, why);
                        return r;
                }
                if (r < 0) {
                        snprintf(err, err_size, "%s:%u: %s", path, n, strerror(-r));
                        return r;
                }
                r = fn(&t, userdata);
                if (r < 0)
                        snprintf(err, err_size, "%s:%u: %s", path, n, strerror(-r));
        }
        if (r >= 0 && ferror(f)) {
                snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
                return -(errno ? errno : EIO);
        }
        return r < 0 ? r : 0;
}

/* ------------------------------------------------------------ the recorder */

struct Recorder {
        char path[PATH_MAX];
        char old_path[PATH_MAX];
        char dir[PATH_MAX];
        uint64_t cap_bytes;
        uint64_t reserve_bytes;
        int fd;
        uint64_t size_bytes;  /* of the open file */
};

int recorder_new(const char *dir, uint64_t cap_bytes, Recorder **ret) {
        Recorder *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        if (cap_bytes == 0 || path_join(r->path, sizeof(r->path), dir, RECORD_FILE) < 0 ||
            path_join(r->old_path, sizeof(r->old_path), dir, RECORD_FILE_OLD) < 0) {
                free(r);
                return -EINVAL;
        }
        strscpy(r->dir, sizeof(r->dir), dir);
        r->cap_bytes = cap_bytes;
        r->reserve_bytes = RECORD_RESERVE_BYTES;
        r->fd = -1;
        *ret = r;
        return 0;
}

Recorder *recorder_free(Recorder *r) {
        if (!r)
                return NULL;
        if (r->fd >= 0)
                close(r->fd);
        free(r);
        return NULL;
}

void recorder_set_reserve(Recorder *r, uint64_t reserve_bytes) {
        r->reserve_bytes = reserve_bytes;
}

bool recorder_is(const Recorder *r, const char *dir, uint64_t cap_bytes) {
        return r && r->cap_bytes == cap_bytes && strcmp(r->dir, dir) == 0;
}

static int recorder_open(Recorder *r, bool truncate) {
        const int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (truncate ? O_TRUNC : 0);
        if (r->fd >= 0)
                close(r->fd);
        r->fd = open(r->path, flags, 0600);
        /* StateDirectory= is made by whoever writes to it first, as the
         * controllers do (systemd makes it under the shipped unit). */
        if (r->fd < 0 && errno == ENOENT && mkdir(r->dir, 0700) == 0)
                r->fd = open(r->path, flags, 0600);
        if (r->fd < 0)
                return -errno;
        struct stat st;
        if (fstat(r->fd, &st) < 0) {
                int e = -errno;
                close(r->fd);
                r->fd = -1;
                return e;
        }
        r->size_bytes = (uint64_t) st.st_size;
        return 0;
}

int recorder_write(Recorder *r, const char *line, size_t len) {
        uint64_t half = r->cap_bytes / 2;
        if (len > half)
                return -EFBIG;
        int k;
        if (r->fd < 0 && (k = recorder_open(r, false)) < 0)
                return k;
        if (r->size_bytes + len > half) {
                /* Gone (removed by hand): start again without it. */
                if (rename(r->path, r->old_path) < 0 && errno != ENOENT)
                        return -errno;
                if ((k = recorder_open(r, true)) < 0)
                        return k;
        }
        struct statvfs v;
        if (fstatvfs(r->fd, &v) == 0 && (uint64_t) v.f_bavail * v.f_frsize < r->reserve_bytes + len)
                return -ENOSPC;
        ssize_t n = write(r->fd, line, len);
        if (n == (ssize_t) len) {
                r->size_bytes += len;
                return 0;
        }
        k = n < 0 ? -errno : -ENOSPC;
        /* Half a line would make the file unreadable from there on. */
        if (n > 0 && ftruncate(r->fd, (off_t) r->size_bytes) < 0) {
                close(r->fd); /* reopened, and its size read again, next time */
                r->fd = -1;
        }
        return k;
}
