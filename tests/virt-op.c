/* virt-op: perform one VirtOps operation of the libvirt implementation from
 * the command line, for the system tests (tests/system/test-virt-ops.sh).
 * Test-only: built under tests/, never installed.
 *
 * Output: results on stdout (key=value lines for facts); on failure one
 * line "virt-op: OP: ERRNAME: message" on stderr and the exit status is the
 * errno (2 ENOENT, 5 EIO, 22 EINVAL, 104 ECONNRESET, 111 ECONNREFUSED);
 * 255 for a usage error. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "density/domfacts.h"
#include "density/util.h"
#include "density/virt.h"

#define EXIT_USAGE 255

static const VirtOps *ops = &virt_libvirt_ops;
static const char *op_name;

__attribute__((noreturn)) static void usage(void) {
        fprintf(stderr, "usage: virt-op URI COMMAND [ARGS]\n"
                        "  facts UUID                 the domain's XML facts, key=value\n"
                        "  xml UUID                   the domain's XML as domain_xml gives it\n"
                        "  stats                      all_stats, a progress line per batch\n"
                        "  changed SECONDS            wait, then the UUIDs take_changed gives\n"
                        "  balloon UUID KIB           set_balloon\n"
                        "  pin-vcpu UUID VCPU CPULIST pin_vcpu\n"
                        "  pin-emulator UUID CPULIST  pin_emulator\n"
                        "  numatune UUID MODE NODESET set_numatune\n"
                        "  save UUID                  managed_save\n"
                        "  restore UUID               restore\n"
                        "  destroy UUID               destroy\n");
        exit(EXIT_USAGE);
}

static int fail(int r, const char *err) {
        const char *name = strerrorname_np(-r);
        fprintf(stderr, "virt-op: %s: %s: %s\n", op_name, name ? name : "?", err && err[0] ? err : strerror(-r));
        return -r > 0 && -r < EXIT_USAGE ? -r : EXIT_FAILURE;
}

static uint64_t number(const char *s) {
        uint64_t v;
        if (parse_u64(s, &v) < 0) {
                fprintf(stderr, "virt-op: not a number: %s\n", s);
                exit(EXIT_USAGE);
        }
        return v;
}

static void progress(void *userdata, size_t done, size_t total) {
        (void) userdata;
        printf("progress %zu/%zu\n", done, total);
        fflush(stdout);
}

static int cmd_facts(VirtConn *c, const char *uuid, bool raw) {
        char err[512] = "";
        _cleanup_free_ char *xml = NULL;
        bool persistent;
        int r = ops->domain_xml(c, uuid, &xml, &persistent, err, sizeof(err));
        if (r < 0)
                return fail(r, err);
        if (raw) {
                fputs(xml, stdout);
                return 0;
        }
        DomainFacts f;
        r = domain_facts_parse(xml, strlen(xml), persistent, &f, err, sizeof(err));
        if (r < 0)
                return fail(r, err);
        printf("known=%d\n", f.known);
        printf("persistent=%d\n", f.persistent);
        printf("has_balloon=%d\n", f.has_balloon);
        printf("balloon_model=%s\n", f.balloon_model);
        printf("balloon_period_sec=%u\n", f.balloon_period_sec);
        printf("free_page_reporting=%d\n", f.free_page_reporting);
        printf("vcpu_pinned=%d\n", f.vcpu_pinned);
        printf("emulator_pinned=%d\n", f.emulator_pinned);
        printf("numatune=%d\n", f.numatune);
        printf("numatune_mode=%s\n", f.numatune_mode);
        printf("numatune_nodeset=%s\n", f.numatune_nodeset);
        printf("max_memory_bytes=%llu\n", (unsigned long long) f.max_memory_bytes);
        printf("metadata_class=%s\n", f.metadata_class);
        return 0;
}

static int cmd_stats(VirtConn *c) {
        char err[512] = "";
        _cleanup_free_ VirtDomainStats *s = NULL;
        size_t n;
        int r = ops->all_stats(c, &s, &n, progress, NULL, err, sizeof(err));
        if (r < 0)
                return fail(r, err);
        printf("domains %zu\n", n);
        for (size_t i = 0; i < n; i++) {
                printf("%s %s id=%d", s[i].name, s[i].uuid, s[i].id);
                if (s[i].has_current)
                        printf(" current_kib=%llu", (unsigned long long) s[i].current_kib);
                if (s[i].has_maximum)
                        printf(" maximum_kib=%llu", (unsigned long long) s[i].maximum_kib);
                if (s[i].has_usable)
                        printf(" usable_kib=%llu", (unsigned long long) s[i].usable_kib);
                if (s[i].has_last_update)
                        printf(" last_update=%lld", (long long) s[i].last_update);
                printf("\n");
        }
        return 0;
}

static int cmd_changed(VirtConn *c, uint64_t seconds) {
        printf("listening\n");
        fflush(stdout);
        struct timespec ts = { .tv_sec = (time_t) seconds };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        char(*uuids)[DENSITY_UUID_LEN] = NULL;
        size_t n;
        int r = ops->take_changed(c, &uuids, &n);
        if (r < 0)
                return fail(r, NULL);
        printf("changed %zu\n", n);
        for (size_t i = 0; i < n; i++)
                printf("%s\n", uuids[i]);
        free(uuids);
        return 0;
}

static int run(VirtConn *c, int argc, char **argv) {
        const char *cmd = argv[0];
        char err[512] = "";
        int r;
#define NEED(k)                   \
        do {                      \
                if (argc != (k))  \
                        usage();  \
        } while (0)

        if (strcmp(cmd, "facts") == 0 || strcmp(cmd, "xml") == 0) {
                NEED(2);
                return cmd_facts(c, argv[1], strcmp(cmd, "xml") == 0);
        }
        if (strcmp(cmd, "stats") == 0) {
                NEED(1);
                return cmd_stats(c);
        }
        if (strcmp(cmd, "changed") == 0) {
                NEED(2);
                return cmd_changed(c, number(argv[1]));
        }
        if (strcmp(cmd, "balloon") == 0) {
                NEED(3);
                r = ops->set_balloon(c, argv[1], number(argv[2]), err, sizeof(err));
        } else if (strcmp(cmd, "pin-vcpu") == 0) {
                NEED(4);
                uint64_t vcpu = number(argv[2]);
                if (vcpu > UINT_MAX)
                        usage();
                r = ops->pin_vcpu(c, argv[1], (unsigned) vcpu, argv[3], err, sizeof(err));
        } else if (strcmp(cmd, "pin-emulator") == 0) {
                NEED(3);
                r = ops->pin_emulator(c, argv[1], argv[2], err, sizeof(err));
        } else if (strcmp(cmd, "numatune") == 0) {
                NEED(4);
                r = ops->set_numatune(c, argv[1], argv[2], argv[3], err, sizeof(err));
        } else if (strcmp(cmd, "save") == 0) {
                NEED(2);
                r = ops->managed_save(c, argv[1], err, sizeof(err));
        } else if (strcmp(cmd, "restore") == 0) {
                NEED(2);
                r = ops->restore(c, argv[1], err, sizeof(err));
        } else if (strcmp(cmd, "destroy") == 0) {
                NEED(2);
                r = ops->destroy(c, argv[1], err, sizeof(err));
        } else {
                usage();
        }
#undef NEED
        if (r < 0)
                return fail(r, err);
        printf("ok\n");
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 3)
                usage();
        op_name = argv[2];
        char err[512] = "";
        VirtConn *c = NULL;
        int r = ops->open(NULL, argv[1], &c, err, sizeof(err));
        if (r < 0)
                return fail(r, err);
        int status = run(c, argc - 2, argv + 2);
        ops->close(c);
        return status;
}
