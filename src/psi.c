/* psi: see include/density/psi.h */
#include "density/psi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
