/* Tests for meminfo: parsing (kB to bytes), and on the live host the
 * libproc2 path and our own parser agreeing exactly. */
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
        RUN(test_live_host_agrees);
        return 0;
}
