/* journal: see include/density/journal.h */
#include "density/journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "density/util.h"

struct Journal {
        JournalEntry *ring;
        size_t capacity;
        size_t head;   /* index of the oldest entry */
        size_t n;      /* entries held */
        uint64_t next_id;
        JournalSink sink;
        void *userdata;
        JournalCounter *counters; /* sorted */
        size_t n_counters, allocated_counters;
};

static const char *const result_names[_RESULT_MAX] = {
        [RESULT_WOULD] = "would",     [RESULT_SKIPPED] = "skipped", [RESULT_QUEUED] = "queued",
        [RESULT_STARTED] = "started", [RESULT_DONE] = "done",       [RESULT_FAILED] = "failed",
        [RESULT_TIMEOUT] = "timeout",
};

const char *action_result_name(ActionResult r) {
        return r < _RESULT_MAX ? result_names[r] : "?";
}

int action_result_from_name(const char *name, ActionResult *ret) {
        for (int i = 0; i < _RESULT_MAX; i++)
                if (strcmp(result_names[i], name) == 0) {
                        *ret = (ActionResult) i;
                        return 0;
                }
        return -EINVAL;
}

bool action_result_is_final(ActionResult r) {
        return r != RESULT_QUEUED && r != RESULT_STARTED && r < _RESULT_MAX;
}

int journal_new(size_t capacity, JournalSink sink, void *userdata, Journal **ret) {
        if (capacity == 0)
                return -EINVAL;
        Journal *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->ring = calloc(capacity, sizeof(*j->ring));
        if (!j->ring) {
                free(j);
                return -ENOMEM;
        }
        j->capacity = capacity;
        j->next_id = 1;
        j->sink = sink;
        j->userdata = userdata;
        *ret = j;
        return 0;
}

Journal *journal_free(Journal *j) {
        if (!j)
                return NULL;
        free(j->ring);
        free(j->counters);
        free(j);
        return NULL;
}

static int counter_cmp(const JournalCounter *a, const char *controller, ActionKind kind, ActionResult result) {
        int c = strcmp(a->controller, controller);
        if (c != 0)
                return c;
        if (a->kind != kind)
                return a->kind < kind ? -1 : 1;
        if (a->result != result)
                return a->result < result ? -1 : 1;
        return 0;
}

/* Count a final result. Out of memory loses one count, nothing else. */
static void journal_count(Journal *j, const JournalEntry *e) {
        if (!action_result_is_final(e->result))
                return;
        size_t lo = 0, hi = j->n_counters;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = counter_cmp(&j->counters[mid], e->action.controller, e->action.kind, e->result);
                if (c == 0) {
                        j->counters[mid].count++;
                        return;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (j->n_counters == j->allocated_counters) {
                size_t n = j->allocated_counters ? j->allocated_counters * 2 : 16;
                JournalCounter *x = realloc(j->counters, n * sizeof(*x));
                if (!x)
                        return;
                j->counters = x;
                j->allocated_counters = n;
        }
        memmove(&j->counters[lo + 1], &j->counters[lo], (j->n_counters - lo) * sizeof(*j->counters));
        JournalCounter *c = &j->counters[lo];
        *c = (JournalCounter) { .kind = e->action.kind, .result = e->result, .count = 1 };
        strscpy(c->controller, sizeof(c->controller), e->action.controller);
        j->n_counters++;
}

static void journal_emit(Journal *j, const JournalEntry *e) {
        journal_count(j, e);
        if (j->sink)
                j->sink(e, j->userdata);
}

uint64_t journal_next_id(const Journal *j) {
        return j->next_id;
}

uint64_t journal_add(Journal *j, JournalEntry *e) {
        e->id = j->next_id++;
        size_t slot;
        if (j->n < j->capacity)
                slot = (j->head + j->n++) % j->capacity;
        else {
                slot = j->head;
                j->head = (j->head + 1) % j->capacity;
        }
        j->ring[slot] = *e;
        journal_emit(j, e);
        return e->id;
}

void journal_update(Journal *j, const JournalEntry *e) {
        /* Ids grow with the ring's order: find it by its distance from the oldest. */
        if (j->n > 0) {
                uint64_t oldest = j->ring[j->head].id;
                if (e->id >= oldest && e->id - oldest < j->n) {
                        JournalEntry *slot = &j->ring[(j->head + (size_t) (e->id - oldest)) % j->capacity];
                        if (slot->id == e->id)
                                *slot = *e;
                }
        }
        journal_emit(j, e);
}

static bool journal_passes(const JournalEntry *e, const JournalFilter *f) {
        if (f->guest && f->guest[0] && strcmp(e->action.guest, f->guest) != 0 && strcmp(e->action.uuid, f->guest) != 0)
                return false;
        if (f->controller && f->controller[0] && strcmp(e->action.controller, f->controller) != 0)
                return false;
        return true;
}

int journal_query(const Journal *j, const JournalFilter *f, JournalEntry **ret, size_t *ret_n) {
        size_t want = f->n == 0 || f->n > j->n ? j->n : f->n;
        JournalEntry *out = calloc(want ? want : 1, sizeof(*out));
        if (!out)
                return -ENOMEM;
        /* Walk from the newest back, then reverse: oldest first. */
        size_t k = 0;
        for (size_t i = j->n; i > 0 && k < want; i--) {
                const JournalEntry *e = &j->ring[(j->head + i - 1) % j->capacity];
                if (journal_passes(e, f))
                        out[k++] = *e;
        }
        for (size_t a = 0, b = k ? k - 1 : 0; a < b; a++, b--) {
                JournalEntry t = out[a];
                out[a] = out[b];
                out[b] = t;
        }
        *ret = out;
        *ret_n = k;
        return 0;
}

const JournalCounter *journal_counters(const Journal *j, size_t *ret_n) {
        *ret_n = j->n_counters;
        return j->counters;
}

void journal_entry_format(const JournalEntry *e, char *buf, size_t size) {
        char what[512], when[64] = "";
        action_describe(&e->action, what, sizeof(what));
        if (e->finished_usec && e->started_usec && e->finished_usec >= e->started_usec)
                snprintf(when, sizeof(when), " in %.2f s", (double) (e->finished_usec - e->started_usec) / 1e6);
        snprintf(buf, size, "%s: %s%s%s%s [%s]: %s%s%s", what, e->late ? "late, " : "", action_result_name(e->result),
                 e->dry_run && e->result == RESULT_WOULD ? " (dry run)" : "", when, e->action.controller,
                 e->action.reason, e->message[0] ? "; " : "", e->message);
}
