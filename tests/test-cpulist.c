/* Tests for cpulist: the kernel's list syntax, both ways. */
#include "density/cpulist.h"
#include "density/util.h"
#include "test-helpers.h"

/* Parse into a map of nbits and format it back. */
static const char *roundtrip(const char *s, size_t nbits) {
        static char out[512];
        uint8_t map[CPULIST_MAP_BYTES(1024)];
        if (nbits > 1024)
                TEST_FAIL("nbits too big for the test map");
        int r = cpulist_parse(s, map, nbits, NULL);
        if (r < 0)
                TEST_FAIL("cpulist_parse(\"%s\", %zu) = %d", s, nbits, r);
        CHECK_OK(cpulist_format(map, nbits, out, sizeof(out)));
        return out;
}

static void test_parse(void) {
        uint8_t map[2];
        size_t n;
        CHECK_OK(cpulist_parse("0-3,8", map, 16, &n));
        CHECK_U64(map[0], 0x0f);
        CHECK_U64(map[1], 0x01);
        CHECK_U64(n, 5);

        CHECK_OK(cpulist_parse("15", map, 16, &n));
        CHECK_U64(map[0], 0);
        CHECK_U64(map[1], 0x80);
        CHECK_U64(n, 1);

        /* What sysfs gives: a trailing newline; a memory-only node's list
         * is empty. */
        CHECK_OK(cpulist_parse("0-1\n", map, 16, &n));
        CHECK_U64(map[0], 0x03);
        CHECK_U64(n, 2);
        CHECK_OK(cpulist_parse("\n", map, 16, &n));
        CHECK_U64(map[0], 0);
        CHECK_U64(n, 0);
        CHECK_OK(cpulist_parse("", map, 16, NULL));

        /* Overlaps count once; separators as the kernel takes them. */
        CHECK_OK(cpulist_parse("0-3, 2-5 ,,7", map, 16, &n));
        CHECK_U64(map[0], 0xbf);
        CHECK_U64(n, 7);

        /* nbits need not be a multiple of 8; the last bit is usable. */
        uint8_t one;
        CHECK_OK(cpulist_parse("0-2", &one, 3, &n));
        CHECK_U64(one, 0x07);
}

static void test_strided(void) {
        CHECK_STR(roundtrip("0-15:2/4", 16), "0-1,4-5,8-9,12-13");
        CHECK_STR(roundtrip("0-9:1/3", 16), "0,3,6,9");
        CHECK_STR(roundtrip("1-6:3/3", 16), "1-6");
        /* The last group is cut at the end of the range. */
        CHECK_STR(roundtrip("0-5:3/4", 16), "0-2,4-5");
        /* A group longer than the range. */
        CHECK_STR(roundtrip("2-3:1/1000", 16), "2");
        CHECK_STR(roundtrip("0-1023:1/512", 1024), "0,512");
}

static void test_format(void) {
        CHECK_STR(roundtrip("", 8), "");
        CHECK_STR(roundtrip("3", 8), "3");
        CHECK_STR(roundtrip("7,0,1,2", 8), "0-2,7");
        CHECK_STR(roundtrip("0-1023", 1024), "0-1023");
        CHECK_STR(roundtrip("1,3,5,1023", 1024), "1,3,5,1023");

        uint8_t map[2] = { 0x0f, 0x01 };
        char buf[8];
        memset(buf, 'x', sizeof(buf));
        CHECK(cpulist_format(map, 16, buf, 5) == -ENOBUFS); /* "0-3,8" needs 6 bytes */
        CHECK(buf[0] == 'x');
        CHECK_OK(cpulist_format(map, 16, buf, 6));
        CHECK_STR(buf, "0-3,8");
        CHECK(cpulist_format(map, 16, buf, 0) == -ENOBUFS);
        uint8_t none = 0;
        CHECK_OK(cpulist_format(&none, 8, buf, 1));
        CHECK_STR(buf, "");
}

static void test_bad(void) {
        uint8_t map[2] = { 0xa5, 0xa5 };
        size_t n = 77;
        static const char *const invalid[] = {
                "x", "0-", "-1", "3-1", "1-2-3", "0x1", "1.5", "0-3:", "0-3:1", "0-3:1/",
                "0-3:0/2", "0-3:3/2", "0-3:1/0", "2:1/2", "0;1", "+1", "0-3\x01", "１",
        };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                int r = cpulist_parse(invalid[i], map, 16, &n);
                if (r != -EINVAL)
                        TEST_FAIL("cpulist_parse(\"%s\") = %d, expected -EINVAL", invalid[i], r);
        }
        CHECK(cpulist_parse(NULL, map, 16, &n) == -EINVAL);

        CHECK(cpulist_parse("16", map, 16, &n) == -ERANGE);
        CHECK(cpulist_parse("0-16", map, 16, &n) == -ERANGE);
        CHECK(cpulist_parse("0,99999999999999999999999999", map, 16, &n) == -ERANGE);
        CHECK(cpulist_parse("0", map, 0, &n) == -ERANGE);
        /* A syntax error anywhere wins over a range error: the whole list is checked. */
        CHECK(cpulist_parse("99,x", map, 16, &n) == -EINVAL);

        /* ret_ outputs untouched on failure */
        CHECK_U64(map[0], 0xa5);
        CHECK_U64(map[1], 0xa5);
        CHECK_U64(n, 77);
}

int main(void) {
        RUN(test_parse);
        RUN(test_strided);
        RUN(test_format);
        RUN(test_bad);
        return 0;
}
