/* log: see include/density/log.h */
#include "density/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

void log_struct(int priority, const char *message_id, const char *message, const char *const *fields,
                size_t n_fields) {
        if (priority == LOG_DEBUG && !log_verbose)
                return;
        if (!log_journal) {
                log_msg(priority, "%s", message);
                return;
        }
        char prio[16], ident[64], *msg = NULL, *mid = NULL;
        snprintf(prio, sizeof(prio), "PRIORITY=%d", priority & 7);
        snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
        if (asprintf(&msg, "MESSAGE=%s", message) < 0)
                return;
        if (asprintf(&mid, "MESSAGE_ID=%s", message_id) < 0) {
                free(msg);
                return;
        }
        struct iovec iov[4 + 32];
        size_t n = 0;
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { ident, strlen(ident) };
        iov[n++] = (struct iovec) { mid, strlen(mid) };
        for (size_t i = 0; i < n_fields && n < sizeof(iov) / sizeof(iov[0]); i++)
                iov[n++] = (struct iovec) { (void *) fields[i], strlen(fields[i]) };
        sd_journal_sendv(iov, (int) n);
        free(msg);
        free(mid);
}
