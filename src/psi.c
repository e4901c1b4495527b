/* psi: see include/density/psi.h */
#include "density/psi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "density/util.h"

static int psi_parse_line(const char *line, PsiLine *ret) {
        PsiLine l = {};
        unsigned long long total;
        /* sscanf's %lf reads the C locale's decimal point: the daemon never
         * calls setlocale(), so "0.12" parses. */
        if (sscanf(line, "avg10=%lf avg60=%lf avg300=%lf total=%llu", &l.avg10, &l.avg60, &l.avg300,
                   &total) != 4)
                return -EINVAL;
        l.total_usec = total;
        *ret = l;
        return 0;
}

int psi_parse(const char *buf, PsiSample *ret) {
        PsiSample p = {};
        for (const char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                if (strncmp(line, "some ", 5) == 0) {
                        if (psi_parse_line(line + 5, &p.some) < 0)
                                return -EINVAL;
                        p.has_some = true;
                } else if (strncmp(line, "full ", 5) == 0) {
                        if (psi_parse_line(line + 5, &p.full) < 0)
                                return -EINVAL;
                        p.has_full = true;
                }
        }
        if (!p.has_some)
                return -EINVAL;
        *ret = p;
        return 0;
}

int psi_read(const char *proc_root, PsiSample *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(proc_root, "pressure/memory", &buf, NULL);
        if (r == -EOPNOTSUPP)
                r = -ENOENT; /* psi=0 on the kernel command line */
        if (r < 0)
                return r;
        return psi_parse(buf, ret);
}

/* One trigger on a fresh fd: the kernel keeps one trigger per open file. */
static int psi_trigger_try(const char *path, const char *kind, uint64_t stall_usec, uint64_t window_usec) {
        char line[64];
        int n = snprintf(line, sizeof(line), "%s %llu %llu", kind, (unsigned long long) stall_usec,
                         (unsigned long long) window_usec);
        int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* Only the kernel's pressure files take triggers: a plain file (a
         * fixture tree) would just grow. */
        struct statfs fs;
        if (fstatfs(fd, &fs) < 0 || (fs.f_type != PROC_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC)) {
                close(fd);
                return -ENOTSUP;
        }
        /* The kernel wants the terminating NUL too. */
        if (write(fd, line, (size_t) n + 1) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int psi_trigger_open(const char *path, const char *kind, uint64_t stall_usec, uint64_t window_usec,
                     uint64_t *ret_window_usec) {
        if ((strcmp(kind, "some") != 0 && strcmp(kind, "full") != 0) || stall_usec == 0 ||
            stall_usec > window_usec || window_usec < PSI_WINDOW_MIN_USEC || window_usec > PSI_WINDOW_MAX_USEC)
                return -EINVAL;
        int fd = psi_trigger_try(path, kind, stall_usec, window_usec);
        if (fd == -EINVAL && window_usec % PSI_WINDOW_UNPRIVILEGED_USEC != 0) {
                uint64_t w = (window_usec / PSI_WINDOW_UNPRIVILEGED_USEC + 1) * PSI_WINDOW_UNPRIVILEGED_USEC;
                if (w > PSI_WINDOW_MAX_USEC)
                        return -EINVAL;
                uint64_t stall = (uint64_t) ((double) stall_usec * (double) w / (double) window_usec + 0.5);
                fd = psi_trigger_try(path, kind, stall, w);
                if (fd >= 0)
                        window_usec = w;
        }
        if (fd < 0)
                return fd;
        *ret_window_usec = window_usec;
        return fd;
}
