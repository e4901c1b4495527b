/* top: densityctl top, the daemon's status live in a terminal. Asks the
 * daemon for its status (and its log, when the screen has room for more
 * decisions than the status carries) every interval; view.c draws the
 * screens. On a terminal: the alternate screen, no cursor, keys without
 * Enter, redrawn when the terminal is resized, and the terminal restored
 * on every way out (q, SIGINT, SIGTERM, SIGHUP, SIGQUIT, and around
 * SIGTSTP). Not on a terminal: plain screens, one by default. */
#pragma once

#include <stdint.h>

#include "density/view.h"

#define TOP_INTERVAL_DEFAULT_USEC (2 * UINT64_C(1000000))

typedef struct TopOptions {
        const char *socket_path;
        uint64_t interval_usec; /* between refreshes */
        ViewSort sort;          /* the column at the start */
        unsigned iterations;    /* screens to show, then return; 0: until q on a
                                 * terminal, one otherwise */
} TopOptions;

#define TOP_NO_DAEMON 1 /* top_run(): the last screen found no daemon */

/* Return: 0, TOP_NO_DAEMON, or -errno when the terminal cannot be set up. */
int top_run(const TopOptions *o);
