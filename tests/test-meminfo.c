/* Tests for meminfo: parsing (kB to bytes), and on the live host the
 * libproc2 path and our own parser agreeing exactly. */
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "density/meminfo.h"
#include "density/util.h"
#include "test-helpers.h"

#define KIB UINT64_C(1024)

static void test_parse(void) {
        const char *text = "MemTotal:       16318480 kB\n"
                           "MemFree:         1000000 kB\n"
                           "MemAvailable:    9876543 kB\n"
                           "Buffers:          123456 kB\n"
                           "Cached:          2345678 kB\n"
                           "SwapCached:            0 kB\n"
                           "AnonPages:       3456789 kB\n"
                           "AnonHugePages:    204800 kB\n"
                           "SwapTotal:       8388604 kB\n"
                           "SwapFree:        8000000 kB\n";
        MeminfoSample m;
        CHECK_OK(meminfo_parse(text, &m));
        CHECK_U64(m.mem_total_bytes, 16318480 * KIB);
        CHECK_U64(m.mem_available_bytes, 9876543 * KIB);
        CHECK_U64(m.anon_bytes, 3456789 * KIB);
        CHECK_U64(m.swap_total_bytes, 8388604 * KIB);
        CHECK_U64(m.swap_free_bytes, 8000000 * KIB);
}

static void test_parse_old_kernel(void) {
        /* Before 3.14 there is no MemAvailable: MemFree stands in. No swap. */
        MeminfoSample m;
        CHECK_OK(meminfo_parse("MemTotal: 2048 kB\nMemFree: 512 kB\n", &m));
        CHECK_U64(m.mem_total_bytes, 2048 * KIB);
        CHECK_U64(m.mem_available_bytes, 512 * KIB);
        CHECK_U64(m.swap_total_bytes, 0);
        CHECK_U64(m.anon_bytes, 0);
}

static void test_parse_errors(void) {
        MeminfoSample m, before;
        POISON(m);
        before = m;
        CHECK(meminfo_parse("", &m) == -EINVAL);
        CHECK(meminfo_parse("MemFree: 5 kB\n", &m) == -EINVAL);
        CHECK(meminfo_parse("MemTotal: many kB\n", &m) == -EINVAL);
        CHECK(memcmp(&m, &before, sizeof(m)) == 0);
        CHECK(meminfo_read("/nonexistent-density-root", &m) == -ENOENT);
        CHECK(memcmp(&m, &before, sizeof(m)) == 0);
}

static const char arcstats[] = "13 1 0x01 123 33456 1234567890 9876543210\n"
                               "name                            type data\n"
                               "hits                            4    1234567\n"
                               "misses                          4    12345\n"
                               "c                               4    4294967296\n"
                               "c_min                           4    1073741824\n"
                               "c_max                           4    12884901888\n"
                               "size                            4    6442450944\n"
                               "compressed_size                 4    123\n";

static void test_write(const char *root, const char *rel, const char *text) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        fputs(text, f);
        CHECK(fclose(f) == 0);
}

/* The ZFS ARC: not in MemAvailable, but it shrinks to c_min on demand. */
static void test_zfs_arc(void) {
        uint64_t size, min;
        CHECK_OK(zfs_arcstats_parse(arcstats, &size, &min));
        CHECK_U64(size, UINT64_C(6442450944));
        CHECK_U64(min, UINT64_C(1073741824));
        CHECK(zfs_arcstats_parse("name type data\nhits 4 1\n", &size, &min) == -EINVAL);
        CHECK(zfs_arcstats_parse("", &size, &min) == -EINVAL);

        MeminfoSample m = { .mem_total_bytes = 16 * KIB * KIB * KIB, .mem_available_bytes = 300 * KIB * KIB };
        CHECK_U64(meminfo_available_bytes(&m), 300 * KIB * KIB);
        m.has_zfs_arc = true;
        m.zfs_arc_bytes = 6 * KIB * KIB * KIB;
        m.zfs_arc_min_bytes = 1 * KIB * KIB * KIB;
        CHECK_U64(meminfo_available_bytes(&m), 300 * KIB * KIB + 5 * KIB * KIB * KIB);
        m.zfs_arc_bytes = 512 * KIB * KIB; /* below its minimum: gives nothing */
        CHECK_U64(meminfo_available_bytes(&m), 300 * KIB * KIB);
        m.zfs_arc_bytes = 64 * KIB * KIB * KIB; /* never more than MemTotal */
        CHECK_U64(meminfo_available_bytes(&m), 16 * KIB * KIB * KIB);

        /* Read beside meminfo, from the proc root. */
        char *root = test_mkdtemp();
        char path[PATH_MAX];
        const char *dirs[] = { "spl", "spl/kstat", "spl/kstat/zfs" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
                CHECK(mkdir(path, 0755) == 0);
        }
        test_write(root, "meminfo", "MemTotal: 16777216 kB\nMemAvailable: 307200 kB\n");
        test_write(root, "spl/kstat/zfs/arcstats", arcstats);
        MeminfoSample r;
        CHECK_OK(meminfo_read(root, &r));
        CHECK(r.has_zfs_arc);
        CHECK_U64(r.zfs_arc_bytes, UINT64_C(6442450944));
        CHECK_U64(meminfo_available_bytes(&r), 300 * KIB * KIB + 5 * KIB * KIB * KIB);
        /* A file that does not parse: no ARC, the rest read. */
        test_write(root, "spl/kstat/zfs/arcstats", "garbage\n");
        CHECK_OK(meminfo_read(root, &r));
        CHECK(!r.has_zfs_arc);
        test_rm_rf(root);
}

/* libproc2 (meminfo_read("/proc")) and our parser read the same file. */
static void test_live_host_agrees(void) {
        MeminfoSample lib, ours;
        CHECK_OK(meminfo_read("/proc", &lib));

        char *buf = NULL;
        CHECK_OK(read_file_at("/proc", "meminfo", &buf, NULL));
        CHECK_OK(meminfo_parse(buf, &ours));
        free(buf);

        CHECK(lib.mem_total_bytes > 0);
        CHECK_U64(lib.mem_total_bytes, ours.mem_total_bytes);
        CHECK_U64(lib.swap_total_bytes, ours.swap_total_bytes);
        CHECK(lib.mem_available_bytes <= lib.mem_total_bytes);
        CHECK(lib.swap_free_bytes <= lib.swap_total_bytes);
        /* Also the same through the injectable-root path ("/proc/" is not
         * "/proc", so it is parsed by us). */
        MeminfoSample again;
        CHECK_OK(meminfo_read("/proc/", &again));
        CHECK_U64(again.mem_total_bytes, lib.mem_total_bytes);
}

int main(void) {
        RUN(test_parse);
        RUN(test_parse_old_kernel);
        RUN(test_parse_errors);
        RUN(test_zfs_arc);
        RUN(test_live_host_agrees);
        return 0;
}
