/* server: see include/density/server.h */
#include "density/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "density/control.h"
#include "density/util.h"

#define SERVER_CLIENTS_MAX 64           /* connections at once */
#define SERVER_ROOT_RESERVED 8          /* of those, kept for root */
#define SERVER_CLIENTS_PER_UID 4        /* for each other user */
#define SERVER_REQUEST_TIMEOUT_USEC (2 * USEC_PER_SEC)  /* to send the request line */
#define SERVER_REPLY_TIMEOUT_USEC (10 * USEC_PER_SEC)   /* to read the whole reply */

typedef struct Client Client;

struct Server {
        sd_event *event;
        sd_event_source *listen_source;
        int fd;
        char path[108];
        ServerHandler handler;
        void *userdata;
        Client *clients;
        unsigned n_clients;
};

struct Client {
        Server *server;
        Client *prev, *next;
        int fd;
        uid_t uid;
        sd_event_source *io;
        sd_event_source *timeout;
        char in[CONTROL_REQUEST_MAX + 1];
        size_t in_len;
        SharedText *out;
        size_t out_off;
};

SharedText *shared_text_new(char *s) {
        if (!s)
                return NULL;
        size_t len = strlen(s);
        SharedText *t = malloc(sizeof(*t) + len + 1);
        if (t) {
                t->refs = 1;
                t->len = len;
                memcpy(t->text, s, len + 1);
        }
        free(s);
        return t;
}

SharedText *shared_text_ref(SharedText *t) {
        if (t)
                t->refs++;
        return t;
}

SharedText *shared_text_unref(SharedText *t) {
        if (t && --t->refs == 0)
                free(t);
        return NULL;
}

static Client *client_free(Client *c) {
        if (!c)
                return NULL;
        Server *s = c->server;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timeout);
        if (c->fd >= 0)
                close(c->fd);
        shared_text_unref(c->out);
        free(c);
        return NULL;
}

static void client_reply(Client *c, SharedText *reply) {
        if (!reply) {
                client_free(c); /* out of memory: the client sees the connection close */
                return;
        }
        c->out = reply;
        sd_event_source_set_io_events(c->io, EPOLLOUT);
        sd_event_source_set_time_relative(c->timeout, SERVER_REPLY_TIMEOUT_USEC);
}

static void client_handle(Client *c) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl && c->in_len >= CONTROL_REQUEST_MAX) {
                client_reply(c, shared_text_new(control_reply_error("request longer than %d bytes", CONTROL_REQUEST_MAX)));
                return;
        }
        if (nl)
                *nl = '\0';
        c->in[c->in_len] = '\0';
        client_reply(c, c->server->handler(c->in, c->uid, c->server->userdata));
}

static int client_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        (void) es;

        if (!c->out) {
                if ((revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLIN)) {
                        client_free(c);
                        return 0;
                }
                ssize_t k = read(fd, c->in + c->in_len, CONTROL_REQUEST_MAX - c->in_len);
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (k < 0 || (k == 0 && c->in_len == 0)) {
                        client_free(c);
                        return 0;
                }
                c->in_len += (size_t) k;
                /* A request ends at its newline, or where the client stops
                 * writing (shutdown(SHUT_WR)). */
                if (k > 0 && !memchr(c->in, '\n', c->in_len) && c->in_len < CONTROL_REQUEST_MAX)
                        return 0;
                client_handle(c);
                return 0;
        }

        ssize_t k = send(fd, c->out->text + c->out_off, c->out->len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k < 0) {
                client_free(c);
                return 0;
        }
        c->out_off += (size_t) k;
        if (c->out_off >= c->out->len)
                client_free(c);
        return 0;
}

static int client_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        (void) es;
        (void) usec;
        client_free(userdata);
        return 0;
}

/* Whether one more connection from uid fits the limits. */
static bool server_admits(Server *s, uid_t uid) {
        if (s->n_clients >= SERVER_CLIENTS_MAX)
                return false;
        if (uid == 0)
                return true;
        if (s->n_clients >= SERVER_CLIENTS_MAX - SERVER_ROOT_RESERVED)
                return false;
        unsigned same = 0;
        for (Client *c = s->clients; c; c = c->next)
                same += c->uid == uid;
        return same < SERVER_CLIENTS_PER_UID;
}

static int server_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;
        (void) es;
        (void) revents;

        _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || !server_admits(s, cred.uid))
                return 0; /* closed: a flood must not exhaust descriptors or lock root out */

        Client *c = calloc(1, sizeof(*c));
        if (!c)
                return 0;
        *c = (Client) { .server = s, .fd = TAKE_FD(cfd), .uid = cred.uid, .next = s->clients };
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        if (sd_event_add_io(s->event, &c->io, c->fd, EPOLLIN, client_io, c) < 0 ||
            sd_event_add_time_relative(s->event, &c->timeout, CLOCK_MONOTONIC, SERVER_REQUEST_TIMEOUT_USEC, 0,
                                       client_timeout, c) < 0) {
                client_free(c);
                return 0;
        }
        sd_event_source_set_description(c->io, "control-client");
        return 0;
}

/* Remove path if it is a socket. Return: 0, -ENOENT, -EEXIST (something
 * else is there: left alone), or -errno. */
static int unlink_socket(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        return unlink(path) < 0 ? -errno : 0;
}

int server_new(sd_event *event, const char *path, ServerHandler handler, void *userdata, Server **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strscpy(sa.sun_path, sizeof(sa.sun_path), path);

        char dir[sizeof(sa.sun_path)];
        strscpy(dir, sizeof(dir), path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }

        /* Only a socket is ever replaced: whatever else sits at the path
         * (a file ControlSocket= names by mistake, a symlink) stays. A
         * socket file left by a crashed daemon is replaced; a live one
         * means another daemon runs, and we must not steal its socket. */
        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe < 0)
                        return -errno;
                if (connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        return -EADDRINUSE;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        } else if (errno != ENOENT)
                return -errno;

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* The mode comes from the umask at bind(): no chmod() that a
         * symlink planted in the directory could redirect. */
        mode_t old = umask(0111);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, SERVER_CLIENTS_MAX) < 0)
                return -errno;

        Server *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (Server) { .event = sd_event_ref(event), .fd = TAKE_FD(fd), .handler = handler, .userdata = userdata };
        strscpy(s->path, sizeof(s->path), path);
        r = sd_event_add_io(event, &s->listen_source, s->fd, EPOLLIN, server_accept, s);
        if (r < 0) {
                server_free(s);
                return r;
        }
        sd_event_source_set_description(s->listen_source, "control-socket");
        *ret = s;
        return 0;
}

Server *server_free(Server *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->listen_source);
        if (s->fd >= 0) {
                close(s->fd);
                (void) unlink_socket(s->path);
        }
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
