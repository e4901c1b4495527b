/* log: see include/density/log.h */
#include "density/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-journal.h>

static const char *log_ident = "densityd";
static bool log_journal;
static bool log_verbose;

void log_setup(const char *ident, bool verbose) {
        log_ident = ident;
        log_verbose = verbose;
        log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_msg(int priority, const char *fmt, ...) {
        if (priority == LOG_DEBUG && !log_verbose)
                return;
        va_list ap;
        va_start(ap, fmt);
        if (log_journal)
                sd_journal_printv(priority, fmt, ap);
        else {
                static const char *const names[] = { "emerg", "alert", "crit", "error",
                                                     "warning", "notice", "info", "debug" };
                fprintf(stderr, "%s: %s: ", log_ident, names[priority & 7]);
                vfprintf(stderr, fmt, ap);
                fputc('\n', stderr);
        }
        va_end(ap);
}
