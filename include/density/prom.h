/* prom: the Prometheus textfile (density.prom) for node_exporter's textfile
 * collector. Metric names start with density_, use base units, and guests
 * carry domain="<libvirt name>" to join prometheus-libvirt-exporter. */
#pragma once

#include <stddef.h>

#include "density/controller.h"
#include "density/journal.h"
#include "density/snapshot.h"

#define PROM_FILENAME "density.prom"

/* Render the snapshot, the decision journal's counters
 * (density_actions_total; counters may be NULL) and the controllers'
 * states (density_controller_state; may be NULL) as exposition text.
 * Return: 0 or -ENOMEM. */
int prom_render(const Snapshot *s, const JournalCounter *counters, size_t n_counters,
                const ControllerReport *controllers, size_t n_controllers, char **ret, size_t *ret_len);

/* Render and write dir/density.prom atomically. Return: 0 or -errno. */
int prom_write(const char *dir, const Snapshot *s, const JournalCounter *counters, size_t n_counters,
               const ControllerReport *controllers, size_t n_controllers);
