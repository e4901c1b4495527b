/* simulate: what the planners would have done over a recording (record.h),
 * for `densityctl simulate`. Each recorded snapshot is given, in order, to
 * the controllers under the policy being tried (classes judged again
 * under it), their state carried from tick to tick as in densityd; the
 * actions they plan are collected and compared with those densityd planned
 * on the same snapshot.
 *
 * What the simulation assumes (densityctl(8) says it for people):
 * - the actions change no later snapshot: the recording shows what
 *   happened under the policy that ran; a simulated action counts only as
 *   the difference it makes to what the recording shows (a balloon target
 *   below the recorded balloon, a shed guest the recording still runs);
 * - actions in flight are those of the recording (actions take as long as
 *   densityd's did);
 * - controller state starts empty at the first recorded tick (no shed
 *   book from StateDirectory=), and operators' shed and restore requests
 *   are not replayed.
 *
 * Memory freed, per controller:
 * - balloon: every planned shrink, the guest's balloon at that tick less
 *   the target;
 * - KSM: the most the recording shows merged (pages_sharing and
 *   ksm_zero_pages) at a tick where the simulated ksmd ran (run=1); where
 *   the recorded ksmd had stopped, the most the recording showed merged
 *   up to then;
 * - shed: what each guest shed would have freed (shed_frees_bytes()).
 *
 * Headroom at a tick: the bytes to the nearest shed threshold of the
 * policy (shed_headroom_bytes(): MemAvailable above MemAvailableBelow=,
 * the VMs' cgroup under CgroupUsageAbove= of its limit), plus what the
 * simulated world has freed beyond the recording (balloons below their
 * recorded size, guests shed that the recording still runs, pages merged
 * while the recorded ksmd was stopped, counted as the most the recording
 * shows merged); 0 at a tick whose memory stalls ("full" avg10) exceed
 * PsiFullAbove= (a thrash). Its minimum over the recording says how many
 * more guests of a size would have fit. Pure: no I/O, no clock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "density/controller.h"
#include "density/plan.h"
#include "density/policy.h"
#include "density/record.h"

/* An action the simulation planned, with the tick it was planned on. */
typedef struct SimulatedAction {
        uint64_t tick;
        uint64_t timestamp_usec;  /* the snapshot's */
        Action action;
        uint64_t freed_bytes;     /* what it frees (balloon shrink, shed), 0 for others */
} SimulatedAction;

/* A controller's memory freed. */
typedef struct SimulatedFreed {
        const char *controller;   /* "balloon", "ksm", "shed" */
        uint64_t bytes;
        size_t n_actions;         /* the actions that freed it (balloon shrinks, sheds; KSM: knob writes) */
} SimulatedFreed;

#define SIMULATE_FREED_N 3

typedef struct SimulationResult {
        size_t n_ticks;
        uint64_t first_usec, last_usec;   /* snapshot times of the first and last tick */
        SimulatedAction *actions;
        size_t n_actions, allocated_actions;
        size_t n_recorded_actions;        /* what densityd planned over the same ticks */
        size_t n_ticks_differing;         /* ticks whose simulated plan is not the recorded one */
        uint64_t first_differing_tick;    /* 0: none */
        SimulatedFreed freed[SIMULATE_FREED_N]; /* balloon, ksm, shed */
        bool has_headroom;                /* a tick with known host memory was seen */
        uint64_t headroom_min_bytes;
        uint64_t headroom_min_tick;
        uint64_t headroom_min_usec;
        uint64_t mean_guest_bytes;        /* shed_guest_bytes() over the guests of the last tick, 0: none */
} SimulationResult;

typedef struct Simulation Simulation;

/* A simulation of the controllers under policy p (copied). Return: 0 or
 * -ENOMEM. */
int simulation_new(const Policy *p, const Controller *const *controllers, size_t n_controllers, Simulation **ret);

/* Accepts NULL. Return: NULL. */
Simulation *simulation_free(Simulation *sim);

/* Run the controllers on one recorded tick (its classes judged again under
 * the policy; the tick's snapshot is changed so). Ticks come in the order
 * recorded. Return: 0 or -ENOMEM. */
int simulation_step(Simulation *sim, RecordTick *t);

/* What the simulation found so far. */
const SimulationResult *simulation_result(const Simulation *sim);

/* How many more guests of guest_bytes would have fit at the tightest tick:
 * headroom_min_bytes / guest_bytes (0 when either is 0). */
uint64_t simulation_guests_fit(const SimulationResult *r, uint64_t guest_bytes);

/* Whether two actions are the same decision: controller, kind, guest,
 * bytes, vCPU, knob, mode, value and reason. */
bool action_same(const Action *a, const Action *b);

/* The result for people: the actions as the journal words them, memory
 * freed per controller, the headroom and the guests that would have fit. */
void simulation_print(FILE *f, const SimulationResult *r, uint64_t guest_bytes);

/* The result as JSON (densityctl simulate --json); NULL: out of memory. */
json_object *simulation_json(const SimulationResult *r, uint64_t guest_bytes);
