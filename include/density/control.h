/* control: the control socket's wire format, shared by densityd and
 * densityctl. The one place that defines requests, replies and the status
 * document.
 *
 * Transport: a SOCK_STREAM Unix socket (default /run/densityd/densityd.sock).
 * Request: one line of JSON, at most CONTROL_REQUEST_MAX bytes: a command
 * and its arguments (ControlRequest; unknown members are an error):
 *     {"command":"status"}
 *     {"command":"log","guest":"dtest-3","controller":"balloon","n":20}
 *     {"command":"shed","guest":"dtest-3"}     (root only)
 *     {"command":"restore","guest":"dtest-3"}  (root only)
 * Reply: one JSON object, then the daemon closes the connection:
 *     {"ok":true,"status":{...}}   (status)
 *     {"ok":true,"log":{"entries":[...]}} (log: oldest first)
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

#include "density/controller.h"
#include "density/journal.h"
#include "density/snapshot.h"

#define CONTROL_PROTOCOL_VERSION 1
#define CONTROL_REQUEST_MAX 4096
#define CONTROL_DEFAULT_SOCKET "/run/densityd/densityd.sock"
#define CONTROL_LOG_DEFAULT 50      /* log entries when the request names no n */
#define CONTROL_STATUS_DECISIONS 5  /* recent decisions in the status document */

typedef enum ControlCommand {
        CONTROL_STATUS,
        CONTROL_RELOAD,
        CONTROL_LOG,
        CONTROL_SHED,     /* set a guest aside now (managed save), by hand */
        CONTROL_RESTORE,  /* bring a shed guest back now */
        _CONTROL_COMMAND_MAX,
} ControlCommand;

/* A request and its arguments. Arguments a command does not take are an
 * error. */
typedef struct ControlRequest {
        ControlCommand command;
        char guest[DENSITY_NAME_MAX];          /* log: only this guest (name or UUID), "" any;
                                                * shed, restore: the guest (required) */
        char controller[ACTION_CONTROLLER_MAX]; /* log: only this controller; "" any */
        unsigned n;                            /* log: the last n entries (1..JOURNAL_CAPACITY_DEFAULT); 0: default */
} ControlRequest;

const char *control_command_name(ControlCommand c);
/* Return: 0 or -EINVAL for an unknown name. */
int control_command_from_name(const char *name, ControlCommand *ret);
/* Whether the command changes the daemon (root only). */
bool control_command_privileged(ControlCommand c);

/* Parse a request line. Return: 0, or -EINVAL with a reason in err. */
int control_request_parse(const char *buf, ControlRequest *ret, char *err, size_t err_size);

/* The request line (with its newline) for a request. Return: 0 with *ret
 * malloc'd, or -ENOMEM. */
int control_request_format(const ControlRequest *req, char **ret);

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
        bool dry_run;
        size_t actions_in_flight;
        const JournalEntry *decisions; /* the latest few, oldest first */
        size_t n_decisions;
        const ControllerReport *controllers; /* each controller's state, in order */
        size_t n_controllers;
} ControlDaemonInfo;

/* The status document: {"version":1,"daemon":{..},"host":{..},"guests":[..],
 * "decisions":[..]}. Return: a new object, or NULL on allocation failure. */
json_object *control_status_json(const Snapshot *s, const ControlDaemonInfo *info);

/* One journal entry, as in the log reply and the status document. */
json_object *control_entry_json(const JournalEntry *e);

/* The log reply's document: {"entries":[..]}. Return: a new object or NULL. */
json_object *control_log_json(const JournalEntry *entries, size_t n);

/* Build a reply; status may be NULL; takes ownership of status.
 * Return: malloc'd text with a trailing newline, or NULL. */
char *control_reply_ok(json_object *status);
/* {"ok":true,"<key>":value}; takes ownership of value. */
char *control_reply_ok_with(const char *key, json_object *value);
char *control_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * control_call() - send one command and read the reply (densityctl's side).
 * @ret: the reply object ({"ok":..}); caller puts it
 * @err: reason on failure, one line
 *
 * Return: 0, -ENOENT/-ECONNREFUSED when no daemon listens, or -errno.
 */
int control_call(const char *socket_path, const ControlRequest *req, json_object **ret, char *err, size_t err_size);
