/* balloon-controller: the balloon planner. A pure function of the snapshot,
 * the [Balloon] policy, the guests' classes and its state to balloon
 * targets with reasons:
 *
 * - capacity is the VMs' cgroup limit when one is set, else the host's
 *   memory; the guests' use is the cgroup's usage, else MemTotal less
 *   MemAvailable: measured, never the guests' configured sizes;
 * - a guest under pressure (usable memory inside it below GuestFreeTarget=
 *   of its maximum, or major faults or swap-in rising since its last
 *   report) is never shrunk, and grows first, whether the host is short or
 *   not: what it gets is taken from the others (the shedder, not the
 *   balloon, is the answer when there is nothing left to take);
 * - while the guests' use (plus what pressured guests are given) is above
 *   HostTarget= of capacity, the others shrink: lowest class Priority=
 *   first, within a priority in proportion to what each can give (its
 *   balloon above its lower bound) divided by its class's Shares=, at most
 *   StepMax= per tick, never below the lower bound: the larger of its
 *   class Floor= and what it uses plus its free target plus DeadBand=;
 * - while the use is below HostTarget= less DeadBand=, shrunk guests grow
 *   back toward their maximum, highest priority first, split by Shares=,
 *   at most StepMax= each and, together, the room there is; in between
 *   nothing moves (no oscillation);
 * - a guest is left alone, and shown as such, when it has no balloon, its
 *   domain facts are unknown, its stats are stale or missing (unknown is
 *   never free), an action is in flight for it, or its last target has not
 *   yet shown in a fresh report;
 * - a target the guest has not reached a few ticks later (no balloon
 *   driver, a guest that cannot give the memory) is noted once (a plan
 *   note, journalled) and the guest is left alone for BALLOON_STUCK_HOLD_USEC
 *   before one more try.
 *
 * Balloons are left where they are on a clean stop: giving every guest its
 * memory back at once could bring on what they were shrunk to prevent. */
#pragma once

#include "density/balloon.h"
#include "density/controller.h"

extern const Controller balloon_controller;

/* The state as the reporters show it (valid until the next plan). */
void balloon_controller_report(const void *state, BalloonReport *ret);
