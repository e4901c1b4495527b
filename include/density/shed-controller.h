/* shed-controller: the shed planner. A pure function of the snapshot, the
 * [Shed] policy and its state (the book of shed guests among it) to save,
 * destroy and restore actions with reasons:
 *
 * - while memory is short (shed.h), one guest at a time: the first of
 *   shed_rank(), saved (managed save) or, where its class says
 *   Shed=destroy, destroyed; none while a shed is under way or during
 *   Cooldown= after one;
 * - while memory stays roomy for RestoreHold=, the next shed guest that
 *   fits comes back (shed_pick_restore()), one at a time, each after a new
 *   hold;
 * - the book follows what the snapshot shows: a guest being shed that is
 *   gone is shed; one still running with nothing under way was not (the
 *   save failed): it leaves the book; a restored guest that runs leaves the
 *   book; a restore that has not brought its guest back after
 *   ActionTimeout= is counted a failure and tried again after a back-off;
 *   a shed guest someone started by hand leaves the book;
 * - nothing is shed or restored on no data: host memory unknown, or the
 *   hypervisor not connected (the guest list is then unknown).
 *
 * The daemon reads the book from StateDirectory= at start and writes it
 * after each plan that changed it, through the controller's state_load and
 * state_store (a broken book is moved aside, never overwritten). */
#pragma once

#include "density/controller.h"
#include "density/shed.h"

extern const Controller shed_controller;

/**
 * shed_controller_request() - an operator's shed or restore (densityctl).
 * @last: the latest snapshot, to check the request against now
 * @kind: ACTION_SAVE (shed by hand) or ACTION_RESTORE
 * @guest: a name or UUID
 *
 * A shed by hand is a managed save (nothing lost), of a running,
 * persistent guest whose class allows shedding, with nothing under way;
 * the guest then stays shed until restored by hand. A restore by hand is
 * of a guest densityd shed (by hand or not) and now waits in the book; it
 * skips RestoreHold= and the fit check: the operator decides. The action
 * follows at the next plan, with the same journal as densityd's own.
 *
 * Return: 0 (queued), -ENOENT or -EINVAL with err saying why, -EBUSY (a
 * request for that guest is queued already).
 */
int shed_controller_request(void *state, const Snapshot *last, const Policy *p, ActionKind kind, const char *guest,
                            char *err, size_t err_size);

/* Whether a shed is under way (a save or destroy not yet done): a tick
 * brought forward for memory then changes nothing. */
bool shed_controller_busy(void *state);

/* Hand the book read at start to the state (it takes the entries; b is
 * left empty). */
void shed_controller_adopt_book(void *state, ShedBook *b);
/* The book as it stands, and whether it changed since it was last
 * stored (state_store). */
const ShedBook *shed_controller_book(void *state, bool *ret_changed);
