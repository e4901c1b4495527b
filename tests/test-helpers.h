/* test-helpers: the few checks the test programs share. A failed check
 * prints where and what, then exits 1; meson counts the test as failed.
 * Each test program is a plain main() calling its test functions in order. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ftw.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#define TEST_FAIL(...)                                                                                     \
        do {                                                                                               \
                fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, __func__);                              \
                fprintf(stderr, __VA_ARGS__);                                                              \
                fputc('\n', stderr);                                                                       \
                exit(EXIT_FAILURE);                                                                        \
        } while (0)

#define CHECK(cond)                                                                                        \
        do {                                                                                               \
                if (!(cond))                                                                               \
                        TEST_FAIL("check failed: %s", #cond);                                              \
        } while (0)

/* r is 0 (negative errno returns). */
#define CHECK_OK(expr)                                                                                     \
        do {                                                                                               \
                long long _r = (long long) (expr);                                                         \
                if (_r != 0)                                                                               \
                        TEST_FAIL("%s returned %lld (%s), expected 0", #expr, _r,                          \
                                  _r < 0 ? strerror((int) -_r) : "positive");                              \
        } while (0)

#define CHECK_U64(a, b)                                                                                    \
        do {                                                                                               \
                uint64_t _a = (uint64_t) (a), _b = (uint64_t) (b);                                         \
                if (_a != _b)                                                                              \
                        TEST_FAIL("%s == %" PRIu64 ", expected %s == %" PRIu64, #a, _a, #b, _b);           \
        } while (0)

#define CHECK_I64(a, b)                                                                                    \
        do {                                                                                               \
                int64_t _a = (int64_t) (a), _b = (int64_t) (b);                                            \
                if (_a != _b)                                                                              \
                        TEST_FAIL("%s == %" PRId64 ", expected %s == %" PRId64, #a, _a, #b, _b);           \
        } while (0)

#define CHECK_STR(a, b)                                                                                    \
        do {                                                                                               \
                const char *_a = (a), *_b = (b);                                                           \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                                     \
                        TEST_FAIL("%s == \"%s\", expected \"%s\"", #a, _a ? _a : "(null)",                 \
                                  _b ? _b : "(null)");                                                     \
        } while (0)

/* haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle)                                                                   \
        do {                                                                                               \
                const char *_h = (haystack), *_n = (needle);                                               \
                if (!_h || !strstr(_h, _n))                                                                \
                        TEST_FAIL("%s does not contain \"%s\":\n%s", #haystack, _n, _h ? _h : "(null)");  \
        } while (0)

#define CHECK_NOT_CONTAINS(haystack, needle)                                                               \
        do {                                                                                               \
                const char *_h = (haystack), *_n = (needle);                                               \
                if (_h && strstr(_h, _n))                                                                  \
                        TEST_FAIL("%s contains \"%s\":\n%s", #haystack, _n, _h);                           \
        } while (0)

/* Run one test function and say so (the log shows how far a test got). */
#define RUN(fn)                                                                                            \
        do {                                                                                               \
                fprintf(stderr, "== %s\n", #fn);                                                           \
                fn();                                                                                      \
        } while (0)

/* Run one test function with arguments. */
#define RUN_ARGS(fn, ...)                                                                                  \
        do {                                                                                               \
                fprintf(stderr, "== %s\n", #fn);                                                           \
                fn(__VA_ARGS__);                                                                           \
        } while (0)

/* The fixture directory a test was given as its first argument. */
static const char *fixtures;

static inline const char *test_fixtures(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
                exit(EXIT_FAILURE);
        }
        fixtures = argv[1];
        return fixtures;
}

/* A path below the fixture directory; the last four stay valid. */
__attribute__((unused)) static const char *fx(const char *rel) {
        static char buf[4][4096];
        static unsigned i;
        char *b = buf[i++ % 4];
        int n = snprintf(b, sizeof(buf[0]), "%s/%s", fixtures, rel);
        if (n < 0 || (size_t) n >= sizeof(buf[0]))
                TEST_FAIL("fixture path too long: %s", rel);
        return b;
}

/* Fill a buffer with a pattern, to check that failing calls leave
 * their ret_ outputs alone. */
#define POISON(x) memset(&(x), 0xa5, sizeof(x))

/* A fresh directory below $TMPDIR (or /tmp); the caller removes it. */
static inline char *test_mkdtemp(void) {
        const char *base = getenv("TMPDIR");
        char *p = NULL;
        if (asprintf(&p, "%s/density-test.XXXXXX", base && base[0] ? base : "/tmp") < 0 || !mkdtemp(p))
                TEST_FAIL("cannot create a temporary directory: %s", strerror(errno));
        return p;
}

static inline int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

/* Remove a directory tree made by test_mkdtemp() and free its name. */
static inline void test_rm_rf(char *dir) {
        if (dir)
                (void) nftw(dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
}

/* Number of entries in a directory other than . and .. (-1: cannot open). */
static inline int test_count_entries(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}
