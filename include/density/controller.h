/* controller: the planners densityd runs every tick, in order. Each is a
 * pure function of the snapshot, the policy and its own small state to a
 * plan (plan.h): no I/O, no clock of its own, so tests drive it with literal
 * snapshots and a replay runs it on recorded ones. */
#pragma once

#include "density/plan.h"
#include "density/policy.h"
#include "density/snapshot.h"

typedef struct Controller {
        const char *name;
        /* Its state across ticks; NULL: it keeps none. state_new returns
         * NULL when out of memory. */
        void *(*state_new)(void);
        void (*state_free)(void *state);
        /* Append this tick's actions. Return: 0, or -ENOMEM (the tick goes
         * on without this controller's actions). */
        int (*plan)(const Snapshot *s, const Policy *p, void *state, Plan *plan);
} Controller;

/* The controllers densityd runs (none yet: the KSM, balloon, shed and NUMA
 * controllers land on this control plane one by one). */
extern const Controller *const controllers_builtin[];
extern const size_t controllers_builtin_n;
