/* ksm-controller: the KSM planner. A pure function of the snapshot, the
 * [Ksm] policy and its state to KSM knob writes with reasons:
 *
 * - merging is wanted when the guests' committed memory reaches StartAt=
 *   of capacity, and no longer once it falls below StopAt=;
 * - auto mode boosts ksmd for the full scans that merge what is there,
 *   keeps ksmd under CpuBudget= of one core while it does, then idles
 *   within IdleCpu=, and boosts again when idle scanning yields newly
 *   merged pages or guests start or grow; it stops
 *   (run=0 keeps what is merged) when merging costs more than it saves;
 * - guests of different KSM trust domains never share pages: while
 *   mergeable guests of more than one run, KSM stays stopped;
 * - it never writes run=2 and never a value outside the policy's bounds;
 *   a write that did not take is retried with a growing back-off.
 *
 * Features are judged by the files the kernel has (pages_scanned,
 * ksm_zero_pages, general_profit, advisor_mode): a 6.1 kernel works. */
#pragma once

#include "density/controller.h"

extern const Controller ksm_controller;

/* Yield below which merging no longer pays: newly merged pages per page
 * scanned (1 in 1000). */
#define KSM_YIELD_PAYS 0.001
/* Full scans a boost lasts: the first scan of a page only checksums it,
 * the second merges it if it has not changed. */
#define KSM_BOOST_MIN_FULL_SCANS 2
/* Guests' memory growth that starts a new boost: 10% and at least 64 MiB. */
#define KSM_REBOOST_GROWTH 0.10
#define KSM_REBOOST_MIN_BYTES (UINT64_C(64) << 20)
/* A knob write that did not take is planned again after 30 s, doubling up
 * to 10 min. */
#define KSM_RETRY_MIN_USEC (30 * UINT64_C(1000000))
#define KSM_RETRY_MAX_USEC (600 * UINT64_C(1000000))

/* What the guests may use (capacity) and have committed, in bytes:
 * committed is the sum over guests of the largest of their maximum memory
 * and their RSS; capacity is the VMs' cgroup limit when one is set, else
 * the host's memory, and never more than what the guests hold now plus
 * what the host has available (other users of the host's memory count).
 * Return: 0, or -ENODATA when capacity is unknown (0). */
int ksm_commitment(const Snapshot *s, uint64_t *ret_committed, uint64_t *ret_capacity);
