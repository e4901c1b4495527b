/* control: the control socket's wire format, shared by densityd and
 * densityctl. The one place that defines requests, replies and the status
 * document.
 *
 * Transport: a SOCK_STREAM Unix socket (default /run/densityd/densityd.sock).
 * Request: one line of JSON, at most CONTROL_REQUEST_MAX bytes:
 *     {"command":"status"}
 * Reply: one JSON object, then the daemon closes the connection:
 *     {"ok":true,"status":{...}}   (status)
 *     {"ok":true}                  (commands that change things)
 *     {"ok":false,"error":"..."}
 * Commands that change things are for root only: the daemon checks the
 * peer's credentials (SO_PEERCRED). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "density/snapshot.h"

#define CONTROL_PROTOCOL_VERSION 1
#define CONTROL_REQUEST_MAX 4096
#define CONTROL_DEFAULT_SOCKET "/run/densityd/densityd.sock"

typedef enum ControlCommand {
        CONTROL_STATUS,
        CONTROL_RELOAD,
        _CONTROL_COMMAND_MAX,
} ControlCommand;

const char *control_command_name(ControlCommand c);
/* Return: 0 or -EINVAL for an unknown name. */
int control_command_from_name(const char *name, ControlCommand *ret);
/* Whether the command changes the daemon (root only). */
bool control_command_privileged(ControlCommand c);

/* Parse a request line. Return: 0, or -EINVAL with a reason in err. */
int control_request_parse(const char *buf, ControlCommand *ret, char *err, size_t err_size);

/* What the daemon says about itself in the status document. */
typedef struct ControlDaemonInfo {
        const char *version;
        pid_t pid;
        uint64_t interval_usec;
        const char *policy_path;
        const char *libvirt_uri;
        uint64_t started_usec;    /* CLOCK_REALTIME */
        uint64_t ticks;
        uint64_t hypervisor_round_usec; /* last bulk stats call */
} ControlDaemonInfo;

/* The status document: {"version":1,"daemon":{..},"host":{..},"guests":[..]}.
 * Return: a new object, or NULL on allocation failure. */
json_object *control_status_json(const Snapshot *s, const ControlDaemonInfo *info);

/* Build a reply; status may be NULL; takes ownership of status.
 * Return: malloc'd text with a trailing newline, or NULL. */
char *control_reply_ok(json_object *status);
char *control_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * control_call() - send one command and read the reply (densityctl's side).
 * @ret: the reply object ({"ok":..}); caller puts it
 * @err: reason on failure, one line
 *
 * Return: 0, -ENOENT/-ECONNREFUSED when no daemon listens, or -errno.
 */
int control_call(const char *socket_path, ControlCommand cmd, json_object **ret, char *err, size_t err_size);

/* Print the status document as densityctl's table. Return: 0 or -EINVAL. */
int control_status_print_table(FILE *f, json_object *status);
