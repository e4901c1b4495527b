/* scale-world: N simulated guests for contrib/bench/scale.sh. Never installed.
 *
 *   scale-world N RUN_DIR SOCKET [CGROUP_DIR] [KIB]
 *
 * Everything densityd reads per guest is real: each guest gN is a sleeping
 * process holding KIB KiB (default 256) of its own memory, with its pid file
 * RUN_DIR/gN.pid where densityd looks for libvirt's, and, with CGROUP_DIR (a
 * scratch memory cgroup, cgroup v1 or v2), in its own child cgroup named as
 * libvirt names them (CGROUP_DIR/qemu-ID-gN.libvirt-qemu). The balloon
 * stats come from this process, which answers on the Unix socket SOCKET as
 * libvirtd would (the protocol is virt-scale.c's), so nothing of the
 * stand-in lives in the daemon's own memory.
 *
 * Prints "ready" once every guest runs. SIGTERM or SIGINT: the guests are
 * killed, their pid files and cgroups removed. The guests die with this
 * process whatever happens to it (PR_SET_PDEATHSIG). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "virt-scale.h"

#define CLIENTS_MAX 8

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

typedef struct World {
        size_t n;
        pid_t *pids;
        const char *run_dir;
        const char *cgroup_dir;
} World;

static void guest_cgroup(const World *w, size_t i, char *buf, size_t size) {
        snprintf(buf, size, "%s/qemu-%zu-g%zu.libvirt-qemu", w->cgroup_dir, i + 1, i);
}

static void guest_run(size_t kib) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char *mem = malloc(kib * 1024);
        if (mem)
                memset(mem, 0x5a, kib * 1024);
        for (;;)
                pause();
}

static int write_text(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t k = write(fd, text, strlen(text));
        int r = k < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void world_down(World *w) {
        char path[4096];
        for (size_t i = 0; i < w->n; i++) {
                if (w->pids[i] > 0) {
                        kill(w->pids[i], SIGKILL);
                        waitpid(w->pids[i], NULL, 0);
                }
                snprintf(path, sizeof(path), "%s/g%zu.pid", w->run_dir, i);
                unlink(path);
                if (w->cgroup_dir) {
                        guest_cgroup(w, i, path, sizeof(path));
                        rmdir(path);
                }
        }
}

static int world_up(World *w, size_t kib) {
        char path[4096], text[32];
        for (size_t i = 0; i < w->n && !stop; i++) {
                pid_t pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0)
                        guest_run(kib);
                w->pids[i] = pid;
                snprintf(text, sizeof(text), "%d\n", (int) pid);
                if (w->cgroup_dir) {
                        guest_cgroup(w, i, path, sizeof(path));
                        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                                fprintf(stderr, "scale-world: cannot create %s: %m\n", path);
                                return -errno;
                        }
                        strncat(path, "/cgroup.procs", sizeof(path) - strlen(path) - 1);
                        int r = write_text(path, text);
                        if (r < 0) {
                                fprintf(stderr, "scale-world: cannot write %s: %s\n", path, strerror(-r));
                                return r;
                        }
                }
                snprintf(path, sizeof(path), "%s/g%zu.pid", w->run_dir, i);
                FILE *f = fopen(path, "we");
                if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                        fprintf(stderr, "scale-world: cannot write %s: %m\n", path);
                        return -EIO;
                }
        }
        return 0;
}

/* The guest's figures as libvirt's bulk stats give them (KiB): 110 to
 * 160 MiB guests, the guest clock moving every second. */
static int stats_line(size_t i, char *buf, size_t size) {
        uint64_t current = (110 + i % 51) * 1024;
        uint64_t usable = current / 3 + (uint64_t) (i % 7) * 1024;
        return snprintf(buf, size, "%zu %s%012zx g%zu %llu %llu %llu %llu %llu %llu %lld\n", i + 1,
                        SCALE_UUID_PREFIX, i, i, (unsigned long long) current, 160ULL * 1024,
                        (unsigned long long) usable - 4096, (unsigned long long) current - 20 * 1024,
                        (unsigned long long) usable, 8ULL * 1024, (long long) time(NULL));
}

static int guest_index(const char *uuid, size_t n, size_t *ret) {
        size_t len = strlen(SCALE_UUID_PREFIX);
        if (strncmp(uuid, SCALE_UUID_PREFIX, len) != 0)
                return -ENOENT;
        char *end;
        unsigned long long i = strtoull(uuid + len, &end, 16);
        if (*end != '\0' || i >= n)
                return -ENOENT;
        *ret = (size_t) i;
        return 0;
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t k = write(fd, buf, len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                buf += k;
                len -= (size_t) k;
        }
        return 0;
}

/* Answer one request line. Return: 0, or negative errno (drop the client). */
static int answer(const World *w, int fd, const char *req) {
        static char buf[1 << 16];
        size_t len = 0;
        if (strcmp(req, "stats") == 0) {
                len = (size_t) snprintf(buf, sizeof(buf), "%zu\n", w->n);
                for (size_t i = 0; i < w->n; i++) {
                        if (len + 256 > sizeof(buf)) {
                                int r = write_all(fd, buf, len);
                                if (r < 0)
                                        return r;
                                len = 0;
                        }
                        len += (size_t) stats_line(i, buf + len, sizeof(buf) - len);
                }
                return write_all(fd, buf, len);
        }
        if (strncmp(req, "xml ", 4) == 0) {
                size_t i;
                if (guest_index(req + 4, w->n, &i) < 0)
                        return write_all(fd, "ENOENT\n", 7);
                char xml[1024];
                int k = snprintf(xml, sizeof(xml),
                                 "<domain type='kvm' id='%zu'><name>g%zu</name><uuid>%s</uuid>"
                                 "<memory unit='KiB'>163840</memory><vcpu placement='static'>1</vcpu>"
                                 "<devices><memballoon model='virtio'><stats period='5'/></memballoon>"
                                 "</devices></domain>",
                                 i + 1, i, req + 4);
                len = (size_t) snprintf(buf, sizeof(buf), "OK %d\n%s", k, xml);
                return write_all(fd, buf, len);
        }
        if (strcmp(req, "changed") == 0)
                return write_all(fd, "0\n", 2);
        return write_all(fd, "EINVAL\n", 7);
}

typedef struct Client {
        int fd;
        char line[256];
        size_t len;
} Client;

/* Read what the client sent and answer each full line. Return: 0, or
 * negative errno (the client is gone). */
static int client_input(const World *w, Client *c) {
        ssize_t k = read(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
        if (k <= 0)
                return k < 0 ? -errno : -ECONNRESET;
        c->len += (size_t) k;
        c->line[c->len] = '\0';
        char *nl;
        while ((nl = strchr(c->line, '\n'))) {
                *nl = '\0';
                int r = answer(w, c->fd, c->line);
                if (r < 0)
                        return r;
                size_t used = (size_t) (nl + 1 - c->line);
                memmove(c->line, nl + 1, c->len - used + 1);
                c->len -= used;
        }
        return c->len + 1 >= sizeof(c->line) ? -E2BIG : 0;
}

static void serve(const World *w, int listen_fd) {
        Client clients[CLIENTS_MAX];
        size_t n_clients = 0;
        while (!stop) {
                struct pollfd p[CLIENTS_MAX + 1] = { { .fd = listen_fd, .events = POLLIN } };
                for (size_t i = 0; i < n_clients; i++)
                        p[i + 1] = (struct pollfd) { .fd = clients[i].fd, .events = POLLIN };
                if (poll(p, n_clients + 1, 1000) < 0)
                        continue;
                for (size_t i = n_clients; i-- > 0;)
                        if (p[i + 1].revents && client_input(w, &clients[i]) < 0) {
                                close(clients[i].fd);
                                clients[i] = clients[--n_clients];
                        }
                if (p[0].revents & POLLIN) {
                        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                        if (fd >= 0 && n_clients < CLIENTS_MAX)
                                clients[n_clients++] = (Client) { .fd = fd };
                        else if (fd >= 0)
                                close(fd);
                }
        }
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: scale-world N RUN_DIR SOCKET [CGROUP_DIR] [KIB]\n");
                return 2;
        }
        World w = { .n = strtoul(argv[1], NULL, 10), .run_dir = argv[2] };
        if (argc > 4 && argv[4][0] != '\0')
                w.cgroup_dir = argv[4];
        size_t kib = argc > 5 ? strtoul(argv[5], NULL, 10) : 256;
        w.pids = calloc(w.n ? w.n : 1, sizeof(*w.pids));
        if (!w.pids)
                return 1;

        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[3]);
        unlink(addr.sun_path);
        int listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(listen_fd, 8) < 0) {
                fprintf(stderr, "scale-world: cannot listen on %s: %m\n", argv[3]);
                return 1;
        }

        int status = 1;
        int r = world_up(&w, kib);
        if (r == 0 && !stop) {
                printf("ready\n");
                fflush(stdout);
                serve(&w, listen_fd);
                status = 0;
        }
        world_down(&w);
        unlink(addr.sun_path);
        return status;
}
