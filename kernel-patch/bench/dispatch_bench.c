// SPDX-License-Identifier: GPL-2.0
/*
 * Dispatch benchmark for tracer-scoped perf events (not a test: it
 * prints figures and checks only that the events counted what they
 * should).
 *
 * One measured task M, in its own tracer namespace and cgroup, calls
 * getppid() in a loop on CPU 0 while K = 0, 1, 16, 128, 512 other
 * readers hold a counting raw_syscalls:sys_enter event on CPU 0:
 *
 *   scoped        M's reader and every other reader are tracer-scoped,
 *                 each other reader in its own tracer namespace
 *                 (siblings of M's);
 *   stock-pid     M's reader and every other reader are ordinary CPU-wide
 *                 events with a tracepoint filter "common_pid == PID",
 *                 the other readers each on the pid of a sleeping task;
 *   stock-cgroup  M's reader and every other reader are perf cgroup
 *                 events (PERF_FLAG_PID_CGROUP, a cgroup v2 directory as
 *                 pid), M's on M's cgroup, the others each on a cgroup of
 *                 its own holding a sleeping task.
 *
 * A cgroup event is scheduled in and out when CPU 0 switches between
 * tasks of different cgroups, so M also times a context switch: a byte
 * ping-ponged over two pipes between M and a partner, both on CPU 0,
 * ROUNDTRIPS times. The partner is either in M's scope (same: M's child,
 * so in M's tracer namespace and cgroup) or outside it (cross: in a
 * sibling tracer namespace, or a cgroup of its own with no reader). A
 * third pair runs while M waits with its reader open: two tasks outside
 * every reader's scope (others: each in a sibling tracer namespace, or
 * a cgroup, of its own), which is what the readers cost the rest of the
 * machine. A round trip is two context switches and four system calls
 * (a write and a read on each side), each a sys_enter event.
 *
 * All series run in one boot, in ROUNDS rounds that alternate their
 * order; each round prints its figures. Each figure is the fastest of
 * the REPEATS timings of a round, and the summary takes the fastest
 * round: other load on the machine (the VM shares two host CPUs with
 * other work, under TCG) only ever adds time, in bursts that can
 * double a figure. Figures are ns per getppid() (syscall and event
 * together) and ns per round trip. The event's cost is that minus the
 * same loop with no reader at all; ratios are to K = 1 of the same
 * series. "stock-all" is one unfiltered CPU-wide reader, for scale.
 *
 * The round trips' summary takes the median round instead: under TCG
 * every switch between two processes flushes the emulated TLB, whose
 * cost depends on the emulator's state as much as on the guest's work,
 * so some rounds come out up to a third below the no-reader baseline
 * and the fastest round is an artefact.
 *
 * Run as root (tracer namespaces are created without user namespaces;
 * cgroup events are CPU-wide events). cgroup2 must be mounted on
 * /sys/fs/cgroup, or it is mounted on a directory in /tmp.
 */

#define _GNU_SOURCE

#include <dirent.h>
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTRACER
#define CLONE_NEWTRACER		0x4000000000ULL
#endif

#define TRACEFS		"/sys/kernel/tracing"
#define CGROUP_FS	"/sys/fs/cgroup"
#define CGROUP_DIR	"dispatch_bench"
#define MAX_K		512
#define CALLS		20000	/* getppid() per measurement */
#define ROUNDTRIPS	500	/* ping-pong round trips per measurement */
#ifndef REPEATS
#define REPEATS		7	/* timings per K and round */
#endif
#ifndef ROUNDS
#define ROUNDS		5
#endif

static const int ks[] = { 0, 1, 16, 128, 512 };
#define NR_KS		(sizeof(ks) / sizeof(ks[0]))

enum series {
	SCOPED, STOCK_PID, STOCK_CGROUP, NR_SERIES,
	STOCK_ALL = NR_SERIES, NONE,
};

static const char *const series_name[] = {
	"scoped", "stock-pid", "stock-cgroup", "stock-all", "none",
};

/* Who ping-pongs for a context switch measurement. */
enum partner { SAME, CROSS, OTHERS, NR_PARTNERS };
static const char *const partner_name[] = { "same", "cross", "others" };

/* M's figures: ns per getppid(), ns per round trip with each partner. */
struct figures {
	double syscall;
	double roundtrip[NR_PARTNERS];
};

static int tp_sys_enter;
/* The benchmark's cgroup directory, under a cgroup2 mount. */
static char cgroup_dir[128];
/* The cgroup this task joined (join_cgroup()), or -1. */
static int self_cgroup = -1;
/*
 * The pipes to and from the cross partner (used by M, then by the
 * outsider), and the outsider's: M's go, and its figure back to M.
 */
static int to_partner[2] = { -1, -1 }, to_m[2] = { -1, -1 };
static int outsider_go[2] = { -1, -1 }, outsider_done[2] = { -1, -1 };

/* The cgroups besides the other readers' "o0" ...: M's, the partners'. */
static const char *const fixed_cgroups[] = { "m", "p", "q" };
#define NR_FIXED	((int)(sizeof(fixed_cgroups) / sizeof(fixed_cgroups[0])))

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

/* The path of cgroup "o@i", or of a fixed one for a negative @i. */
static void cgroup_path(char *path, size_t size, int i)
{
	if (i < 0)
		snprintf(path, size, "%s/%s", cgroup_dir,
			 fixed_cgroups[NR_FIXED + i]);
	else
		snprintf(path, size, "%s/o%d", cgroup_dir, i);
}

/*
 * Make the benchmark's cgroups: "m" for M, "p" for M's cross partner,
 * "q" for the outsider, "o0" ... for the other readers. Use the cgroup2 mount on
 * /sys/fs/cgroup, or mount cgroup2 on a directory of our own.
 */
static void make_cgroups(void)
{
	char root[64] = CGROUP_FS, path[192];
	int i, fd;

	if (access(CGROUP_FS "/cgroup.controllers", F_OK)) {
		snprintf(root, sizeof(root), "/tmp/dispatch_bench.XXXXXX");
		if (!mkdtemp(root))
			die("mkdtemp");
		if (mount("cgroup2", root, "cgroup2", 0, NULL))
			die("mount cgroup2");
	}
	/*
	 * perf_event is an implicit controller on cgroup2, but the root's
	 * subtree mask only takes in implicit controllers when it is next
	 * computed, on a write to cgroup.subtree_control; a fresh boot
	 * where nothing wrote there has no perf_event css below the root
	 * (perf_event_open() fails with ENOENT). Enable and disable pids.
	 */
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "+pids", 5) != 5 || write(fd, "-pids", 5) != 5)
		fprintf(stderr, "dispatch_bench: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);

	snprintf(cgroup_dir, sizeof(cgroup_dir), "%s/" CGROUP_DIR, root);
	if (mkdir(cgroup_dir, 0755) && errno != EEXIST)
		die(cgroup_dir);
	for (i = -NR_FIXED; i < MAX_K; i++) {
		cgroup_path(path, sizeof(path), i);
		if (mkdir(path, 0755) && errno != EEXIST)
			die(path);
	}
}

/* Remove them again, once every task in them has exited. */
static void remove_cgroups(void)
{
	char path[192];
	int i;

	for (i = -NR_FIXED; i < MAX_K; i++) {
		cgroup_path(path, sizeof(path), i);
		if (rmdir(path))
			fprintf(stderr, "dispatch_bench: rmdir %s: %s\n", path,
				strerror(errno));
	}
	if (rmdir(cgroup_dir))
		fprintf(stderr, "dispatch_bench: rmdir %s: %s\n", cgroup_dir,
			strerror(errno));
}

/* Move the calling task into cgroup @name of the benchmark's. */
static void join_cgroup(const char *name)
{
	char path[192];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cgroup_dir, name);
	self_cgroup = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (self_cgroup < 0)
		die(path);
	fd = openat(self_cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die("join a cgroup");
	close(fd);
}

/*
 * A counting sys_enter event on CPU 0: scoped, filtered by pid, or on
 * the caller's cgroup.
 */
static int open_reader(enum series series, pid_t filter_pid)
{
	struct perf_event_attr attr = {
		.type		= PERF_TYPE_TRACEPOINT,
		.size		= sizeof(attr),
		.config		= tp_sys_enter,
		.tracer_scope	= series == SCOPED,
	};
	unsigned long flags = PERF_FLAG_FD_CLOEXEC;
	char filter[64];
	int fd, pid = -1;

	if (series == STOCK_CGROUP) {
		pid = self_cgroup;
		flags |= PERF_FLAG_PID_CGROUP;
	}
	fd = syscall(__NR_perf_event_open, &attr, pid, 0, -1, flags);
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
 * every other one the benchmark makes) if @series is SCOPED, and in
 * the benchmark's cgroup @cgroup if @series is STOCK_CGROUP.  @fn writes
 * its pid, then anything else, to the pipe it is given; return the read
 * end after reading the pid into @pid.  The intermediate process exits
 * at once and is reaped here; the task becomes main()'s child (main() is
 * a child subreaper), which reaps it after killing it.
 */
static int spawn(enum series series, const char *cgroup,
		 void (*fn)(enum series, int), pid_t *pid)
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
		if (child == 0) {
			if (series == STOCK_CGROUP)
				join_cgroup(cgroup);
			fn(series, pipefd[1]);
		}
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

static void kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A holder's end: report its pid to spawn() and sleep until killed. */
static void report_and_sleep(int out)
{
	pid_t self = getpid();

	if (write(out, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	for (;;)
		pause();
}

/* Another reader: opens its event, reports its pid and sleeps. */
static void holder(enum series series, int out)
{
	if (open_reader(series, getpid()) < 0)
		_exit(1);
	report_and_sleep(out);
}

/* M's partner: returns every byte it reads until it is killed. */
static void bounce(int in, int out)
{
	char byte;

	for (;;)
		if (read(in, &byte, 1) != 1 || write(out, &byte, 1) != 1)
			_exit(1);
}

/* The cross partner, in its own scope: reports its pid and bounces. */
static void cross_partner(enum series series, int out)
{
	pid_t self = getpid();

	if (write(out, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	close(to_partner[1]);
	close(to_m[0]);
	bounce(to_partner[0], to_m[1]);
}

static double pingpong(enum series series, int fd, int in, int out,
		       enum partner partner, int both);

/*
 * The outsider, in its own scope: reports its pid, waits for M's go,
 * ping-pongs with the cross partner and sends M its figure.
 */
static void outsider(enum series series, int out)
{
	pid_t self = getpid();
	double result;
	char go;

	if (write(out, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	if (read(outsider_go[0], &go, 1) != 1)
		_exit(1);
	result = pingpong(series, -1, to_m[0], to_partner[1], OTHERS, 0);
	if (write(outsider_done[1], &result, sizeof(result)) != sizeof(result))
		_exit(1);
	_exit(0);
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

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Check that M's reader @fd counted between @lo and @hi events. */
static void check_count(int fd, enum series series, const char *what,
			uint64_t lo, uint64_t hi)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) != sizeof(count))
		die("read M's count");
	if (count < lo || count > hi) {
		fprintf(stderr,
			"dispatch_bench: %s: %s: M counted %llu, not %llu-%llu\n",
			series_name[series], what, (unsigned long long)count,
			(unsigned long long)lo, (unsigned long long)hi);
		_exit(1);
	}
}

/*
 * Time ROUNDTRIPS round trips of a byte from M to its partner over
 * @out and back over @in; return the fastest ns per round trip.  M's
 * reader @fd (or -1) sees M's write and read per round trip, and the
 * partner's read and write too if @both.
 */
static double pingpong(enum series series, int fd, int in, int out,
		       enum partner partner, int both)
{
	uint64_t start, expected = (uint64_t)ROUNDTRIPS * (both ? 4 : 2);
	double ns[REPEATS];
	char byte = 0;
	int i, r;

	for (r = -1; r < REPEATS; r++) {	/* -1 warms up */
		if (fd >= 0 && ioctl(fd, PERF_EVENT_IOC_RESET, 0))
			die("PERF_EVENT_IOC_RESET");
		start = now_ns();
		for (i = 0; i < ROUNDTRIPS; i++)
			if (write(out, &byte, 1) != 1 || read(in, &byte, 1) != 1)
				die("ping-pong");
		if (r >= 0)
			ns[r] = (double)(now_ns() - start) / ROUNDTRIPS;
		/*
		 * Every call, the read() of the count, and the partner's calls
		 * that straddle the reset or the read (it may be on either side
		 * of its read() when M's returns).
		 */
		if (fd >= 0)
			check_count(fd, series, partner_name[partner],
				    expected - 2, expected + 8);
	}
	return fastest(ns, REPEATS);
}

/*
 * M: opens its own reader, times getppid() and the ping-pong with both
 * partners, checks its counts, and reports its figures after its pid.
 */
static void measured(enum series series, int out)
{
	int fd, i, r, same_to_partner[2], same_to_m[2];
	struct figures result;
	double ns[REPEATS];
	pid_t self = getpid(), partner;
	char go = 1;
	uint64_t start;

	fd = series == NONE ? -1 : open_reader(series, self);
	if (fd < 0 && series != NONE) {
		fprintf(stderr, "dispatch_bench: %s: open M's reader: %s\n",
			series_name[series], strerror(errno));
		_exit(1);
	}
	for (i = 0; i < CALLS; i++)		/* warm up */
		syscall(__NR_getppid);
	for (r = 0; r < REPEATS; r++) {
		if (fd >= 0 && ioctl(fd, PERF_EVENT_IOC_RESET, 0))
			die("PERF_EVENT_IOC_RESET");
		start = now_ns();
		for (i = 0; i < CALLS; i++)
			syscall(__NR_getppid);
		ns[r] = (double)(now_ns() - start) / CALLS;
		/* Every call, and the read() itself. */
		if (fd >= 0)
			check_count(fd, series, "getppid", CALLS, CALLS + 4);
	}
	result.syscall = fastest(ns, REPEATS);

	/* A partner in M's scope: M's child, on CPU 0 like M. */
	if (pipe(same_to_partner) || pipe(same_to_m))
		die("pipe");
	partner = fork();
	if (partner < 0)
		die("fork");
	if (partner == 0)
		bounce(same_to_partner[0], same_to_m[1]);
	result.roundtrip[SAME] =
		pingpong(series, fd, same_to_m[0], same_to_partner[1], SAME,
			 series == SCOPED || series == STOCK_CGROUP ||
			 series == STOCK_ALL);
	kill_and_reap(partner);

	/* The partner outside M's scope, spawned by main(). */
	result.roundtrip[CROSS] =
		pingpong(series, fd, to_m[0], to_partner[1], CROSS,
			 series == STOCK_ALL);

	/*
	 * The outsider and the cross partner, while M waits; M's reader
	 * sees only M's own write and read (all of theirs for stock-all).
	 */
	if (fd >= 0 && ioctl(fd, PERF_EVENT_IOC_RESET, 0))
		die("PERF_EVENT_IOC_RESET");
	if (write(outsider_go[1], &go, 1) != 1 ||
	    read(outsider_done[0], &result.roundtrip[OTHERS],
		 sizeof(double)) != sizeof(double))
		die("the outsider");
	if (fd >= 0) {
		uint64_t theirs = series == STOCK_ALL ?
			(uint64_t)ROUNDTRIPS * 4 * (REPEATS + 1) : 0;

		check_count(fd, series, partner_name[OTHERS],
			    theirs ? theirs - 2 : 0, theirs + 8);
	}

	if (write(out, &self, sizeof(self)) != sizeof(self) ||
	    write(out, &result, sizeof(result)) != sizeof(result))
		_exit(1);
	_exit(0);
}

/* Run M, with its cross partner, and return its figures. */
static struct figures measure(enum series series)
{
	struct figures result;
	pid_t pid, partner, other;
	int fd;

	if (pipe(to_partner) || pipe(to_m) || pipe(outsider_go) ||
	    pipe(outsider_done))
		die("pipe");
	close(spawn(series, "p", cross_partner, &partner));
	close(spawn(series, "q", outsider, &other));
	fd = spawn(series, "m", measured, &pid);
	if (read(fd, &result, sizeof(result)) != sizeof(result)) {
		fprintf(stderr, "dispatch_bench: %s: M failed\n",
			series_name[series]);
		exit(1);
	}
	close(fd);
	waitpid(pid, NULL, 0);
	waitpid(other, NULL, 0);
	kill_and_reap(partner);
	close(to_partner[0]);
	close(to_partner[1]);
	close(to_m[0]);
	close(to_m[1]);
	close(outsider_go[0]);
	close(outsider_go[1]);
	close(outsider_done[0]);
	close(outsider_done[1]);
	return result;
}

/* Start another reader, the @i-th, and return its pid. */
static pid_t start_holder(enum series series, int i)
{
	char cgroup[16];
	pid_t pid;

	snprintf(cgroup, sizeof(cgroup), "o%d", i);
	close(spawn(series, cgroup, holder, &pid));
	return pid;
}

static void print_round(int round, enum series series, const char *k,
			const struct figures *f)
{
	fprintf(stderr,
		"round %d %-12s K=%-3s %8.1f ns/syscall, round trip %8.1f ns same, %8.1f ns cross, %8.1f ns others\n",
		round, series_name[series], k, f->syscall,
		f->roundtrip[SAME], f->roundtrip[CROSS], f->roundtrip[OTHERS]);
}

/* kernel.perf_tracer_scope is 0 by default: turn the scope on, as root. */
static void allow_tracer_scope(void)
{
	int fd = open("/proc/sys/kernel/perf_tracer_scope", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "1", 1) != 1)
		die("write 1 to /proc/sys/kernel/perf_tracer_scope");
	close(fd);
}

/*
 * Two rows for the costs the review of 2026-12-06 (issue 14) asked for.
 *
 * Fork: main(), on the host (the initial tracer namespace), forks a
 * child that exits at once, FORKS times on CPU 0, with no reader, with
 * a scoped reader of PERF_RECORD_TRACER_NAMESPACES in a sibling tracer
 * namespace (not on main()'s path: it must cost nothing), and with an
 * unscoped one of main()'s own (which must build the record). The
 * record is made on fork and on exec alike; exec is left out because
 * reading /bin/true over the VM's 9p root costs a hundred milliseconds
 * under TCG and drowns everything else.
 *
 * All syscall tracepoints: a task M in a tracer namespace of its own
 * calls getppid() with its scoped raw_syscalls:sys_enter reader, alone
 * and then with a scoped reader on every syscalls:* tracepoint on CPU 0
 * in its namespace too, as "perf record -e 'syscalls:*'" would open.
 */
#define FORKS		200
#define MAX_SYSCALL_TPS	2048

static int open_namespaces_reader(void)
{
	struct perf_event_attr attr = {
		.type			= PERF_TYPE_SOFTWARE,
		.size			= sizeof(attr),
		.config			= PERF_COUNT_SW_DUMMY,
		.sample_type		= PERF_SAMPLE_TID,
		.sample_id_all		= 1,
		.tracer_scope		= 1,
		.tracer_namespaces	= 1,
	};
	int fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1,
			 PERF_FLAG_FD_CLOEXEC);

	/* A ring, so that records are written as a recorder would have them. */
	if (fd >= 0 && mmap(NULL, 17 * getpagesize(), PROT_READ | PROT_WRITE,
			    MAP_SHARED, fd, 0) == MAP_FAILED)
		die("mmap the namespaces reader's ring");
	return fd;
}

/* A reader of PERF_RECORD_TRACER_NAMESPACES elsewhere: opens it, sleeps. */
static void namespaces_holder(enum series series, int out)
{
	if (open_namespaces_reader() < 0)
		_exit(1);
	report_and_sleep(out);
}

/* ns per fork, exit and wait, over FORKS of them. */
static double fork_ns(void)
{
	uint64_t start = now_ns();
	pid_t pid;
	int i;

	for (i = 0; i < FORKS; i++) {
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, NULL, 0) != pid)
			die("waitpid");
	}
	return (double)(now_ns() - start) / FORKS;
}

/* Open a scoped counting event on every syscalls:* tracepoint on CPU 0. */
static int open_all_syscall_tracepoints(void)
{
	struct dirent *d;
	char name[300];
	int n = 0, id;
	DIR *dir;

	dir = opendir(TRACEFS "/events/syscalls");
	if (!dir)
		die(TRACEFS "/events/syscalls");
	while ((d = readdir(dir)) && n < MAX_SYSCALL_TPS) {
		struct perf_event_attr attr = {
			.type		= PERF_TYPE_TRACEPOINT,
			.size		= sizeof(attr),
			.tracer_scope	= 1,
		};

		if (strncmp(d->d_name, "sys_", 4))
			continue;
		snprintf(name, sizeof(name), "syscalls/%s", d->d_name);
		id = read_tracepoint_id(name);
		if (id < 0)
			continue;
		attr.config = id;
		if (syscall(__NR_perf_event_open, &attr, -1, 0, -1,
			    PERF_FLAG_FD_CLOEXEC) < 0)
			die("open a syscalls:* tracepoint event");
		n++;
	}
	closedir(dir);
	return n;
}

/* ns per getppid() in M's loop, the fastest of REPEATS. */
static double getppid_ns(void)
{
	double ns[REPEATS];
	uint64_t start;
	int r, i;

	for (i = 0; i < CALLS; i++)		/* warm up */
		syscall(__NR_getppid);
	for (r = 0; r < REPEATS; r++) {
		start = now_ns();
		for (i = 0; i < CALLS; i++)
			syscall(__NR_getppid);
		ns[r] = (double)(now_ns() - start) / CALLS;
	}
	return fastest(ns, REPEATS);
}

/* Every syscalls:* tracepoint, in a sibling namespace: opens, sleeps. */
static void all_syscalls_holder(enum series series, int out)
{
	open_all_syscall_tracepoints();
	report_and_sleep(out);
}

/*
 * M for the syscalls:* row: with its reader, then (@own) with every
 * syscall tracepoint open in its namespace too.
 */
static void all_syscalls_m(enum series series, int out, int own)
{
	pid_t self = getpid();
	double ns[2];
	int n = 0;

	if (open_reader(SCOPED, self) < 0)
		_exit(1);
	ns[0] = getppid_ns();
	if (own)
		n = open_all_syscall_tracepoints();
	ns[1] = getppid_ns();
	if (write(out, &self, sizeof(self)) != sizeof(self) ||
	    write(out, &n, sizeof(n)) != sizeof(n) ||
	    write(out, ns, sizeof(ns)) != sizeof(ns))
		_exit(1);
	_exit(0);
}

static void all_syscalls_m_own(enum series series, int out)
{
	all_syscalls_m(series, out, 1);
}

static void all_syscalls_m_alone(enum series series, int out)
{
	all_syscalls_m(series, out, 0);
}

/* Run an M of the syscalls:* row; its two figures and event count. */
static int run_all_syscalls_m(void (*fn)(enum series, int), double ns[2])
{
	pid_t m;
	int fd, n;

	fd = spawn(SCOPED, NULL, fn, &m);
	if (read(fd, &n, sizeof(n)) != sizeof(n) ||
	    read(fd, ns, 2 * sizeof(double)) != 2 * sizeof(double))
		die("the syscalls:* M");
	close(fd);
	waitpid(m, NULL, 0);
	return n;
}

static void issue14_rows(void)
{
	double v[3][REPEATS], none, elsewhere, own, ns[2], sib[2];
	struct rlimit files = { 4096, 4096 };
	pid_t holder_pid;
	int fd, n, r;

	/* The three in turn, REPEATS times, against drifting host load. */
	for (r = 0; r < REPEATS; r++) {
		v[0][r] = fork_ns();
		close(spawn(SCOPED, NULL, namespaces_holder, &holder_pid));
		v[1][r] = fork_ns();
		kill_and_reap(holder_pid);
		fd = open_namespaces_reader();
		if (fd < 0)
			die("open the host's namespaces reader");
		v[2][r] = fork_ns();
		close(fd);
	}
	none = fastest(v[0], REPEATS);
	elsewhere = fastest(v[1], REPEATS);
	own = fastest(v[2], REPEATS);
	printf("\nns per fork + exit + wait by the host on CPU 0, fastest of %d x %d\n",
	       REPEATS, FORKS);
	printf("%-40s %11.0f\n", "no reader", none);
	printf("%-40s %11.0f %9.3f\n", "scoped namespaces reader elsewhere",
	       elsewhere, elsewhere / none);
	printf("%-40s %11.0f %9.3f\n", "the host's own namespaces reader",
	       own, own / none);

	if (setrlimit(RLIMIT_NOFILE, &files))
		die("RLIMIT_NOFILE");
	/*
	 * With all syscall tracepoints open in a sibling namespace, every
	 * system call takes the tracepoints' slow path and builds their
	 * records; with them open in M's own, it also looks them up.
	 */
	close(spawn(SCOPED, NULL, all_syscalls_holder, &holder_pid));
	run_all_syscalls_m(all_syscalls_m_alone, sib);
	kill_and_reap(holder_pid);
	n = run_all_syscalls_m(all_syscalls_m_own, ns);
	printf("\nns per getppid() with M's scoped sys_enter reader, fastest of %d x %d\n",
	       REPEATS, CALLS);
	printf("%-40s %11.1f\n", "alone", ns[0]);
	printf("%-40s %11.1f %9.3f\n", "all syscalls:* in a sibling namespace",
	       sib[1], sib[1] / ns[0]);
	printf("%-40s %11.1f %9.3f\n", "all syscalls:* in M's namespace",
	       ns[1], ns[1] / ns[0]);
	printf("(%d syscalls:* events open on CPU 0)\n", n);
}

/*
 * The uprobe row (issue 15), "dispatch_bench uprobe": M, in a tracer
 * namespace of its own, calls uprobe_bench_target() with a uprobe of its
 * own on it, while K other readers on CPU 0 probe the same function:
 * scoped, each in a sibling tracer namespace, sharing one probe; or
 * stock-all, unscoped CPU-wide events of the uprobe PMU, each with a
 * probe of its own.  ns per call, hit included; ratios to K = 1.
 *
 * The probed instruction has a page of its own, which the other readers
 * unmap before they open their events ("uprobe-mapped": they keep it,
 * and each gets its own copy of the page with the breakpoint in it).
 * A first version probed a compiled function in the page of the code
 * every reader runs, and M paid 12% more per call at K = 512 (scoped;
 * see kernel-patch/REVIEW.md, "Issue 15"), which neither arrangement
 * here shows.
 */
#define UPROBE_CALLS	2000
#define UPROBE_ROUNDS	3

static char self_exe[256];
static long self_offset;
static int uprobe_type;

/* x86: a nop and a return, alone in their page. */
asm(".pushsection .text.uprobe_bench, \"ax\", @progbits\n"
    ".balign 4096\n"
    ".globl uprobe_bench_target\n"
    ".type uprobe_bench_target, @function\n"
    "uprobe_bench_target:\n"
    "nop\n"
    "ret\n"
    ".balign 4096\n"
    ".popsection\n");
void uprobe_bench_target(void);
static int uprobe_unmap_in_holders = 1;

static void find_uprobe_target(void)
{
	unsigned long start, end, off, addr = (unsigned long)uprobe_bench_target;
	char line[512];
	FILE *f;
	ssize_t len;

	len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len <= 0)
		die("readlink /proc/self/exe");
	self_exe[len] = '\0';
	self_offset = -1;
	f = fopen("/proc/self/maps", "r");
	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 &&
		    addr >= start && addr < end)
			self_offset = addr - start + off;
	fclose(f);
	f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	if (!f || fscanf(f, "%d", &uprobe_type) != 1 || self_offset < 0)
		die("the uprobe PMU or the target's offset");
	fclose(f);
}

static int open_uprobe(enum series series)
{
	struct perf_event_attr attr = {
		.type		= uprobe_type,
		.size		= sizeof(attr),
		.uprobe_path	= (uintptr_t)self_exe,
		.probe_offset	= self_offset,
		.tracer_scope	= series == SCOPED,
	};

	return syscall(__NR_perf_event_open, &attr, -1, 0, -1,
		       PERF_FLAG_FD_CLOEXEC);
}

static void uprobe_holder(enum series series, int out)
{
	if (uprobe_unmap_in_holders &&
	    munmap((void *)uprobe_bench_target, 4096))
		_exit(1);
	if (open_uprobe(series) < 0)
		_exit(1);
	report_and_sleep(out);
}

static double uprobe_calls_ns(void)
{
	void (*volatile target)(void) = uprobe_bench_target;
	double ns[REPEATS];
	uint64_t start;
	int r, i;

	for (r = 0; r < REPEATS; r++) {
		start = now_ns();
		for (i = 0; i < UPROBE_CALLS; i++)
			target();
		ns[r] = (double)(now_ns() - start) / UPROBE_CALLS;
	}
	return fastest(ns, REPEATS);
}

/* M: its probe, its calls, and a check that each was counted. */
static void uprobe_m(enum series series, int out)
{
	pid_t self = getpid();
	uint64_t count = 0;
	double ns;
	int fd;

	fd = series == NONE ? -1 : open_uprobe(series);
	if (series != NONE && fd < 0)
		_exit(1);
	ns = uprobe_calls_ns();
	if (fd >= 0 && (read(fd, &count, sizeof(count)) != sizeof(count) ||
			count != (uint64_t)REPEATS * UPROBE_CALLS)) {
		fprintf(stderr, "dispatch_bench: M's uprobe counted %llu of %d\n",
			(unsigned long long)count, REPEATS * UPROBE_CALLS);
		_exit(1);
	}
	if (write(out, &self, sizeof(self)) != sizeof(self) ||
	    write(out, &ns, sizeof(ns)) != sizeof(ns))
		_exit(1);
	_exit(0);
}

static double measure_uprobe(enum series series)
{
	pid_t m;
	double ns;
	int fd;

	fd = spawn(series, NULL, uprobe_m, &m);
	if (read(fd, &ns, sizeof(ns)) != sizeof(ns))
		die("the uprobe M");
	close(fd);
	waitpid(m, NULL, 0);
	return ns;
}

static void uprobe_rows(void)
{
	static const enum series sers[] = { SCOPED, STOCK_ALL };
	static pid_t holders[MAX_K];
	double v[NR_KS][UPROBE_ROUNDS], none[UPROBE_ROUNDS], at[NR_KS], base;
	struct rlimit files = { 4096, 4096 };
	int round, k, held, i;

	find_uprobe_target();
	if (setrlimit(RLIMIT_NOFILE, &files))
		die("RLIMIT_NOFILE");
	printf("\nns per call of a uprobed function by M on CPU 0 with its own\n"
	       "uprobe and K other readers probing it, fastest of %d rounds x %d x %d\n",
	       UPROBE_ROUNDS, REPEATS, UPROBE_CALLS);
	printf("%-12s %5s %11s %9s\n", "series", "K", "ns/call", "ratio");
	for (round = 0; round < UPROBE_ROUNDS; round++)
		none[round] = measure_uprobe(NONE);
	base = fastest(none, UPROBE_ROUNDS);
	printf("%-12s %5s %11.1f\n", "none", "-", base);
	for (i = 0; i < 2; i++) {
		for (round = 0; round < UPROBE_ROUNDS; round++) {
			held = 0;
			for (k = 0; k < (int)NR_KS; k++) {
				for (; held < ks[k]; held++)
					close(spawn(sers[i], NULL, uprobe_holder,
						    &holders[held]));
				v[k][round] = measure_uprobe(sers[i]);
				fprintf(stderr, "uprobe round %d %-10s K=%-3d %9.1f ns/call\n",
					round, series_name[sers[i]], ks[k],
					v[k][round]);
			}
			while (held)
				kill_and_reap(holders[--held]);
		}
		for (k = 0; k < (int)NR_KS; k++)
			at[k] = fastest(v[k], UPROBE_ROUNDS);
		for (k = 0; k < (int)NR_KS; k++)
			printf("%-12s %5d %11.1f %9.3f\n", series_name[sers[i]],
			       ks[k], at[k], at[k] / at[1]);
	}
}

int main(int argc, char **argv)
{
	static struct figures results[NR_SERIES][NR_KS][ROUNDS];
	static pid_t holders[MAX_K];
	struct figures none[ROUNDS], stock_all[ROUNDS];
	double v[ROUNDS], base, event_k1, rt_base[NR_PARTNERS];
	double at[NR_KS], rt[NR_PARTNERS][NR_KS], all;
	enum partner p;
	int round, k, held, i;
	enum series s;
	char kname[8];

	if (access(TRACEFS "/events", F_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	tp_sys_enter = read_tracepoint_id("raw_syscalls/sys_enter");
	if (tp_sys_enter < 0)
		die("read raw_syscalls/sys_enter's id");
	allow_tracer_scope();
	make_cgroups();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		die("PR_SET_CHILD_SUBREAPER");
	pin_to_cpu0();
	if (argc > 1 && !strcmp(argv[1], "issue14")) {
		issue14_rows();
		remove_cgroups();
		return 0;
	}
	if (argc > 1 && !strncmp(argv[1], "uprobe", 6)) {
		uprobe_unmap_in_holders = strcmp(argv[1], "uprobe-mapped");
		uprobe_rows();
		remove_cgroups();
		return 0;
	}

	for (round = 0; round < ROUNDS; round++) {
		none[round] = measure(NONE);
		print_round(round, NONE, "-", &none[round]);
		stock_all[round] = measure(STOCK_ALL);
		print_round(round, STOCK_ALL, "-", &stock_all[round]);
		for (s = 0; s < NR_SERIES; s++) {
			/* Alternate the order between rounds. */
			enum series series = round % 2 ? NR_SERIES - 1 - s : s;

			held = 0;
			for (k = 0; k < (int)NR_KS; k++) {
				for (; held < ks[k]; held++)
					holders[held] = start_holder(series, held);
				results[series][k][round] = measure(series);
				snprintf(kname, sizeof(kname), "%d", ks[k]);
				print_round(round, series, kname,
					    &results[series][k][round]);
			}
			while (held)
				kill_and_reap(holders[--held]);
		}
	}

	/*
	 * The event's cost is the syscall's minus the syscall's without
	 * any reader (none); ratios are to K = 1 of the same series.
	 */
	for (round = 0; round < ROUNDS; round++)
		v[round] = none[round].syscall;
	base = fastest(v, ROUNDS);
	for (round = 0; round < ROUNDS; round++)
		v[round] = stock_all[round].syscall;
	all = fastest(v, ROUNDS);
	printf("ns per getppid() with M's reader and K others\n");
	printf("%-12s %5s %11s %11s %9s %9s\n", "series", "K", "ns/syscall",
	       "ns/event", "ratio", "ev.ratio");
	printf("%-12s %5s %11.1f\n", "none", "-", base);
	printf("%-12s %5s %11.1f %11.1f\n", "stock-all", "-", all, all - base);
	for (s = 0; s < NR_SERIES; s++) {
		for (k = 0; k < (int)NR_KS; k++) {
			for (round = 0; round < ROUNDS; round++)
				v[round] = results[s][k][round].syscall;
			at[k] = fastest(v, ROUNDS);
		}
		event_k1 = at[1] - base;
		for (k = 0; k < (int)NR_KS; k++)
			printf("%-12s %5d %11.1f %11.1f %9.3f %9.3f\n",
			       series_name[s], ks[k], at[k], at[k] - base,
			       at[k] / at[1], (at[k] - base) / event_k1);
	}

	/*
	 * A round trip's extra cost is its time minus the same round trip
	 * without any reader; ratios are of round trips, to K = 1. Each is
	 * the median round's.
	 */
	printf("\nns per ping-pong round trip on CPU 0 (2 switches, 4 syscalls), median\n"
	       "round: M and a task in its scope (same), M and one outside it\n"
	       "(cross), two outside every scope while M waits (others)\n");
	printf("%-12s %5s", "series", "K");
	for (p = 0; p < NR_PARTNERS; p++)
		printf(" %11s %6s.extra %9s", partner_name[p], partner_name[p],
		       "ratio");
	printf("\n");
	for (p = 0; p < NR_PARTNERS; p++) {
		for (round = 0; round < ROUNDS; round++)
			v[round] = none[round].roundtrip[p];
		rt_base[p] = median(v, ROUNDS);
	}
	printf("%-12s %5s", "none", "-");
	for (p = 0; p < NR_PARTNERS; p++)
		printf(" %11.1f %12s %9s", rt_base[p], "", "");
	printf("\n");
	for (p = 0; p < NR_PARTNERS; p++) {
		for (round = 0; round < ROUNDS; round++)
			v[round] = stock_all[round].roundtrip[p];
		rt[p][0] = median(v, ROUNDS);
	}
	printf("%-12s %5s", "stock-all", "-");
	for (p = 0; p < NR_PARTNERS; p++)
		printf(" %11.1f %12.1f %9s", rt[p][0], rt[p][0] - rt_base[p], "");
	printf("\n");
	for (s = 0; s < NR_SERIES; s++) {
		for (p = 0; p < NR_PARTNERS; p++)
			for (k = 0; k < (int)NR_KS; k++) {
				for (round = 0; round < ROUNDS; round++)
					v[round] = results[s][k][round].roundtrip[p];
				rt[p][k] = median(v, ROUNDS);
			}
		for (k = 0; k < (int)NR_KS; k++) {
			printf("%-12s %5d", series_name[s], ks[k]);
			for (i = 0; i < NR_PARTNERS; i++)
				printf(" %11.1f %12.1f %9.3f", rt[i][k],
				       rt[i][k] - rt_base[i], rt[i][k] / rt[i][1]);
			printf("\n");
		}
	}
	issue14_rows();
	remove_cgroups();
	return 0;
}
