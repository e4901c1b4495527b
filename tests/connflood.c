/* connflood: open N connections to a Unix socket as fast as possible and
 * hold them, for the control socket's flood tests. Each connection sends
 * half a request and then nothing (the slowest client a server can have).
 * Prints how many connects succeeded, then waits until killed (or exits
 * after --hold SECONDS). Never installed.
 *
 * Usage: connflood SOCKET N [HOLD_SECONDS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: connflood SOCKET N [HOLD_SECONDS]\n");
                return 2;
        }
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "connflood: socket path too long\n");
                return 2;
        }
        strcpy(sa.sun_path, argv[1]);
        long n = strtol(argv[2], NULL, 10);
        long hold = argc > 3 ? strtol(argv[3], NULL, 10) : -1;
        long ok = 0, refused = 0;
        for (long i = 0; i < n; i++) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        fprintf(stderr, "connflood: socket: %s\n", strerror(errno));
                        break;
                }
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        refused++;
                        close(fd);
                        continue;
                }
                ok++;
                /* Half a request: the server must not wait for the rest.
                 * A connection over the server's limit is closed at once,
                 * maybe before this send: no SIGPIPE for that. */
                (void) !send(fd, "{\"command\":", 11, MSG_NOSIGNAL);
        }
        printf("%ld connected, %ld refused\n", ok, refused);
        fflush(stdout);
        if (hold < 0)
                for (;;)
                        pause();
        sleep((unsigned) hold);
        return 0;
}
