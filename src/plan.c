/* plan: see include/density/plan.h */
#include "density/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "density/util.h"

#define MIB (1024.0 * 1024.0)

static const struct {
        const char *name;
        const char *message_id; /* journald MESSAGE_ID, one per kind */
        bool hypervisor;
        bool is_long;
} action_kinds[_ACTION_KIND_MAX] = {
        [ACTION_KSM_KNOB] = { "ksm-knob", "d3ba6e348a4a48f9a54b2ac2f00696f1", false, false },
        [ACTION_BALLOON] = { "balloon", "d91af1f5264247ce937ae70ca004800c", true, false },
        [ACTION_PIN_VCPU] = { "pin-vcpu", "8feaf75ae5d845c39714f063886eb6b6", true, false },
        [ACTION_PIN_EMULATOR] = { "pin-emulator", "1a876f5a91454286ae4cbbf8f3b4e83f", true, false },
        [ACTION_PIN_MEMORY] = { "pin-memory", "870d3b84fd824298b3eff42ab72fe95a", true, false },
        [ACTION_SAVE] = { "save", "842d38f1f0214bbe90bae773b9bd3f91", true, true },
        [ACTION_RESTORE] = { "restore", "b45bc663bef64240b92fb914ef995158", true, true },
        [ACTION_DESTROY] = { "destroy", "5a9a6d1b171f4d86a489f9008d66a0d1", true, true },
        [ACTION_OOM_SCORE_ADJ] = { "oom-score-adj", "3c8e1f0b6d2a4f7e9b15c0d4a6e2f871", false, false },
};

/* The KSM knobs a controller may set. Counters and read-only files are not
 * here, so a planner bug cannot write to them (or anywhere else). */
static const char *const ksm_knobs[] = {
        "run",        "pages_to_scan",     "sleep_millisecs",          "use_zero_pages",
        "max_page_sharing", "merge_across_nodes", "stable_node_chains_prune_millisecs", "smart_scan",
        "advisor_mode", "advisor_max_cpu", "advisor_min_pages_to_scan", "advisor_max_pages_to_scan",
        "advisor_target_scan_time",
};

const char *action_kind_name(ActionKind k) {
        return k < _ACTION_KIND_MAX ? action_kinds[k].name : "?";
}

int action_kind_from_name(const char *name, ActionKind *ret) {
        for (int i = 0; i < _ACTION_KIND_MAX; i++)
                if (strcmp(action_kinds[i].name, name) == 0) {
                        *ret = (ActionKind) i;
                        return 0;
                }
        return -EINVAL;
}

const char *action_kind_message_id(ActionKind k) {
        return k < _ACTION_KIND_MAX ? action_kinds[k].message_id : "f21cf47bd1e8407194f29e239c73b77a";
}

bool action_kind_is_hypervisor(ActionKind k) {
        return k < _ACTION_KIND_MAX && action_kinds[k].hypervisor;
}

bool action_kind_is_long(ActionKind k) {
        return k < _ACTION_KIND_MAX && action_kinds[k].is_long;
}

bool action_ksm_knob_valid(const char *knob) {
        for (size_t i = 0; i < ELEMENTSOF(ksm_knobs); i++)
                if (strcmp(ksm_knobs[i], knob) == 0)
                        return true;
        return false;
}

const char *action_ksm_refusal(const char *knob, const char *value) {
        if (!action_ksm_knob_valid(knob))
                return "not a KSM knob densityd writes";
        /* run=2 unmerges every page at once: the memory comes back in one go
         * and can itself bring on the OOM killer. */
        if (strcmp(knob, "run") == 0 && strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
                return "densityd writes run=0 or run=1 only (run=2 unmerges every page at once)";
        return NULL;
}

int plan_add(Plan *p, const Action *a) {
        if (p->n == p->allocated) {
                size_t n = p->allocated ? p->allocated * 2 : 16;
                Action *x = realloc(p->actions, n * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                p->actions = x;
                p->allocated = n;
        }
        p->actions[p->n++] = *a;
        return 0;
}

int plan_note(Plan *p, const char *controller, const GuestSample *g, const char *fmt, ...) {
        if (p->n_notes == p->allocated_notes) {
                size_t n = p->allocated_notes ? p->allocated_notes * 2 : 4;
                PlanNote *x = realloc(p->notes, n * sizeof(*x));
                if (!x)
                        return -ENOMEM;
                p->notes = x;
                p->allocated_notes = n;
        }
        PlanNote *o = &p->notes[p->n_notes++];
        *o = (PlanNote) {};
        strscpy(o->controller, sizeof(o->controller), controller);
        if (g)
                strscpy(o->guest, sizeof(o->guest), g->name);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->text, sizeof(o->text), fmt, ap);
        va_end(ap);
        return 0;
}

void plan_clear(Plan *p) {
        if (!p)
                return;
        free(p->notes);
        free(p->actions);
        *p = (Plan) {};
}

__attribute__((format(printf, 4, 0))) static Action action_start(const char *controller, ActionKind kind,
                                                              const GuestSample *g, const char *fmt,
                           va_list ap) {
        Action a = { .kind = kind };
        strscpy(a.controller, sizeof(a.controller), controller);
        if (g) {
                strscpy(a.uuid, sizeof(a.uuid), g->uuid);
                strscpy(a.guest, sizeof(a.guest), g->name);
        }
        vsnprintf(a.reason, sizeof(a.reason), fmt, ap);
        return a;
}

Action action_ksm_knob(const char *controller, const char *knob, const char *value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, ACTION_KSM_KNOB, NULL, fmt, ap);
        va_end(ap);
        strscpy(a.knob, sizeof(a.knob), knob);
        strscpy(a.value, sizeof(a.value), value);
        return a;
}

Action action_balloon(const char *controller, const GuestSample *g, uint64_t bytes, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, ACTION_BALLOON, g, fmt, ap);
        va_end(ap);
        a.bytes = bytes;
        return a;
}

Action action_pin_vcpu(const char *controller, const GuestSample *g, unsigned vcpu, const char *cpulist,
                       const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, ACTION_PIN_VCPU, g, fmt, ap);
        va_end(ap);
        a.vcpu = vcpu;
        strscpy(a.value, sizeof(a.value), cpulist);
        return a;
}

Action action_pin_emulator(const char *controller, const GuestSample *g, const char *cpulist, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, ACTION_PIN_EMULATOR, g, fmt, ap);
        va_end(ap);
        strscpy(a.value, sizeof(a.value), cpulist);
        return a;
}

Action action_pin_memory(const char *controller, const GuestSample *g, const char *mode, const char *nodeset,
                         const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, ACTION_PIN_MEMORY, g, fmt, ap);
        va_end(ap);
        strscpy(a.mode, sizeof(a.mode), mode);
        strscpy(a.value, sizeof(a.value), nodeset);
        return a;
}

Action action_oom_score_adj(const char *controller, const GuestSample *g, int value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, ACTION_OOM_SCORE_ADJ, g, fmt, ap);
        va_end(ap);
        a.pid = g->pid;
        snprintf(a.value, sizeof(a.value), "%d", value);
        return a;
}

Action action_guest(const char *controller, ActionKind kind, const GuestSample *g, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        Action a = action_start(controller, kind, g, fmt, ap);
        va_end(ap);
        return a;
}

void action_describe(const Action *a, char *buf, size_t size) {
        switch (a->kind) {
        case ACTION_KSM_KNOB:
                snprintf(buf, size, "ksm %s=%s", a->knob, a->value);
                break;
        case ACTION_BALLOON:
                snprintf(buf, size, "balloon %s to %.0f MiB", a->guest, (double) a->bytes / MIB);
                break;
        case ACTION_PIN_VCPU:
                snprintf(buf, size, "pin vCPU %u of %s to CPUs %s", a->vcpu, a->guest, a->value);
                break;
        case ACTION_PIN_EMULATOR:
                snprintf(buf, size, "pin emulator of %s to CPUs %s", a->guest, a->value);
                break;
        case ACTION_PIN_MEMORY:
                snprintf(buf, size, "place memory of %s on nodes %s (%s)", a->guest, a->value, a->mode);
                break;
        case ACTION_SAVE:
                snprintf(buf, size, "save %s (managed save)", a->guest);
                break;
        case ACTION_RESTORE:
                snprintf(buf, size, "restore %s", a->guest);
                break;
        case ACTION_DESTROY:
                snprintf(buf, size, "destroy %s", a->guest);
                break;
        case ACTION_OOM_SCORE_ADJ:
                snprintf(buf, size, "OOM score of %s (pid %d) to %s", a->guest, (int) a->pid, a->value);
                break;
        default:
                snprintf(buf, size, "unknown action %d", (int) a->kind);
                break;
        }
}

int plan_render(const Plan *p, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++) {
                char what[512];
                action_describe(&p->actions[i], what, sizeof(what));
                fprintf(f, "%s: %s: %s\n", p->actions[i].controller, what, p->actions[i].reason);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
