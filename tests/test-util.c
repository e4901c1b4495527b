/* Tests for util: number parsing, key lookup, paths, file reading and the
 * atomic write the textfile exporter relies on. */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>

#include "density/util.h"
#include "test-helpers.h"

static void test_parse_u64(void) {
        uint64_t v;

        CHECK_OK(parse_u64("0", &v));
        CHECK_U64(v, 0);
        CHECK_OK(parse_u64("42", &v));
        CHECK_U64(v, 42);
        CHECK_OK(parse_u64("  \t42 \n", &v));
        CHECK_U64(v, 42);
        CHECK_OK(parse_u64("18446744073709551615", &v));
        CHECK_U64(v, UINT64_MAX);

        v = 7;
        CHECK(parse_u64("18446744073709551616", &v) == -ERANGE);
        CHECK(parse_u64("99999999999999999999999", &v) == -ERANGE);
        CHECK(parse_u64("", &v) == -EINVAL);
        CHECK(parse_u64("   ", &v) == -EINVAL);
        CHECK(parse_u64("-1", &v) == -EINVAL);
        CHECK(parse_u64(" -1", &v) == -EINVAL);
        CHECK(parse_u64("abc", &v) == -EINVAL);
        CHECK(parse_u64("12abc", &v) == -EINVAL);
        CHECK(parse_u64("1 2", &v) == -EINVAL);
        CHECK(parse_u64("max", &v) == -EINVAL);
        CHECK_U64(v, 7); /* untouched by every failure above */
}

/* A minus sign behind white space that strtoull() skips but parse_u64()
 * does not ('\n', '\r', '\v', '\f') must not wrap to a huge number. */
static void test_parse_u64_negative_after_newline(void) {
        uint64_t v = 7;
        int r = parse_u64("\n-1", &v);
        if (r == 0)
                TEST_FAIL("parse_u64(\"\\n-1\") accepted a negative number as %" PRIu64, v);
        CHECK(r == -EINVAL);
        CHECK(parse_u64("\r-5", &v) == -EINVAL);
        CHECK_U64(v, 7);
}

static void test_parse_i64(void) {
        int64_t v;

        CHECK_OK(parse_i64("0", &v));
        CHECK_I64(v, 0);
        CHECK_OK(parse_i64("-5", &v));
        CHECK_I64(v, -5);
        CHECK_OK(parse_i64(" 17\n", &v));
        CHECK_I64(v, 17);
        CHECK_OK(parse_i64("9223372036854775807", &v));
        CHECK_I64(v, INT64_MAX);
        CHECK_OK(parse_i64("-9223372036854775808", &v));
        CHECK_I64(v, INT64_MIN);

        v = 7;
        CHECK(parse_i64("9223372036854775808", &v) == -ERANGE);
        CHECK(parse_i64("-9223372036854775809", &v) == -ERANGE);
        CHECK(parse_i64("", &v) == -EINVAL);
        CHECK(parse_i64(" ", &v) == -EINVAL);
        CHECK(parse_i64("-", &v) == -EINVAL);
        CHECK(parse_i64("- 5", &v) == -EINVAL);
        CHECK(parse_i64("5x", &v) == -EINVAL);
        CHECK(parse_i64("x5", &v) == -EINVAL);
        CHECK_I64(v, 7);
}

static void test_find_key_u64(void) {
        const char *meminfo = "MemTotal:       16318480 kB\n"
                              "MemFree:         1234567 kB\n"
                              "MemAvailable:    9876543 kB\n"
                              "Buffers:               0 kB\n"
                              "SwapTotal:             5 kB";
        uint64_t v;

        CHECK_OK(find_key_u64(meminfo, "MemTotal", &v));
        CHECK_U64(v, 16318480);
        CHECK_OK(find_key_u64(meminfo, "MemAvailable", &v));
        CHECK_U64(v, 9876543);
        CHECK_OK(find_key_u64(meminfo, "Buffers", &v));
        CHECK_U64(v, 0);
        CHECK_OK(find_key_u64(meminfo, "SwapTotal", &v)); /* last line, no newline */
        CHECK_U64(v, 5);

        v = 7;
        CHECK(find_key_u64(meminfo, "Mem", &v) == -ENOENT);    /* a prefix of a key is not the key */
        CHECK(find_key_u64(meminfo, "Total", &v) == -ENOENT);  /* only at the start of a line */
        CHECK(find_key_u64(meminfo, "Cached", &v) == -ENOENT);
        CHECK(find_key_u64("", "MemTotal", &v) == -ENOENT);
        CHECK(find_key_u64("MemTotal: lots\n", "MemTotal", &v) == -EINVAL);
        CHECK(find_key_u64("MemTotal:\n", "MemTotal", &v) == -EINVAL);
        CHECK_U64(v, 7);

        /* memory.oom_control: "oom_kill_disable" must not answer for "oom_kill". */
        const char *oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        CHECK_OK(find_key_u64(oom, "oom_kill", &v));
        CHECK_U64(v, 3);
        CHECK_OK(find_key_u64(oom, "under_oom", &v));
        CHECK_U64(v, 0);
        CHECK_OK(find_key_u64("a=12\n", "a", &v));
        CHECK_U64(v, 12);
}

static void test_path_join(void) {
        char buf[64];

        CHECK_OK(path_join(buf, sizeof(buf), NULL, "rel/file"));
        CHECK_STR(buf, "rel/file");
        CHECK_OK(path_join(buf, sizeof(buf), NULL, "/abs/file"));
        CHECK_STR(buf, "/abs/file");
        CHECK_OK(path_join(buf, sizeof(buf), "/proc", "meminfo"));
        CHECK_STR(buf, "/proc/meminfo");
        CHECK_OK(path_join(buf, sizeof(buf), "/proc", "//meminfo"));
        CHECK_STR(buf, "/proc/meminfo");
        CHECK_OK(path_join(buf, sizeof(buf), "/", "proc/meminfo"));
        CHECK_STR(buf, "/proc/meminfo");
        CHECK_OK(path_join(buf, sizeof(buf), "", "/proc/meminfo"));
        CHECK_STR(buf, "/proc/meminfo");
        CHECK_OK(path_join(buf, sizeof(buf), "fixtures/x", "proc/1/statm"));
        CHECK_STR(buf, "fixtures/x/proc/1/statm");

        /* "/ab/cd" is 6 characters: fits in 7 bytes, not in 6. */
        CHECK_OK(path_join(buf, 7, "/ab", "cd"));
        CHECK_STR(buf, "/ab/cd");
        CHECK(path_join(buf, 6, "/ab", "cd") == -ENAMETOOLONG);
        CHECK(path_join(buf, 4, NULL, "abcd") == -ENAMETOOLONG);
        CHECK_OK(path_join(buf, 5, NULL, "abcd"));
        CHECK_STR(buf, "abcd");
}

static void test_strscpy(void) {
        char buf[4];
        strscpy(buf, sizeof(buf), "ab");
        CHECK_STR(buf, "ab");
        strscpy(buf, sizeof(buf), "abcdef");
        CHECK_STR(buf, "abc");
        strscpy(buf, 1, "xyz");
        CHECK_STR(buf, "");
}

static void write_text(const char *dir, const char *name, const char *text) {
        char path[PATH_MAX];
        CHECK_OK(path_join(path, sizeof(path), dir, name));
        FILE *f = fopen(path, "we");
        CHECK(f);
        CHECK(fputs(text, f) >= 0);
        CHECK(fclose(f) == 0);
}

static void test_read_file_at(void) {
        char *dir = test_mkdtemp();
        write_text(dir, "small", "hello\n");

        char *buf = NULL;
        size_t len = 0;
        CHECK_OK(read_file_at(dir, "small", &buf, &len));
        CHECK_STR(buf, "hello\n");
        CHECK_U64(len, 6);
        free(buf);

        /* Larger than the first buffer: the reader must grow it. */
        size_t big_len = 3 * 4096 + 123;
        char *big = malloc(big_len + 1);
        CHECK(big);
        for (size_t i = 0; i < big_len; i++)
                big[i] = (char) ('a' + i % 26);
        big[big_len] = '\0';
        write_text(dir, "big", big);
        buf = NULL;
        CHECK_OK(read_file_at(dir, "/big", &buf, NULL));
        CHECK_U64(strlen(buf), big_len);
        CHECK(memcmp(buf, big, big_len) == 0);
        free(buf);
        free(big);

        write_text(dir, "empty", "");
        buf = NULL;
        CHECK_OK(read_file_at(dir, "empty", &buf, &len));
        CHECK_STR(buf, "");
        CHECK_U64(len, 0);
        free(buf);

        char *untouched = (char *) "untouched";
        buf = untouched;
        CHECK(read_file_at(dir, "missing", &buf, NULL) == -ENOENT);
        CHECK(buf == untouched);

        uint64_t v = 7;
        write_text(dir, "num", "123\n");
        write_text(dir, "max", "max\n");
        write_text(dir, "junk", "12 kB\n");
        CHECK_OK(read_u64_at(dir, "num", &v));
        CHECK_U64(v, 123);
        CHECK(read_u64_at(dir, "max", &v) == -ERANGE);
        CHECK(read_u64_at(dir, "junk", &v) == -EINVAL);
        CHECK(read_u64_at(dir, "missing", &v) == -ENOENT);
        CHECK_U64(v, 123);

        /* NULL root: the path as it is. */
        char path[PATH_MAX];
        CHECK_OK(path_join(path, sizeof(path), dir, "num"));
        CHECK_OK(read_u64_at(NULL, path, &v));
        CHECK_U64(v, 123);

        test_rm_rf(dir);
}

static void test_write_file_atomic(void) {
        char *dir = test_mkdtemp();
        char path[PATH_MAX];
        CHECK_OK(path_join(path, sizeof(path), dir, "out.prom"));

        const char *first = "first version, rather long\n";
        CHECK_OK(write_file_atomic(path, first, strlen(first), 0640));
        char *buf = NULL;
        CHECK_OK(read_file_at(NULL, path, &buf, NULL));
        CHECK_STR(buf, first);
        free(buf);
        CHECK(test_count_entries(dir) == 1); /* no temp file left behind */

        struct stat st;
        CHECK(stat(path, &st) == 0);
        CHECK((st.st_mode & 07777) == 0640); /* mode as asked, whatever the umask */

        /* Replacing with shorter content leaves exactly the new content. */
        const char *second = "v2\n";
        CHECK_OK(write_file_atomic(path, second, strlen(second), 0644));
        buf = NULL;
        CHECK_OK(read_file_at(NULL, path, &buf, NULL));
        CHECK_STR(buf, second);
        free(buf);
        CHECK(stat(path, &st) == 0);
        CHECK((st.st_mode & 07777) == 0644);
        CHECK(test_count_entries(dir) == 1);

        /* Data with a NUL in it is written byte for byte. */
        const char bin[] = { 'a', '\0', 'b' };
        CHECK_OK(write_file_atomic(path, bin, sizeof(bin), 0644));
        size_t len = 0;
        buf = NULL;
        CHECK_OK(read_file_at(NULL, path, &buf, &len));
        CHECK_U64(len, 3);
        CHECK(memcmp(buf, bin, 3) == 0);
        free(buf);

        /* Failing rename (the target is a directory): error, no temp left. */
        char sub[PATH_MAX];
        CHECK_OK(path_join(sub, sizeof(sub), dir, "subdir"));
        CHECK(mkdir(sub, 0755) == 0);
        int r = write_file_atomic(sub, "x", 1, 0644);
        CHECK(r < 0);
        CHECK(test_count_entries(dir) == 2); /* out.prom and subdir */

        /* Missing directory. */
        char missing[PATH_MAX];
        CHECK_OK(path_join(missing, sizeof(missing), dir, "nope/out.prom"));
        CHECK(write_file_atomic(missing, "x", 1, 0644) == -ENOENT);
        CHECK(test_count_entries(dir) == 2);

        test_rm_rf(dir);
}

static void test_page_size_and_clocks(void) {
        CHECK_U64(page_size_bytes(), (uint64_t) sysconf(_SC_PAGESIZE));
        CHECK(page_size_bytes() >= 4096);
        CHECK((page_size_bytes() & (page_size_bytes() - 1)) == 0);

        uint64_t a = now_monotonic_usec(), b = now_monotonic_usec();
        CHECK(a > 0);
        CHECK(b >= a);
        /* Realtime is after 2020-01-01. */
        CHECK(now_realtime_usec() > UINT64_C(1577836800) * USEC_PER_SEC);
}

static void test_take_ptr(void) {
        _cleanup_free_ char *p = strdup("x");
        CHECK(p);
        char *q = TAKE_PTR(p);
        CHECK(p == NULL);
        CHECK_STR(q, "x");
        free(q);

        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        int fd2 = TAKE_FD(fd);
        CHECK(fd == -1);
        CHECK(close(fd2) == 0);
}

typedef struct UuidRecord {
        int value;
        char uuid[37];
} UuidRecord;

static void test_uuid_index(void) {
        UuidRecord r[] = {
                { 1, "00000000-0000-0000-0000-00000000000c" },
                { 2, "00000000-0000-0000-0000-00000000000a" },
                { 3, "00000000-0000-0000-0000-00000000000b" },
        };
        UuidIndex ix;
        CHECK_OK(uuid_index_build(r, ELEMENTSOF(r), sizeof(r[0]), offsetof(UuidRecord, uuid), &ix));
        for (size_t i = 0; i < ELEMENTSOF(r); i++)
                CHECK(uuid_index_find(&ix, r[i].uuid) == &r[i]);
        CHECK(uuid_index_find(&ix, "00000000-0000-0000-0000-00000000000d") == NULL);
        const UuidRecord *b = uuid_index_find(&ix, "00000000-0000-0000-0000-00000000000b");
        CHECK(b && b->value == 3);
        uuid_index_clear(&ix);
        CHECK(ix.n == 0 && ix.uuids == NULL);
        CHECK(uuid_index_find(&ix, r[0].uuid) == NULL); /* empty: finds nothing */
        uuid_index_clear(&ix);
        CHECK_OK(uuid_index_build(r, 0, sizeof(r[0]), offsetof(UuidRecord, uuid), &ix));
        CHECK(uuid_index_find(&ix, r[0].uuid) == NULL);
}

int main(void) {
        RUN(test_parse_u64);
        RUN(test_parse_i64);
        RUN(test_find_key_u64);
        RUN(test_path_join);
        RUN(test_strscpy);
        RUN(test_read_file_at);
        RUN(test_write_file_atomic);
        RUN(test_page_size_and_clocks);
        RUN(test_take_ptr);
        /* Last: a known bug in src/util.c (reported), so the rest still runs. */
        RUN(test_parse_u64_negative_after_newline);
        RUN(test_uuid_index);
        return 0;
}
