/* util: small helpers every module shares: cleanup attributes, file reading
 * below an injectable root, number parsing, clocks and the runtime page size. */
#pragma once

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Hand ownership out of a cleanup variable: *ret = TAKE_PTR(p). */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* The running kernel's page size, read once (hosts may run 4 KiB or 64 KiB
 * pages). Only the defaulting of Roots.page_size calls this: everything that
 * converts pages takes the page size as an argument, so tests can pose as a
 * host with other pages. */
size_t page_size_bytes(void);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in microseconds. */
uint64_t now_monotonic_usec(void);
/* CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID). */
uint64_t thread_cpu_usec(void);
uint64_t now_realtime_usec(void);
/* Time from then to now; 0 if the clock stepped back past then (snapshot
 * times are wall-clock time). */
uint64_t usec_since(uint64_t now_usec, uint64_t then_usec);

/* Threads. A condition variable whose timed waits use CLOCK_MONOTONIC
 * deadlines (usec_to_timespec()), so a clock change neither stretches nor
 * cuts them; and a thread nobody joins. Return: 0 or -errno. */
void cond_init_monotonic(pthread_cond_t *c);
struct timespec usec_to_timespec(uint64_t usec);
int thread_start_detached(void *(*fn)(void *), void *arg);

/**
 * read_file_at() - read a whole (small, pseudo-)file below a root.
 * @root: directory the path is relative to ("/proc", a fixture tree, ...);
 *        NULL: @rel is used as it is (relative to the working directory)
 * @rel:  path below @root, no leading slash needed
 * @ret:  NUL-terminated contents, caller frees
 * @ret_len: length without the NUL, may be NULL
 *
 * Return: 0, or negative errno (-ENOENT when the file is absent).
 */
int read_file_at(const char *root, const char *rel, char **ret, size_t *ret_len);

/* Read /proc/PID/NAME below proc_root. Return: as read_file_at(); -ENOENT
 * also when the process is gone. */
int read_pid_file(const char *proc_root, pid_t pid, const char *name, char **ret);

/* Read a file holding one unsigned integer ("max" is reported as -ERANGE). */
int read_u64_at(const char *root, const char *rel, uint64_t *ret);

/* Parse a whole string as an unsigned/signed decimal integer (surrounding
 * white space allowed). Return: 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);

/* Find "key" at the start of a line in buf followed by white space or ':'
 * and parse the first number after it. Return: 0, -ENOENT or -EINVAL. */
int find_key_u64(const char *buf, const char *key, uint64_t *ret);

/* Join root and path into buf (a NULL root leaves b as it is).
 * Return: 0 or -ENAMETOOLONG. */
int path_join(char *buf, size_t size, const char *a, const char *b);

/* Copy with truncation, always NUL-terminated. */
void strscpy(char *dst, size_t size, const char *src);

/* Write data to path atomically: a temp file with a random suffix in the
 * same directory (created exclusively; "density.prom.XXXXXX" is not a
 * *.prom file, so node_exporter never reads a half-written one), then
 * rename. Return: 0 or negative errno; no temp file is left on failure. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);

/* The same, and on disk when it returns: the file and the directory
 * entry are synced (state that must survive a power loss). A failed sync
 * after the rename returns its error with the new file in place. */
int write_file_durable(const char *path, const char *data, size_t len, mode_t mode);

/* Records of any type, looked up by the UUID string each holds (at
 * uuid_offset in a record of record_size bytes): an index sorted once, then
 * a binary search per lookup, instead of a linear one per guest (thousands
 * of guests looked up in thousands of records each tick). The records must
 * stay where they are while the index is used. */
typedef struct UuidIndex {
        const char **uuids; /* into the records, sorted */
        size_t n;
        size_t uuid_offset;
} UuidIndex;

/* Return: 0 or -ENOMEM (*ret then empty: every lookup finds nothing). */
int uuid_index_build(const void *records, size_t n, size_t record_size, size_t uuid_offset, UuidIndex *ret);
/* The record holding uuid, or NULL. */
const void *uuid_index_find(const UuidIndex *ix, const char *uuid);
/* Free the index (not the records); accepts an empty one. */
void uuid_index_clear(UuidIndex *ix);
