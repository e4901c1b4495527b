/* top: see include/density/top.h */
#include "density/top.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "density/control.h"
#include "density/util.h"

/* The alternate screen, cursor hidden, autowrap off (a line as wide as the
 * screen must not scroll it), cleared; and back. */
#define TOP_ENTER "\033[?1049h\033[?25l\033[?7l\033[H\033[2J"
#define TOP_LEAVE "\033[?7h\033[?25h\033[?1049l"
#define TOP_ROWS_DEFAULT 24    /* when the size is unknown (not a terminal) */
#define TOP_COLUMNS_DEFAULT 80

/* The signal handlers restore the terminal themselves, so they need it
 * here: the terminal's settings as found, and the fd they belong to (-1:
 * input is not a terminal). Written before the handlers are installed. */
static struct termios top_saved;
static int top_input_fd = -1;
static volatile sig_atomic_t top_resized;

static void write_all(const char *s, size_t len) {
        while (len > 0) {
                ssize_t k = write(STDOUT_FILENO, s, len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                s += k;
                len -= (size_t) k;
        }
}

/* Async-signal-safe, both. */
static void top_terminal_leave(void) {
        write_all(TOP_LEAVE, sizeof(TOP_LEAVE) - 1);
        if (top_input_fd >= 0)
                tcsetattr(top_input_fd, TCSADRAIN, &top_saved);
}

static void top_terminal_enter(void) {
        if (top_input_fd >= 0) {
                /* Keys as they are typed, not echoed; ^C and ^Z still
                 * signal. */
                struct termios raw = top_saved;
                raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
                raw.c_cc[VMIN] = 0;
                raw.c_cc[VTIME] = 0;
                tcsetattr(top_input_fd, TCSADRAIN, &raw);
        }
        write_all(TOP_ENTER, sizeof(TOP_ENTER) - 1);
}

/* SIGINT, SIGTERM, SIGHUP, SIGQUIT: the terminal back, then die of the
 * signal as if there were no handler. */
static void top_on_quit(int sig) {
        top_terminal_leave();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* ^Z: the terminal back, stop; when continued, take it again and redraw. */
static void top_on_stop(int sig) {
        int saved_errno = errno;
        sigset_t set;
        top_terminal_leave();
        signal(sig, SIG_DFL);
        raise(sig);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL); /* stops here until SIGCONT */
        struct sigaction sa = { .sa_handler = top_on_stop };
        sigaction(sig, &sa, NULL);
        top_terminal_enter();
        top_resized = 1;
        errno = saved_errno;
}

static void top_on_resize(int sig) {
        (void) sig;
        top_resized = 1;
}

static const int top_quit_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void top_signals(bool install) {
        /* No SA_RESTART: a resize cuts the wait short. */
        struct sigaction quit = { .sa_handler = install ? top_on_quit : SIG_DFL },
                         stop = { .sa_handler = install ? top_on_stop : SIG_DFL },
                         resize = { .sa_handler = install ? top_on_resize : SIG_DFL };
        for (size_t i = 0; i < ELEMENTSOF(top_quit_signals); i++)
                sigaction(top_quit_signals[i], &quit, NULL);
        sigaction(SIGTSTP, &stop, NULL);
        sigaction(SIGWINCH, &resize, NULL);
}

/* What the daemon said last. */
typedef struct TopData {
        json_object *status_reply, *log_reply; /* owned */
        json_object *status, *decisions;       /* inside them; decisions NULL: the status's */
        char problem[512];                     /* "" when the status is there */
} TopData;

static void top_data_clear(TopData *d) {
        json_object_put(d->status_reply);
        json_object_put(d->log_reply);
        *d = (TopData) {};
}

/* The reply's member, or the reason in problem when it is not ok. */
static json_object *reply_member(json_object *reply, const char *key, char *problem, size_t size) {
        json_object *ok = NULL, *v = NULL;
        if (json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok) &&
            json_object_object_get_ex(reply, key, &v))
                return v;
        snprintf(problem, size, "%s: %s", key,
                 json_object_object_get_ex(reply, "error", &v) ? json_object_get_string(v) : "failed");
        return NULL;
}

/* Ask for the status, then for more decisions when the screen has rows for
 * more than the status carries. Return: 0, or TOP_NO_DAEMON. */
static int top_fetch(const TopOptions *o, const ViewScreen *v, TopData *d) {
        TopData n = {};
        ControlRequest req = { .command = CONTROL_STATUS };
        char err[512];
        int r = control_call(o->socket_path, &req, &n.status_reply, err, sizeof(err));
        if (r == -ENOENT || r == -ECONNREFUSED)
                snprintf(n.problem, sizeof(n.problem), "densityd is not running (nothing listens on %s)",
                         o->socket_path);
        else if (r < 0)
                snprintf(n.problem, sizeof(n.problem), "%s", err);
        else
                n.status = reply_member(n.status_reply, "status", n.problem, sizeof(n.problem));

        json_object *entries = NULL;
        if (n.status && json_object_object_get_ex(n.status, "decisions", &entries))
                json_object_object_get_ex(entries, "entries", &entries);
        unsigned rows = n.status ? view_top_decision_rows(n.status, v) : 0;
        if (entries && json_object_is_type(entries, json_type_array) &&
            json_object_array_length(entries) >= CONTROL_STATUS_DECISIONS && rows > CONTROL_STATUS_DECISIONS) {
                ControlRequest log = { .command = CONTROL_LOG,
                                       .n = rows < JOURNAL_CAPACITY_DEFAULT ? rows : JOURNAL_CAPACITY_DEFAULT };
                char ignored[512];
                /* Without the log, the status's few decisions do. */
                if (control_call(o->socket_path, &log, &n.log_reply, err, sizeof(err)) == 0) {
                        json_object *l = reply_member(n.log_reply, "log", ignored, sizeof(ignored));
                        if (l && json_object_object_get_ex(l, "entries", &entries) &&
                            json_object_is_type(entries, json_type_array))
                                n.decisions = entries;
                }
        }
        top_data_clear(d);
        *d = n;
        return r == -ENOENT || r == -ECONNREFUSED ? TOP_NO_DAEMON : 0;
}

static void top_size(bool tty, ViewScreen *v) {
        struct winsize ws = {};
        uint64_t n;
        v->rows = TOP_ROWS_DEFAULT;
        v->columns = TOP_COLUMNS_DEFAULT;
        if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
                v->rows = ws.ws_row;
                v->columns = ws.ws_col;
                return;
        }
        if (getenv("LINES") && parse_u64(getenv("LINES"), &n) == 0 && n > 0 && n < 10000)
                v->rows = (unsigned) n;
        if (getenv("COLUMNS") && parse_u64(getenv("COLUMNS"), &n) == 0 && n > 0 && n < 10000)
                v->columns = (unsigned) n;
}

/* One screen: on a terminal drawn over the last one from the top left,
 * line by line, the rest of the screen cleared. */
static void top_draw(bool tty, const TopData *d, ViewScreen *v) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        top_size(tty, v);
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return;
        v->problem = d->problem[0] ? d->problem : NULL;
        if (view_top_render(f, d->status, d->decisions, v) < 0) {
                v->problem = "the daemon's status document is incomplete";
                view_top_render(f, NULL, NULL, v);
        }
        if (fclose(f) != 0)
                return;
        if (!tty) {
                fwrite(buf, 1, len, stdout);
                fflush(stdout);
                return;
        }
        _cleanup_free_ char *out = malloc(len * 6 + 64);
        if (!out)
                return;
        size_t o = 0;
        o += (size_t) sprintf(out, "\033[H");
        for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
                /* Cleared before it is written: cleared after, a line as
                 * wide as the screen would lose its last character (the
                 * cursor stays on it). */
                o += (size_t) sprintf(out + o, "\033[2K");
                memcpy(out + o, line, (size_t) (nl - line));
                o += (size_t) (nl - line);
                o += (size_t) sprintf(out + o, "%s", nl[1] ? "\r\n" : "");
        }
        o += (size_t) sprintf(out + o, "\033[J");
        write_all(out, o);
}

typedef enum TopKey {
        TOP_KEY_NONE,
        TOP_KEY_REDRAW,
        TOP_KEY_REFRESH, /* ask the daemon now */
        TOP_KEY_QUIT,
} TopKey;

/* The keys typed since the last look. An escape sequence (arrows,
 * function keys) is passed over with the rest of what was read, so its
 * digits pick no column. */
static TopKey top_keys(ViewScreen *v) {
        char buf[64];
        ssize_t k = read(top_input_fd, buf, sizeof(buf));
        TopKey key = TOP_KEY_NONE;
        for (ssize_t i = 0; i < k && buf[i] != '\033'; i++) {
                char c = buf[i];
                if (c == 'q' || c == 'Q')
                        return TOP_KEY_QUIT;
                if (c == 's' || c == 'S') {
                        v->sort = (ViewSort) ((v->sort + (c == 's' ? 1 : _VIEW_SORT_MAX - 1)) % _VIEW_SORT_MAX);
                        v->reverse = false;
                } else if (c >= '1' && c < '1' + _VIEW_SORT_MAX) {
                        v->sort = (ViewSort) (c - '1');
                        v->reverse = false;
                } else if (c == 'r' || c == 'R')
                        v->reverse = !v->reverse;
                else if (c == 'p' || c == 'P') {
                        v->paused = !v->paused;
                        if (!v->paused) {
                                key = TOP_KEY_REFRESH;
                                continue;
                        }
                } else if (c == ' ' || c == '\n') {
                        key = TOP_KEY_REFRESH;
                        continue;
                } else if (c == '\f')
                        write_all("\033[2J", 4);
                else
                        continue;
                if (key == TOP_KEY_NONE)
                        key = TOP_KEY_REDRAW;
        }
        return key;
}

int top_run(const TopOptions *o) {
        bool tty = isatty(STDOUT_FILENO);
        setlocale(LC_CTYPE, "");
        ViewScreen v = { .sort = o->sort,
                         .utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0,
                         .interval_seconds = (double) o->interval_usec / 1e6 };
        unsigned iterations = o->iterations ? o->iterations : tty ? 0 : 1;
        TopData d = {};
        int r = 0;

        if (tty) {
                if (isatty(STDIN_FILENO)) {
                        if (tcgetattr(STDIN_FILENO, &top_saved) < 0)
                                return -errno;
                        top_input_fd = STDIN_FILENO;
                }
                top_signals(true);
                top_terminal_enter();
        }
        bool quit = false;
        for (unsigned screens = 0; !quit;) {
                top_size(tty, &v); /* how many decisions to ask for */
                r = top_fetch(o, &v, &d);
                if (!tty && screens > 0)
                        fputc('\n', stdout);
                top_draw(tty, &d, &v);
                if (iterations && ++screens >= iterations)
                        break;
                uint64_t deadline = now_monotonic_usec() + o->interval_usec;
                for (;;) {
                        uint64_t now = now_monotonic_usec();
                        if (now >= deadline && !v.paused)
                                break;
                        struct pollfd p = { .fd = top_input_fd, .events = POLLIN };
                        int timeout = v.paused ? -1 : (int) ((deadline - now + 999) / 1000);
                        int k = poll(&p, top_input_fd >= 0 ? 1 : 0, timeout);
                        if (k < 0 && errno != EINTR) {
                                r = -errno;
                                quit = true;
                                break;
                        }
                        TopKey key = k > 0 ? top_keys(&v) : TOP_KEY_NONE;
                        if (key == TOP_KEY_QUIT) {
                                quit = true;
                                break;
                        }
                        if (key == TOP_KEY_REFRESH)
                                break;
                        if (key == TOP_KEY_REDRAW || top_resized) {
                                top_resized = 0;
                                top_draw(tty, &d, &v);
                        }
                }
        }
        if (tty) {
                top_terminal_leave();
                top_signals(false);
                top_input_fd = -1;
        }
        top_data_clear(&d);
        return r;
}
