/* prom: the Prometheus textfile (density.prom) for node_exporter's textfile
 * collector. Metric names start with density_, use base units, and guests
 * carry domain="<libvirt name>" to join prometheus-libvirt-exporter. */
#pragma once

#include <stddef.h>

#include "density/snapshot.h"

#define PROM_FILENAME "density.prom"

/* Render the snapshot as exposition text. Return: 0 or -ENOMEM. */
int prom_render(const Snapshot *s, char **ret, size_t *ret_len);

/* Render and write dir/density.prom atomically. Return: 0 or -errno. */
int prom_write(const char *dir, const Snapshot *s);
