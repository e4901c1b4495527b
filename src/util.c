/* util: see include/density/util.h */
#include "density/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

size_t page_size_bytes(void) {
        static size_t cached;
        if (cached == 0) {
                long v = sysconf(_SC_PAGESIZE);
                cached = v > 0 ? (size_t) v : 4096;
        }
        return cached;
}

static uint64_t clock_usec(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

uint64_t now_monotonic_usec(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

uint64_t thread_cpu_usec(void) {
        return clock_usec(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t now_realtime_usec(void) {
        return clock_usec(CLOCK_REALTIME);
}

uint64_t usec_since(uint64_t now_usec, uint64_t then_usec) {
        return now_usec > then_usec ? now_usec - then_usec : 0;
}

void cond_init_monotonic(pthread_cond_t *c) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(c, &attr);
        pthread_condattr_destroy(&attr);
}

struct timespec usec_to_timespec(uint64_t usec) {
        return (struct timespec) { .tv_sec = (time_t) (usec / USEC_PER_SEC),
                                   .tv_nsec = (long) (usec % USEC_PER_SEC) * 1000 };
}

int thread_start_detached(void *(*fn)(void *), void *arg) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int k = pthread_create(&t, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        return -k;
}

int path_join(char *buf, size_t size, const char *a, const char *b) {
        int n;
        if (!a) {
                n = snprintf(buf, size, "%s", b);
                return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
        }
        while (b[0] == '/')
                b++;
        if (a[0] == '\0' || strcmp(a, "/") == 0)
                n = snprintf(buf, size, "/%s", b);
        else
                n = snprintf(buf, size, "%s/%s", a, b);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

void strscpy(char *dst, size_t size, const char *src) {
        if (size == 0)
                return;
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
}

int read_file_at(const char *root, const char *rel, char **ret, size_t *ret_len) {
        char path[PATH_MAX];
        int r = path_join(path, sizeof(path), root, rel);
        if (r < 0)
                return r;

        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        /* procfs and sysfs report size 0: grow the buffer as we read. */
        size_t size = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= size) {
                        if (size >= (size_t) 64 << 20)
                                return -EFBIG;
                        char *n = realloc(buf, size * 2);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        size *= 2;
                }
                ssize_t k = read(fd, buf + len, size - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool only_space(const char *s) {
        while (isspace((unsigned char) *s))
                s++;
        return *s == '\0';
}

int parse_u64(const char *s, uint64_t *ret) {
        while (isspace((unsigned char) *s))
                s++;
        if (*s == '-' || *s == '\0')
                return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s || !only_space(end))
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_i64(const char *s, int64_t *ret) {
        while (isspace((unsigned char) *s))
                s++;
        if (*s == '\0')
                return -EINVAL;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s || !only_space(end))
                return -EINVAL;
        *ret = v;
        return 0;
}

int read_pid_file(const char *proc_root, pid_t pid, const char *name, char **ret) {
        char rel[64];
        int n = snprintf(rel, sizeof(rel), "%d/%s", (int) pid, name);
        if (n < 0 || (size_t) n >= sizeof(rel))
                return -ENAMETOOLONG;
        return read_file_at(proc_root, rel, ret, NULL);
}

int read_u64_at(const char *root, const char *rel, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(root, rel, &buf, NULL);
        if (r < 0)
                return r;
        if (strncmp(buf, "max", 3) == 0)
                return -ERANGE;
        return parse_u64(buf, ret);
}

int find_key_u64(const char *buf, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);
        for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, key, klen) != 0)
                        continue;
                const char *v = p + klen;
                if (*v != ' ' && *v != '\t' && *v != ':' && *v != '=')
                        continue;
                while (*v == ' ' || *v == '\t' || *v == ':' || *v == '=')
                        v++;
                errno = 0;
                char *end;
                unsigned long long n = strtoull(v, &end, 10);
                if (end == v || errno == ERANGE)
                        return -EINVAL;
                *ret = n;
                return 0;
        }
        return -ENOENT;
}

static int write_file_replace(const char *path, const char *data, size_t len, mode_t mode, bool durable) {
        char tmp[PATH_MAX];
        int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
        if (n < 0 || (size_t) n >= sizeof(tmp))
                return -ENAMETOOLONG;

        /* A fresh random name, created exclusively: nobody who can write to
         * the directory can point it elsewhere with a symlink. */
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t off = 0;
        while (off < len) {
                ssize_t k = write(fd, data + off, len - off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        close(fd);
                        unlink(tmp);
                        return r;
                }
                off += (size_t) k;
        }
        int r = fchmod(fd, mode) < 0 ? -errno : 0;
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
                return r;
        }
        if (durable) {
                /* The rename itself lives in the directory. */
                char dir[PATH_MAX];
                strscpy(dir, sizeof(dir), path);
                char *slash = strrchr(dir, '/');
                if (slash == dir)
                        slash[1] = '\0';
                else if (slash)
                        *slash = '\0';
                else
                        strscpy(dir, sizeof(dir), ".");
                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        return -errno;
                r = fsync(dfd) < 0 ? -errno : 0;
                close(dfd);
                return r;
        }
        return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
        /* No fsync: the files rewritten every tick (density.prom) are
         * replaced within one interval after a crash. */
        return write_file_replace(path, data, len, mode, false);
}

int write_file_durable(const char *path, const char *data, size_t len, mode_t mode) {
        return write_file_replace(path, data, len, mode, true);
}

static int uuid_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

int uuid_index_build(const void *records, size_t n, size_t record_size, size_t uuid_offset, UuidIndex *ret) {
        *ret = (UuidIndex) { .uuid_offset = uuid_offset };
        if (n == 0)
                return 0;
        const char **uuids = malloc(n * sizeof(*uuids));
        if (!uuids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                uuids[i] = (const char *) records + i * record_size + uuid_offset;
        qsort(uuids, n, sizeof(*uuids), uuid_ptr_cmp);
        ret->uuids = uuids;
        ret->n = n;
        return 0;
}

const void *uuid_index_find(const UuidIndex *ix, const char *uuid) {
        if (ix->n == 0)
                return NULL;
        const char *const *found = bsearch(&uuid, ix->uuids, ix->n, sizeof(*ix->uuids), uuid_ptr_cmp);
        return found ? *found - ix->uuid_offset : NULL;
}

void uuid_index_clear(UuidIndex *ix) {
        free(ix->uuids);
        *ix = (UuidIndex) {};
}
