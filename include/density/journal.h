/* journal: the decision journal. Every action a controller plans is
 * recorded with what became of it: applied ("done"), "failed" (with
 * libvirt's or the kernel's message), "timeout", "skipped" (and why), or
 * "would" (dry run); long actions also when they are "queued" and
 * "started". Each record goes to a sink (densityd sends it to journald with
 * structured fields), to a ring buffer of the latest entries (densityctl
 * log), and, once final, to counters (density_actions_total). Pure: no I/O,
 * no clock; the caller passes times. Not thread-safe: the event loop owns it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "density/plan.h"

#define JOURNAL_CAPACITY_DEFAULT 1000
#define JOURNAL_MESSAGE_MAX 256

typedef enum ActionResult {
        RESULT_WOULD,   /* dry run: planned, nothing changed */
        RESULT_SKIPPED, /* planned, not applied; message says why */
        RESULT_QUEUED,  /* handed to a worker (not final) */
        RESULT_STARTED, /* a worker started it (not final; journaled for long actions) */
        RESULT_DONE,
        RESULT_FAILED,  /* message: the hypervisor's or kernel's error */
        RESULT_TIMEOUT, /* no outcome within ActionTimeout=; a started one still reports its outcome later */
        _RESULT_MAX,
} ActionResult;

const char *action_result_name(ActionResult r);
/* Return: 0 or -EINVAL. */
int action_result_from_name(const char *name, ActionResult *ret);
/* Whether nothing more will be recorded for the action after this result
 * (TIMEOUT of a started action is final for the counters, yet its late
 * outcome is recorded too, with late = true). */
bool action_result_is_final(ActionResult r);

typedef struct JournalEntry {
        uint64_t id;             /* unique within the daemon's run, from 1 */
        Action action;
        ActionResult result;     /* the latest */
        char message[JOURNAL_MESSAGE_MAX];
        bool dry_run;
        bool late;               /* this outcome came after the action had timed out */
        uint64_t planned_usec;   /* CLOCK_REALTIME: when apply took it */
        uint64_t started_usec;   /* when a worker started it; 0: not started */
        uint64_t finished_usec;  /* when the outcome came; 0: none yet */
} JournalEntry;

/* Called for every record (new entries and later results alike). */
typedef void (*JournalSink)(const JournalEntry *e, void *userdata);

typedef struct JournalCounter {
        char controller[ACTION_CONTROLLER_MAX];
        ActionKind kind;
        ActionResult result;
        uint64_t count;
} JournalCounter;

typedef struct JournalFilter {
        const char *guest;      /* name or UUID; NULL: any */
        const char *controller; /* NULL: any */
        size_t n;               /* the last n that match; 0: all in the ring */
} JournalFilter;

typedef struct Journal Journal;

/* capacity: entries the ring keeps. sink may be NULL. Return: 0 or -ENOMEM. */
int journal_new(size_t capacity, JournalSink sink, void *userdata, Journal **ret);
Journal *journal_free(Journal *j); /* accepts NULL; returns NULL */

/* The id the next action added gets. */
uint64_t journal_next_id(const Journal *j);

/* Record a new action (e->id is assigned here). Return: the id. */
uint64_t journal_add(Journal *j, JournalEntry *e);

/* Record a later result of an action already added (same id): the ring
 * entry is replaced if the ring still holds it; the sink and the counters
 * see it either way. */
void journal_update(Journal *j, const JournalEntry *e);

/**
 * journal_query() - the latest entries that pass a filter, oldest first.
 * @ret: malloc'd copies (caller frees), *ret_n of them
 *
 * Return: 0 or -ENOMEM.
 */
int journal_query(const Journal *j, const JournalFilter *f, JournalEntry **ret, size_t *ret_n);

/* The counters of final results, sorted by controller, kind, result. The
 * array stays valid until the next journal_add/journal_update. */
const JournalCounter *journal_counters(const Journal *j, size_t *ret_n);

/* One line for people: "balloon dtest-3 to 200 MiB: done in 0.12 s [balloon]:
 * REASON" (and the message where there is one). */
void journal_entry_format(const JournalEntry *e, char *buf, size_t size);
