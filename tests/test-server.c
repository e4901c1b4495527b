/* Tests for server: the control socket's transport and limits, on a real
 * Unix socket in a temporary directory, served by an sd-event loop in this
 * thread while a client thread talks to it. */
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "density/control.h"
#include "density/server.h"
#include "density/util.h"
#include "test-helpers.h"

static char sock_path[256];

/* Echo the request, and the peer's uid, as a JSON error reply. */
static SharedText *echo_handler(const char *request, uid_t uid, void *userdata) {
        unsigned *calls = userdata;
        (*calls)++;
        return shared_text_new(control_reply_error("%u|%s", (unsigned) uid, request));
}

static int connect_client(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strscpy(sa.sun_path, sizeof(sa.sun_path), sock_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK_OK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)));
        return fd;
}

/* Read until EOF into buf. */
static void read_all(int fd, char *buf, size_t size) {
        size_t n = 0;
        for (;;) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = '\0';
}

typedef struct Exchange {
        const char *send;   /* what the client writes */
        bool shut_wr;       /* then half-closes instead of ending the line */
        size_t repeat;      /* send this many bytes of 'x' instead */
        char reply[8192];
        bool done;
} Exchange;

static void *client_thread(void *arg) {
        Exchange *x = arg;
        int fd = connect_client();
        if (x->repeat) {
                char *big = malloc(x->repeat);
                memset(big, 'x', x->repeat);
                (void) !write(fd, big, x->repeat);
                free(big);
        } else
                (void) !write(fd, x->send, strlen(x->send));
        if (x->shut_wr)
                shutdown(fd, SHUT_WR);
        read_all(fd, x->reply, sizeof(x->reply));
        close(fd);
        __atomic_store_n(&x->done, true, __ATOMIC_RELEASE);
        return NULL;
}

/* Serve until the client thread is done (at most about 5 s). */
static void exchange(sd_event *e, Exchange *x) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, client_thread, x) == 0);
        for (int i = 0; i < 500 && !__atomic_load_n(&x->done, __ATOMIC_ACQUIRE); i++)
                CHECK(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        pthread_join(t, NULL);
        CHECK(x->done);
}

static void test_requests(sd_event *e, unsigned *calls) {
        char want[64];
        snprintf(want, sizeof(want), "%u|{\\\"command\\\":\\\"status\\\"}", (unsigned) getuid());

        Exchange line = { .send = "{\"command\":\"status\"}\n" };
        exchange(e, &line);
        CHECK_CONTAINS(line.reply, want); /* newline stripped, uid from SO_PEERCRED */
        CHECK(*calls == 1);

        /* No newline, but the client stops writing: still a request. */
        Exchange half = { .send = "{\"command\":\"status\"}", .shut_wr = true };
        exchange(e, &half);
        CHECK_CONTAINS(half.reply, want);
        CHECK(*calls == 2);

        /* Too long: refused without calling the handler. */
        Exchange big = { .repeat = CONTROL_REQUEST_MAX + 100 };
        exchange(e, &big);
        CHECK_CONTAINS(big.reply, "request longer than");
        CHECK(*calls == 2);
}

/* A second daemon must not take over a live socket. */
static void test_address_in_use(sd_event *e) {
        unsigned calls = 0;
        Server *other = NULL;
        CHECK(server_new(e, sock_path, echo_handler, &calls, &other) == -EADDRINUSE);
        CHECK(other == NULL);
}

/* Only a socket is ever replaced: a regular file at the path (root's
 * ControlSocket= pointing at the wrong file) survives, and so does a
 * symlink; a socket left by a crashed daemon is replaced. */
static void test_path_not_a_socket(sd_event *e, const char *dir) {
        unsigned calls = 0;
        Server *s = NULL;
        char path[256];

        snprintf(path, sizeof(path), "%s/precious.conf", dir);
        FILE *f = fopen(path, "w");
        CHECK(f);
        fputs("keep me\n", f);
        CHECK(fclose(f) == 0);
        CHECK(server_new(e, path, echo_handler, &calls, &s) == -EEXIST);
        CHECK(s == NULL);
        char buf[64] = "";
        f = fopen(path, "r");
        CHECK(f);
        CHECK(fgets(buf, sizeof(buf), f));
        fclose(f);
        CHECK_STR(buf, "keep me\n");

        char link[256];
        snprintf(link, sizeof(link), "%s/link.sock", dir);
        CHECK_OK(symlink(path, link));
        CHECK(server_new(e, link, echo_handler, &calls, &s) == -EEXIST);
        struct stat st;
        CHECK_OK(lstat(link, &st));
        CHECK(S_ISLNK(st.st_mode));

        snprintf(path, sizeof(path), "%s/subdir", dir);
        CHECK_OK(mkdir(path, 0755));
        CHECK(server_new(e, path, echo_handler, &calls, &s) == -EEXIST);
        CHECK_OK(stat(path, &st));
        CHECK(S_ISDIR(st.st_mode));
}

static void test_stale_socket_replaced(sd_event *e, const char *dir) {
        char path[256];
        snprintf(path, sizeof(path), "%s/stale.sock", dir);

        /* A daemon that died without cleaning up: the socket file stays,
         * nobody listens. */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strscpy(sa.sun_path, sizeof(sa.sun_path), path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        close(fd);
        struct stat before;
        CHECK_OK(lstat(path, &before));
        CHECK(S_ISSOCK(before.st_mode));

        unsigned calls = 0;
        Server *s = NULL;
        CHECK_OK(server_new(e, path, echo_handler, &calls, &s));
        struct stat after;
        CHECK_OK(lstat(path, &after));
        CHECK(S_ISSOCK(after.st_mode));
        CHECK((after.st_mode & 0777) == 0666);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK_OK(connect(fd, (struct sockaddr *) &sa, sizeof(sa))); /* someone listens now */
        close(fd);
        CHECK(server_free(s) == NULL);
        CHECK(access(path, F_OK) < 0);
}

int main(void) {
        char *dir = test_mkdtemp();
        snprintf(sock_path, sizeof(sock_path), "%s/run/densityd.sock", dir); /* parent made by server_new */

        sd_event *e = NULL;
        CHECK_OK(sd_event_new(&e));
        unsigned calls = 0;
        Server *s = NULL;
        CHECK_OK(server_new(e, sock_path, echo_handler, &calls, &s));
        struct stat st;
        CHECK_OK(stat(sock_path, &st));
        CHECK((st.st_mode & 0777) == 0666); /* everyone may ask for status */

        RUN_ARGS(test_requests, e, &calls);
        RUN_ARGS(test_address_in_use, e);
        RUN_ARGS(test_path_not_a_socket, e, dir);
        RUN_ARGS(test_stale_socket_replaced, e, dir);

        CHECK(server_free(s) == NULL);
        CHECK(access(sock_path, F_OK) < 0); /* socket file removed */
        sd_event_unref(e);
        test_rm_rf(dir);
        return 0;
}
