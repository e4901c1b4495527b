/* controller: the planners densityd runs every tick, in order. Each is a
 * pure function of the snapshot, the policy and its own small state to a
 * plan (plan.h): no I/O, no clock of its own, so tests drive it with literal
 * snapshots and a replay runs it on recorded ones. */
#pragma once

#include "density/balloon.h"
#include "density/numa-place.h"
#include "density/plan.h"
#include "density/policy.h"
#include "density/shed.h"
#include "density/snapshot.h"

/* What a controller says about itself in status: a word for where it
 * stands and why. */
typedef struct ControllerStatus {
        char mode[16];        /* the policy's mode for it, "" if it has none (KSM: auto, fixed, ...) */
        char state[32];       /* e.g. "boosting", "idle", "stopped", "off" */
        char reason[256];     /* why, for people; "" if nothing to say */
        uint64_t since_usec;  /* snapshot time the state began, 0: unknown */
} ControllerStatus;

/* Set a status: state and reason; since_usec moves only when the state
 * word changes. */
void controller_status_set(ControllerStatus *c, const char *state, uint64_t now_usec, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* One controller's status, as the reporters take it. */
typedef struct ControllerReport {
        const char *name;
        ControllerStatus status;
        const ShedBook *shed_book;  /* the shed controller's book of shed guests, NULL for others */
        bool has_balloon;           /* the balloon controller: its guests and totals below */
        BalloonReport balloon;
        bool has_numa;              /* the NUMA controller: where it placed guests */
        NumaReport numa;
} ControllerReport;

typedef struct Controller {
        const char *name;
        /* Its state across ticks; NULL: it keeps none. state_new returns
         * NULL when out of memory. */
        void *(*state_new)(void);
        void (*state_free)(void *state);
        /* Append this tick's actions. Return: 0, or -ENOMEM (the tick goes
         * on without this controller's actions). */
        int (*plan)(const Snapshot *s, const Policy *p, void *state, Plan *plan);
        /* NULL: nothing to say. */
        void (*status)(const void *state, ControllerStatus *ret);
        /* On a clean stop, with the last snapshot: what to put back before
         * densityd exits. NULL: nothing. Return: 0 or -ENOMEM. */
        int (*plan_stop)(const Snapshot *s, const Policy *p, void *state, Plan *plan);
        /* State that outlives the process, kept in StateDirectory= (the
         * shed controller's book): read once at start, before the first
         * plan, and written after a plan that changed it, and once more
         * after a clean stop (plan_stop applied). These do I/O; the planner
         * never does. NULL: none. Return: 0; 1 (state_load) with err saying
         * something an operator should hear (logged as a notice); or
         * -errno with err saying why (the daemon logs it and goes on; a
         * failed store is tried again after the next plan). */
        int (*state_load)(void *state, const char *dir, char *err, size_t err_size);
        int (*state_store)(void *state, const char *dir, char *err, size_t err_size);
        /* The last plan's state could not be stored, and the daemon drops
         * its actions: undo what that plan recorded, so that the next one
         * starts from what is stored. NULL: the actions go ahead anyway. */
        void (*plan_discard)(void *state);
} Controller;

/* The controllers densityd runs, in order: KSM, balloon, NUMA, shed.
 * Balloons move before the shedder judges, so a shed is the step after
 * balloons could not help. */
extern const Controller *const controllers_builtin[];
extern const size_t controllers_builtin_n;
