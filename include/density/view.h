/* view: densityctl's reading of what the daemon sends back (the status
 * document and the log reply, see control.h): the status table, log lines,
 * and the screens of `densityctl top`. JSON in, text out: no socket, no
 * terminal (top.c owns the terminal). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

/* Print the status document as densityctl's table. Control characters in
 * what the daemon sent (a guest's name, a reason) are printed as '?'.
 * Return: 0, -EINVAL, or -EIO. */
int view_status_print(FILE *f, json_object *status);

/* Print log entries (the "entries" array of a log reply, or the status
 * document's "decisions"), one line each: time, controller, result, what,
 * reason. Return: 0 or -EINVAL. */
int view_log_print(FILE *f, json_object *entries);

/* The columns top sorts the guests by. Numbers sort largest first, names
 * and classes in alphabetical order; a guest without the figure comes
 * last either way; ties go by name. */
typedef enum ViewSort {
        VIEW_SORT_NAME,
        VIEW_SORT_RSS,
        VIEW_SORT_BALLOON, /* balloon actual */
        VIEW_SORT_USABLE,
        VIEW_SORT_KSM,     /* memory KSM merged */
        VIEW_SORT_CLASS,
        _VIEW_SORT_MAX,
} ViewSort;

const char *view_sort_name(ViewSort s);
/* Return: 0 or -EINVAL for an unknown name. */
int view_sort_from_name(const char *name, ViewSort *ret);

/* What one screen of top looks like. */
typedef struct ViewScreen {
        unsigned rows, columns;    /* the terminal's size in character cells */
        ViewSort sort;
        bool reverse;              /* the other way round from the column's order */
        bool paused;
        bool utf8;                 /* the terminal takes UTF-8: "…" and names as they are;
                                    * else ASCII only */
        double interval_seconds;   /* between refreshes, for the screen without a daemon */
        const char *problem;       /* why there is no status document (densityd not
                                    * running, no answer), or NULL */
} ViewScreen;

/* The rows a screen of this size gives to recent decisions, with as many
 * decisions as there are rows: what to ask the daemon's log for. */
unsigned view_top_decision_rows(json_object *status, const ViewScreen *v);

/**
 * view_top_render() - one screen of densityctl top.
 * @status: the status document (ignored when @v->problem is set)
 * @decisions: entries to show, oldest first (a log reply's), or NULL for
 *             the status document's own
 *
 * At most @v->rows lines, each ended by '\n', each at most @v->columns
 * cells wide: the daemon and host on top, the guests sorted as @v says
 * (truncated to the rows there are, the last row then "… N more"), the
 * latest decisions at the bottom. No escape sequences; control characters
 * in the daemon's strings show as '?'.
 *
 * Return: the number of lines, or -EINVAL when @status is not a status
 * document (nothing written).
 */
int view_top_render(FILE *f, json_object *status, json_object *decisions, const ViewScreen *v);
