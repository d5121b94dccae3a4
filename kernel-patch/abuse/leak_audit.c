// SPDX-License-Identifier: GPL-2.0
/*
 * leak_audit: what a scoped reader that is an ordinary user can get,
 * checked record by record. For every event a scope allows (software
 * events, the syscall, page allocator and a few other tracepoints, the
 * side band) and every sample_type bit, it opens the event on every CPU
 * from a reader that is pid 1 of its own pid namespace in its own user +
 * tracer namespace (a refusal is recorded with its errno), has a
 * workload run in scope, in a sibling tracer namespace and on the host,
 * and checks every record it got:
 *
 *  - no kernel address: no u64 of a non-raw field in
 *    [0xffff800000000000, vsyscall page) or in the kernel text range
 *    that run-abuse.sh read from /proc/kallsyms as root ($ABUSE_KTEXT),
 *    except the PERF_CONTEXT_* markers of a callchain;
 *  - no physical address: PHYS_ADDR and DATA_PAGE_SIZE refused, the
 *    page allocator's pfn cleared;
 *  - no foreign pid: every pid/tid a record is about is one of the
 *    reader's pid namespace (the tasks of the scope write their pids to
 *    shared memory); the other side of a fork or switch may be 0;
 *    common_pid is 0;
 *  - nothing about a task out of scope: the sibling's and host's marker
 *    system calls (close(MARK)) and comm names never show up.
 *
 * The scope's own marker must show up in sys_enter, or the check would be
 * vacuous. Exit status 1 on any violation.
 *
 *   leak_audit
 */
#include "abuse.h"

#include <linux/hw_breakpoint.h>
#include <sys/prctl.h>

#define MARK_IN		0x4c4b0001
#define MARK_SIB	0x4c4b0002
#define MARK_HOST	0x4c4b0003
#define RING_PAGES	16
#define MAX_CPUS	8
#define MARKERS		16

struct shared {
	volatile int	gen;		/* round the reader asks for */
	volatile int	done[3];	/* round each workload finished */
	volatile int	quit;
	int		nr_tids;
	pid_t		tids[4096];	/* in the reader's pid namespace */
};

static struct shared *sh;
static uint64_t ktext_lo, ktext_hi;

/* --- workloads ------------------------------------------------------- */

/* /tmp/COMM.map: a file each workload maps executable every round. */
static void map_file_path(char *buf, size_t len, const char *comm)
{
	snprintf(buf, len, "/tmp/%s.map", comm);
}

static void map_named_file(const char *comm)
{
	long page = sysconf(_SC_PAGESIZE);
	char path[64];
	void *p;
	int fd;

	map_file_path(path, sizeof(path), comm);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	p = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (p != MAP_FAILED)
		munmap(p, page);
	close(fd);
}

/* Make the workloads' files: a page of zeroes, mode 0755. */
static int make_map_files(void)
{
	static const char *const comms[] = { "leak-in", "leak-sib", "leak-host" };
	char path[64], zero[4096] = {};

	for (size_t i = 0; i < 3; i++) {
		int fd;

		map_file_path(path, sizeof(path), comms[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (fd < 0 || write(fd, zero, sizeof(zero)) != sizeof(zero))
			return -1;
		close(fd);
	}
	return 0;
}

static void workload(int who, int mark, const char *comm, bool record_tids)
{
	long page = sysconf(_SC_PAGESIZE);
	int seen = 0;

	pin_to_cpu(0);
	prctl(PR_SET_NAME, comm);
	if (record_tids)
		sh->tids[__atomic_fetch_add(&sh->nr_tids, 1, __ATOMIC_SEQ_CST)] = getpid();
	while (!sh->quit) {
		char *mem;
		pid_t pid;

		if (sh->gen == seen) {
			usleep(1000);
			continue;
		}
		seen = sh->gen;
		prctl(PR_SET_NAME, comm);
		for (int i = 0; i < MARKERS; i++)
			syscall(__NR_close, mark);
		mem = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem != MAP_FAILED) {
			for (int p = 0; p < 8; p++)
				mem[p * page] = 1;
			munmap(mem, 8 * page);
		}
		/* An executable mapping of a file named after the workload. */
		map_named_file(comm);
		pid = fork();
		if (pid == 0) {
			if (record_tids)
				sh->tids[__atomic_fetch_add(&sh->nr_tids, 1,
							    __ATOMIC_SEQ_CST)] = getpid();
			prctl(PR_SET_NAME, comm);
			syscall(__NR_close, mark);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
		sched_yield();
		sh->done[who] = seen;
	}
	_exit(0);
}

/* --- checks -------------------------------------------------------------- */

struct verdict {
	unsigned long records, samples, in_markers, hidden_emitters;
	unsigned long violations;
};

static unsigned int cur_type;	/* of the record being checked */

static void violation(struct verdict *v, const char *what, uint64_t value)
{
	v->violations++;
	if (v->violations <= 5)
		printf("    VIOLATION: %s (%#llx) in a record of type %u\n", what,
		       (unsigned long long)value, cur_type);
}

static bool kernel_address(uint64_t v)
{
	if (v >= (uint64_t)-4096)	/* -errno, PERF_CONTEXT_*, -1 */
		return false;
	if (v >= 0xffff800000000000ULL && v < 0xffffffffff600000ULL)
		return true;
	return ktext_lo && v >= ktext_lo && v < ktext_hi;
}

static bool in_scope_tid(uint32_t tid)
{
	for (int i = 0; i < sh->nr_tids; i++)
		if ((uint32_t)sh->tids[i] == tid)
			return true;
	return false;
}

static void check_tid(struct verdict *v, const char *what, uint32_t tid,
		      bool zero_ok)
{
	if ((tid == 0 && zero_ok) || (tid != 0 && in_scope_tid(tid)))
		return;
	violation(v, what, tid);
}

static void check_words(struct verdict *v, const char *what,
			const uint64_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (kernel_address(p[i]))
			violation(v, what, p[i]);
}

struct tp_info {
	const char	*name;
	int		id;
};

static struct tp_info tps[] = {
	{ "raw_syscalls:sys_enter" }, { "raw_syscalls:sys_exit" },
	{ "syscalls:sys_enter_close" }, { "kmem:mm_page_alloc" },
	{ "kmem:mm_page_free" }, { "sched:sched_switch" },
	{ "sched:sched_process_fork" }, { "task:task_newtask" },
	{ "signal:signal_generate" },
};

static void check_raw(struct verdict *v, uint64_t config, const uint8_t *raw,
		      uint32_t size)
{
	int32_t common_pid;
	const char *name = NULL;

	if (size < 8)
		return;
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++)
		if (tps[i].id == (int)config)
			name = tps[i].name;
	memcpy(&common_pid, raw + 4, 4);
	if (common_pid)
		violation(v, "raw common_pid not cleared", common_pid);
	if (!name)
		return;
	if (!strcmp(name, "raw_syscalls:sys_enter") && size >= 24) {
		int64_t id;
		uint64_t args[6];

		memcpy(&id, raw + 8, 8);
		memcpy(args, raw + 16, size >= 64 ? 48 : 8);
		check_words(v, "kernel address in sys_enter args", args,
			    size >= 64 ? 6 : 1);
		if (id == __NR_close && (int)args[0] == MARK_IN)
			v->in_markers++;
		if (id == __NR_close && ((int)args[0] == MARK_SIB ||
					 (int)args[0] == MARK_HOST))
			violation(v, "out-of-scope close() marker", args[0]);
	} else if (!strcmp(name, "syscalls:sys_enter_close") && size >= 24) {
		uint64_t fd;

		memcpy(&fd, raw + 16, 8);
		if ((int)fd == MARK_IN)
			v->in_markers++;
		if ((int)fd == MARK_SIB || (int)fd == MARK_HOST)
			violation(v, "out-of-scope close() marker", fd);
	} else if (!strncmp(name, "kmem:", 5) && size >= 16) {
		uint64_t pfn;

		memcpy(&pfn, raw + 8, 8);
		if (pfn)
			violation(v, "page frame number in kmem payload", pfn);
	} else if (!strcmp(name, "sched:sched_switch") && size >= 60) {
		int32_t prev, next;

		memcpy(&prev, raw + 24, 4);
		memcpy(&next, raw + 56, 4);
		check_tid(v, "sched_switch prev_pid", prev, true);
		check_tid(v, "sched_switch next_pid", next, true);
	} else if (size >= 16) {
		check_words(v, "kernel address in raw payload",
			    (const uint64_t *)(raw + 8), (size - 8) / 8);
	}
}

/* The sample_id trailer's size and where its tid is, for sample_id_all. */
static size_t sample_id_size(uint64_t st, int *tid_off)
{
	size_t size = 0;

	*tid_off = -1;
	if (st & PERF_SAMPLE_TID) {
		*tid_off = 0;
		size += 8;
	}
	size += 8 * !!(st & PERF_SAMPLE_TIME) + 8 * !!(st & PERF_SAMPLE_ID) +
		8 * !!(st & PERF_SAMPLE_STREAM_ID) + 8 * !!(st & PERF_SAMPLE_CPU) +
		8 * !!(st & PERF_SAMPLE_IDENTIFIER);
	return size;
}

static void check_sample(struct verdict *v, const struct perf_event_attr *attr,
			 const uint8_t *p, const uint8_t *end)
{
	uint64_t st = attr->sample_type;
	const uint64_t *u = (const uint64_t *)p;

	v->samples++;
#define NEXT(n) do { u += (n); if ((const uint8_t *)u > end) goto short_; } while (0)
	if (st & PERF_SAMPLE_IDENTIFIER)
		NEXT(1);
	if (st & PERF_SAMPLE_IP) {
		if (kernel_address(*u))
			violation(v, "kernel IP", *u);
		NEXT(1);
	}
	if (st & PERF_SAMPLE_TID) {
		check_tid(v, "sample pid", ((const uint32_t *)u)[0], false);
		check_tid(v, "sample tid", ((const uint32_t *)u)[1], false);
		NEXT(1);
	}
	if (st & PERF_SAMPLE_TIME)
		NEXT(1);
	if (st & PERF_SAMPLE_ADDR) {
		check_words(v, "kernel ADDR", u, 1);
		NEXT(1);
	}
	if (st & PERF_SAMPLE_ID)
		NEXT(1);
	if (st & PERF_SAMPLE_STREAM_ID)
		NEXT(1);
	if (st & PERF_SAMPLE_CPU)
		NEXT(1);
	if (st & PERF_SAMPLE_PERIOD)
		NEXT(1);
	if (st & PERF_SAMPLE_READ)
		NEXT(1);	/* read_format is 0: the value */
	if (st & PERF_SAMPLE_CALLCHAIN) {
		uint64_t nr = *u;

		NEXT(1);
		if ((const uint8_t *)(u + nr) > end)
			goto short_;
		check_words(v, "kernel address in callchain", u, nr);
		NEXT(nr);
	}
	if (st & PERF_SAMPLE_RAW) {
		uint32_t size = *(const uint32_t *)u;
		const uint8_t *raw = (const uint8_t *)u + 4;

		if (raw + size > end)
			goto short_;
		if (attr->type == PERF_TYPE_TRACEPOINT)
			check_raw(v, attr->config, raw, size);
		u = (const uint64_t *)(raw + size);
	}
	/* Anything further is a type a scope should have refused: scan it. */
	if ((const uint8_t *)u < end)
		check_words(v, "kernel address in a later sample field", u,
			    (end - (const uint8_t *)u) / 8);
	return;
short_:
	violation(v, "sample shorter than its sample_type", st);
#undef NEXT
}

static void check_record(struct verdict *v, const struct perf_event_attr *attr,
			 const struct perf_event_header *hdr)
{
	const uint8_t *body = (const uint8_t *)(hdr + 1);
	const uint8_t *end = (const uint8_t *)hdr + hdr->size;
	const uint32_t *u32 = (const uint32_t *)body;
	int tid_off;
	size_t id_size = attr->sample_id_all ?
			 sample_id_size(attr->sample_type, &tid_off) : 0;

	v->records++;
	cur_type = hdr->type;
	if (hdr->type == PERF_RECORD_SAMPLE) {
		check_sample(v, attr, body, end);
		return;
	}
	/*
	 * sample_id names the task that was current when the record was
	 * made, which need not be the one it is about (a statedump runs in
	 * a kworker, LOST in whatever task lost it): 0 (hidden) is allowed,
	 * a pid is not unless it is in scope.
	 */
	if (id_size && tid_off >= 0 && end - id_size >= body) {
		uint32_t tid = *(const uint32_t *)(end - id_size + 4);

		if (!tid)
			v->hidden_emitters++;
		check_tid(v, "sample_id tid", tid, true);
	}
	cur_type = hdr->type;
	switch (hdr->type) {
	case PERF_RECORD_COMM:
		check_tid(v, "COMM pid", u32[0], false);
		check_tid(v, "COMM tid", u32[1], false);
		if (strstr((const char *)&u32[2], "leak-sib") ||
		    strstr((const char *)&u32[2], "leak-host"))
			violation(v, "COMM of an out-of-scope task", u32[1]);
		break;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		check_tid(v, "FORK/EXIT pid", u32[0], false);
		check_tid(v, "FORK/EXIT ppid", u32[1], true);
		check_tid(v, "FORK/EXIT tid", u32[2], false);
		check_tid(v, "FORK/EXIT ptid", u32[3], true);
		break;
	case PERF_RECORD_SWITCH_CPU_WIDE:
		check_tid(v, "SWITCH next_prev_pid", u32[0], true);
		check_tid(v, "SWITCH next_prev_tid", u32[1], true);
		break;
	case PERF_RECORD_TRACER_NAMESPACES: {
		const uint64_t *u64 = (const uint64_t *)&u32[2];
		uint64_t nr_ns = u64[0], nr_tracer, nr_pid;

		check_tid(v, "TRACER_NAMESPACES pid", u32[0], false);
		check_tid(v, "TRACER_NAMESPACES tid", u32[1], false);
		u64 += 1 + 2 * nr_ns;
		if ((const uint8_t *)u64 >= end)
			break;
		nr_tracer = *u64++;
		u64 += nr_tracer;
		if ((const uint8_t *)u64 >= end)
			break;
		nr_pid = *u64++;
		if (nr_pid && (const uint8_t *)(u64 + 1) <= end) {
			check_tid(v, "TRACER_NAMESPACES pids[0].pid",
				  ((const uint32_t *)u64)[0], false);
			check_tid(v, "TRACER_NAMESPACES pids[0].tid",
				  ((const uint32_t *)u64)[1], false);
		}
		break;
	}
	case PERF_RECORD_MMAP:
	case PERF_RECORD_MMAP2: {
		/*
		 * { u32 pid, tid; u64 addr, len, pgoff; [MMAP2: 24 bytes of
		 * maj/min/ino/gen or build id; u32 prot, flags;] filename }
		 */
		const uint64_t *u64 = (const uint64_t *)&u32[2];
		const char *name = (const char *)&u32[8];

		if (hdr->type == PERF_RECORD_MMAP2)
			name = (const char *)&u32[16];
		check_tid(v, "MMAP pid", u32[0], false);
		check_tid(v, "MMAP tid", u32[1], false);
		check_words(v, "kernel address in an MMAP record", u64, 2);
		if ((const uint8_t *)name >= end)
			break;
		if (memmem(name, end - (const uint8_t *)name, "leak-sib", 8) ||
		    memmem(name, end - (const uint8_t *)name, "leak-host", 9))
			violation(v, "MMAP of an out-of-scope task", u32[1]);
		if (memmem(name, end - (const uint8_t *)name, "leak-in", 7))
			v->in_markers++;
		break;
	}
	case PERF_RECORD_LOST:
	case PERF_RECORD_THROTTLE:
	case PERF_RECORD_UNTHROTTLE:
	case PERF_RECORD_LOST_SAMPLES:
		break;
	default:
		violation(v, "record type a scope should not produce", hdr->type);
		check_words(v, "kernel address in an unexpected record",
			    (const uint64_t *)body, (end - body) / 8);
	}
}

struct drain_ctx {
	struct verdict *v;
	const struct perf_event_attr *attr;
};

static void drain_one(const struct perf_event_header *rec, void *arg)
{
	struct drain_ctx *ctx = arg;

	check_record(ctx->v, ctx->attr, rec);
}

static void drain(struct verdict *v, const struct perf_event_attr *attr,
		  void *base)
{
	struct drain_ctx ctx = { v, attr };

	ring_drain(base, RING_PAGES * sysconf(_SC_PAGESIZE), drain_one, &ctx);
}

/* --- cases ------------------------------------------------------------- */

static const struct { uint64_t bit; const char *name; } bits[] = {
	{ PERF_SAMPLE_IP, "IP" }, { PERF_SAMPLE_TID, "TID" },
	{ PERF_SAMPLE_TIME, "TIME" }, { PERF_SAMPLE_ADDR, "ADDR" },
	{ PERF_SAMPLE_READ, "READ" }, { PERF_SAMPLE_CALLCHAIN, "CALLCHAIN" },
	{ PERF_SAMPLE_ID, "ID" }, { PERF_SAMPLE_CPU, "CPU" },
	{ PERF_SAMPLE_PERIOD, "PERIOD" }, { PERF_SAMPLE_STREAM_ID, "STREAM_ID" },
	{ PERF_SAMPLE_RAW, "RAW" }, { PERF_SAMPLE_BRANCH_STACK, "BRANCH_STACK" },
	{ PERF_SAMPLE_REGS_USER, "REGS_USER" },
	{ PERF_SAMPLE_STACK_USER, "STACK_USER" },
	{ PERF_SAMPLE_WEIGHT, "WEIGHT" }, { PERF_SAMPLE_DATA_SRC, "DATA_SRC" },
	{ PERF_SAMPLE_IDENTIFIER, "IDENTIFIER" },
	{ PERF_SAMPLE_TRANSACTION, "TRANSACTION" },
	{ PERF_SAMPLE_REGS_INTR, "REGS_INTR" },
	{ PERF_SAMPLE_PHYS_ADDR, "PHYS_ADDR" }, { PERF_SAMPLE_AUX, "AUX" },
	{ PERF_SAMPLE_CGROUP, "CGROUP" },
	{ PERF_SAMPLE_DATA_PAGE_SIZE, "DATA_PAGE_SIZE" },
	{ PERF_SAMPLE_CODE_PAGE_SIZE, "CODE_PAGE_SIZE" },
	{ PERF_SAMPLE_WEIGHT_STRUCT, "WEIGHT_STRUCT" },
};

struct totals {
	struct errno_counts opens;
	unsigned long cases, runs, records, violations, in_markers, hidden_emitters;
};

static int ncpus;

/* Open @attr on every CPU, run a round of the workloads, check. */
static void run_case(struct totals *t, const char *name,
		     struct perf_event_attr *attr, bool want_marker)
{
	long page = sysconf(_SC_PAGESIZE);
	int fds[MAX_CPUS], n = 0, fd = -1, err = 0;
	void *rings[MAX_CPUS];
	struct verdict v = {};

	t->cases++;
	for (int cpu = 0; cpu < ncpus && cpu < MAX_CPUS; cpu++) {
		fd = sys_perf_event_open(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = errno;
			break;
		}
		rings[n] = mmap(NULL, (RING_PAGES + 1) * page,
				PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (rings[n] == MAP_FAILED) {
			err = errno;
			close(fd);
			fd = -1;
			break;
		}
		fds[n++] = fd;
	}
	if (fd < 0) {
		errno = err;
		count_errno(&t->opens, -1);
		printf("  %-44s refused: %s\n", name, strerrorname_np(err));
		for (int i = 0; i < n; i++) {
			munmap(rings[i], (RING_PAGES + 1) * page);
			close(fds[i]);
		}
		return;
	}
	count_errno(&t->opens, 0);
	for (int i = 0; i < n; i++) {
		ioctl(fds[i], PERF_EVENT_IOC_ENABLE, 0);
		if (attr->tracer_namespaces || attr->mmap || attr->mmap_data)
			ioctl(fds[i], PERF_EVENT_IOC_TRACER_STATEDUMP, 0);
	}
	sh->gen++;
	for (int w = 0; w < 3; w++) {
		double deadline = now() + 20;

		while (sh->done[w] != sh->gen && now() < deadline)
			usleep(1000);
		/* Without the other workloads the isolation check is vacuous. */
		if (sh->done[w] != sh->gen) {
			printf("    workload %d did not finish its round\n", w);
			v.violations++;
		}
	}
	for (int i = 0; i < n; i++) {
		ioctl(fds[i], PERF_EVENT_IOC_DISABLE, 0);
		drain(&v, attr, rings[i]);
		munmap(rings[i], (RING_PAGES + 1) * page);
		close(fds[i]);
	}
	t->runs++;
	t->records += v.records;
	t->violations += v.violations;
	t->in_markers += v.in_markers;
	t->hidden_emitters += v.hidden_emitters;
	printf("  %-44s ok: %lu records, %lu samples, %lu scope markers, %lu sample_id tid 0, %lu violations%s\n",
	       name, v.records, v.samples, v.in_markers, v.hidden_emitters, v.violations,
	       want_marker && !v.in_markers ? " (NO SCOPE MARKER: vacuous)" : "");
	if (want_marker && !v.in_markers)
		t->violations++;
}

static struct perf_event_attr base_attr(uint32_t type, uint64_t config)
{
	struct perf_event_attr attr = {
		.type			  = type,
		.size			  = sizeof(attr),
		.config			  = config,
		.sample_period		  = type == PERF_TYPE_SOFTWARE &&
					    (config == PERF_COUNT_SW_CPU_CLOCK ||
					     config == PERF_COUNT_SW_TASK_CLOCK) ?
					    100000 : 1,
		.sample_id_all		  = 1,
		.disabled		  = 1,
		.exclude_hv		  = 1,
		.exclude_callchain_kernel = 1,
		.tracer_scope		  = 1,
	};
	return attr;
}

static void reader(void)
{
	static const struct { uint64_t config; const char *name; } sw[] = {
		{ PERF_COUNT_SW_PAGE_FAULTS, "sw:page-faults" },
		{ PERF_COUNT_SW_CONTEXT_SWITCHES, "sw:context-switches" },
		{ PERF_COUNT_SW_CPU_CLOCK, "sw:cpu-clock" },
		{ PERF_COUNT_SW_TASK_CLOCK, "sw:task-clock" },
		{ PERF_COUNT_SW_CPU_MIGRATIONS, "sw:cpu-migrations" },
		{ PERF_COUNT_SW_ALIGNMENT_FAULTS, "sw:alignment-faults" },
		{ PERF_COUNT_SW_BPF_OUTPUT, "sw:bpf-output" },
	};
	struct totals t = {};
	char name[128];

	for (size_t e = 0; e < sizeof(sw) / sizeof(sw[0]) + sizeof(tps) / sizeof(tps[0]); e++) {
		bool is_tp = e >= sizeof(sw) / sizeof(sw[0]);
		size_t ti = e - sizeof(sw) / sizeof(sw[0]);
		const char *ev = is_tp ? tps[ti].name : sw[e].name;
		struct perf_event_attr attr;

		if (is_tp && tps[ti].id < 0) {
			printf("%s: no id (tracefs not readable), skipped\n", ev);
			continue;
		}
		printf("%s:\n", ev);
		for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
			attr = is_tp ? base_attr(PERF_TYPE_TRACEPOINT, tps[ti].id) :
				       base_attr(PERF_TYPE_SOFTWARE, sw[e].config);
			attr.sample_type = PERF_SAMPLE_TID | bits[b].bit |
					   (is_tp ? PERF_SAMPLE_RAW : 0);
			/*
			 * exclude_kernel only where the scope asks for it:
			 * it drops tracepoint and switch samples, which fire
			 * in the kernel.
			 */
			attr.exclude_kernel = bits[b].bit == PERF_SAMPLE_IP;
			if (bits[b].bit == PERF_SAMPLE_REGS_USER ||
			    bits[b].bit == PERF_SAMPLE_REGS_INTR)
				attr.sample_regs_user = attr.sample_regs_intr = 0xff;
			if (bits[b].bit == PERF_SAMPLE_STACK_USER)
				attr.sample_stack_user = 512;
			if (bits[b].bit == PERF_SAMPLE_BRANCH_STACK)
				attr.branch_sample_type = PERF_SAMPLE_BRANCH_ANY |
							  PERF_SAMPLE_BRANCH_USER;
			snprintf(name, sizeof(name), "%s", bits[b].name);
			run_case(&t, name, &attr, false);
		}
		/* The kernel parts the scope must refuse, asked for plainly. */
		attr = is_tp ? base_attr(PERF_TYPE_TRACEPOINT, tps[ti].id) :
			       base_attr(PERF_TYPE_SOFTWARE, sw[e].config);
		attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_IP;
		attr.exclude_kernel = 0;
		run_case(&t, "IP without exclude_kernel", &attr, false);
		attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_CALLCHAIN;
		attr.exclude_callchain_kernel = 0;
		attr.exclude_kernel = 1;
		run_case(&t, "CALLCHAIN without exclude_callchain_kernel", &attr, false);
		/* Everything a scope allows at once, with the side band. */
		attr = is_tp ? base_attr(PERF_TYPE_TRACEPOINT, tps[ti].id) :
			       base_attr(PERF_TYPE_SOFTWARE, sw[e].config);
		attr.sample_type = PERF_SAMPLE_IDENTIFIER |
				   PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
				   PERF_SAMPLE_ID | PERF_SAMPLE_STREAM_ID |
				   PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |
				   PERF_SAMPLE_READ | PERF_SAMPLE_CALLCHAIN |
				   (is_tp ? PERF_SAMPLE_RAW : 0);
		attr.task = attr.comm = attr.comm_exec = attr.context_switch = 1;
		attr.tracer_namespaces = 1;
		run_case(&t, "all allowed + side band", &attr,
			 is_tp && (!strcmp(ev, "raw_syscalls:sys_enter") ||
				   !strcmp(ev, "syscalls:sys_enter_close")));
	}

	printf("side band (sw:dummy):\n");
	{
		static const char *const sb[] = {
			"task", "comm", "context_switch", "tracer_namespaces",
			"mmap", "mmap2", "mmap_data", "namespaces", "cgroup",
			"ksymbol", "bpf_event", "text_poke", "build_id",
		};

		for (size_t i = 0; i < sizeof(sb) / sizeof(sb[0]); i++) {
			struct perf_event_attr attr =
				base_attr(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_DUMMY);

			attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
					   PERF_SAMPLE_CPU | PERF_SAMPLE_ID;
			switch (i) {
			case 0: attr.task = 1; break;
			case 1: attr.comm = attr.comm_exec = 1; break;
			case 2: attr.context_switch = 1; break;
			case 3: attr.tracer_namespaces = 1; break;
			case 4: attr.mmap = 1; break;
			case 5: attr.mmap2 = attr.mmap = 1; break;
			case 6: attr.mmap_data = attr.mmap = 1; break;
			case 7: attr.namespaces = 1; break;
			case 8: attr.cgroup = 1; break;
			case 9: attr.ksymbol = 1; break;
			case 10: attr.bpf_event = 1; break;
			case 11: attr.text_poke = 1; break;
			case 12: attr.mmap = attr.mmap2 = attr.build_id = 1; break;
			}
			/* An mmap case must see the in-scope workload's file. */
			run_case(&t, sb[i], &attr, i == 4 || i == 5 || i == 6 || i == 12);
		}
	}
	printf("other event types:\n");
	{
		static const struct { uint32_t type; uint64_t config; const char *name; } other[] = {
			{ PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, "hw:cycles" },
			{ PERF_TYPE_HW_CACHE, 0, "hw-cache:l1d-read-access" },
			{ PERF_TYPE_RAW, 0x3c, "raw:0x3c" },
			{ PERF_TYPE_BREAKPOINT, 0, "breakpoint" },
		};

		for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			struct perf_event_attr attr = base_attr(other[i].type,
								other[i].config);

			attr.sample_type = PERF_SAMPLE_TID;
			if (other[i].type == PERF_TYPE_BREAKPOINT) {
				attr.bp_type = HW_BREAKPOINT_W;
				attr.bp_addr = (uintptr_t)&sh->gen;
				attr.bp_len = HW_BREAKPOINT_LEN_4;
			}
			run_case(&t, other[i].name, &attr, false);
		}
	}
	sh->quit = 1;
	printf("leak_audit: cases=%lu opened=%lu records=%lu scope_markers=%lu sample_id_tid_0=%lu violations=%lu\n",
	       t.cases, t.runs, t.records, t.in_markers, t.hidden_emitters, t.violations);
	print_errno_counts("leak_audit: open", &t.opens);
	printf("leak_audit: %s\n", t.violations ? "FAIL" : "PASS");
	exit(t.violations ? 1 : 0);
}

/* Fork into a new user + tracer + pid namespace; run @fn there as pid 1. */
static pid_t in_new_scope(void (*fn)(void))
{
	pid_t outer = fork();

	if (outer != 0)
		return outer;
	if (new_tracer_ns(CLONE_NEWPID)) {
		perror("leak_audit: unshare");
		_exit(2);
	}
	pid_t inner = fork();

	if (inner == 0) {
		fn();
		_exit(0);
	}
	_exit(inner > 0 ? wait_for(inner) : 2);
}

static void reader_scope(void)
{
	pid_t w;

	sh->tids[sh->nr_tids++] = getpid();	/* 1 */
	w = fork();
	if (w == 0)
		workload(0, MARK_IN, "leak-in", true);
	reader();
}

static void sibling_scope(void)
{
	workload(1, MARK_SIB, "leak-sib", false);
}

int main(void)
{
	const char *ktext = getenv("ABUSE_KTEXT");
	pid_t host, sib, rd;
	int status;

	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ktext)
		sscanf(ktext, "%llx %llx", (unsigned long long *)&ktext_lo,
		       (unsigned long long *)&ktext_hi);
	printf("leak_audit: uid %d, %d CPUs, kernel text %#llx-%#llx%s\n",
	       getuid(), ncpus, (unsigned long long)ktext_lo,
	       (unsigned long long)ktext_hi, ktext ? "" : " (unknown: set ABUSE_KTEXT)");
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++)
		tps[i].id = tracepoint_id(tps[i].name);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	if (make_map_files()) {
		perror("leak_audit: /tmp/leak-*.map");
		return 2;
	}
	fflush(stdout);
	host = fork();
	if (host == 0)
		workload(2, MARK_HOST, "leak-host", false);
	sib = in_new_scope(sibling_scope);
	rd = in_new_scope(reader_scope);
	status = wait_for(rd);
	sh->quit = 1;
	wait_for(sib);
	wait_for(host);
	return status;
}
