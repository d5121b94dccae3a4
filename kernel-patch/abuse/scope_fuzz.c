// SPDX-License-Identifier: GPL-2.0
/*
 * scope_fuzz: perf_event_open() fuzzing in perf_fuzzer's style, limited
 * to attr.tracer_scope and its combinations with the other attr fields,
 * from a task that is root only in its own user + tracer namespace.
 * Random type/config (software, tracepoints incl. ids from tracefs,
 * hardware, breakpoint, bogus), sample_type, read_format, exclude_*,
 * the side-band bits, precise_ip, wakeups; random pid, cpu, group_fd
 * and flags; then ioctls, mmap/munmap, read and close on the events it
 * got, while child tasks of the scope make system calls, fault and fork.
 *
 *   scope_fuzz [SECONDS [SEED]]
 *
 * The sequence of calls depends only on SEED (printed), so a run can be
 * replayed; what the children do meanwhile is not replayed.
 */
#include <linux/bpf.h>

#include "abuse.h"

#define MAX_FDS		64

static const char *const tracepoints[] = {
	"raw_syscalls:sys_enter", "raw_syscalls:sys_exit",
	"syscalls:sys_enter_getppid", "syscalls:sys_exit_close",
	"kmem:mm_page_alloc", "kmem:mm_page_free", "sched:sched_switch",
	"sched:sched_process_fork", "sched:sched_wakeup", "irq:irq_handler_entry",
	"signal:signal_generate", "task:task_newtask",
};

static int tp_ids[sizeof(tracepoints) / sizeof(tracepoints[0])];
static int nr_tp_ids;

struct slot {
	int	fd;
	void	*ring;
	size_t	ring_len;
	bool	scoped;
};

/* A loaded program handed over by bpf_handoff, -1 without one. */
static int bpf_prog_fd = -1;
/* Times a program was attached to a scoped event: must stay 0. */
static unsigned long bpf_on_scoped;

static struct slot slots[MAX_FDS];

static uint64_t pick_config(uint64_t *s, uint32_t type)
{
	switch (type) {
	case PERF_TYPE_SOFTWARE:
		return rnd_below(s, 14);
	case PERF_TYPE_TRACEPOINT:
		if (nr_tp_ids && rnd_below(s, 8))
			return tp_ids[rnd_below(s, nr_tp_ids)];
		return rnd_below(s, 2000);
	case PERF_TYPE_HARDWARE:
		return rnd_below(s, 10);
	default:
		return rnd(s) & (rnd_below(s, 2) ? 0xffff : ~0ULL);
	}
}

/*
 * Most attrs are plausible for a scope, so that opens get past the
 * checks and the events run: a software event or a known tracepoint,
 * sample types a scope allows plus sometimes one it does not, valid
 * excludes; random side-band bits, inherit, wakeups, read_format.
 */
static void sane_attr(uint64_t *s, struct perf_event_attr *attr)
{
	static const uint64_t allowed[] = {
		PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_SAMPLE_ID,
		PERF_SAMPLE_STREAM_ID, PERF_SAMPLE_CPU, PERF_SAMPLE_PERIOD,
		PERF_SAMPLE_READ, PERF_SAMPLE_RAW, PERF_SAMPLE_IDENTIFIER,
		PERF_SAMPLE_IP, PERF_SAMPLE_CALLCHAIN,
	};
	static const uint64_t sw[] = {
		PERF_COUNT_SW_CPU_CLOCK, PERF_COUNT_SW_TASK_CLOCK,
		PERF_COUNT_SW_PAGE_FAULTS, PERF_COUNT_SW_PAGE_FAULTS_MIN,
		PERF_COUNT_SW_CONTEXT_SWITCHES, PERF_COUNT_SW_CPU_MIGRATIONS,
		PERF_COUNT_SW_DUMMY,
	};

	attr->size = sizeof(*attr);
	if (nr_tp_ids && rnd_below(s, 2)) {
		attr->type = PERF_TYPE_TRACEPOINT;
		attr->config = tp_ids[rnd_below(s, nr_tp_ids)];
	} else {
		attr->type = PERF_TYPE_SOFTWARE;
		attr->config = sw[rnd_below(s, sizeof(sw) / sizeof(sw[0]))];
	}
	for (int i = rnd_below(s, 6); i > 0; i--)
		attr->sample_type |= allowed[rnd_below(s, sizeof(allowed) / sizeof(allowed[0]))];
	if (rnd_below(s, 8) == 0)
		attr->sample_type |= 1ULL << rnd_below(s, 25);
	attr->sample_period = rnd_below(s, 4) ? 1 + rnd_below(s, 3) : 1 + rnd_below(s, 100000);
	attr->read_format = rnd(s) & 0x1f;
	attr->exclude_kernel = (attr->sample_type & PERF_SAMPLE_IP) ?
			       rnd_below(s, 8) != 0 : rnd_below(s, 4) == 0;
	attr->exclude_callchain_kernel = rnd_below(s, 8) != 0;
	attr->exclude_user = rnd_below(s, 8) == 0;
	attr->exclude_idle = rnd_below(s, 2);
	attr->disabled = rnd_below(s, 2);
	attr->inherit = rnd_below(s, 4) == 0;
	attr->sample_id_all = rnd_below(s, 4) != 0;
	attr->task = rnd_below(s, 2);
	attr->comm = rnd_below(s, 2);
	attr->comm_exec = rnd_below(s, 2);
	attr->context_switch = rnd_below(s, 2);
	attr->tracer_namespaces = rnd_below(s, 2);
	attr->mmap = rnd_below(s, 16) == 0;
	attr->namespaces = rnd_below(s, 16) == 0;
	attr->watermark = rnd_below(s, 4) == 0;
	attr->wakeup_events = rnd_below(s, 4);
	attr->write_backward = rnd_below(s, 8) == 0;
	attr->use_clockid = rnd_below(s, 8) == 0;
	attr->clockid = rnd_below(s, 2) ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_RAW;
	if (attr->sample_type & PERF_SAMPLE_CALLCHAIN)
		attr->sample_max_stack = rnd_below(s, 130);
	attr->tracer_scope = 1;
}

static void random_attr(uint64_t *s, struct perf_event_attr *attr)
{
	static const uint32_t types[] = {
		PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, PERF_TYPE_TRACEPOINT,
		PERF_TYPE_SOFTWARE, PERF_TYPE_HARDWARE, PERF_TYPE_HW_CACHE,
		PERF_TYPE_RAW, PERF_TYPE_BREAKPOINT, 6, 7, 9, 100,
	};
	uint64_t bits = rnd(s);

	memset(attr, 0, sizeof(*attr));
	if (rnd_below(s, 4)) {
		sane_attr(s, attr);
		return;
	}
	attr->size = rnd_below(s, 16) ? sizeof(*attr) :
		     (rnd_below(s, 2) ? PERF_ATTR_SIZE_VER0 : rnd_below(s, 200));
	attr->type = types[rnd_below(s, sizeof(types) / sizeof(types[0]))];
	attr->config = pick_config(s, attr->type);
	/* Mostly small sample types, sometimes any bits at all. */
	attr->sample_type = rnd_below(s, 4) ? rnd(s) & ((1ULL << 25) - 1) &
					      rnd(s) & rnd(s) :
					      rnd(s) & ((1ULL << 26) - 1);
	if (rnd_below(s, 2))
		attr->sample_type |= PERF_SAMPLE_TID | PERF_SAMPLE_RAW;
	attr->read_format = rnd(s) & 0x1f;
	if (rnd_below(s, 2))
		attr->sample_freq = rnd_below(s, 3) ? rnd_below(s, 4) + 1 :
						      rnd(s) & 0xffffff;
	attr->freq = rnd_below(s, 6) == 0;
	attr->disabled = bits >> 0 & 1;
	attr->inherit = bits >> 1 & 1;
	attr->pinned = (bits >> 2 & 7) == 0;
	attr->exclusive = (bits >> 5 & 7) == 0;
	attr->exclude_user = (bits >> 8 & 3) == 0;
	attr->exclude_kernel = bits >> 10 & 1;
	attr->exclude_hv = bits >> 11 & 1;
	attr->exclude_idle = bits >> 12 & 1;
	attr->mmap = (bits >> 13 & 7) == 0;
	attr->comm = bits >> 16 & 1;
	attr->enable_on_exec = (bits >> 17 & 7) == 0;
	attr->task = bits >> 20 & 1;
	attr->watermark = (bits >> 21 & 3) == 0;
	attr->precise_ip = bits >> 23 & 3;
	attr->mmap_data = (bits >> 25 & 7) == 0;
	attr->sample_id_all = bits >> 28 & 1;
	attr->exclude_host = (bits >> 29 & 7) == 0;
	attr->exclude_guest = (bits >> 32 & 7) == 0;
	attr->exclude_callchain_kernel = bits >> 35 & 1;
	attr->exclude_callchain_user = (bits >> 36 & 3) == 0;
	attr->mmap2 = (bits >> 38 & 7) == 0;
	attr->comm_exec = bits >> 41 & 1;
	attr->use_clockid = (bits >> 42 & 7) == 0;
	attr->context_switch = bits >> 45 & 1;
	attr->write_backward = (bits >> 46 & 7) == 0;
	attr->namespaces = (bits >> 49 & 3) == 0;
	attr->ksymbol = (bits >> 51 & 15) == 0;
	attr->bpf_event = (bits >> 55 & 15) == 0;
	attr->aux_output = (bits >> 59 & 15) == 0;
	attr->cgroup = (rnd(s) & 15) == 0;
	attr->text_poke = (rnd(s) & 15) == 0;
	attr->build_id = (rnd(s) & 15) == 0;
	attr->inherit_thread = (rnd(s) & 7) == 0;
	attr->remove_on_exec = (rnd(s) & 7) == 0;
	attr->sigtrap = (rnd(s) & 31) == 0;
	attr->tracer_namespaces = rnd_below(s, 2);
	/* The bit under test, nearly always; a few unscoped for contrast. */
	attr->tracer_scope = rnd_below(s, 16) != 0;
	if (rnd_below(s, 64) == 0)	/* reserved bits must be refused */
		attr->__reserved_1 = 1 << rnd_below(s, 24);
	attr->wakeup_events = rnd_below(s, 3) ? rnd_below(s, 4) : rnd(s);
	attr->watermark ? (attr->wakeup_watermark = rnd_below(s, 1 << 16)) : 0;
	attr->clockid = rnd_below(s, 12);
	if (attr->sample_type & PERF_SAMPLE_REGS_USER || rnd_below(s, 8) == 0)
		attr->sample_regs_user = rnd(s) & 0xffffff;
	if (attr->sample_type & PERF_SAMPLE_REGS_INTR || rnd_below(s, 8) == 0)
		attr->sample_regs_intr = rnd(s) & 0xffffff;
	if (attr->sample_type & PERF_SAMPLE_STACK_USER)
		attr->sample_stack_user = rnd_below(s, 3) ? 8 * rnd_below(s, 512) :
							    (uint32_t)rnd(s);
	if (attr->sample_type & PERF_SAMPLE_BRANCH_STACK)
		attr->branch_sample_type = rnd(s) & 0x3ffff;
	if (attr->sample_type & PERF_SAMPLE_CALLCHAIN)
		attr->sample_max_stack = rnd_below(s, 130);
	if (attr->type == PERF_TYPE_BREAKPOINT) {
		attr->bp_type = rnd_below(s, 8);
		attr->bp_addr = rnd_below(s, 2) ? (uint64_t)(uintptr_t)&slots :
						  rnd(s);
		attr->bp_len = 1 << rnd_below(s, 4);
	}
	/* bpf-ish fields: aux_watermark, sig_data, config3 stay zero. */
}

static int free_slot(void)
{
	for (int i = 0; i < MAX_FDS; i++)
		if (slots[i].fd <= 0)
			return i;
	return -1;
}

static int any_slot(uint64_t *s)
{
	int i = rnd_below(s, MAX_FDS);

	for (int n = 0; n < MAX_FDS; n++, i = (i + 1) % MAX_FDS)
		if (slots[i].fd > 0)
			return i;
	return -1;
}

static void close_slot(struct slot *slot)
{
	if (slot->ring)
		munmap(slot->ring, slot->ring_len);
	close(slot->fd);
	slot->fd = 0;
	slot->ring = NULL;
}

static pid_t children[4];

static void ignore_signal(int sig)
{
}

static void child_loop(int cpu)
{
	pin_to_cpu(cpu);
	for (;;) {
		busy_work(16);
		usleep(10000);
	}
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) :
				   (uint64_t)time(NULL) * 2654435761u;
	struct errno_counts opens[2] = {}, ioctls = {}, maps = {};
	unsigned long iterations = 0, reads = 0, opened_scoped = 0;
	uint64_t s = seed ? seed : 1;
	double end;
	pid_t pid;
	int status, ncpus = sysconf(_SC_NPROCESSORS_ONLN);

	printf("scope_fuzz: seed=%#llx seconds=%d (replay: scope_fuzz %d %#llx)\n",
	       (unsigned long long)seed, seconds, seconds,
	       (unsigned long long)seed);
	fflush(stdout);
	for (size_t i = 0; i < sizeof(tracepoints) / sizeof(tracepoints[0]); i++) {
		int id = tracepoint_id(tracepoints[i]);

		if (id > 0)
			tp_ids[nr_tp_ids++] = id;
	}
	printf("scope_fuzz: %d tracepoint ids known\n", nr_tp_ids);
	if (getenv("ABUSE_BPF_PROG_FD"))
		bpf_prog_fd = atoi(getenv("ABUSE_BPF_PROG_FD"));
	printf("scope_fuzz: %s BPF program handed over\n",
	       bpf_prog_fd >= 0 ? "a" : "no");
	fflush(stdout);
	if (new_tracer_ns(CLONE_NEWPID)) {
		perror("scope_fuzz: unshare user+tracer+pid namespaces");
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0) {
		status = wait_for(pid);
		printf("scope_fuzz: exit status %d\n", status);
		return status;
	}

	/* pid 1 of the new pid namespace, in the new tracer namespace. */
	/*
	 * An ignored SIGTRAP from a sigtrap event would be forced to its
	 * default action; handle the signals events can send instead.
	 */
	signal(SIGPIPE, ignore_signal);
	signal(SIGIO, ignore_signal);
	signal(SIGTRAP, ignore_signal);
	for (int i = 0; i < 4; i++) {
		children[i] = fork();
		if (children[i] == 0)
			child_loop(i % ncpus);
	}
	end = now() + seconds;
	while (now() < end) {
		struct perf_event_attr attr;
		int op = rnd_below(&s, 16), i, fd, ret;
		uint64_t arg;
		char buf[4096];

		iterations++;
		if (op < 6) {
			pid_t target;
			int cpu, group = -1, slot = free_slot();
			unsigned long flags = 0;

			if (slot < 0) {
				close_slot(&slots[any_slot(&s)]);
				continue;
			}
			random_attr(&s, &attr);
			switch (rnd_below(&s, 16)) {
			case 0: target = 0; break;
			case 1: target = children[rnd_below(&s, 4)]; break;
			case 2: target = rnd_below(&s, 100); break;
			default: target = -1;
			}
			cpu = rnd_below(&s, 8) ? (int)rnd_below(&s, ncpus) :
						 (int)rnd_below(&s, 8) - 2;
			if (rnd_below(&s, 8) == 0 && (i = any_slot(&s)) >= 0)
				group = slots[i].fd;
			if (rnd_below(&s, 8) == 0)
				flags = rnd(&s) & 0xf;
			fd = sys_perf_event_open(&attr, target, cpu, group, flags);
			count_errno(&opens[attr.tracer_scope], fd);
			if (fd >= 0) {
				slots[slot].fd = fd;
				slots[slot].scoped = attr.tracer_scope;
				opened_scoped += attr.tracer_scope;
			}
		} else if (op < 10) {
			static const unsigned long reqs[] = {
				PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE,
				PERF_EVENT_IOC_REFRESH, PERF_EVENT_IOC_RESET,
				PERF_EVENT_IOC_PERIOD, PERF_EVENT_IOC_SET_OUTPUT,
				PERF_EVENT_IOC_TRACER_STATEDUMP,
				PERF_EVENT_IOC_PAUSE_OUTPUT, PERF_EVENT_IOC_ID,
				PERF_EVENT_IOC_TRACER_STATEDUMP,
				PERF_EVENT_IOC_SET_BPF, PERF_EVENT_IOC_SET_BPF,
			};
			uint64_t period = rnd_below(&s, 4) ? rnd_below(&s, 10) : rnd(&s);
			uint64_t id;

			i = any_slot(&s);
			if (i < 0)
				continue;
			unsigned long req = reqs[rnd_below(&s, sizeof(reqs) / sizeof(reqs[0]))];
			switch (req) {
			case PERF_EVENT_IOC_PERIOD:
				ret = ioctl(slots[i].fd, req, &period);
				break;
			case PERF_EVENT_IOC_ID:
				ret = ioctl(slots[i].fd, req, &id);
				break;
			case PERF_EVENT_IOC_SET_OUTPUT:
				arg = rnd_below(&s, 4) ? (uint64_t)-1 : 0;
				if (arg == 0 && (fd = any_slot(&s)) >= 0)
					arg = slots[fd].fd;
				ret = ioctl(slots[i].fd, req, (int)arg);
				break;
			case PERF_EVENT_IOC_SET_BPF: {
				union bpf_attr link = {};

				/* The handed-over program, or any fd. */
				arg = bpf_prog_fd >= 0 && rnd_below(&s, 4) ?
				      bpf_prog_fd : rnd_below(&s, 64);
				if (rnd_below(&s, 2)) {
					ret = ioctl(slots[i].fd, req, (int)arg);
				} else {
					link.link_create.prog_fd = arg;
					link.link_create.target_fd = slots[i].fd;
					link.link_create.attach_type = BPF_PERF_EVENT;
					ret = syscall(__NR_bpf, BPF_LINK_CREATE,
						      &link, sizeof(link));
				}
				if (ret >= 0 && slots[i].scoped) {
					bpf_on_scoped++;
					fprintf(stderr, "scope_fuzz: a BPF program was attached to a scoped event\n");
				}
				break;
			}
			default:
				ret = ioctl(slots[i].fd, req, rnd_below(&s, 3));
			}
			count_errno(&ioctls, ret);
		} else if (op < 12) {
			long page = sysconf(_SC_PAGESIZE);
			size_t len;

			i = any_slot(&s);
			if (i < 0)
				continue;
			if (slots[i].ring) {
				munmap(slots[i].ring, slots[i].ring_len);
				slots[i].ring = NULL;
				continue;
			}
			len = (1 + (rnd_below(&s, 6) ? 1 << rnd_below(&s, 4) :
					rnd_below(&s, 5))) * page;
			slots[i].ring = mmap(NULL, len, rnd_below(&s, 4) ?
					     PROT_READ | PROT_WRITE : PROT_READ,
					     MAP_SHARED, slots[i].fd, 0);
			count_errno(&maps, slots[i].ring == MAP_FAILED ? -1 : 0);
			if (slots[i].ring == MAP_FAILED)
				slots[i].ring = NULL;
			else
				slots[i].ring_len = len;
		} else if (op < 14) {
			i = any_slot(&s);
			if (i >= 0 && read(slots[i].fd, buf, rnd_below(&s, 2) ?
					   sizeof(buf) : rnd_below(&s, 64)) > 0)
				reads++;
		} else if (op == 14) {
			i = any_slot(&s);
			if (i >= 0)
				close_slot(&slots[i]);
		} else {
			/* A tracer namespace child: fork into a nested one. */
			if (sys_unshare(CLONE_NEWTRACER) == 0) {
				pid_t p = fork();

				if (p == 0) {
					busy_work(8);
					_exit(0);
				}
				if (p > 0)
					waitpid(p, NULL, 0);
			}
		}
	}
	for (int i = 0; i < 4; i++)
		kill(children[i], SIGKILL);
	for (int i = 0; i < 4; i++)
		waitpid(children[i], NULL, 0);
	for (int i = 0; i < MAX_FDS; i++)
		if (slots[i].fd > 0)
			close_slot(&slots[i]);
	printf("scope_fuzz: iterations=%lu scoped_opened=%lu reads=%lu\n",
	       iterations, opened_scoped, reads);
	print_errno_counts("scope_fuzz: open tracer_scope=1", &opens[1]);
	print_errno_counts("scope_fuzz: open tracer_scope=0", &opens[0]);
	print_errno_counts("scope_fuzz: ioctl", &ioctls);
	print_errno_counts("scope_fuzz: mmap", &maps);
	printf("scope_fuzz: BPF programs attached to scoped events: %lu\n",
	       bpf_on_scoped);
	return bpf_on_scoped ? 1 : 0;
}
