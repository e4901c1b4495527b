/* record: densityd's recording of what its planners saw and decided, one
 * JSON line per tick ([Daemon] Record=): the whole Snapshot the planners
 * were given (host, guests, KSM, PSI, the VMs' cgroup, domain facts,
 * classes, actions in flight) and the actions they planned. `densityctl
 * simulate` runs the planners again over it (simulate.h).
 *
 * The line is split from the file: record_format() and record_parse() are
 * pure (record_parse() never trusts its input: it is fuzzed);
 * the Recorder appends lines to StateDirectory=/record.jsonl and rotates it
 * to record.jsonl.1 when it would grow past half the cap, so the two files
 * together stay within it; record_read() reads a file back line by line.
 *
 * A line: {"version":1,"tick":N,"snapshot":{...},"actions":[...]}, each
 * action with the id densityd's journal gave it (densityctl log). Fields
 * are named as in snapshot.h and plan.h; a field that is zero, false or ""
 * is left out, and an object without it means zero. Sizes are bytes, times
 * microseconds. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "density/plan.h"
#include "density/snapshot.h"

#define RECORD_VERSION 1
#define RECORD_FILE "record.jsonl"      /* in StateDirectory= */
#define RECORD_FILE_OLD "record.jsonl.1" /* the one before, after a rotation */
#define RECORD_LINE_MAX (64 * 1024 * 1024) /* bytes: a longer line is refused */

/* One tick read back: the snapshot as the planners saw it, and what the
 * daemon planned on it. */
typedef struct RecordTick {
        uint64_t tick;      /* the daemon's tick count, from 1 */
        uint64_t first_action_id; /* the journal id of plan.actions[0] (the rest follow in order); 0: none */
        Snapshot snap;
        Plan plan;          /* the actions only (no notes) */
} RecordTick;

/* Free the guests and actions and reset; accepts NULL. */
void record_tick_clear(RecordTick *t);

/**
 * record_format() - one tick as one line of JSON.
 * @tick: the daemon's tick count
 * @first_action_id: the journal id the first action gets (each action's
 *     "id" in the line; the others follow in order), 0: none
 * @s: the snapshot as the planners were given it
 * @p: the actions planned on it (NULL: none)
 * @ret: the line, '\n'-terminated, malloc'd
 * @ret_len: its length (may be NULL)
 *
 * Return: 0 or -ENOMEM.
 */
int record_format(uint64_t tick, uint64_t first_action_id, const Snapshot *s, const Plan *p, char **ret,
                  size_t *ret_len);

/**
 * record_parse() - read a line written by record_format() back.
 * @line: the line (NUL-terminated; a trailing newline is allowed)
 * @ret: filled on success (record_tick_clear() it); untouched on failure
 * @err: on failure, why, naming the field ("snapshot.guests[2].rss_bytes:
 *     not a number 0..18446744073709551615")
 *
 * Unknown fields, values of the wrong type or range, strings longer than
 * their field and a version other than RECORD_VERSION are refused.
 *
 * Return: 0, -EINVAL (err says why) or -ENOMEM.
 */
int record_parse(const char *line, RecordTick *ret, char *err, size_t err_size);

/**
 * record_read() - every line of a recording, in order.
 * @path: the file
 * @fn: called for each tick; it owns the tick (and clears it); a negative
 *     return stops the read and is returned
 * @err: on failure, why: "PATH:LINE: ..." for a line that does not parse
 *
 * An empty line is skipped. A last line without its newline (a daemon
 * stopped in the middle of a write) is refused like any bad line.
 *
 * Return: 0, -errno (cannot read the file; err says so), -EINVAL (a bad
 * line), or what fn returned.
 */
int record_read(const char *path, int (*fn)(RecordTick *t, void *userdata), void *userdata, char *err,
                size_t err_size);

/* The recorder, owned by the daemon's event loop. */
typedef struct Recorder Recorder;

/* Free space the recorder leaves on the file system of StateDirectory=:
 * the shed book (shed.json) must always find room there, or no guest can
 * be shed. */
#define RECORD_RESERVE_BYTES (UINT64_C(16) << 20)

/* Record into DIR/record.jsonl, keeping DIR/record.jsonl and
 * DIR/record.jsonl.1 together within cap_bytes (> 0). Opens nothing yet;
 * the first write makes DIR (mode 0700, not its parents) if it is missing.
 * Return: 0, -EINVAL (cap_bytes 0, DIR too long) or -ENOMEM. */
int recorder_new(const char *dir, uint64_t cap_bytes, Recorder **ret);

/* Accepts NULL. Return: NULL. */
Recorder *recorder_free(Recorder *r);

/* Leave reserve_bytes free instead of RECORD_RESERVE_BYTES (tests). */
void recorder_set_reserve(Recorder *r, uint64_t reserve_bytes);

/* Whether the recorder writes to dir with cap_bytes (a reload that keeps
 * both keeps the recorder). */
bool recorder_is(const Recorder *r, const char *dir, uint64_t cap_bytes);

/* Append one line (record_format()'s). The file is rotated first when the
 * line would take it past half the cap; a line longer than that is not
 * written, nor one that would leave less than the reserve free on the file
 * system (-ENOSPC). Never retries and never waits for anything but the write itself
 * (to the page cache); a failed or short write is cut off at the last
 * complete line, so the file stays readable.
 * Return: 0, -EFBIG (the line is over half the cap), or -errno. */
int recorder_write(Recorder *r, const char *line, size_t len);
