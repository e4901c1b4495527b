/* server: the control socket's listener and connections on sd-event. It
 * knows the transport (one request line in, one reply out, close) and the
 * limits that keep a local user from starving others; what a request means
 * is the handler's business (daemon.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

/* A reply shared by every client that asked in the same tick: the status
 * document of 5000 guests is megabytes, rendered once. */
typedef struct SharedText {
        unsigned refs;
        size_t len;
        char text[];
} SharedText;

/* Take over a malloc'd NUL-terminated string (freed here). NULL: -ENOMEM. */
SharedText *shared_text_new(char *s);
SharedText *shared_text_ref(SharedText *t);
SharedText *shared_text_unref(SharedText *t); /* accepts NULL; returns NULL */

/* Answer one request line (NUL-terminated, without the newline) from a
 * peer with uid. Return: a reply with a reference for the caller, or NULL
 * when out of memory. */
typedef SharedText *(*ServerHandler)(const char *request, uid_t uid, void *userdata);

typedef struct Server Server;

/**
 * server_new() - listen on a Unix socket, mode 0666 (peers are told apart
 * by their credentials, not by the file mode).
 * @path: socket path; its parent directory is created (0755) if missing. A
 *        stale socket file is replaced; a live one (another daemon) is not,
 *        and anything that is not a socket (a regular file, a directory, a
 *        symlink) is never removed.
 *
 * Return: 0, -EADDRINUSE when another daemon listens there, -EEXIST when
 * something other than a socket exists at @path, or -errno.
 */
int server_new(sd_event *event, const char *path, ServerHandler handler, void *userdata, Server **ret);

/* Close every connection and the listener, remove the socket file (if a
 * socket is still what is there); accepts NULL. Return: NULL. */
Server *server_free(Server *s);
