/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the abuse programs: system call wrappers, entering a
 * new user + tracer (+ pid) namespace as an ordinary user, the time
 * bound, a seeded PRNG, tracepoint ids and a ring buffer walker.
 *
 * The programs run as uid 65534 (run-abuse.sh drops to it with setpriv);
 * everything they can do, an unprivileged tenant can do.
 */
#ifndef ABUSE_H
#define ABUSE_H

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTRACER
#define CLONE_NEWTRACER			0x4000000000ULL
#endif
#ifndef PERF_EVENT_IOC_TRACER_STATEDUMP
#define PERF_EVENT_IOC_TRACER_STATEDUMP	_IO('$', 12)
#endif
/*
 * PERF_RECORD_TRACER_NAMESPACES comes from the series' uapi header
 * (run-abuse.sh compiles against it): an enumerator, not a macro, so an
 * #ifndef fallback here would always win, and shadowed the move to 23.
 */

#define TRACEFS	"/sys/kernel/tracing"

/*
 * Every program is the subreaper of what it starts, and reaps all of it
 * before it exits: a process orphaned by a kill (ns_churn's trees,
 * scope_fuzz's and reader_race's workers' children) would otherwise end
 * as a zombie of the VM's init, which does not reap, and a zombie keeps
 * its tracer namespace (as it keeps its pid) until it is reaped, so the
 * leak check after the programs would count it. A descendant that never
 * exits makes the program overrun its time limit, which fails the run.
 */
__attribute__((constructor)) static void abuse_become_subreaper(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

__attribute__((destructor)) static void abuse_reap_all(void)
{
	while (wait(NULL) > 0)
		;
}

static inline int sys_unshare(uint64_t flags)
{
	return syscall(__NR_unshare, (unsigned long)flags);
}

static inline int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid,
				      int cpu, int group_fd, unsigned long flags)
{
	return syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static inline int write_file(const char *path, const char *text)
{
	ssize_t len = strlen(text);
	int fd, ret;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, text, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

static inline long read_long(const char *path)
{
	char buf[64];
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	return strtol(buf, NULL, 0);
}

/*
 * Make the caller's future children start in a new tracer namespace
 * (and pid namespace with @extra = CLONE_NEWPID) owned by a new user
 * namespace in which the caller is root.
 */
static inline int new_tracer_ns(uint64_t extra)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (sys_unshare(CLONE_NEWUSER | CLONE_NEWTRACER | extra))
		return -1;
	snprintf(map, sizeof(map), "0 %d 1", uid);
	if (write_file("/proc/self/uid_map", map))
		return -1;
	if (write_file("/proc/self/setgroups", "deny"))
		return -1;
	snprintf(map, sizeof(map), "0 %d 1", gid);
	return write_file("/proc/self/gid_map", map);
}

/* Exit status of @pid, or 128 plus the signal that killed it. */
static inline int wait_for(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) != pid)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: the same seed gives the same sequence of choices. */
static inline uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t rnd_below(uint64_t *state, uint64_t n)
{
	return n ? rnd(state) % n : 0;
}

/*
 * Tracepoint ids: run-abuse.sh writes "system:name id" lines that it read
 * from tracefs as root into $ABUSE_TRACEPOINTS, since tracefs is not
 * readable by an ordinary user; tracefs is tried as well.
 */
static inline int tracepoint_id(const char *name)
{
	const char *list = getenv("ABUSE_TRACEPOINTS");
	char path[256], line[256], want[200];
	FILE *f;
	long id;

	if (list && (f = fopen(list, "r"))) {
		snprintf(want, sizeof(want), "%s ", name);
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, want, strlen(want))) {
				fclose(f);
				return atoi(line + strlen(want));
			}
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), TRACEFS "/events/%s/id", name);
	for (char *c = path; *c; c++)
		if (*c == ':')
			*c = '/';
	id = read_long(path);
	return id > 0 ? id : -1;
}

/* Some system calls, faults and a fork, so that events fire. */
static inline void busy_work(int rounds)
{
	static char *mem;
	long page = sysconf(_SC_PAGESIZE);

	for (int i = 0; i < rounds; i++) {
		getppid();
		close(-1);
		mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem != MAP_FAILED) {
			for (int p = 0; p < 4; p++)
				mem[p * page] = 1;
			munmap(mem, 4 * page);
		}
		if (i % 16 == 0) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
		if (i % 8 == 0)
			sched_yield();
	}
}

static inline void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * A scoped reader of one kind on @cpu with a @pages-page ring (none if
 * 0): 0 side band (task, comm, switch, tracer namespaces), 1
 * raw_syscalls:sys_enter, 2 page faults, 3 context switches, 4
 * kmem:mm_page_alloc. Returns the fd or -1 with errno set.
 */
static inline int open_scoped_reader(int kind, int cpu, int pages, void **ring)
{
	static const char *const tps[] = {
		[1] = "raw_syscalls:sys_enter", [4] = "kmem:mm_page_alloc",
	};
	struct perf_event_attr attr = {
		.size		= sizeof(attr),
		.sample_period	= 1,
		.sample_type	= PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
				  PERF_SAMPLE_CPU,
		.sample_id_all	= 1,
		.tracer_scope	= 1,
		.exclude_kernel	= 1,
		.wakeup_events	= 1,
	};
	long page = sysconf(_SC_PAGESIZE);
	int fd, id;

	switch (kind) {
	case 0:
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_DUMMY;
		attr.task = attr.comm = attr.context_switch = 1;
		attr.tracer_namespaces = 1;
		break;
	case 2:
	case 3:
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = kind == 2 ? PERF_COUNT_SW_PAGE_FAULTS :
					  PERF_COUNT_SW_CONTEXT_SWITCHES;
		break;
	default:
		id = tracepoint_id(tps[kind]);
		if (id < 0) {
			errno = ENOENT;
			return -1;
		}
		attr.type = PERF_TYPE_TRACEPOINT;
		attr.config = id;
		attr.sample_type |= PERF_SAMPLE_RAW;
	}
	fd = sys_perf_event_open(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 || !pages || !ring)
		return fd;
	*ring = mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE,
		     MAP_SHARED, fd, 0);
	if (*ring == MAP_FAILED) {
		*ring = NULL;
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Hand each record between data_tail and data_head of the ring at @base
 * (@data_size bytes of data after the first page) to @fn, copied out
 * whole where it wraps, then give the space back. Returns the number of
 * records.
 */
static inline unsigned long
ring_drain(void *base, uint64_t data_size,
	   void (*fn)(const struct perf_event_header *rec, void *arg), void *arg)
{
	struct perf_event_mmap_page *meta = base;
	uint8_t *data = (uint8_t *)base + sysconf(_SC_PAGESIZE);
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;
	static uint8_t rec[65536] __attribute__((aligned(8)));
	unsigned long n = 0;

	while (tail < head) {
		struct perf_event_header hdr;

		for (size_t i = 0; i < sizeof(hdr); i++)
			((uint8_t *)&hdr)[i] = data[(tail + i) % data_size];
		if (hdr.size < sizeof(hdr) || hdr.size > head - tail)
			break;
		for (size_t i = 0; i < hdr.size; i++)
			rec[i] = data[(tail + i) % data_size];
		fn((struct perf_event_header *)rec, arg);
		tail += hdr.size;
		n++;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
	return n;
}

/*
 * Errno counters, printed as "name=count" for the README's tables. They
 * are counted atomically: the programs keep them in shared memory, where
 * several processes count at once.
 */
struct errno_counts {
	unsigned long ok;
	unsigned long err[256];
};

static inline void count_errno(struct errno_counts *c, int ret)
{
	unsigned long *n = ret >= 0 ? &c->ok : &c->err[errno < 256 ? errno : 255];

	__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

static inline void print_errno_counts(const char *what,
				      const struct errno_counts *c)
{
	printf("%s: ok=%lu", what, c->ok);
	for (int e = 1; e < 256; e++)
		if (c->err[e])
			printf(" %s=%lu", strerrorname_np(e) ?: "?", c->err[e]);
	printf("\n");
}

#endif /* ABUSE_H */
