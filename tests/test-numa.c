/* Tests for numa: node meminfo parsing and node directories of fixture hosts. */
#include <limits.h>

#include "density/numa.h"
#include "density/util.h"
#include "test-helpers.h"

#define KIB UINT64_C(1024)


static void test_meminfo_parse(void) {
        NumaNode n = { .id = 1 };
        CHECK_OK(numa_node_meminfo_parse("Node 1 MemTotal:        8159240 kB\n"
                                         "Node 1 MemFree:          600000 kB\n"
                                         "Node 1 MemUsed:         7559240 kB\n",
                                         &n));
        CHECK_U64(n.mem_total_bytes, 8159240 * KIB);
        CHECK_U64(n.mem_free_bytes, 600000 * KIB);
        CHECK(n.id == 1);

        CHECK(numa_node_meminfo_parse("", &n) == -EINVAL);
        CHECK(numa_node_meminfo_parse("Node 0 MemUsed: 5 kB\n", &n) == -EINVAL);
        CHECK(numa_node_meminfo_parse("MemTotal: 5 kB\nMemFree: 1 kB\n", &n) == -EINVAL);
}

static void test_two_nodes(void) {
        NumaSample s;
        CHECK_OK(numa_read(fx("host-v2/sys"), &s));
        CHECK_U64(s.n_nodes, 2);
        CHECK(s.nodes[0].id == 0);
        CHECK(s.nodes[1].id == 1);
        CHECK_U64(s.nodes[0].mem_total_bytes, 8159240 * KIB);
        CHECK_U64(s.nodes[0].mem_free_bytes, 500000 * KIB);
        CHECK_U64(s.nodes[1].mem_total_bytes, 8159240 * KIB);
        CHECK_U64(s.nodes[1].mem_free_bytes, 600000 * KIB);
        CHECK_STR(s.nodes[0].cpulist, "0-1");
        CHECK_STR(s.nodes[1].cpulist, "2-3"); /* without the newline */
}

static void test_sorted_by_number(void) {
        NumaSample s;
        CHECK_OK(numa_read(fx("numa-sparse/sys"), &s));
        CHECK_U64(s.n_nodes, 3);
        CHECK(s.nodes[0].id == 0);
        CHECK(s.nodes[1].id == 2);
        CHECK(s.nodes[2].id == 10);
        CHECK_U64(s.nodes[2].mem_total_bytes, 11048576 * KIB);
        CHECK_STR(s.nodes[2].cpulist, "10");
}

/* Node meminfo counts kB whatever the page size (a 64 KiB-page ARM64 host). */
static void test_arm64_64k(void) {
        NumaSample s;
        CHECK_OK(numa_read(fx("host-arm64-64k/sys"), &s));
        CHECK_U64(s.n_nodes, 2);
        CHECK_U64(s.nodes[0].mem_total_bytes, UINT64_C(263983680) * KIB);
        CHECK_U64(s.nodes[0].mem_free_bytes, UINT64_C(100663296) * KIB);
        CHECK_U64(s.nodes[1].mem_free_bytes, UINT64_C(100663232) * KIB);
        CHECK_STR(s.nodes[0].cpulist, "0-95"); /* 192 CPUs, 96 a node */
        CHECK_STR(s.nodes[1].cpulist, "96-191");
}

/* A node whose meminfo does not parse is an error: leaving the node out
 * would make its memory vanish from the host's figures. */
static void test_unreadable(void) {
        NumaSample s, before;
        POISON(s);
        before = s;
        CHECK(numa_read(fx("host-unreadable/sys"), &s) == -EINVAL);
        CHECK(memcmp(&s, &before, sizeof(s)) == 0);
}

static void test_no_numa(void) {
        NumaSample s;
        POISON(s);
        CHECK_OK(numa_read(fx("host-v1/sys"), &s));
        CHECK_U64(s.n_nodes, 0);
        POISON(s);
        CHECK_OK(numa_read(fx("minimal/sys"), &s));
        CHECK_U64(s.n_nodes, 0);
}

int main(int argc, char **argv) {
        test_fixtures(argc, argv);
        RUN(test_meminfo_parse);
        RUN(test_two_nodes);
        RUN(test_sorted_by_number);
        RUN(test_no_numa);
        RUN(test_arm64_64k);
        RUN(test_unreadable);
        return 0;
}
