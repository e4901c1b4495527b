/* numa-controller: the NUMA planner. A pure function of the snapshot, the
 * [Numa] policy, the guests' classes and its state (the book of where it
 * placed each guest) to vCPU, emulator and memory pinning with reasons:
 *
 * - nodes it places on have memory and CPUs (a memoryless node, or one
 *   without CPUs, is never a home); on a host with one such node it does
 *   nothing unless SingleNode=yes;
 * - each guest densityd may place (facts known, its class says Numa=yes,
 *   not pinned by hand, nothing under way for it) that has no home yet
 *   gets one, largest guests first: a node with CPUs for all its vCPUs and
 *   free memory for what of it is not there already; among those, with
 *   merge_across_nodes=0 the node holding most guests of its class (KSM
 *   merges only within a node), then the node already holding most of its
 *   memory, then the most free memory, then the nearest (distance) to where
 *   its memory is; one that fits no node is left alone and said so;
 * - its vCPUs and emulator threads are pinned to the node's CPUs and its
 *   memory placed there (numatune mode MemoryMode=, preferred by default:
 *   strict binding on an overcommitted host turns a full node into OOM
 *   kills);
 * - while free memory (a share of each node's) differs between nodes by
 *   more than BalanceTolerance=, at most MaxMovesPerTick= guests move from
 *   the fullest node to the emptiest, each only if the move narrows the gap
 *   and it has stayed Dwell= where it is;
 * - guests pinned by hand (domain facts), and classes with Numa=no, are
 *   never touched; the book (StateDirectory=/numa.json) tells densityd's
 *   own pins from hand pins after a restart.
 *
 * A placement is planned once: a pinning the hypervisor refuses (libvirt
 * refuses some numatune changes on a running guest) is journalled with
 * libvirt's reason and not tried again every tick. */
#pragma once

#include "density/controller.h"
#include "density/numa-place.h"

#define NUMA_BOOK_FILE "numa.json"  /* in StateDirectory= */

extern const Controller numa_controller;

/* The book's JSON text (numa.json). Return: 0 with *ret malloc'd (*ret_n
 * places), -EINVAL (err says why) or -ENOMEM; nothing written on failure. */
int numa_book_parse(const char *text, NumaPlace **ret, size_t *ret_n, char *err, size_t err_size);

/* The state as the reporters show it (valid until the next plan). */
void numa_controller_report(const void *state, NumaReport *ret);

