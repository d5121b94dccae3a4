// SPDX-License-Identifier: GPL-2.0
/*
 * Dispatch benchmark for tracer-scoped perf events (not a test: it
 * prints figures and checks only that the events counted what they
 * should).
 *
 * One measured task M, in its own tracer namespace, calls getppid() in
 * a loop on CPU 0 while K = 0, 1, 16, 128, 512 other readers hold a
 * counting raw_syscalls:sys_enter event on CPU 0:
 *
 *   scoped     M's reader and every other reader are tracer-scoped, each
 *              other reader in its own tracer namespace (siblings of M's);
 *   stock-pid  M's reader and every other reader are ordinary CPU-wide
 *              events with a tracepoint filter "common_pid == PID", the
 *              other readers each on the pid of a sleeping task.
 *
 * Both series run in one boot, in ROUNDS rounds that alternate their
 * order; each round prints its figures. Each figure is the fastest of
 * the REPEATS timings of a round, and the summary takes the fastest
 * round: other load on the machine (the VM shares two host CPUs with
 * other work, under TCG) only ever adds time, in bursts that can
 * double a figure. Figures are ns per getppid() (syscall and event
 * together). The event's cost is that minus the same loop with no reader
 * at all; ratios are to K = 1 of the same series. "stock-all" is one
 * unfiltered CPU-wide reader, for scale.
 *
 * Run as root (tracer namespaces are created without user namespaces).
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTRACER
#define CLONE_NEWTRACER		0x400000000ULL
#endif

#define TRACEFS		"/sys/kernel/tracing"
#define MAX_K		512
#define CALLS		20000	/* getppid() per measurement */
#define REPEATS		7	/* timings per K and round */
#define ROUNDS		5

static const int ks[] = { 0, 1, 16, 128, 512 };
#define NR_KS		(sizeof(ks) / sizeof(ks[0]))

enum series { SCOPED, STOCK_PID, NR_SERIES, STOCK_ALL = NR_SERIES, NONE };
static const char *const series_name[] = {
	"scoped", "stock-pid", "stock-all", "none",
};

static int tp_sys_enter;

static void die(const char *what)
{
	fprintf(stderr, "dispatch_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int read_tracepoint_id(const char *name)
{
	char path[256], buf[32];
	int fd, len;

	snprintf(path, sizeof(path), TRACEFS "/events/%s/id", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	return atoi(buf);
}

static void pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

/* A counting sys_enter event on CPU 0, scoped or filtered by pid. */
static int open_reader(enum series series, pid_t filter_pid)
{
	struct perf_event_attr attr = {
		.type		= PERF_TYPE_TRACEPOINT,
		.size		= sizeof(attr),
		.config		= tp_sys_enter,
		.tracer_scope	= series == SCOPED,
	};
	char filter[64];
	int fd;

	fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1,
		     PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (series == STOCK_PID) {
		snprintf(filter, sizeof(filter), "common_pid == %d", filter_pid);
		if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter)) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * Fork a task that runs @fn, in a new tracer namespace (a sibling of
 * every other one the benchmark makes) if @series is SCOPED.  @fn writes
 * its pid, then anything else, to the pipe it is given; return the read
 * end after reading the pid into @pid.  The intermediate process exits
 * at once and is reaped here.
 */
static int spawn(enum series series, void (*fn)(enum series, int), pid_t *pid)
{
	int pipefd[2];
	pid_t child;

	if (pipe(pipefd))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(pipefd[0]);
		if (series == SCOPED &&
		    syscall(__NR_unshare, (unsigned long)CLONE_NEWTRACER))
			die("unshare(CLONE_NEWTRACER)");
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0)
			fn(series, pipefd[1]);
		_exit(0);
	}
	close(pipefd[1]);
	waitpid(child, NULL, 0);
	if (read(pipefd[0], pid, sizeof(*pid)) != sizeof(*pid)) {
		fprintf(stderr, "dispatch_bench: a %s task failed\n",
			series_name[series]);
		exit(1);
	}
	return pipefd[0];
}

/* Another reader: opens its event, reports its pid and sleeps. */
static void holder(enum series series, int out)
{
	pid_t self = getpid();

	if (open_reader(series, self) < 0)
		_exit(1);
	if (write(out, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	for (;;)
		pause();
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double fastest(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[0];
}

/*
 * M: opens its own reader, times getppid(), checks its count, and
 * reports its fastest ns per call after its pid.
 */
static void measured(enum series series, int out)
{
	double ns[REPEATS], result;
	uint64_t count, start;
	pid_t self = getpid();
	int fd, i, r;

	fd = series == NONE ? -1 : open_reader(series, self);
	if (fd < 0 && series != NONE)
		die("open M's reader");
	for (i = 0; i < CALLS; i++)		/* warm up */
		syscall(__NR_getppid);
	for (r = 0; r < REPEATS; r++) {
		if (fd >= 0 && ioctl(fd, PERF_EVENT_IOC_RESET, 0))
			die("PERF_EVENT_IOC_RESET");
		start = now_ns();
		for (i = 0; i < CALLS; i++)
			syscall(__NR_getppid);
		ns[r] = (double)(now_ns() - start) / CALLS;
		if (fd < 0)
			continue;
		if (read(fd, &count, sizeof(count)) != sizeof(count))
			die("read M's count");
		/* Every call, and the read() itself. */
		if (count < CALLS || count > CALLS + 4) {
			fprintf(stderr, "dispatch_bench: %s: M counted %llu of %d\n",
				series_name[series], (unsigned long long)count,
				CALLS);
			_exit(1);
		}
	}
	result = fastest(ns, REPEATS);
	if (write(out, &self, sizeof(self)) != sizeof(self) ||
	    write(out, &result, sizeof(result)) != sizeof(result))
		_exit(1);
	_exit(0);
}

/* Run M and return its figure. */
static double measure(enum series series)
{
	double result;
	pid_t pid;
	int fd;

	fd = spawn(series, measured, &pid);
	if (read(fd, &result, sizeof(result)) != sizeof(result)) {
		fprintf(stderr, "dispatch_bench: M failed\n");
		exit(1);
	}
	close(fd);
	return result;
}

/* Start another reader and return its pid. */
static pid_t start_holder(enum series series)
{
	pid_t pid;

	close(spawn(series, holder, &pid));
	return pid;
}

int main(void)
{
	static pid_t holders[NR_SERIES][MAX_K];
	double results[NR_SERIES][NR_KS][ROUNDS];
	double none[ROUNDS], stock_all[ROUNDS], base, event_k1;
	int round, k, held;
	enum series s;

	if (access(TRACEFS "/events", F_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	tp_sys_enter = read_tracepoint_id("raw_syscalls/sys_enter");
	if (tp_sys_enter < 0)
		die("read raw_syscalls/sys_enter's id");
	pin_to_cpu0();

	for (round = 0; round < ROUNDS; round++) {
		none[round] = measure(NONE);
		stock_all[round] = measure(STOCK_ALL);
		fprintf(stderr, "round %d none %.1f ns, stock-all %.1f ns\n",
			round, none[round], stock_all[round]);
		for (s = 0; s < NR_SERIES; s++) {
			/* Alternate the order between rounds. */
			enum series series = round % 2 ? NR_SERIES - 1 - s : s;

			held = 0;
			for (k = 0; k < (int)NR_KS; k++) {
				while (held < ks[k])
					holders[series][held++] = start_holder(series);
				results[series][k][round] = measure(series);
				fprintf(stderr, "round %d %-9s K=%-3d %8.1f ns\n",
					round, series_name[series], ks[k],
					results[series][k][round]);
			}
			while (held)
				kill(holders[series][--held], SIGKILL);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
	}

	/*
	 * The event's cost is the syscall's minus the syscall's without
	 * any reader (none); ratios are to K = 1 of the same series.
	 */
	base = fastest(none, ROUNDS);
	printf("%-9s %5s %11s %11s %9s %9s\n", "series", "K", "ns/syscall",
	       "ns/event", "ratio", "ev.ratio");
	printf("%-9s %5s %11.1f\n", "none", "-", base);
	printf("%-9s %5s %11.1f %11.1f\n", "stock-all", "-",
	       fastest(stock_all, ROUNDS), fastest(stock_all, ROUNDS) - base);
	for (s = 0; s < NR_SERIES; s++) {
		double at[NR_KS];

		for (k = 0; k < (int)NR_KS; k++)
			at[k] = fastest(results[s][k], ROUNDS);
		event_k1 = at[1] - base;
		for (k = 0; k < (int)NR_KS; k++)
			printf("%-9s %5d %11.1f %11.1f %9.3f %9.3f\n",
			       series_name[s], ks[k], at[k], at[k] - base,
			       at[k] / at[1], (at[k] - base) / event_k1);
	}
	return 0;
}
