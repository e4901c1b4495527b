/* Tests for psi: /proc/pressure/memory with and without the "full" line. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "density/psi.h"
#include "test-helpers.h"

static void test_some_and_full(void) {
        PsiSample p;
        CHECK_OK(psi_parse("some avg10=0.12 avg60=1.50 avg300=3.00 total=12345\n"
                           "full avg10=0.05 avg60=0.10 avg300=0.20 total=678\n",
                           &p));
        CHECK(p.has_some && p.has_full);
        CHECK(p.some.avg10 == 0.12);
        CHECK(p.some.avg60 == 1.50);
        CHECK(p.some.avg300 == 3.00);
        CHECK_U64(p.some.total_usec, 12345);
        CHECK(p.full.avg10 == 0.05);
        CHECK(p.full.avg300 == 0.20);
        CHECK_U64(p.full.total_usec, 678);
}

static void test_some_only(void) {
        /* Kernels before 5.x (and cpu pressure at the root) have no full line. */
        PsiSample p;
        CHECK_OK(psi_parse("some avg10=99.00 avg60=0.00 avg300=0.00 total=18446744073709551615", &p));
        CHECK(p.has_some);
        CHECK(!p.has_full);
        CHECK(p.some.avg10 == 99.0);
        CHECK_U64(p.some.total_usec, UINT64_MAX);
}

static void test_garbage(void) {
        PsiSample p, before;
        POISON(p);
        before = p;
        CHECK(psi_parse("", &p) == -EINVAL);
        CHECK(psi_parse("hello world\n", &p) == -EINVAL);
        CHECK(psi_parse("some avg10=abc avg60=0.00 avg300=0.00 total=1\n", &p) == -EINVAL);
        CHECK(psi_parse("some avg10=0.00 avg60=0.00\n", &p) == -EINVAL);
        /* A full line alone is not a sample. */
        CHECK(psi_parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p) == -EINVAL);
        /* A broken full line spoils the whole file. */
        CHECK(psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=x\n", &p) == -EINVAL);
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);

        CHECK(psi_read("/nonexistent-density-root", &p) == -ENOENT);
        CHECK(memcmp(&p, &before, sizeof(p)) == 0);
}

static void test_trigger(void) {
        uint64_t w = 0;
        /* Refused before the file is touched. */
        CHECK(psi_trigger_open("/nonexistent", "both", 100000, 2000000, &w) == -EINVAL);
        CHECK(psi_trigger_open("/nonexistent", "full", 3000000, 2000000, &w) == -EINVAL);
        CHECK(psi_trigger_open("/nonexistent", "full", 100, 100000, &w) == -EINVAL);
        CHECK(psi_trigger_open("/nonexistent", "full", 100000, 2000000, &w) == -ENOENT);
        /* A plain file (a fixture tree) is no pressure file: left as it is. */
        char plain[] = "/tmp/density-test-psi.XXXXXX";
        int pf = mkstemp(plain);
        CHECK(pf >= 0);
        close(pf);
        CHECK(psi_trigger_open(plain, "some", 100000, 2000000, &w) == -ENOTSUP);
        struct stat st;
        CHECK_OK(stat(plain, &st));
        CHECK(st.st_size == 0);
        unlink(plain);
        CHECK(w == 0);
        if (access("/proc/pressure/memory", W_OK) < 0) {
                printf("# no writable /proc/pressure/memory here: the real trigger is not tried\n");
                return;
        }
        /* A 1 s window: in force as asked (CAP_SYS_RESOURCE) or as 2 s with
         * the stall scaled (HOST-NOTES: root here lacks it). */
        int fd = psi_trigger_open("/proc/pressure/memory", "full", 100000, 1000000, &w);
        CHECK(fd >= 0);
        CHECK(w == 1000000 || w == 2000000);
        printf("# trigger armed with a %llu ms window\n", (unsigned long long) (w / 1000));
        struct pollfd p = { .fd = fd, .events = POLLPRI };
        CHECK(poll(&p, 1, 0) >= 0);
        close(fd);
}

int main(void) {
        RUN(test_some_and_full);
        RUN(test_some_only);
        RUN(test_garbage);
        RUN(test_trigger);
        return 0;
}
