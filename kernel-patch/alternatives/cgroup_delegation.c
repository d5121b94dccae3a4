// SPDX-License-Identifier: GPL-2.0
/*
 * The delegated cgroup event (cgroup-delegation.patch, a prototype on
 * top of the series) seen from a tenant's side: what an unprivileged
 * task can open with it, and what the events it opens tell it about
 * tasks outside its cgroup. Not a test of the series: it backs the
 * cover letter's "Alternatives considered" (a) with a measurement.
 *
 * Run as root on a kernel with the prototype (run-cgroup-delegation.sh).
 * Root makes the cgroups  alt/tenant, alt/tenant/web and alt/sibling
 * (under the cgroup2 mount on /sys/fs/cgroup, or one it makes in /tmp),
 * all tasks on CPU 0, and forks:
 *
 *   reader   in alt/tenant as uid 65534, then in a new user and cgroup
 *            namespace (the cgroup namespace's root is alt/tenant): the
 *            delegation a systemd user manager or a rootless runtime
 *            gets. It opens, per CPU: a counting
 *            syscalls:sys_enter_getppid event on alt/tenant/web, and a
 *            dummy software event on alt/tenant with comm, task,
 *            context_switch and sample_id_all (pid, tid) records into a
 *            ring buffer; and tries an event on alt/sibling (outside its
 *            namespace's root) and a raw sched:sched_switch sampler.
 *   web      in alt/tenant/web: GETPPIDS getppid() calls, then
 *            ROUNDTRIPS round trips over two pipes with the sibling.
 *   sibling  in alt/sibling, named SIBLING_COMM: the round trips'
 *            other end, so that CPU 0 switches between the tenant's
 *            task and another tenant's ROUNDTRIPS * 2 times.
 *
 * It prints what was opened or refused, the count against GETPPIDS, and
 * how many side-band records name a task outside alt/tenant: the
 * sibling (by pid, or by comm), or any other pid (idle, kernel threads).
 * It exits 1 if the prototype is missing or a count is wrong; what the
 * side band shows is the finding, not a failure.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TRACEFS		"/sys/kernel/tracing"
#define CGROUP_FS	"/sys/fs/cgroup"
#define ALT		"alt"
#define GETPPIDS	1000
#define ROUNDTRIPS	200
#define SIBLING_COMM	"s3cret-sibling"
#define RB_PAGES	64
#define MAX_CPUS	8

static int ncpus;
/* A cgroup2 mount: /sys/fs/cgroup, or one of our own in /tmp. */
static char root[64] = CGROUP_FS;

static void die(const char *what)
{
	fprintf(stderr, "cgroup_delegation: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int read_id(const char *event)
{
	char path[256], buf[32];
	int fd, len;

	snprintf(path, sizeof(path), TRACEFS "/events/%s/id", event);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		die(path);
	buf[len] = '\0';
	return atoi(buf);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	close(fd);
}

static void join(const char *cgroup)
{
	char path[256], pid[32];

	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", root, cgroup);
	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(path, pid);
}

static int opendir_at(const char *cgroup)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, cgroup);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* mkdir, or rmdir with @remove, of cgroup @name under the mount. */
static int cgroup_dir(const char *name, int remove)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (remove)
		return rmdir(path);
	return mkdir(path, 0755) && errno != EEXIST;
}

static void pin_to_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static void xread(int fd, void *buf, size_t len)
{
	if (read(fd, buf, len) != (ssize_t)len)
		die("read");
}

static void xwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("write");
}

static int open_event(struct perf_event_attr *attr, int cgroup_fd, int cpu)
{
	return syscall(SYS_perf_event_open, attr, cgroup_fd, cpu, -1,
		       PERF_FLAG_PID_CGROUP | PERF_FLAG_FD_CLOEXEC);
}

/* What the reader found, for root to print. */
struct findings {
	int opened, outside_errno, raw_errno, open_errno;
	long long getppids;
	long records, lost;
	long names_sibling, names_sibling_comm, names_other;
	long switches, switches_to_sibling, comms, forks_exits;
};

/* Does a pid belong to the tenant (the web task or the reader)? */
static int web_pid, reader_pid, sibling_pid;

static void classify(struct findings *f, uint32_t pid)
{
	if (pid == (uint32_t)web_pid || pid == (uint32_t)reader_pid)
		return;
	if (pid == (uint32_t)sibling_pid)
		f->names_sibling++;
	else
		f->names_other++;
}

/* Walk one CPU's ring buffer: every record names tasks by pid. */
static void walk(struct findings *f, struct perf_event_mmap_page *pg)
{
	uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = pg->data_tail, size = pg->data_size;
	unsigned char *data = (unsigned char *)pg + pg->data_offset;
	unsigned char rec[4096];

	while (tail < head) {
		struct perf_event_header h;
		uint64_t i;
		uint32_t *u;
		size_t idlen = 16;	/* sample_id_all: pid, tid, time */

		for (i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(tail + i) % size];
		if (h.size < sizeof(h) || h.size > sizeof(rec))
			break;
		for (i = 0; i < h.size; i++)
			rec[i] = data[(tail + i) % size];
		tail += h.size;
		f->records++;
		u = (uint32_t *)(rec + sizeof(h));
		/* Who the record was made for: sample_id_all's pid. */
		classify(f, *(uint32_t *)(rec + h.size - idlen));
		switch (h.type) {
		case PERF_RECORD_SWITCH_CPU_WIDE:
			f->switches++;
			if (u[0] == (uint32_t)sibling_pid)
				f->switches_to_sibling++;
			classify(f, u[0]);
			break;
		case PERF_RECORD_COMM:
			f->comms++;
			classify(f, u[0]);
			if (strstr((char *)&u[2], SIBLING_COMM))
				f->names_sibling_comm++;
			break;
		case PERF_RECORD_FORK:
		case PERF_RECORD_EXIT:
			f->forks_exits++;
			classify(f, u[0]);
			classify(f, u[1]);
			break;
		case PERF_RECORD_LOST:
			f->lost += *(uint64_t *)(rec + sizeof(h) + 8);
			break;
		}
	}
}

static void reader(int ready, int go, int out)
{
	struct perf_event_attr count = {
		.type = PERF_TYPE_TRACEPOINT, .size = sizeof(count),
		.config = read_id("syscalls/sys_enter_getppid"),
		.disabled = 0,
	};
	struct perf_event_attr side = {
		.type = PERF_TYPE_SOFTWARE, .size = sizeof(side),
		.config = PERF_COUNT_SW_DUMMY,
		.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME,
		.comm = 1, .task = 1, .context_switch = 1,
		.sample_id_all = 1, .watermark = 1, .wakeup_watermark = 1,
	};
	struct perf_event_attr raw = {
		.type = PERF_TYPE_TRACEPOINT, .size = sizeof(raw),
		.config = read_id("sched/sched_switch"),
		.sample_period = 1, .sample_type = PERF_SAMPLE_RAW,
	};
	struct perf_event_mmap_page *rb[MAX_CPUS];
	int cfd[MAX_CPUS], web, tenant, sibling, fd, cpu;
	struct findings f = { 0 };
	long long n;
	char c;

	join(ALT "/tenant");
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		die("drop to uid 65534");
	if (unshare(CLONE_NEWUSER | CLONE_NEWCGROUP))
		die("unshare(CLONE_NEWUSER | CLONE_NEWCGROUP)");
	/* cgroupfs is the host's mount: every directory is there to open. */
	web = opendir_at(ALT "/tenant/web");
	tenant = opendir_at(ALT "/tenant");
	sibling = opendir_at(ALT "/sibling");
	if (web < 0 || tenant < 0 || sibling < 0)
		die("open the cgroup directories as uid 65534");

	for (cpu = 0; cpu < ncpus; cpu++) {
		cfd[cpu] = open_event(&count, web, cpu);
		if (cfd[cpu] < 0)
			break;
		fd = open_event(&side, tenant, cpu);
		if (fd < 0)
			break;
		rb[cpu] = mmap(NULL, (RB_PAGES + 1) * getpagesize(),
			       PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (rb[cpu] == MAP_FAILED)
			die("mmap");
	}
	f.opened = cpu == ncpus;
	f.open_errno = f.opened ? 0 : errno;
	fd = open_event(&count, sibling, 0);
	f.outside_errno = fd < 0 ? errno : 0;
	fd = open_event(&raw, tenant, 0);
	f.raw_errno = fd < 0 ? errno : 0;

	xwrite(ready, "r", 1);
	xread(go, &c, 1);	/* root: web and sibling have exited */
	if (f.opened) {
		for (cpu = 0; cpu < ncpus; cpu++) {
			if (read(cfd[cpu], &n, sizeof(n)) != sizeof(n))
				die("read count");
			f.getppids += n;
			walk(&f, rb[cpu]);
		}
	}
	xwrite(out, &f, sizeof(f));
	exit(0);
}

static void web_task(int go, int to_sib, int from_sib)
{
	char c;
	int i;

	join(ALT "/tenant/web");
	prctl(PR_SET_NAME, "tenant-web");
	xread(go, &c, 1);
	for (i = 0; i < GETPPIDS; i++)
		syscall(SYS_getppid);
	for (i = 0; i < ROUNDTRIPS; i++) {
		xwrite(to_sib, "p", 1);
		xread(from_sib, &c, 1);
	}
	exit(0);
}

static void sibling_task(int go, int from_web, int to_web)
{
	char c;
	int i;

	join(ALT "/sibling");
	prctl(PR_SET_NAME, SIBLING_COMM);
	xread(go, &c, 1);
	for (i = 0; i < ROUNDTRIPS; i++) {
		xread(from_web, &c, 1);
		xwrite(to_web, "q", 1);
	}
	exit(0);
}

static pid_t spawn(void (*fn)(int, int, int), int a, int b, int c)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (!pid)
		fn(a, b, c);
	return pid;
}

static int wait_ok(pid_t pid, const char *who)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "cgroup_delegation: %s failed (status %#x)\n",
			who, status);
		return 0;
	}
	return 1;
}

static const char *err_name(int e)
{
	return e ? strerror(e) : "opened";
}

int main(void)
{
	int ready[2], rgo[2], out[2], wgo[2], sgo[2], w2s[2], s2w[2], ok = 1;
	struct findings f;
	char path[128], c;
	int fd;

	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;
	pin_to_cpu0();
	if (access(CGROUP_FS "/cgroup.controllers", F_OK)) {
		/* Never over the host's own mount: a directory of ours. */
		snprintf(root, sizeof(root), "/tmp/cgroup_delegation.XXXXXX");
		if (!mkdtemp(root) || mount("cgroup2", root, "cgroup2", 0, NULL))
			die("mount cgroup2");
	}
	/*
	 * Make the implicit perf_event controller reach new cgroups (see
	 * dispatch_bench.c's make_cgroups()); where pids is bound to a v1
	 * hierarchy the write fails, and perf_event is there already.
	 */
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "+pids", 5) != 5 || write(fd, "-pids", 5) != 5)
		fprintf(stderr, "cgroup_delegation: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (cgroup_dir(ALT, 0) || cgroup_dir(ALT "/tenant", 0) ||
	    cgroup_dir(ALT "/tenant/web", 0) || cgroup_dir(ALT "/sibling", 0))
		die("mkdir " ALT);
	if (pipe(ready) || pipe(rgo) || pipe(out) || pipe(wgo) || pipe(sgo) ||
	    pipe(w2s) || pipe(s2w))
		die("pipe");

	sibling_pid = spawn(sibling_task, sgo[0], w2s[0], s2w[1]);
	web_pid = spawn(web_task, wgo[0], w2s[1], s2w[0]);
	/* The reader knows the others' pids: it was forked after them. */
	reader_pid = fork();
	if (reader_pid < 0)
		die("fork");
	if (!reader_pid) {
		reader_pid = getpid();
		reader(ready[1], rgo[0], out[1]);
	}

	xread(ready[0], &c, 1);
	xwrite(wgo[1], "g", 1);
	xwrite(sgo[1], "g", 1);
	ok &= wait_ok(web_pid, "web");
	ok &= wait_ok(sibling_pid, "sibling");
	xwrite(rgo[1], "g", 1);
	xread(out[0], &f, sizeof(f));
	ok &= wait_ok(reader_pid, "reader");
	cgroup_dir(ALT "/tenant/web", 1);
	cgroup_dir(ALT "/tenant", 1);
	cgroup_dir(ALT "/sibling", 1);
	cgroup_dir(ALT, 1);
	if (strcmp(root, CGROUP_FS)) {
		umount(root);
		rmdir(root);
	}

	printf("delegated cgroup events, uid 65534 in its own user and cgroup namespaces\n");
	printf("  per-CPU events on its own cgroups:     %s\n", err_name(f.open_errno));
	printf("  an event on a cgroup outside its root: %s\n", err_name(f.outside_errno));
	printf("  a raw sched:sched_switch sampler:      %s\n", err_name(f.raw_errno));
	if (!f.opened) {
		printf("  (no prototype in this kernel: nothing to measure)\n");
		return 1;
	}
	printf("  getppid() calls counted in web:        %lld of %d\n",
	       f.getppids, GETPPIDS);
	printf("  side-band records:                     %ld (lost %ld)\n",
	       f.records, f.lost);
	printf("    context switches:                    %ld, to or from the sibling: %ld\n",
	       f.switches, f.switches_to_sibling);
	printf("    comm: %ld, fork/exit: %ld\n", f.comms, f.forks_exits);
	printf("  pids outside alt/tenant named:         the sibling's %ld times, others %ld times\n",
	       f.names_sibling, f.names_other);
	printf("  the sibling's comm \"%s\" seen:  %ld times\n", SIBLING_COMM,
	       f.names_sibling_comm);
	if (f.getppids != GETPPIDS) {
		printf("  wrong count: %lld getppid() calls, %d made\n",
		       f.getppids, GETPPIDS);
		ok = 0;
	}
	if (!f.outside_errno)
		ok = 0;
	return ok ? 0 : 1;
}
