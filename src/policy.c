/* policy: see include/density/policy.h
 *
 * inih does the INI syntax. It does not pass line numbers to the handler in
 * Debian's build, so we feed it through our own line reader, which counts
 * lines (inih calls the handler for a line before it reads the next one)
 * and reports lines inih would silently reject or truncate. */
#include "density/policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "density/util.h"

typedef enum KeyType {
        KEY_DURATION, /* "5", "5s", "500ms", "2min": stored as usec */
        KEY_PATH,     /* absolute path */
        KEY_STRING,
} KeyType;

typedef struct KeySpec {
        const char *section;
        const char *key;
        KeyType type;
        size_t offset;
        size_t size;          /* strings: buffer size */
        uint64_t min, max;    /* durations: bounds in usec */
} KeySpec;

#define STR_FIELD(f) offsetof(Policy, f), sizeof(((Policy *) 0)->f)

static const KeySpec policy_keys[] = {
        { "Daemon", "Interval", KEY_DURATION, offsetof(Policy, interval_usec), 0, 100 * USEC_PER_MSEC,
          3600 * USEC_PER_SEC },
        { "Daemon", "StaleAfter", KEY_DURATION, offsetof(Policy, stale_after_usec), 0, 1 * USEC_PER_SEC,
          86400 * USEC_PER_SEC },
        { "Daemon", "ControlSocket", KEY_PATH, STR_FIELD(control_socket), 0, 0 },
        { "Daemon", "TextfileDirectory", KEY_PATH, STR_FIELD(textfile_directory), 0, 0 },
        { "Daemon", "LibvirtURI", KEY_STRING, STR_FIELD(libvirt_uri), 0, 0 },
};

static const char *const policy_sections[] = { "Daemon" };

static void policy_class_defaults(PolicyClass *c, const char *name) {
        *c = (PolicyClass) {
                .priority = 50,
                .floor = { .is_percent = true, .percent = 50.0 },
                .shares = 1000,
                .shed = SHED_SAVE,
                .ksm = true,
        };
        strscpy(c->name, sizeof(c->name), name);
        strscpy(c->ksm_trust_domain, sizeof(c->ksm_trust_domain), POLICY_DEFAULT_CLASS);
}

void policy_defaults(Policy *ret) {
        *ret = (Policy) {
                .interval_usec = 5 * USEC_PER_SEC,
                .stale_after_usec = 30 * USEC_PER_SEC,
                .action_timeout_usec = 120 * USEC_PER_SEC,
                .n_classes = 1,
        };
        strscpy(ret->control_socket, sizeof(ret->control_socket), "/run/densityd/densityd.sock");
        strscpy(ret->textfile_directory, sizeof(ret->textfile_directory), "/var/lib/prometheus/node-exporter");
        strscpy(ret->libvirt_uri, sizeof(ret->libvirt_uri), "qemu:///system");
        strscpy(ret->state_directory, sizeof(ret->state_directory), "/var/lib/densityd");
        policy_class_defaults(&ret->classes[0], POLICY_DEFAULT_CLASS);
}

uint64_t policy_size_bytes(const PolicySize *s, uint64_t base_bytes) {
        if (!s->is_percent)
                return s->bytes;
        return (uint64_t) ((double) base_bytes * s->percent / 100.0 + 0.5);
}

const char *shed_mode_name(ShedMode m) {
        static const char *const names[_SHED_MODE_MAX] = { "never", "save", "destroy" };
        return m < _SHED_MODE_MAX ? names[m] : "?";
}

const PolicyClass *policy_class_find(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->n_classes; i++)
                if (strcmp(p->classes[i].name, name) == 0)
                        return &p->classes[i];
        return NULL;
}

void policy_errors_clear(PolicyErrors *e) {
        for (size_t i = 0; i < e->n; i++)
                free(e->lines[i]);
        free(e->lines);
        *e = (PolicyErrors) {};
}

typedef struct ParseState {
        const char *filename;
        const char *pos;      /* reader position in the buffer */
        unsigned line;        /* number of the line inih is handling */
        Policy policy;
        PolicyErrors *errors;
        unsigned n_errors;
        bool oom;
        unsigned seen_line[ELEMENTSOF(policy_keys)]; /* where each key was set */
        bool in_section;      /* the reader saw a section header */
        bool section_known;   /* ... and it is one we know */
        bool said_no_section;
} ParseState;

__attribute__((format(printf, 3, 4))) static void parse_error(ParseState *st, unsigned line, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        st->n_errors++;
        char *s = NULL;
        if (asprintf(&s, "%s:%u: %s", st->filename, line, msg) < 0) {
                st->oom = true;
                return;
        }
        char **n = realloc(st->errors->lines, (st->errors->n + 1) * sizeof(char *));
        if (!n) {
                free(s);
                st->oom = true;
                return;
        }
        st->errors->lines = n;
        st->errors->lines[st->errors->n++] = s;
}

/* Parse "5", "5s", "500ms", "2min", "1h", "250us". */
static int parse_duration(const char *v, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "us", 1 },           { "ms", USEC_PER_MSEC },       { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC }, { "min", 60 * USEC_PER_SEC }, { "h", 3600 * USEC_PER_SEC },
        };
        char *end;
        size_t digits = strspn(v, "0123456789");
        if (digits == 0 || (v[digits] == '.' && !isdigit((unsigned char) v[digits + 1])))
                return -EINVAL; /* also refuses strtod's hex and exponents */
        if (v[digits] == '.')
                digits += 1 + strspn(v + digits + 1, "0123456789");
        if (v[digits] != '\0' && !isalpha((unsigned char) v[digits]) && !isspace((unsigned char) v[digits]))
                return -EINVAL;
        errno = 0;
        double d = strtod(v, &end);
        if (end != v + digits)
                return -EINVAL;
        if (errno == ERANGE || d < 0)
                return -ERANGE;
        while (isspace((unsigned char) *end))
                end++;
        uint64_t unit = USEC_PER_SEC;
        if (*end != '\0') {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (strcmp(end, units[i].suffix) == 0)
                                break;
                if (i == ELEMENTSOF(units))
                        return -EINVAL;
                unit = units[i].usec;
        }
        double usec = d * (double) unit;
        if (usec > 1e15)
                return -ERANGE;
        *ret = (uint64_t) usec;
        return 0;
}

void policy_format_duration(uint64_t usec, char *buf, size_t size) {
        if (usec % USEC_PER_SEC == 0)
                snprintf(buf, size, "%llus", (unsigned long long) (usec / USEC_PER_SEC));
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%llums", (unsigned long long) (usec / USEC_PER_MSEC));
        else
                snprintf(buf, size, "%lluus", (unsigned long long) usec);
}

static int policy_handler(void *user, const char *section, const char *name, const char *value) {
        ParseState *st = user;

        if (!st->section_known)
                return 1; /* reported once, at the section header */

        size_t i;
        for (i = 0; i < ELEMENTSOF(policy_keys); i++)
                if (strcmp(policy_keys[i].section, section) == 0 && strcmp(policy_keys[i].key, name) == 0)
                        break;
        if (i == ELEMENTSOF(policy_keys)) {
                parse_error(st, st->line, "unknown key '%s' in section [%s]", name, section);
                return 1;
        }
        const KeySpec *k = &policy_keys[i];
        if (st->seen_line[i]) {
                parse_error(st, st->line, "%s= is set twice (first at line %u)", name, st->seen_line[i]);
                return 1;
        }
        st->seen_line[i] = st->line;

        char *field = (char *) &st->policy + k->offset;
        switch (k->type) {
        case KEY_DURATION: {
                uint64_t usec;
                char lo[32], hi[32];
                if (parse_duration(value, &usec) < 0) {
                        parse_error(st, st->line, "%s=%s: not a duration (examples: 5s, 500ms, 2min)", name, value);
                        return 1;
                }
                if (usec < k->min || usec > k->max) {
                        policy_format_duration(k->min, lo, sizeof(lo));
                        policy_format_duration(k->max, hi, sizeof(hi));
                        parse_error(st, st->line, "%s=%s: out of range %s..%s", name, value, lo, hi);
                        return 1;
                }
                memcpy(field, &usec, sizeof(usec));
                break;
        }
        case KEY_PATH:
                if (value[0] != '/') {
                        parse_error(st, st->line, "%s=%s: must be an absolute path", name, value);
                        return 1;
                }
                /* fall through */
        case KEY_STRING:
                if (value[0] == '\0') {
                        parse_error(st, st->line, "%s= must not be empty", name);
                        return 1;
                }
                if (strlen(value) >= k->size) {
                        parse_error(st, st->line, "%s=: too long (at most %zu characters)", name, k->size - 1);
                        return 1;
                }
                strscpy(field, k->size, value);
                break;
        }
        return 1;
}

static void reader_check_line(ParseState *st, const char *line, size_t len) {
        char buf[INI_MAX_LINE + 1];
        size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
        memcpy(buf, line, n);
        buf[n] = '\0';
        char *p = buf;
        while (isspace((unsigned char) *p))
                p++;
        char *e = p + strlen(p);
        while (e > p && isspace((unsigned char) e[-1]))
                *--e = '\0';

        if (*p == '\0' || *p == ';' || *p == '#')
                return;
        if (*p == '[') {
                char *close = strchr(p, ']');
                if (!close) {
                        parse_error(st, st->line, "section header without ']'");
                        st->section_known = false;
                        return;
                }
                *close = '\0';
                st->in_section = true;
                st->section_known = false;
                for (size_t i = 0; i < ELEMENTSOF(policy_sections); i++)
                        if (strcmp(policy_sections[i], p + 1) == 0)
                                st->section_known = true;
                if (!st->section_known)
                        parse_error(st, st->line, "unknown section [%s]", p + 1);
                return;
        }
        if (!strchr(p, '=') && !strchr(p, ':')) {
                parse_error(st, st->line, "expected 'Key=value', '[Section]' or a comment");
                return;
        }
        if (!st->in_section && !st->said_no_section) {
                parse_error(st, st->line, "key outside any section (start with [Daemon])");
                st->said_no_section = true;
        }
}

/* inih's line reader: one line per call, counting and checking as we go. */
static char *policy_reader(char *str, int num, void *stream) {
        ParseState *st = stream;
        if (*st->pos == '\0')
                return NULL;
        if (st->line == 0 && strncmp(st->pos, "\xEF\xBB\xBF", 3) == 0)
                st->pos += 3; /* UTF-8 byte-order mark */
        const char *nl = strchr(st->pos, '\n');
        size_t len = nl ? (size_t) (nl - st->pos) : strlen(st->pos);
        st->line++;
        /* Leading white space is dropped: inih would take an indented line
         * as the continuation of the previous value. */
        while (len > 0 && (*st->pos == ' ' || *st->pos == '\t')) {
                st->pos++;
                len--;
        }
        reader_check_line(st, st->pos, len);
        if (len + 2 > (size_t) num) {
                parse_error(st, st->line, "line too long (at most %d characters)", num - 2);
                str[0] = '\n';
                str[1] = '\0';
        } else {
                memcpy(str, st->pos, len);
                str[len] = '\n';
                str[len + 1] = '\0';
        }
        st->pos += len + (nl ? 1 : 0);
        return str;
}

int policy_parse(const char *buf, const char *filename, Policy *ret, PolicyErrors *errors) {
        ParseState st = { .filename = filename, .pos = buf, .errors = errors };
        policy_defaults(&st.policy);

        /* inih's own syntax errors are already reported by the reader. */
        (void) ini_parse_stream(policy_reader, &st, policy_handler, &st);
        if (st.oom)
                return -ENOMEM;
        if (st.n_errors == 0 && st.policy.stale_after_usec < st.policy.interval_usec) {
                char a[32], b[32];
                policy_format_duration(st.policy.stale_after_usec, a, sizeof(a));
                policy_format_duration(st.policy.interval_usec, b, sizeof(b));
                unsigned line = st.seen_line[1] ? st.seen_line[1] : st.seen_line[0];
                parse_error(&st, line ? line : 1, "StaleAfter=%s is shorter than Interval=%s", a, b);
        }
        if (st.n_errors > 0)
                return (int) st.n_errors;
        *ret = st.policy;
        return 0;
}

int policy_load(const char *path, Policy *ret, PolicyErrors *errors) {
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(NULL, path, &buf, NULL);
        if (r < 0) {
                char *s = NULL;
                if (asprintf(&s, "%s: cannot read: %s", path, strerror(-r)) < 0)
                        return -ENOMEM;
                char **n = realloc(errors->lines, (errors->n + 1) * sizeof(char *));
                if (!n) {
                        free(s);
                        return -ENOMEM;
                }
                errors->lines = n;
                errors->lines[errors->n++] = s;
                return 1;
        }
        return policy_parse(buf, path, ret, errors);
}
