/* log: see include/density/log.h */
#include "density/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static const char *log_ident = "densityd";
static bool log_journal;
static bool log_verbose;

/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected our
 * stderr to; a child with stderr redirected inherits the variable but not
 * the stream. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *ident, bool verbose) {
        log_ident = ident;
        log_verbose = verbose;
        log_journal = stderr_is_journal();
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
