/* policy: the policy file (/etc/densityd/policy.conf), INI-style sections.
 * Keys are table-driven; every error is reported as "file:line: message"
 * and parsing goes on, so one run shows all of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_DEFAULT_PATH "/etc/densityd/policy.conf"

typedef struct Policy {
        /* [Daemon] */
        uint64_t interval_usec;     /* Interval=: tick period */
        uint64_t stale_after_usec;  /* StaleAfter=: guest stats older than this are not trusted */
        char control_socket[108];   /* ControlSocket=: sun_path holds 108 bytes */
        char textfile_directory[4096]; /* TextfileDirectory=: node_exporter's textfile collector */
        char libvirt_uri[512];      /* LibvirtURI= */
} Policy;

/* The defaults: what an empty file means. */
void policy_defaults(Policy *ret);

/* Errors collected while parsing, each "file:line: message". */
typedef struct PolicyErrors {
        char **lines;
        size_t n;
} PolicyErrors;

void policy_errors_clear(PolicyErrors *e);

/**
 * policy_parse() - parse policy text.
 * @buf: the file's contents (NUL-terminated)
 * @filename: used in error messages
 * @ret: the parsed policy; written only when there are no errors
 * @errors: every error found is appended
 *
 * Return: 0 when the text is valid, the number of errors (> 0), or -ENOMEM.
 */
int policy_parse(const char *buf, const char *filename, Policy *ret, PolicyErrors *errors);

/* Read and parse a file. A file that cannot be read is one error
 * ("file: cannot read: ..."). Return: as policy_parse(). */
int policy_load(const char *path, Policy *ret, PolicyErrors *errors);

/* Format a duration in usec as the policy writes it ("5s", "500ms"). */
void policy_format_duration(uint64_t usec, char *buf, size_t size);
