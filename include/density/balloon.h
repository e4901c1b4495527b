/* balloon: the pure parts the balloon controller (balloon-controller.h)
 * stands on: what it makes of one guest (balloon_judge()), what it keeps
 * of each guest across ticks, and what it reports. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "density/plan.h"
#include "density/policy.h"
#include "density/snapshot.h"

/* A target not reached after this many intervals (and at least the
 * minimum) is stuck. */
#define BALLOON_SETTLE_INTERVALS 3
#define BALLOON_SETTLE_MIN_USEC (15 * UINT64_C(1000000))
/* A stuck guest is left alone this long. */
#define BALLOON_STUCK_HOLD_USEC (300 * UINT64_C(1000000))
/* Targets are whole MiB; a move smaller than this is not made. */
#define BALLOON_GRAIN_BYTES (UINT64_C(1) << 20)
/* A guest that was under pressure is not shrunk again for this long: what
 * it was given is not taken back the moment it breathes. */
#define BALLOON_PRESSURE_HOLD_USEC (60 * UINT64_C(1000000))
/* A shrink that freed less than a quarter of what the balloon took on the
 * host (the guest's free pages were back with the host already, by free
 * page reporting, or were never touched) is futile: the guest is not shrunk
 * again for this long. */
#define BALLOON_FUTILE_HOLD_USEC (600 * UINT64_C(1000000))
/* Major faults between two reports that count as pressure. */
#define BALLOON_MAJOR_FAULTS_PRESSURE 256u

/* What the planner makes of one guest, this tick. */
typedef struct BalloonJudgement {
        bool eligible;             /* its figures may be acted on */
        char why_not[128];         /* when not eligible: why, for people */
        bool pressured;
        char pressure[128];        /* when pressured: why */
        bool recently_pressured;   /* pressured within BALLOON_PRESSURE_HOLD_USEC: not shrunk */
        uint64_t maximum_bytes;
        uint64_t actual_bytes;
        uint64_t used_bytes;       /* what the guest holds and cannot give: balloon size less usable */
        uint64_t free_target_bytes;
        uint64_t floor_bytes;      /* the class's Floor= */
        uint64_t lower_bytes;      /* never below: max(floor, used + free target + dead band), at most the maximum */
        uint64_t step_bytes;       /* StepMax= for this guest */
} BalloonJudgement;

/* One guest as the controller keeps it, for status and metrics. */
typedef struct BalloonGuest {
        char uuid[DENSITY_UUID_LEN];
        char name[DENSITY_NAME_MAX];
        char class_name[DENSITY_CLASS_MAX];
        char state[16];            /* "steady", "shrunk", "pressure", "settling", "stuck", "stale", "no-stats", ... */
        char reason[192];
        uint64_t actual_bytes;
        uint64_t maximum_bytes;
        uint64_t lower_bytes;      /* 0: unknown (not eligible) */
        uint64_t floor_bytes;      /* its class's Floor=, 0: unknown (no maximum) */
        uint64_t overhead_bytes;   /* qemu's own: host RSS above the balloon size, 0 if none */
        bool has_rss;
        /* The last target densityd set, and when (0: none since it started). */
        uint64_t target_bytes;
        uint64_t target_usec;
        int64_t target_update;     /* the guest's last report when it was set */
        bool target_reached;
        char last_action[ACTION_REASON_MAX];
        uint64_t stuck_until_usec;
        /* Counters as of the guest's last report, for "rising", and
         * whether they rose at that report (pressure until the next). */
        int64_t counters_update;
        bool has_counters;
        uint64_t major_faults, swap_in_bytes;
        bool counters_rising;
        char counters_why[96];
        uint64_t pressured_usec;   /* when it was last judged under pressure, 0: never */
        /* The last shrink: what the balloon was to take, and the host memory
         * the guest held then (shed_guest_bytes()), to see what it freed. */
        uint64_t shrink_asked_bytes;   /* 0: no shrink to judge */
        uint64_t shrink_host_bytes;
        uint64_t futile_until_usec; /* not shrunk until then: its last shrink freed little */
        bool seen;                 /* in this tick's snapshot */
} BalloonGuest;

typedef struct BalloonReport {
        size_t n_guests;
        const BalloonGuest *guests;
        uint64_t inflated_bytes_total;  /* balloon sizes seen to fall, summed since densityd started */
        uint64_t deflated_bytes_total;  /* ... and to rise */
        bool has_host;
        uint64_t capacity_bytes;
        uint64_t use_bytes;
        uint64_t target_use_bytes;      /* HostTarget= of capacity */
} BalloonReport;


/* The memory the guests share and what they use of it: the VMs' cgroup
 * (limit and usage) when it has a limit below the host's memory, else the
 * host (MemTotal, and MemTotal less MemAvailable). what: "the VMs' cgroup
 * limit" or "host memory", for reasons. Return: 0, or -ENODATA (unknown). */
int balloon_capacity(const HostSample *h, uint64_t *ret_capacity_bytes, uint64_t *ret_use_bytes, const char **ret_what);

/* Judge one guest (pure; prev: what the controller kept of it, NULL if
 * nothing). */
void balloon_judge(const GuestSample *g, const Policy *p, const BalloonGuest *prev, uint64_t now_usec,
                   BalloonJudgement *ret);
