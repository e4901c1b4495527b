/* memhog: hold anonymous memory until the host's MemAvailable is down to a
 * given size, then wait for SIGTERM. A test and benchmark helper (never
 * installed): it makes the host short of memory the same way for every run.
 *
 * Usage: memhog --leave-available MIB
 *
 * Allocates 64 MiB chunks and touches every page with a non-zero pattern that
 * differs per page (nothing for KSM to merge, no zero pages), re-reading
 * MemAvailable from /proc/meminfo after each chunk until it is <= MIB. Prints
 * what it holds on one line to stdout and waits (pause) until SIGTERM or
 * SIGINT, then exits 0. Refuses (exit 1) if reaching MIB would need more than
 * MemTotal - 1 GiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK ((size_t)64 << 20)
#define MIB ((uint64_t)1 << 20)
#define KEEP_FREE_MIB 1024 /* never hold more than MemTotal minus this */

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: memhog --leave-available MIB\n"
		   "Holds anonymous memory until MemAvailable <= MIB, prints what it holds,\n"
		   "then waits for SIGTERM.\n");
}

/* meminfo_mib NAME: the field NAME of /proc/meminfo in MiB, or -1. */
static int64_t meminfo_mib(const char *name)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t n = strlen(name);
	int64_t v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kib;

		if (strncmp(line, name, n) == 0 && line[n] == ':' &&
		    sscanf(line + n + 1, "%llu", &kib) == 1) {
			v = (int64_t)(kib / 1024);
			break;
		}
	}
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	int64_t leave, total, avail, need, cap;
	uint64_t held = 0, page;
	char *end;
	struct sigaction sa;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--leave-available") != 0) {
		usage(stderr);
		return 2;
	}
	errno = 0;
	leave = strtoll(argv[2], &end, 10);
	if (errno || end == argv[2] || *end || leave < 0) {
		fprintf(stderr, "memhog: --leave-available takes a size in MiB, not '%s'\n", argv[2]);
		return 2;
	}

	total = meminfo_mib("MemTotal");
	avail = meminfo_mib("MemAvailable");
	if (total < 0 || avail < 0) {
		fprintf(stderr, "memhog: cannot read MemTotal/MemAvailable from /proc/meminfo\n");
		return 1;
	}
	cap = total - KEEP_FREE_MIB;
	need = avail - leave;
	if (need > cap) {
		fprintf(stderr,
			"memhog: leaving %" PRId64 " MiB available would need %" PRId64
			" MiB, more than MemTotal - 1 GiB (%" PRId64 " MiB); refused\n",
			leave, need, cap);
		return 1;
	}

	/* SIGTERM/SIGINT end the process with exit 0 at any point, also while it
	 * still allocates (the kernel frees it all). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	page = (uint64_t)sysconf(_SC_PAGESIZE);
	while (avail > leave) {
		unsigned char *p;
		size_t off;

		if ((int64_t)((held + CHUNK) / MIB) > cap) {
			fprintf(stderr,
				"memhog: would hold more than MemTotal - 1 GiB (%" PRId64
				" MiB) with MemAvailable still %" PRId64 " MiB; refused\n",
				cap, avail);
			return 1;
		}
		p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "memhog: mmap of 64 MiB failed after %" PRIu64 " MiB: %s\n",
				held / MIB, strerror(errno));
			return 1;
		}
		/* Non-zero everywhere, and every page different from every other. */
		memset(p, 0xa5, CHUNK);
		for (off = 0; off < CHUNK; off += page) {
			uint64_t id = (held + off) / page + 1;

			memcpy(p + off, &id, sizeof(id));
		}
		held += CHUNK;
		avail = meminfo_mib("MemAvailable");
		if (avail < 0) {
			fprintf(stderr, "memhog: cannot read MemAvailable\n");
			return 1;
		}
	}

	printf("memhog: holding %" PRIu64 " MiB, MemAvailable %" PRId64
	       " MiB (target <= %" PRId64 " MiB), MemTotal %" PRId64 " MiB\n",
	       held / MIB, avail, leave, total);
	fflush(stdout);

	for (;;)
		pause();
}
