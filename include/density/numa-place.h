/* numa-place: where the NUMA controller placed guests, as the reporters
 * show it (numa-controller.h plans it). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "density/snapshot.h"

/* Where densityd placed a guest. */
typedef struct NumaPlace {
        char uuid[DENSITY_UUID_LEN];
        char name[DENSITY_NAME_MAX];
        int node;
        char cpulist[128];
        uint64_t since_usec;  /* placed (or moved) then */
        bool seen;            /* in this tick's snapshot (not stored) */
} NumaPlace;

typedef struct NumaReport {
        size_t n_places;
        const NumaPlace *places;
        uint64_t moves_total;  /* guests moved between nodes since densityd started */
} NumaReport;

/* The fraction of a guest's memory (its cgroup's per-node figures) on a
 * node; -1 when unknown (no figures). */
double numa_local_fraction(const GuestSample *g, int node);
