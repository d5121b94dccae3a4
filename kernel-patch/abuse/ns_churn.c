// SPDX-License-Identifier: GPL-2.0
/*
 * ns_churn: create and destroy tracer namespaces as fast as possible
 * under scoped readers (side band, sys_enter, page faults, context
 * switches, page allocations, on random CPUs, some with rings), nested a
 * few levels, with fork storms inside some of them. Each namespace is
 * dropped by setns() back before the next one is made; one in four gets
 * a child first, which opens readers of its own and is still running
 * half of the time. Whole trees go by exit with their events open, or
 * by SIGKILL from outside.
 *
 *   ns_churn [SECONDS [SEED]]
 */
#include "abuse.h"

struct counters {
	double end;
	unsigned long namespaces, populated, readers, forks, trees, killed;
	struct errno_counts unshare, open, setns;
};

static struct counters *shared;

static void open_readers(uint64_t *s, int ncpus)
{
	void *ring;
	int n = rnd_below(s, 4);

	for (int i = 0; i < n; i++) {
		int fd = open_scoped_reader(rnd_below(s, 5), rnd_below(s, ncpus),
					    rnd_below(s, 2) ? 2 : 0, &ring);

		count_errno(&shared->open, fd);
		if (fd >= 0)
			__atomic_add_fetch(&shared->readers, 1, __ATOMIC_RELAXED);
	}
}

static void fork_storm(uint64_t *s)
{
	int n = 4 + rnd_below(s, 16);
	pid_t pid;

	for (int i = 0; i < n; i++) {
		pid = fork();
		if (pid == 0) {
			busy_work(2);
			_exit(0);
		}
		if (pid > 0)
			__atomic_add_fetch(&shared->forks, 1, __ATOMIC_RELAXED);
	}
	while (wait(NULL) > 0)
		;
}

/*
 * Runs in a tracer namespace with readers attached: creates namespaces
 * below it one after the other, each with a child inside that opens
 * readers, and sometimes nests further or runs a fork storm there;
 * setns() to its own namespace drops each one before the next, so they
 * are destroyed as fast as they are made.
 */
static void __attribute__((noreturn)) tree(uint64_t s, int depth, int ncpus)
{
	int self = open("/proc/self/ns/tracer", O_RDONLY | O_CLOEXEC);
	int n = 4 + rnd_below(&s, 124);

	open_readers(&s, ncpus);
	for (int i = 0; i < n && now() < shared->end; i++) {
		int ret = sys_unshare(CLONE_NEWTRACER);
		pid_t pid;

		count_errno(&shared->unshare, ret);
		if (ret)
			break;
		__atomic_add_fetch(&shared->namespaces, 1, __ATOMIC_RELAXED);
		/*
		 * Most namespaces get no task: made and dropped under the
		 * readers of this one, which is what makes thousands cheap.
		 */
		pid = rnd_below(&s, 4) ? -1 : fork();
		if (pid > 0)
			__atomic_add_fetch(&shared->populated, 1, __ATOMIC_RELAXED);
		if (pid == 0) {
			if (depth > 0 && rnd_below(&s, 4) == 0)
				tree(rnd(&s), depth - 1, ncpus);
			open_readers(&s, ncpus);
			if (rnd_below(&s, 8) == 0)
				fork_storm(&s);
			else
				busy_work(1);
			_exit(0);
		}
		/* Sometimes leave the child running into the next one. */
		if (pid > 0 && rnd_below(&s, 2))
			waitpid(pid, NULL, 0);
		if (self >= 0 && setns(self, 0))
			count_errno(&shared->setns, -1);
	}
	while (wait(NULL) > 0)
		;
	_exit(0);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) :
				   (uint64_t)time(NULL) * 2654435761u;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t s = seed ? seed : 1;

	printf("ns_churn: seed=%#llx seconds=%d\n", (unsigned long long)seed,
	       seconds);
	fflush(stdout);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 1;
	shared->end = now() + seconds;
	while (now() < shared->end) {
		pid_t top[2];

		for (int i = 0; i < 2; i++) {
			uint64_t ts = rnd(&s);

			top[i] = fork();
			if (top[i] == 0) {
				int ret = new_tracer_ns(rnd_below(&ts, 2) ?
							CLONE_NEWPID : 0);
				pid_t pid;

				count_errno(&shared->unshare, ret);
				if (ret)
					_exit(1);
				__atomic_add_fetch(&shared->namespaces, 1,
						   __ATOMIC_RELAXED);
				pid = fork();
				if (pid == 0)
					tree(ts, rnd_below(&ts, 4), ncpus);
				_exit(pid > 0 ? wait_for(pid) : 1);
			}
		}
		shared->trees += 2;
		/* Sometimes kill a tree while it works. */
		if (rnd_below(&s, 4) == 0) {
			usleep(rnd_below(&s, 20000));
			kill(top[0], SIGKILL);
			shared->killed++;
		}
		for (int i = 0; i < 2; i++)
			waitpid(top[i], NULL, 0);
	}
	printf("ns_churn: trees=%lu killed=%lu namespaces=%lu (with a task: %lu) readers=%lu forks=%lu\n",
	       shared->trees, shared->killed, shared->namespaces, shared->populated,
	       shared->readers, shared->forks);
	print_errno_counts("ns_churn: unshare", &shared->unshare);
	print_errno_counts("ns_churn: open", &shared->open);
	print_errno_counts("ns_churn: setns back (failures only)", &shared->setns);
	return 0;
}
