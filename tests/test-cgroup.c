/* Tests for cgroup: the VMs' cgroup on v1 and v2 fixture hosts, a guest's
 * memory cgroup from /proc/PID/cgroup, and memory.numa_stat parsing. */
#include <limits.h>

#include "density/cgroup.h"
#include "density/util.h"
#include "test-helpers.h"


static void test_machine_v1_unlimited(void) {
        CgroupSample c;
        CHECK_OK(cgroup_machine_read(fx("host-v1/cgroup"), &c));
        CHECK(c.version == 1);
        CHECK_STR(c.path, "memory/machine");
        CHECK(!c.has_limit); /* 9223372036854771712 is v1's "no limit" */
        CHECK_U64(c.usage_bytes, UINT64_C(21474836480));
        CHECK(c.has_oom_kill);
        CHECK_U64(c.oom_kill_total, 0);
}

static void test_machine_v1_limited(void) {
        CgroupSample c;
        CHECK_OK(cgroup_machine_read(fx("cgroup-v1-limited"), &c));
        CHECK(c.version == 1);
        CHECK(c.has_limit);
        CHECK_U64(c.limit_bytes, UINT64_C(8589934592));
        CHECK_U64(c.usage_bytes, UINT64_C(8000000000));
        CHECK(c.has_oom_kill);
        CHECK_U64(c.oom_kill_total, 3);
}

static void test_machine_v2(void) {
        CgroupSample c;
        CHECK_OK(cgroup_machine_read(fx("host-v2/cgroup"), &c));
        CHECK(c.version == 2);
        CHECK_STR(c.path, "machine.slice");
        CHECK(!c.has_limit); /* memory.max "max" */
        CHECK_U64(c.usage_bytes, UINT64_C(6442450944));
        CHECK(c.has_oom_kill);
        CHECK_U64(c.oom_kill_total, 0);

        CHECK_OK(cgroup_machine_read(fx("cgroup-v2-limited"), &c));
        CHECK(c.version == 2);
        CHECK(c.has_limit);
        CHECK_U64(c.limit_bytes, UINT64_C(17179869184));
        CHECK_U64(c.usage_bytes, UINT64_C(12884901888));
        CHECK(c.has_oom_kill);
        CHECK_U64(c.oom_kill_total, 2); /* not "oom 4", not "oom_group_kill 0" */
}

/* A 64 KiB-page ARM64 host on cgroup v1: "no limit" is PAGE_COUNTER_MAX
 * times 64 KiB, a different figure from x86's. */
static void test_machine_v1_arm64_64k(void) {
        CgroupSample c;
        CHECK_OK(cgroup_machine_read(fx("host-arm64-64k/cgroup"), &c));
        CHECK(c.version == 1);
        CHECK_STR(c.path, "memory/machine");
        CHECK(!c.has_limit); /* 9223372036854710272 */
        CHECK_U64(c.usage_bytes, UINT64_C(322122547200));
        CHECK(c.has_oom_kill);
}

/* Files that exist but do not parse are errors, not "no limit". */
static void test_machine_unreadable(void) {
        CgroupSample c, before;
        POISON(c);
        before = c;
        CHECK(cgroup_machine_read(fx("host-unreadable/cgroup"), &c) == -EINVAL); /* memory.max "lots" */
        CHECK(memcmp(&c, &before, sizeof(c)) == 0);
}

static void test_machine_absent(void) {
        CgroupSample c, before;
        POISON(c);
        before = c;
        CHECK(cgroup_machine_read(fx("minimal/cgroup"), &c) == -ENOENT);
        CHECK(cgroup_machine_read(fx("does-not-exist"), &c) == -ENOENT);
        CHECK(memcmp(&c, &before, sizeof(c)) == 0);
}

static void test_pid_memory_dir(void) {
        char dir[PATH_MAX];
        int version = 0;

        CHECK_OK(cgroup_pid_memory_dir(fx("host-v1/proc"), 2001, dir, sizeof(dir), &version));
        CHECK(version == 1);
        CHECK_STR(dir, "memory/machine/qemu-1-a.libvirt-qemu");

        CHECK_OK(cgroup_pid_memory_dir(fx("host-v2/proc"), 1001, dir, sizeof(dir), &version));
        CHECK(version == 2);
        CHECK_STR(dir, "machine.slice/machine-qemu\\x2d1\\x2da.scope"); /* ".../libvirt/emulator" stripped */

        CHECK_OK(cgroup_pid_memory_dir(fx("host-v2/proc"), 1004, dir, sizeof(dir), &version));
        CHECK(version == 2);
        CHECK_STR(dir, "machine.slice/machine-qemu\\x2d4\\x2dc.scope"); /* ".../libvirt/vcpu0" stripped */

        CHECK_OK(cgroup_pid_memory_dir(fx("host-arm64-64k/proc"), 3101, dir, sizeof(dir), &version));
        CHECK(version == 1);
        CHECK_STR(dir, "memory/machine/qemu-1-erl1.libvirt-qemu");

        /* Too small a buffer, a vanished process: errors, outputs untouched. */
        char small[8] = "keep";
        version = 42;
        CHECK(cgroup_pid_memory_dir(fx("host-v2/proc"), 1001, small, sizeof(small), &version) == -ENAMETOOLONG);
        CHECK(cgroup_pid_memory_dir(fx("host-v2/proc"), 1003, small, sizeof(small), &version) == -ENOENT);
        CHECK_STR(small, "keep");
        CHECK(version == 42);
}

/* v1 counts pages: converted with the page size given, never the running
 * kernel's (a 64 KiB-page ARM64 host reads the same text as 16 times more). */
static void test_numa_stat_v1(void) {
        GuestNodeBytes n[8];
        size_t k = 99;

        /* hierarchical_total wins over total (it counts sub-groups too). */
        const char *text = "total=1000 N0=600 N1=400\n"
                           "file=100 N0=60 N1=40\n"
                           "anon=900 N0=540 N1=360\n"
                           "unevictable=0 N0=0 N1=0\n"
                           "hierarchical_total=1100 N0=700 N1=400 N2=0\n"
                           "hierarchical_file=100 N0=60 N1=40 N2=0\n";
        CHECK_OK(cgroup_numa_stat_parse(text, 1, 4096, n, ELEMENTSOF(n), &k));
        CHECK(k == 2); /* N2=0 is left out */
        CHECK(n[0].node == 0);
        CHECK_U64(n[0].bytes, 2867200); /* 700 pages of 4 KiB */
        CHECK(n[1].node == 1);
        CHECK_U64(n[1].bytes, 1638400);

        CHECK_OK(cgroup_numa_stat_parse(text, 1, 65536, n, ELEMENTSOF(n), &k));
        CHECK(k == 2);
        CHECK_U64(n[0].bytes, 45875200); /* 700 pages of 64 KiB */
        CHECK_U64(n[1].bytes, 26214400);

        /* Older kernels: only total=. */
        CHECK_OK(cgroup_numa_stat_parse("total=30 N0=10 N1=20\nfile=0 N0=0 N1=0\n", 1, 4096, n, ELEMENTSOF(n), &k));
        CHECK(k == 2);
        CHECK_U64(n[0].bytes, 40960);
        CHECK_U64(n[1].bytes, 81920);

        k = 99;
        CHECK(cgroup_numa_stat_parse("", 1, 4096, n, ELEMENTSOF(n), &k) == -EINVAL);
        CHECK(cgroup_numa_stat_parse("anon N0=4096\n", 1, 4096, n, ELEMENTSOF(n), &k) == -EINVAL);
        CHECK(cgroup_numa_stat_parse("total=5 N0=x\n", 1, 4096, n, ELEMENTSOF(n), &k) == -EINVAL);
        CHECK(k == 99);

        /* The fixture guests: Debian 12 on x86 (4 KiB pages), and an ARM64
         * host with 64 KiB pages. */
        char *buf = NULL;
        CHECK_OK(read_file_at(fx("host-v1/cgroup"), "memory/machine/qemu-1-a.libvirt-qemu/memory.numa_stat", &buf,
                              NULL));
        CHECK_OK(cgroup_numa_stat_parse(buf, 1, 4096, n, ELEMENTSOF(n), &k));
        free(buf);
        CHECK(k == 1);
        CHECK(n[0].node == 0);
        CHECK_U64(n[0].bytes, 268435456); /* 65536 pages of 4 KiB */

        CHECK_OK(read_file_at(fx("host-arm64-64k/cgroup"), "memory/machine/qemu-1-erl1.libvirt-qemu/memory.numa_stat",
                              &buf, NULL));
        CHECK_OK(cgroup_numa_stat_parse(buf, 1, 65536, n, ELEMENTSOF(n), &k));
        free(buf);
        CHECK(k == 2);
        CHECK(n[0].node == 0);
        CHECK_U64(n[0].bytes, 104857600); /* 1600 pages of 64 KiB */
        CHECK(n[1].node == 1);
        CHECK_U64(n[1].bytes, 52428800);
}

static void test_numa_stat_v2(void) {
        GuestNodeBytes n[8];
        size_t k = 99;

        /* Bytes; anon + file per node; "file_mapped" etc. are not "file". */
        const char *text = "anon N0=1048576 N1=2097152 N2=0\n"
                           "file N0=4096 N1=0 N2=0\n"
                           "kernel_stack N0=16384 N1=0 N2=0\n"
                           "file_mapped N0=999999 N1=999999 N2=999999\n"
                           "anon_thp N0=888888 N1=0 N2=0\n";
        CHECK_OK(cgroup_numa_stat_parse(text, 2, 4096, n, ELEMENTSOF(n), &k));
        CHECK(k == 2);
        CHECK(n[0].node == 0);
        CHECK_U64(n[0].bytes, 1048576 + 4096);
        CHECK(n[1].node == 1);
        CHECK_U64(n[1].bytes, 2097152);
        /* Bytes already: the page size plays no part. */
        CHECK_OK(cgroup_numa_stat_parse(text, 2, 65536, n, ELEMENTSOF(n), &k));
        CHECK_U64(n[0].bytes, 1048576 + 4096);
        CHECK_U64(n[1].bytes, 2097152);

        /* A node with file pages only still counts. */
        CHECK_OK(cgroup_numa_stat_parse("anon N0=0 N1=0\nfile N0=0 N1=8192\n", 2, 4096, n, ELEMENTSOF(n), &k));
        CHECK(k == 1);
        CHECK(n[0].node == 1);
        CHECK_U64(n[0].bytes, 8192);

        k = 99;
        CHECK(cgroup_numa_stat_parse("file N0=4096\n", 2, 4096, n, ELEMENTSOF(n), &k) == -EINVAL);
        CHECK(cgroup_numa_stat_parse("total=5 N0=5\n", 2, 4096, n, ELEMENTSOF(n), &k) == -EINVAL);
        CHECK(k == 99);

        char *buf = NULL;
        CHECK_OK(read_file_at(fx("host-v2/cgroup"), "machine.slice/machine-qemu\\x2d1\\x2da.scope/memory.numa_stat",
                              &buf, NULL));
        CHECK_OK(cgroup_numa_stat_parse(buf, 2, 4096, n, ELEMENTSOF(n), &k));
        free(buf);
        CHECK(k == 2);
        CHECK_U64(n[0].bytes, 20971520 + 4096);
        CHECK_U64(n[1].bytes, 10485760 + 8192);

        /* A 64 KiB-page ARM64 host on v2: the file counts bytes, so the same
         * guest as host-arm64-64k's v1 erl1 (1600 + 800 pages of 64 KiB) comes
         * out the same whatever page size is injected. */
        CHECK_OK(read_file_at(fx("host-arm64-64k-v2/cgroup"),
                              "machine.slice/machine-qemu\\x2d1\\x2derl1.scope/memory.numa_stat", &buf, NULL));
        static const size_t pages[] = { 65536, 4096 };
        for (size_t i = 0; i < ELEMENTSOF(pages); i++) {
                CHECK_OK(cgroup_numa_stat_parse(buf, 2, pages[i], n, ELEMENTSOF(n), &k));
                CHECK(k == 2);
                CHECK(n[0].node == 0);
                CHECK_U64(n[0].bytes, 104857600); /* anon 100925440 + file 3932160 */
                CHECK(n[1].node == 1);
                CHECK_U64(n[1].bytes, 52428800);
        }
        free(buf);
}

static void test_is_guest_dir(void) {
        CHECK(cgroup_is_guest_dir("memory/machine/qemu-1-a.libvirt-qemu"));
        CHECK(cgroup_is_guest_dir("machine.slice/machine-qemu\\x2d1\\x2da.scope"));
        /* libvirt without cgroup support: qemu sits in libvirtd's cgroup,
         * shared by every guest. */
        CHECK(!cgroup_is_guest_dir("system.slice/libvirtd.service"));
        CHECK(!cgroup_is_guest_dir("memory/system.slice/libvirtd.service"));
        CHECK(!cgroup_is_guest_dir("memory/machine"));
        CHECK(!cgroup_is_guest_dir(""));
}

int main(int argc, char **argv) {
        test_fixtures(argc, argv);
        RUN(test_machine_v1_unlimited);
        RUN(test_machine_v1_limited);
        RUN(test_machine_v2);
        RUN(test_machine_v1_arm64_64k);
        RUN(test_machine_unreadable);
        RUN(test_machine_absent);
        RUN(test_pid_memory_dir);
        RUN(test_numa_stat_v1);
        RUN(test_numa_stat_v2);
        RUN(test_is_guest_dir);
        return 0;
}
