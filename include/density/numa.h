/* numa: the host's NUMA nodes (sys_root/devices/system/node/nodeN). */
#pragma once

#include "density/snapshot.h"

/* Parse a node's meminfo ("Node 0 MemTotal:  123 kB"). Return: 0 or -EINVAL. */
int numa_node_meminfo_parse(const char *buf, NumaNode *node);

/* Parse a node's distance file ("10 20 20") into node->distance. Return: 0,
 * or -EINVAL (node untouched). */
int numa_distance_parse(const char *buf, NumaNode *node);

/* Read all nodes, sorted by id. A host without the node directory (no
 * CONFIG_NUMA) gives n_nodes = 0 and returns 0; a node that vanishes while
 * we read (memory hot-unplug) is left out. Return: 0, or -errno when the
 * directory or a node's meminfo or cpulist exists but cannot be read or
 * parsed (-EINVAL); ret is then untouched. */
int numa_read(const char *sys_root, NumaSample *ret);
