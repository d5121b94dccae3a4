// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_churn: scoped uprobes on a busy shared library, by many tenants
 * at once, and the ring-buffer budget exhausted; then checks that nothing
 * was left behind.
 *
 * TENANTS tenants, each a new user + tracer namespace, run for the time
 * given: WORKERS workers of each, exec'd in the tenant (so that their
 * memory is the tenant's and takes its breakpoints), call libc's
 * getppid() and this program's probe_me() in a loop on every CPU, while
 * the tenant's reader opens and closes scoped uprobes and uretprobes on
 * both, on random CPUs, with and without rings, enables and disables
 * them, and now and then has a child in a tracer namespace nested one
 * level down do the same for a while. Some opens are malformed on
 * purpose (a reference counter, a directory, a missing file, an offset
 * past the end). One more tenant sets the budget of a tracer namespace
 * it nests to BUDGET_PAGES from the parent's side, now and then lowers
 * it under what is mapped, and has children in it map rings until
 * EDQUOT and give them back at random, or be killed with them mapped;
 * after every mapping the namespace's budget must not read more than its
 * limit.
 *
 * At the end, with every reader gone: the nested namespace's budget
 * reads 0 bytes used (a ring's charge leaked otherwise), and a new
 * worker's copies of both probed instructions are the files' (a
 * breakpoint or a probe leaked otherwise).
 *
 *   uprobe_churn [SECONDS [SEED]]
 */
#include "abuse.h"

#include <linux/nsfs.h>
#include <sys/ioctl.h>

#ifndef NS_TRACER_SET_BUFFER_LIMIT
struct tracer_ns_buffer_budget {
	__u64 limit;
	__u64 used;
};

#define NS_TRACER_GET_BUFFER_BUDGET \
	_IOR(0xb7, 32, struct tracer_ns_buffer_budget)
#define NS_TRACER_SET_BUFFER_LIMIT	_IOW(0xb7, 33, __u64)
#endif

#define TENANTS		4
#define WORKERS		2
#define MAX_FDS		16
#define BUDGET_PAGES	64

/* A probed instruction: its file and offset, and the file's byte there. */
struct target {
	char		path[256];
	unsigned long	offset;
	uint8_t		byte;
	void		*addr;		/* in this process */
};

struct counters {
	double end;
	unsigned long hits_seen, nested, budget_refused, budget_over, killed;
	struct errno_counts open, bad_open, map;
};

static struct counters *shared;
static struct target targets[2];
static int uprobe_type;

static __attribute__((noinline)) void probe_me(void)
{
	asm volatile ("");
}

/* Fill @t for the code at @addr in this process, from /proc/self/maps. */
static int find_target(struct target *t, void *addr)
{
	unsigned long start, end, off, a = (unsigned long)addr;
	char line[512], path[256];
	FILE *maps = fopen("/proc/self/maps", "r");
	int fd, ret = -1;

	if (!maps)
		return -1;
	while (fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255s", &start, &end,
			   &off, path) != 4 || a < start || a >= end)
			continue;
		snprintf(t->path, sizeof(t->path), "%s", path);
		t->offset = a - start + off;
		t->addr = addr;
		ret = 0;
		break;
	}
	fclose(maps);
	if (ret)
		return -1;
	fd = open(t->path, O_RDONLY);
	if (fd < 0 || pread(fd, &t->byte, 1, t->offset) != 1)
		ret = -1;
	close(fd);
	return ret;
}

static int open_uprobe(const struct target *t, bool ret, int cpu,
		       uint64_t config_extra)
{
	struct perf_event_attr attr = {
		.type		= uprobe_type,
		.size		= sizeof(attr),
		.config		= ret | config_extra,
		.uprobe_path	= (uintptr_t)t->path,
		.probe_offset	= t->offset,
		.sample_period	= 1,
		.sample_type	= PERF_SAMPLE_TID | PERF_SAMPLE_RAW,
		.tracer_scope	= 1,
		.wakeup_events	= 1,
	};

	return sys_perf_event_open(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* argv[1] "worker": call both targets until killed. */
static __attribute__((noreturn)) int worker(void)
{
	pid_t (*volatile lib)(void) = getppid;
	void (*volatile own)(void) = probe_me;

	for (;;) {
		lib();
		own();
	}
}

/* argv[1] "check": 0 if this process's copies are the files'. */
static int check(void)
{
	int bad = 0;

	for (int i = 0; i < 2; i++) {
		uint8_t now = *(volatile uint8_t *)targets[i].addr;

		if (now != targets[i].byte) {
			printf("uprobe_churn: %s+%#lx reads %#x, the file %#x: a probe was left behind\n",
			       targets[i].path, targets[i].offset, now,
			       targets[i].byte);
			bad = 1;
		}
	}
	return bad;
}

static pid_t exec_self(const char *mode, int cpu)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { "uprobe_churn", (char *)mode, NULL };

		pin_to_cpu(cpu);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	return pid;
}

/* Some malformed opens, which must fail and leave nothing behind. */
static void bad_opens(uint64_t *s)
{
	struct target t = targets[rnd_below(s, 2)];
	int fd;

	switch (rnd_below(s, 4)) {
	case 0:
		fd = open_uprobe(&t, false, 0, 1ULL << 32);	/* ref_ctr */
		break;
	case 1:
		snprintf(t.path, sizeof(t.path), "/proc");
		fd = open_uprobe(&t, false, 0, 0);
		break;
	case 2:
		snprintf(t.path, sizeof(t.path), "/nonexistent/uprobe_churn");
		fd = open_uprobe(&t, false, 0, 0);
		break;
	default:
		t.offset = 1UL << 40;
		fd = open_uprobe(&t, rnd_below(s, 2), 0, 0);
	}
	count_errno(&shared->bad_open, fd);
	if (fd >= 0)
		close(fd);
}

/* Open, map, toggle and close scoped uprobes until @until. */
static void reader(uint64_t *s, int ncpus, double until)
{
	int fds[MAX_FDS];
	void *rings[MAX_FDS];
	size_t sizes[MAX_FDS];
	long page = sysconf(_SC_PAGESIZE);
	int n = 0;

	while (now() < until) {
		int op = rnd_below(s, 16), i;

		if (op < 6 && n < MAX_FDS) {
			int fd = open_uprobe(&targets[rnd_below(s, 2)],
					     rnd_below(s, 2),
					     rnd_below(s, ncpus), 0);

			count_errno(&shared->open, fd);
			if (fd < 0)
				continue;
			fds[n] = fd;
			rings[n] = NULL;
			sizes[n] = 0;
			if (rnd_below(s, 2)) {
				size_t size = (1 + (1 << rnd_below(s, 3))) * page;
				void *ring = mmap(NULL, size, PROT_READ | PROT_WRITE,
						  MAP_SHARED, fd, 0);

				count_errno(&shared->map, ring == MAP_FAILED ? -1 : 0);
				if (ring != MAP_FAILED) {
					rings[n] = ring;
					sizes[n] = size;
				}
			}
			n++;
		} else if (op < 10 && n) {
			i = rnd_below(s, n);
			if (rings[i]) {
				struct perf_event_mmap_page *pg = rings[i];

				if (pg->data_head)
					__atomic_add_fetch(&shared->hits_seen, 1,
							   __ATOMIC_RELAXED);
				munmap(rings[i], sizes[i]);
			}
			close(fds[i]);
			n--;
			fds[i] = fds[n];
			rings[i] = rings[n];
			sizes[i] = sizes[n];
		} else if (op < 13 && n) {
			ioctl(fds[rnd_below(s, n)], rnd_below(s, 2) ?
			      PERF_EVENT_IOC_DISABLE : PERF_EVENT_IOC_ENABLE, 0);
		} else if (op == 13) {
			bad_opens(s);
		} else if (op == 14 && !rnd_below(s, 8)) {
			/* A nested namespace's reader, for a while. */
			pid_t child = fork();

			if (child == 0) {
				uint64_t cs = rnd(s);

				if (sys_unshare(CLONE_NEWTRACER))
					_exit(0);
				child = fork();
				if (child == 0) {
					reader(&cs, ncpus, now() + 0.2);
					_exit(0);
				}
				_exit(wait_for(child));
			}
			__atomic_add_fetch(&shared->nested, 1, __ATOMIC_RELAXED);
			wait_for(child);
		}
	}
	while (n--) {
		if (rings[n])
			munmap(rings[n], sizes[n]);
		close(fds[n]);
	}
}

/* A tenant: workers on every CPU, and its reader. */
static int tenant(uint64_t seed, int ncpus)
{
	pid_t workers[WORKERS * 8];
	int nr = 0;

	for (int c = 0; c < ncpus && nr < WORKERS * 8; c++)
		for (int w = 0; w < WORKERS; w++)
			workers[nr++] = exec_self("worker", c);
	reader(&seed, ncpus, shared->end);
	while (nr--) {
		kill(workers[nr], SIGKILL);
		wait_for(workers[nr]);
	}
	return 0;
}

/* In the nested namespace: map rings until EDQUOT, give some back. */
static int mapper(uint64_t seed, int ncpus, int budget_fd)
{
	uint64_t limit = BUDGET_PAGES * sysconf(_SC_PAGESIZE);
	struct tracer_ns_buffer_budget b;
	int fds[MAX_FDS], n = 0;
	uint64_t *s = &seed;

	while (now() < shared->end) {
		if (n < MAX_FDS && rnd_below(s, 3)) {
			int pages = 1 << rnd_below(s, 5);
			void *ring;
			int fd = open_scoped_reader(rnd_below(s, 5),
						    rnd_below(s, ncpus), pages,
						    &ring);

			if (fd < 0) {
				if (errno == EDQUOT)
					__atomic_add_fetch(&shared->budget_refused,
							   1, __ATOMIC_RELAXED);
				continue;
			}
			fds[n++] = fd;
			/* The parent lowers the limit at times, never raises it past. */
			if (ioctl(budget_fd, NS_TRACER_GET_BUFFER_BUDGET, &b) ||
			    b.used > limit) {
				printf("uprobe_churn: budget %llu of %llu bytes used\n",
				       (unsigned long long)b.used,
				       (unsigned long long)b.limit);
				__atomic_add_fetch(&shared->budget_over, 1,
						   __ATOMIC_RELAXED);
			}
		} else if (n) {
			int i = rnd_below(s, n);

			close(fds[i]);	/* the ring goes at exit or munmap */
			fds[i] = fds[--n];
		}
		if (!rnd_below(s, 64))
			return 0;	/* exit with rings mapped */
	}
	return 0;
}

/* The budget's tenant: a nested namespace with a limit, mappers in it. */
static int budget_tenant(uint64_t seed, int ncpus)
{
	struct tracer_ns_buffer_budget b;
	uint64_t limit = BUDGET_PAGES * sysconf(_SC_PAGESIZE);
	int fd, bad = 0;
	pid_t child;

	/* The namespace our children start in, limited from our side. */
	if (sys_unshare(CLONE_NEWTRACER))
		return 30;
	fd = open("/proc/self/ns/tracer_for_children", O_RDONLY);
	if (fd < 0 || ioctl(fd, NS_TRACER_SET_BUFFER_LIMIT, &limit))
		return 31;
	while (now() < shared->end) {
		uint64_t cs = rnd(&seed);

		child = fork();
		if (child == 0)
			_exit(mapper(cs, ncpus, fd));
		if (!rnd_below(&seed, 4)) {
			/* Lower it under what may be mapped, then back. */
			uint64_t low = limit / 4;

			ioctl(fd, NS_TRACER_SET_BUFFER_LIMIT, &low);
			ioctl(fd, NS_TRACER_SET_BUFFER_LIMIT, &limit);
		}
		if (!rnd_below(&seed, 4)) {
			kill(child, SIGKILL);
			__atomic_add_fetch(&shared->killed, 1, __ATOMIC_RELAXED);
		}
		wait_for(child);
	}
	/*
	 * A ring is uncharged when its mm is torn down, which another task
	 * holding the mm (a tenant's uprobe_apply() walking the processes
	 * that map libc) can delay past wait(): ask again for up to 5 s, as
	 * ns_limits does for namespaces freed after wait().
	 */
	int retry;

	for (retry = 0; retry < 25; retry++) {
		if (ioctl(fd, NS_TRACER_GET_BUFFER_BUDGET, &b))
			return 32;
		if (!b.used)
			break;
		usleep(200000);
	}
	if (b.used) {
		printf("uprobe_churn: %llu bytes still charged with no ring mapped\n",
		       (unsigned long long)b.used);
		bad = 1;
	}
	printf("uprobe_churn: budget: limit %llu, used %llu at the end (%d re-reads)\n",
	       (unsigned long long)b.limit, (unsigned long long)b.used, retry);
	return bad ? 33 : 0;
}

/* Run @fn in a child in a new user + tracer namespace; its pid. */
static pid_t in_new_tenant(int (*fn)(uint64_t, int), uint64_t seed, int ncpus)
{
	pid_t pid = fork();

	if (pid == 0) {
		pid_t inner;

		if (new_tracer_ns(0))
			_exit(20);
		inner = fork();
		if (inner == 0)
			_exit(fn(seed, ncpus));
		_exit(wait_for(inner));
	}
	return pid;
}

static int final_check(uint64_t unused_seed, int unused_ncpus)
{
	return wait_for(exec_self("check", 0));
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 20;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t tenants[TENANTS + 1];
	int status = 0, rc;

	if (find_target(&targets[0], (void *)getppid) ||
	    find_target(&targets[1], (void *)probe_me)) {
		printf("uprobe_churn: cannot find the probed instructions\n");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "worker"))
		return worker();
	if (argc > 1 && !strcmp(argv[1], "check"))
		return check();

	uprobe_type = read_long("/sys/bus/event_source/devices/uprobe/type");
	if (uprobe_type <= 0) {
		printf("uprobe_churn: no uprobe PMU\n");
		return 1;
	}
	/* Children end with _exit(): nothing may wait in a buffer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 1;
	shared->end = now() + seconds;
	printf("uprobe_churn: %d s, seed %#llx, %s+%#lx and %s+%#lx\n", seconds,
	       (unsigned long long)seed, targets[0].path, targets[0].offset,
	       targets[1].path, targets[1].offset);

	for (int t = 0; t < TENANTS; t++)
		tenants[t] = in_new_tenant(tenant, seed + t, ncpus);
	tenants[TENANTS] = in_new_tenant(budget_tenant, seed + TENANTS, ncpus);
	for (int t = 0; t <= TENANTS; t++) {
		rc = wait_for(tenants[t]);
		if (rc) {
			printf("uprobe_churn: tenant %d exited %d\n", t, rc);
			status = 1;
		}
	}

	print_errno_counts("uprobe opens", &shared->open);
	print_errno_counts("malformed opens", &shared->bad_open);
	print_errno_counts("ring maps", &shared->map);
	printf("uprobe_churn: rings with records %lu, nested readers %lu, budget refusals %lu, mappers killed %lu\n",
	       shared->hits_seen, shared->nested, shared->budget_refused,
	       shared->killed);
	if (!shared->open.ok || !shared->hits_seen || !shared->budget_refused) {
		printf("uprobe_churn: the run did not exercise the paths it is for\n");
		status = 1;
	}
	if (shared->bad_open.ok) {
		printf("uprobe_churn: a malformed open succeeded\n");
		status = 1;
	}
	if (shared->budget_over) {
		printf("uprobe_churn: the budget read over its limit %lu times\n",
		       shared->budget_over);
		status = 1;
	}
	rc = wait_for(in_new_tenant(final_check, seed, ncpus));
	if (rc) {
		printf("uprobe_churn: the final check exited %d\n", rc);
		status = 1;
	}
	printf("uprobe_churn: %s\n", status ? "FAIL" : "PASS");
	return status;
}
