/* Tests for domfacts: literal domain XMLs (one a real `virsh dumpxml` of a
 * testbed guest, in tests/data), hostile input, and silence on stderr. */
#include "density/domfacts.h"

#include <pthread.h>

#include "density/util.h"
#include "test-helpers.h"

static const char *data_dir;

/* A minimal domain around some elements. */
#define DOM(inner) "<domain type='kvm'><name>g</name><memory unit='KiB'>1024</memory>" inner "</domain>"

static char err[256];

static int parse(const char *xml, DomainFacts *f) {
        err[0] = '\0';
        return domain_facts_parse(xml, strlen(xml), true, f, err, sizeof(err));
}

/* The XML must be refused: -EINVAL, ret untouched, err mentions want. */
static void check_refused(const char *xml, const char *want) {
        DomainFacts f, before;
        POISON(f);
        before = f;
        int r = parse(xml, &f);
        if (r != -EINVAL)
                TEST_FAIL("parse returned %d, expected -EINVAL, for:\n%.300s", r, xml);
        if (memcmp(&f, &before, sizeof(f)) != 0)
                TEST_FAIL("ret written on failure for:\n%.300s", xml);
        if (!strstr(err, want))
                TEST_FAIL("err \"%s\" lacks \"%s\" for:\n%.300s", err, want, xml);
        if (strchr(err, '\n'))
                TEST_FAIL("err \"%s\" is not one line", err);
}

static void test_real_dumpxml(void) {
        _cleanup_free_ char *xml = NULL;
        size_t len;
        CHECK_OK(read_file_at(data_dir, "dtest-1-live.xml", &xml, &len));
        DomainFacts f;
        POISON(f);
        CHECK_OK(domain_facts_parse(xml, len, true, &f, err, sizeof(err)));
        CHECK(f.known);
        CHECK_STR(f.error, "");
        CHECK(f.persistent);
        CHECK(f.has_balloon);
        CHECK_STR(f.balloon_model, "virtio");
        CHECK_U64(f.balloon_period_sec, 2);
        CHECK(!f.free_page_reporting);
        CHECK(!f.vcpu_pinned);
        CHECK(!f.emulator_pinned);
        CHECK_U64(f.vcpus, 1);
        CHECK_STR(f.vcpu_cpuset, "");
        CHECK(!f.numatune);
        CHECK(!f.nosharepages);
        CHECK_STR(f.numatune_mode, "");
        CHECK_STR(f.numatune_nodeset, "");
        CHECK_U64(f.max_memory_bytes, 256ull << 20);
        CHECK_STR(f.metadata_class, "");

        /* persistent comes from the caller, not the XML */
        CHECK_OK(domain_facts_parse(xml, len, false, &f, err, sizeof(err)));
        CHECK(!f.persistent);
}

static void test_real_tuned(void) {
        /* A real `virsh dumpxml` of dtest-meta from tests/system/test-virt-ops.sh
         * (numatune restrictive 0, densityd metadata) after virt-op pinned
         * its vCPU and emulator: what libvirt writes once they are set. */
        _cleanup_free_ char *xml = NULL;
        size_t len;
        CHECK_OK(read_file_at(data_dir, "dtest-meta-tuned.xml", &xml, &len));
        DomainFacts f;
        CHECK_OK(domain_facts_parse(xml, len, true, &f, err, sizeof(err)));
        CHECK(f.vcpu_pinned);
        CHECK(f.emulator_pinned);
        CHECK(f.numatune);
        CHECK_STR(f.numatune_mode, "restrictive");
        CHECK_STR(f.numatune_nodeset, "0");
        CHECK_STR(f.metadata_class, "batch");
        CHECK(f.has_balloon);
        CHECK_U64(f.max_memory_bytes, 256ull << 20);
}

static void test_balloon(void) {
        DomainFacts f;
        CHECK_OK(parse(DOM("<devices><memballoon model='none'/></devices>"), &f));
        CHECK(!f.has_balloon);
        CHECK_STR(f.balloon_model, "none");
        CHECK_U64(f.balloon_period_sec, 0);

        CHECK_OK(parse(DOM("<devices><disk type='file'/></devices>"), &f));
        CHECK(!f.has_balloon);
        CHECK_STR(f.balloon_model, "");

        CHECK_OK(parse(DOM(""), &f)); /* no <devices> at all */
        CHECK(!f.has_balloon);
        CHECK_STR(f.balloon_model, "");

        CHECK_OK(parse(DOM("<devices><memballoon model='virtio-transitional' freePageReporting='on'>"
                           "<stats period='10'/></memballoon></devices>"),
                       &f));
        CHECK(f.has_balloon);
        CHECK_STR(f.balloon_model, "virtio-transitional");
        CHECK_U64(f.balloon_period_sec, 10);
        CHECK(f.free_page_reporting);
        CHECK(!f.autodeflate);

        CHECK_OK(parse(DOM("<devices><memballoon model='virtio' freePageReporting='off' autodeflate='on'/></devices>"),
                       &f));
        CHECK(f.has_balloon);
        CHECK(!f.free_page_reporting);
        CHECK(f.autodeflate);
        CHECK_U64(f.balloon_period_sec, 0);

        /* An element in another namespace is not libvirt's. */
        CHECK_OK(parse(DOM("<devices><x:memballoon xmlns:x='urn:x' model='virtio'/></devices>"), &f));
        CHECK(!f.has_balloon);

        check_refused(DOM("<devices><memballoon model='virtio'><stats period='4294967296'/></memballoon></devices>"),
                      "period");
        check_refused(DOM("<devices><memballoon model='virtio'><stats period='-1'/></memballoon></devices>"), "period");
        check_refused(DOM("<devices><memballoon model='virtio'><stats period='2s'/></memballoon></devices>"), "period");
        check_refused(DOM("<devices><memballoon model='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'/></devices>"),
                      "longer than 31");
}

static void test_pinning(void) {
        DomainFacts f;
        CHECK_OK(parse(DOM("<vcpu placement='static'>2</vcpu>"), &f));
        CHECK(!f.vcpu_pinned);
        CHECK(!f.emulator_pinned);
        CHECK_U64(f.vcpus, 2);

        CHECK_OK(parse(DOM("<vcpu placement='static' current='3'>8</vcpu>"), &f));
        CHECK_U64(f.vcpus, 3); /* what it runs, not its most */
        CHECK_OK(parse(DOM("<vcpu>many</vcpu>"), &f));
        CHECK_U64(f.vcpus, 0); /* unknown */
        CHECK_OK(parse(DOM(""), &f));
        CHECK_U64(f.vcpus, 1); /* libvirt's default */

        CHECK_OK(parse(DOM("<vcpu placement='static' cpuset='0-1'>2</vcpu>"), &f));
        CHECK(f.vcpu_pinned);
        CHECK(!f.emulator_pinned);
        CHECK_STR(f.vcpu_cpuset, "0-1");

        /* One of two vCPUs pinned: mixed, no single set. */
        CHECK_OK(parse(DOM("<vcpu>2</vcpu><cputune><vcpupin vcpu='1' cpuset='3'/></cputune>"), &f));
        CHECK(f.vcpu_pinned);
        CHECK(!f.emulator_pinned);
        CHECK_STR(f.vcpu_cpuset, "");
        CHECK_OK(parse(DOM("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='2-3'/><vcpupin vcpu='1' cpuset='2-3'/>"
                           "<emulatorpin cpuset='2-3'/></cputune>"),
                       &f));
        CHECK_STR(f.vcpu_cpuset, "2-3");
        CHECK_STR(f.emulator_cpuset, "2-3");
        CHECK_OK(parse(DOM("<vcpu>2</vcpu><cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3'/>"
                           "</cputune>"),
                       &f));
        CHECK_STR(f.vcpu_cpuset, "");

        CHECK_OK(parse(DOM("<vcpu>2</vcpu><cputune><shares>1024</shares><emulatorpin cpuset='0'/></cputune>"), &f));
        CHECK(!f.vcpu_pinned);
        CHECK(f.emulator_pinned);
        CHECK_STR(f.emulator_cpuset, "0");

        /* <cputune> without pins is not pinning */
        CHECK_OK(parse(DOM("<cputune><shares>1024</shares></cputune>"), &f));
        CHECK(!f.vcpu_pinned);
        CHECK(!f.emulator_pinned);
}

static void test_nosharepages(void) {
        DomainFacts f;
        CHECK_OK(parse(DOM("<memoryBacking><nosharepages/></memoryBacking>"), &f));
        CHECK(f.nosharepages);
        CHECK_OK(parse(DOM("<memoryBacking><hugepages/></memoryBacking>"), &f));
        CHECK(!f.nosharepages);
        /* Only libvirt's element, where libvirt reads it. */
        CHECK_OK(parse(DOM("<devices><nosharepages/></devices>"), &f));
        CHECK(!f.nosharepages);
}

static void test_numatune(void) {
        DomainFacts f;
        CHECK_OK(parse(DOM("<numatune><memory mode='interleave' nodeset='0-1,3'/></numatune>"), &f));
        CHECK(f.numatune);
        CHECK_STR(f.numatune_mode, "interleave");
        CHECK_STR(f.numatune_nodeset, "0-1,3");

        /* no mode: libvirt's default, strict */
        CHECK_OK(parse(DOM("<numatune><memory nodeset='1'/></numatune>"), &f));
        CHECK(f.numatune);
        CHECK_STR(f.numatune_mode, "strict");
        CHECK_STR(f.numatune_nodeset, "1");

        CHECK_OK(parse(DOM("<numatune><memory mode='restrictive' placement='auto'/></numatune>"), &f));
        CHECK(f.numatune);
        CHECK_STR(f.numatune_mode, "restrictive");
        CHECK_STR(f.numatune_nodeset, "");

        CHECK_OK(parse(DOM("<numatune><memory mode='preferred' nodeset='0'/></numatune>"), &f));
        CHECK_STR(f.numatune_mode, "preferred");

        /* per-cell placement only: the guest's memory as a whole is not placed */
        CHECK_OK(parse(DOM("<numatune><memnode cellid='0' mode='strict' nodeset='0'/></numatune>"), &f));
        CHECK(!f.numatune);
        CHECK_STR(f.numatune_mode, "");

        check_refused(DOM("<numatune><memory mode='everywhere' nodeset='0'/></numatune>"), "everywhere");
        check_refused(DOM("<numatune><memory mode='strict' nodeset='0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,"
                          "36,38,40,42,44,46'/></numatune>"),
                      "longer than 63");
}

static void test_memory_units(void) {
        static const struct {
                const char *unit;
                const char *value;
                uint64_t bytes;
        } cases[] = {
                { NULL, "262144", 262144ull * 1024 },   /* default KiB */
                { "b", "1048576", 1048576 },
                { "bytes", "1048576", 1048576 },
                { "b", "1000", 1024 },                  /* libvirt keeps KiB, rounded up */
                { "KB", "1000", 1000448 },             /* 10^6 bytes: 977 KiB */
                { "KB", "1024", 1024000 },             /* exactly 1000 KiB */
                { "k", "1", 1024 },
                { "KiB", "262144", 262144ull * 1024 },
                { "MB", "1", 1000448 },
                { "MB", "1024", 1024000000 },
                { "M", "256", 256ull << 20 },
                { "MiB", "256", 256ull << 20 },
                { "GB", "2", 2000000000 },
                { "G", "2", 2ull << 30 },
                { "GiB", "2", 2ull << 30 },
                { "TB", "1", 1000000000000ull },
                { "T", "1", 1ull << 40 },
                { "TiB", "1", 1ull << 40 },
                { "mib", "1", 1ull << 20 },             /* case-insensitive, as libvirt */
                { "KiB", " 42\n", 42 * 1024 },
                { "KiB", "0", 0 },
                { "", "3", 3 * 1024 },                  /* empty: the default, as libvirt */
                { "EiB", "7", 7ull << 60 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char xml[256];
                if (cases[i].unit)
                        snprintf(xml, sizeof(xml), "<domain><memory unit='%s'>%s</memory></domain>", cases[i].unit,
                                 cases[i].value);
                else
                        snprintf(xml, sizeof(xml), "<domain><memory>%s</memory></domain>", cases[i].value);
                DomainFacts f;
                int r = parse(xml, &f);
                if (r != 0)
                        TEST_FAIL("%s: %d (%s)", xml, r, err);
                if (f.max_memory_bytes != cases[i].bytes)
                        TEST_FAIL("%s: %llu bytes, expected %llu", xml, (unsigned long long) f.max_memory_bytes,
                                  (unsigned long long) cases[i].bytes);
        }

        check_refused("<domain><memory unit='KiB'>18446744073709551615</memory></domain>", "too large");
        check_refused("<domain><memory unit='KiB'>99999999999999999999999999</memory></domain>", "too large");
        check_refused("<domain><memory unit='EiB'>8</memory></domain>", "too large");
        check_refused("<domain><memory unit='b'>9223372036854775808</memory></domain>", "too large");
        check_refused("<domain><memory unit='KiB'>-1</memory></domain>", "not a number");
        check_refused("<domain><memory unit='KiB'>1.5</memory></domain>", "not a number");
        check_refused("<domain><memory unit='KiB'></memory></domain>", "not a number");
        check_refused("<domain><memory unit='pages'>1</memory></domain>", "unknown unit 'pages'");
        check_refused("<domain><memory unit='Kb2'>1</memory></domain>", "unknown unit");
        check_refused("<domain><vcpu>1</vcpu></domain>", "no <memory>");
}

static void test_metadata(void) {
        DomainFacts f;
        CHECK_OK(parse(DOM("<metadata><densityd:guest xmlns:densityd='https://densityd.org/xmlns/1' class='batch'/>"
                           "</metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "batch");

        /* another prefix, the same namespace */
        CHECK_OK(parse(DOM("<metadata><dd:guest xmlns:dd='https://densityd.org/xmlns/1' class='web.front_1-a'/>"
                           "</metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "web.front_1-a");

        /* no prefix: a default namespace */
        CHECK_OK(parse(DOM("<metadata><guest xmlns='https://densityd.org/xmlns/1' class='db'/></metadata>"), &f));
        CHECK_STR(f.metadata_class, "db");

        /* the namespace declared further up */
        CHECK_OK(parse("<domain xmlns:d='https://densityd.org/xmlns/1'><memory>1</memory>"
                       "<metadata><d:guest class='up'/></metadata></domain>",
                       &f));
        CHECK_STR(f.metadata_class, "up");

        /* other applications' metadata beside ours */
        CHECK_OK(parse(DOM("<metadata><nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'>"
                           "<nova:name>vm</nova:name></nova:instance>"
                           "<densityd:guest xmlns:densityd='https://densityd.org/xmlns/1' class='batch'/></metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "batch");

        /* the right prefix, the wrong namespace: not ours, ignored */
        CHECK_OK(parse(DOM("<metadata><densityd:guest xmlns:densityd='https://densityd.org/xmlns/2' class='batch'/>"
                           "</metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "");
        CHECK_OK(parse(DOM("<metadata><densityd:guest xmlns:densityd='http://densityd.org/xmlns/1' class='x y'/>"
                           "</metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "");
        /* no namespace at all */
        CHECK_OK(parse(DOM("<metadata><guest class='batch'/></metadata>"), &f));
        CHECK_STR(f.metadata_class, "");
        /* our namespace, another element */
        CHECK_OK(parse(DOM("<metadata><d:other xmlns:d='https://densityd.org/xmlns/1' class='batch'/></metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "");
        /* only inside <metadata> */
        CHECK_OK(parse(DOM("<description><d:guest xmlns:d='https://densityd.org/xmlns/1' class='batch'/></description>"),
                       &f));
        CHECK_STR(f.metadata_class, "");
        /* a class attribute in a namespace is not the class */
        CHECK_OK(parse(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' d:class='batch'/></metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "");
        /* our element without a class: no class */
        CHECK_OK(parse(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1'/></metadata>"), &f));
        CHECK_STR(f.metadata_class, "");
        /* character references are plain text */
        CHECK_OK(parse(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='&#x62;atch'/></metadata>"),
                       &f));
        CHECK_STR(f.metadata_class, "batch");

        /* 63 characters fit, 64 do not */
        CHECK_OK(parse(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' "
                           "class='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'/></metadata>"),
                       &f));
        CHECK_U64(strlen(f.metadata_class), 63);
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' "
                          "class='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'/></metadata>"),
                      "is not a class name");
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class=''/></metadata>"),
                      "class '' is not a class name");
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='bat ch'/></metadata>"),
                      "class 'bat ch'");
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='../etc'/></metadata>"),
                      "'../etc'");
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='a&#10;b'/></metadata>"),
                      "class 'a?b'");
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='caf\xc3\xa9'/></metadata>"),
                      "class 'caf?" "?'");
        check_refused(DOM("<metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='a'/>"
                          "<e:guest xmlns:e='https://densityd.org/xmlns/1' class='b'/></metadata>"),
                      "more than one");
}

static void test_not_a_domain(void) {
        check_refused("hello, world", "not XML: line 1");
        check_refused("", "empty");
        check_refused("<domain><memory>1</memory>", "not XML");
        check_refused("<domain><memory>1</memory></domain><domain/>", "not XML");
        check_refused("{\"domain\": 1}", "not XML");
        check_refused("<network><name>default</name></network>", "root element is <network>");
        check_refused("<domain xmlns='urn:not-libvirt'><memory>1</memory></domain>", "root element is <domain>");
        check_refused("<x:domain xmlns:x='urn:x'><memory>1</memory></x:domain>", "root element");

        /* A NUL inside: the length counts, not the terminator. */
        static const char nul[] = "<domain><memory>1</memory>\0</domain>";
        DomainFacts f, before;
        POISON(f);
        before = f;
        CHECK(domain_facts_parse(nul, sizeof(nul) - 1, true, &f, err, sizeof(err)) == -EINVAL);
        CHECK(memcmp(&f, &before, sizeof(f)) == 0);
        /* Not NUL-terminated: only len bytes are read. */
        static const char cut[] = "<domain><memory>1</memory></domain>GARBAGE";
        CHECK_OK(domain_facts_parse(cut, sizeof(cut) - 1 - 7, true, &f, err, sizeof(err)));
        CHECK_U64(f.max_memory_bytes, 1024);
        POISON(f);
        before = f;
        CHECK(domain_facts_parse(cut, 0, true, &f, err, sizeof(err)) == -EINVAL);
        CHECK(domain_facts_parse(NULL, 10, true, &f, err, sizeof(err)) == -EINVAL);

        /* err may be NULL or tiny */
        CHECK(domain_facts_parse("x", 1, true, &f, NULL, 0) == -EINVAL);
        char tiny[8];
        CHECK(domain_facts_parse("x", 1, true, &f, tiny, sizeof(tiny)) == -EINVAL);
        CHECK_U64(strlen(tiny), 7);
        CHECK(memcmp(&f, &before, sizeof(f)) == 0);
}

static void test_hostile(void) {
        /* Entities: no DOCTYPE is accepted, so neither expansion bombs nor
         * external entities get anywhere. */
        check_refused("<?xml version='1.0'?>\n<!DOCTYPE domain [\n<!ENTITY a 'aaaaaaaaaa'>\n"
                      "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>\n<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>\n"
                      "<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>\n<!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>\n"
                      "<!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'>\n<!ENTITY g '&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;'>\n"
                      "]>\n<domain><memory>1</memory><metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' "
                      "class='&g;'/></metadata></domain>",
                      "");
        check_refused("<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                      "<domain><memory>1</memory><name>&x;</name></domain>",
                      "DOCTYPE");
        check_refused("<!DOCTYPE domain SYSTEM 'http://127.0.0.1:1/domain.dtd'><domain><memory>1</memory></domain>",
                      "DOCTYPE");
        /* An undeclared entity is not well-formed. */
        check_refused("<domain><memory>1</memory><metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' "
                      "class='&x;'/></metadata></domain>",
                      "not XML");

        /* Deep nesting: libxml2's depth limit, not the stack. */
        size_t depth = 100000;
        char *deep = malloc(depth * 7 + 64);
        CHECK(deep);
        char *p = deep;
        p += sprintf(p, "<domain>");
        for (size_t i = 0; i < depth; i++)
                p += sprintf(p, "<a>");
        for (size_t i = 0; i < depth; i++)
                p += sprintf(p, "</a>");
        sprintf(p, "</domain>");
        check_refused(deep, "not XML");
        free(deep);

        /* Too big to be from libvirt. */
        size_t big = (16u << 20) + 1;
        char *huge = malloc(big);
        CHECK(huge);
        memset(huge, ' ', big);
        memcpy(huge, "<domain>", 8);
        DomainFacts f;
        CHECK(domain_facts_parse(huge, big, true, &f, err, sizeof(err)) == -EINVAL);
        CHECK_CONTAINS(err, "bytes");
        free(huge);

        /* A huge (but allowed) text value is bounded in the message. */
        size_t n = 1 << 20;
        char *long_class = malloc(n + 200);
        CHECK(long_class);
        p = long_class;
        p += sprintf(p, "<domain><memory>1</memory><metadata><d:guest xmlns:d='https://densityd.org/xmlns/1' class='");
        memset(p, 'x', n);
        p += n;
        sprintf(p, "'/></metadata></domain>");
        check_refused(long_class, "xxx...'");
        CHECK(strlen(err) < 200);
        free(long_class);

        /* Binary garbage. */
        unsigned char junk[4096];
        unsigned seed = 12;
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (unsigned char) (rand_r(&seed) & 0xff);
        junk[0] = '<';
        CHECK(domain_facts_parse((const char *) junk, sizeof(junk), true, &f, err, sizeof(err)) == -EINVAL);
}

/* Every refusal above must have been silent; this checks it, in the main
 * thread and in a new one (libxml2's error handlers are per thread). */
static void *parse_garbage(void *arg) {
        (void) arg;
        DomainFacts f;
        char e[64];
        (void) domain_facts_parse("<domain><oops></domain>", 23, true, &f, e, sizeof(e));
        (void) domain_facts_parse("<!DOCTYPE x [<!ENTITY y SYSTEM 'nowhere'>]><x>&y;</x>", 50, true, &f, e, sizeof(e));
        (void) domain_facts_parse("\xff\xfe<\0d\0", 6, true, &f, e, sizeof(e));
        return NULL;
}

static void test_silent(void) {
        fflush(stderr);
        char path[] = "/tmp/density-test-stderr.XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        unlink(path);
        int saved = dup(2);
        CHECK(saved >= 0);
        CHECK(dup2(fd, 2) == 2);

        parse_garbage(NULL);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, parse_garbage, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);

        fflush(stderr);
        CHECK(dup2(saved, 2) == 2);
        close(saved);
        off_t size = lseek(fd, 0, SEEK_END);
        close(fd);
        CHECK_U64(size, 0);
}

int main(int argc, char **argv) {
        data_dir = test_fixtures(argc, argv);
        RUN(test_silent); /* first: before anything else touched libxml2 */
        RUN(test_real_dumpxml);
        RUN(test_real_tuned);
        RUN(test_balloon);
        RUN(test_pinning);
        RUN(test_nosharepages);
        RUN(test_numatune);
        RUN(test_memory_units);
        RUN(test_metadata);
        RUN(test_not_a_domain);
        RUN(test_hostile);
        return 0;
}
