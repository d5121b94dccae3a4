// SPDX-License-Identifier: GPL-2.0
/*
 * ns_limits: reach the tracer namespace depth limit (32 levels) and the
 * ucount limit (/proc/sys/user/max_tracer_namespaces, which the tenant
 * lowers in its own user namespace) again and again, with a scoped
 * reader attached at every level. Each round nests with unshare() +
 * fork() until unshare() fails, then lets the chain go. The limits must
 * fail with ENOSPC, and every round of a kind must reach the same
 * count: a count that shrinks means a namespace or ucount leaked.
 *
 *   ns_limits [SECONDS [EXPECTED_DEPTH]]
 *
 * With EXPECTED_DEPTH, one depth round more must reach exactly that many
 * nested unshare()s: run-abuse.sh uses it last, with the initial user
 * namespace's max_tracer_namespaces lowered by root to exactly what the
 * chain needs, so that a tracer namespace leaked by an earlier program
 * (its ucount never returned) makes the chain come up short.
 */
#include "abuse.h"

#define UCOUNT_LIMIT	8
#define MAX_TRACER_NS	"/proc/sys/user/max_tracer_namespaces"

struct result {
	int levels;	/* successful unshare()s in the chain */
	int err;	/* errno of the one that failed */
	int readers;	/* readers opened along the chain */
};

static struct result *shared;

/* One level of the chain: a reader here, then nest and go on. */
static void __attribute__((noreturn)) level(int n, int ncpus)
{
	void *ring;
	pid_t pid;

	if (open_scoped_reader(n % 2 ? 0 : 1, n % ncpus, 1, &ring) >= 0)
		__atomic_add_fetch(&shared->readers, 1, __ATOMIC_RELAXED);
	if (sys_unshare(CLONE_NEWTRACER)) {
		shared->levels = n;
		shared->err = errno;
		busy_work(2);
		_exit(0);
	}
	pid = fork();
	if (pid < 0) {
		shared->levels = n + 1;
		shared->err = -errno;
		_exit(1);
	}
	if (pid == 0)
		level(n + 1, ncpus);
	busy_work(1);
	_exit(wait_for(pid));
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	int expect = argc > 2 ? atoi(argv[2]) : -1;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int first[2] = { -1, -1 }, bad = 0, retries = 0;
	unsigned long rounds[2] = {};
	long initial_max;
	pid_t pid;
	double end;

	printf("ns_limits: seconds=%d\n", seconds);
	fflush(stdout);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || new_tracer_ns(CLONE_NEWPID)) {
		perror("ns_limits: setup");
		return 1;
	}
	pid = fork();
	if (pid != 0)
		return pid < 0 ? 1 : wait_for(pid);

	/* Root of a user namespace: its ucount limits are its to lower. */
	initial_max = read_long(MAX_TRACER_NS);
	printf("ns_limits: max_tracer_namespaces in the tenant's user namespace: %ld\n",
	       initial_max);
	end = now() + seconds;
	for (unsigned long r = 0; now() < end || (expect >= 0 && r == 0); r++) {
		int kind = expect >= 0 ? 0 : r % 2;	/* 0: depth, 1: ucount */
		char val[32];
		pid_t chain;

		snprintf(val, sizeof(val), "%ld",
			 kind ? UCOUNT_LIMIT : initial_max);
		if (write_file(MAX_TRACER_NS, val)) {
			printf("ns_limits: cannot write %s in the tenant's user namespace: %s\n",
			       MAX_TRACER_NS, strerror(errno));
			return 1;
		}
		/*
		 * Namespaces are freed after their last task exits, not
		 * necessarily before wait() returns: a short count is retried
		 * for up to 10 s before it counts as a leak (the expected
		 * count too, after the other programs' namespaces).
		 */
		for (int retry = 0; retry < 20; retry++) {
			int want = expect >= 0 ? expect : first[kind];

			memset(shared, 0, sizeof(*shared));
			chain = fork();
			if (chain == 0)
				level(0, ncpus);
			wait_for(chain);
			if (want < 0 || shared->levels == want)
				break;
			retries++;
			usleep(500000);
		}
		if (first[kind] < 0) {
			first[kind] = shared->levels;
			printf("ns_limits: %s limit: %d nested unshare()s, then %s, %d readers\n",
			       kind ? "ucount" : "depth", shared->levels,
			       shared->err > 0 ? strerrorname_np(shared->err) : "fork failure",
			       shared->readers);
		}
		if (shared->err != ENOSPC || shared->levels != first[kind]) {
			printf("ns_limits: FAIL round %lu (%s): %d levels (first %d), errno %d\n",
			       r, kind ? "ucount" : "depth", shared->levels,
			       first[kind], shared->err);
			bad++;
		}
		rounds[kind]++;
	}
	if (expect >= 0 && first[0] != expect) {
		printf("ns_limits: FAIL: expected %d nested unshare()s, got %d: tracer namespaces leaked?\n",
		       expect, first[0]);
		bad++;
	}
	printf("ns_limits: rounds depth=%lu ucount=%lu failures=%d retries=%d\n",
	       rounds[0], rounds[1], bad, retries);
	return bad ? 1 : 0;
}
