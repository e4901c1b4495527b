/* plan: what the controllers decide, as plain data. A controller is a pure
 * planner, xxx_plan(const Snapshot *, const Policy *, XxxState *, Plan *),
 * in its own file, with no I/O and no clock of its own (time comes in the
 * snapshot): it appends Actions to a Plan, each with a reason a person can
 * read. apply.c carries a plan out (or, dry, only journals it). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "density/snapshot.h"

#define ACTION_CONTROLLER_MAX 16
#define ACTION_REASON_MAX 256
#define ACTION_VALUE_MAX 128

typedef enum ActionKind {
        ACTION_KSM_KNOB,     /* write a KSM sysfs knob: knob = value (host-wide, no guest) */
        ACTION_BALLOON,      /* set a guest's balloon target: bytes */
        ACTION_PIN_VCPU,     /* pin vCPU `vcpu` to the CPUs in value (cpulist) */
        ACTION_PIN_EMULATOR, /* pin the emulator threads to value (cpulist) */
        ACTION_PIN_MEMORY,   /* numatune: mode, nodeset in value */
        ACTION_SAVE,         /* managed save: state to disk, guest stopped */
        ACTION_RESTORE,      /* start from the managed save image */
        ACTION_DESTROY,      /* stop at once, state lost */
        ACTION_OOM_SCORE_ADJ, /* write the guest's qemu /proc/PID/oom_score_adj: value (host-side) */
        _ACTION_KIND_MAX,
} ActionKind;

/* "ksm-knob", "balloon", "pin-vcpu", "pin-emulator", "pin-memory", "save",
 * "restore", "destroy", "oom-score-adj": the action label in the journal
 * and the metrics. */
const char *action_kind_name(ActionKind k);
/* Return: 0 or -EINVAL. */
int action_kind_from_name(const char *name, ActionKind *ret);
/* journald MESSAGE_ID of the kind (32 hex digits). */
const char *action_kind_message_id(ActionKind k);
/* Whether the kind acts on a guest through the hypervisor (all but KSM
 * knobs and OOM scores, which densityd writes itself). */
bool action_kind_is_hypervisor(ActionKind k);
/* Whether the kind takes seconds (save, restore, destroy): the journal
 * also records when it starts. */
bool action_kind_is_long(ActionKind k);

typedef struct Action {
        char controller[ACTION_CONTROLLER_MAX]; /* "ksm", "balloon", "shed", "numa", ... */
        ActionKind kind;
        char uuid[DENSITY_UUID_LEN];   /* the guest; "" for host actions */
        char guest[DENSITY_NAME_MAX];  /* its name, for people */
        uint64_t bytes;                /* BALLOON: the target */
        unsigned vcpu;                 /* PIN_VCPU */
        pid_t pid;                     /* OOM_SCORE_ADJ: the guest's qemu process */
        char knob[48];                 /* KSM_KNOB: sysfs file name below kernel/mm/ksm */
        char mode[16];                 /* PIN_MEMORY: strict, preferred, interleave, restrictive */
        char value[ACTION_VALUE_MAX];  /* KSM_KNOB: the value; PIN_*: cpulist or nodeset; OOM_SCORE_ADJ: -1000..1000 */
        char reason[ACTION_REASON_MAX];
} Action;

#define PLAN_NOTE_MAX 320

/* A plan note: something a planner noticed that is not an action (a
 * balloon target a guest did not reach), said once, for the journal. */
typedef struct PlanNote {
        char controller[ACTION_CONTROLLER_MAX];
        char guest[DENSITY_NAME_MAX];  /* "" for the host */
        char text[PLAN_NOTE_MAX];
} PlanNote;

typedef struct Plan {
        Action *actions;
        size_t n, allocated;
        PlanNote *notes;
        size_t n_notes, allocated_notes;
} Plan;

/* Append a copy of a. Return: 0 or -ENOMEM. */
int plan_add(Plan *p, const Action *a);
/* Append a note (guest may be NULL). Return: 0 or -ENOMEM. */
int plan_note(Plan *p, const char *controller, const GuestSample *g, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Free the actions and notes; accepts NULL. */
void plan_clear(Plan *p);

/* Action constructors: fill every field the kind needs, with the reason
 * formatted printf-style. The guest may be NULL for KSM knobs. */
Action action_ksm_knob(const char *controller, const char *knob, const char *value, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
Action action_balloon(const char *controller, const GuestSample *g, uint64_t bytes, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
Action action_pin_vcpu(const char *controller, const GuestSample *g, unsigned vcpu, const char *cpulist,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
Action action_pin_emulator(const char *controller, const GuestSample *g, const char *cpulist, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
Action action_pin_memory(const char *controller, const GuestSample *g, const char *mode, const char *nodeset,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* OOM_SCORE_ADJ of the guest's qemu (g->pid). */
Action action_oom_score_adj(const char *controller, const GuestSample *g, int value, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* SAVE, RESTORE or DESTROY. */
Action action_guest(const char *controller, ActionKind kind, const GuestSample *g, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* What the action does, in a few words: "balloon dtest-3 to 200 MiB",
 * "ksm pages_to_scan=1000", "pin vCPU 0 of dtest-1 to 0-3", "save dtest-2". */
void action_describe(const Action *a, char *buf, size_t size);

/* The plan as text, one line per action: "CONTROLLER: WHAT: REASON".
 * Return: 0 with *ret malloc'd, or -ENOMEM. */
int plan_render(const Plan *p, char **ret);

/* Whether the KSM knob name is one densityd may write (a plain sysfs file
 * name it knows, never a path). */
bool action_ksm_knob_valid(const char *knob);

/* Why densityd refuses to write knob=value (not a knob it writes, or
 * run=2), or NULL when it may. */
const char *action_ksm_refusal(const char *knob, const char *value);
