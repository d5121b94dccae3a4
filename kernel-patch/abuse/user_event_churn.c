// SPDX-License-Identifier: GPL-2.0
/*
 * user_event_churn: user events registered and unregistered by many
 * tenants at once, each in the group of its own tracer namespace, read
 * by the tenants' scoped readers; the per-namespace limit reached again
 * and again; then checks that nothing was left behind.
 *
 * TENANTS tenants, each a new user + tracer + pid namespace, run for the
 * time given. WORKERS workers of each open user_events_data, register
 * events whose names come from a pool every tenant shares (and a few of
 * the tenant's own), with a random format, enable word size and bit, and
 * sometimes USER_EVENT_REG_MULTI_FORMAT; write to them (checking the
 * enable bit), unregister, delete, close, fork children that go on with
 * what they inherited, exit with everything registered. In the tenants
 * of even index some children do so in a nested tracer namespace, and a
 * worker adopts a user_events_data file that a task of a nested
 * namespace opened (SCM_RIGHTS), which then holds that namespace. Some
 * registrations and writes are malformed on purpose and must fail with
 * what 6.12 returns. Each tenant's reader reads its user_events_status,
 * checks it, opens scoped readers on the ids it lists and checks the
 * samples (payloads tagged with the tenant); a child of it in a nested,
 * empty tracer namespace tries every tenant's ids, its own tenant's
 * included, which must all fail with EINVAL; readers of odd tenants
 * (with no user events in nested namespaces) also try the other tenants'
 * ids directly. Twice a whole tenant is SIGKILLed and replaced by a new
 * one.
 *
 * One more tenant is quiet (no reader) and counts the limit: a holder in
 * a nested tracer namespace registers some events, then one in the
 * tenant's namespace registers until refused, which must be with EMFILE
 * at exactly USER_EVENTS_MAX together, round after round; their enable
 * bits must stay clear and their writes fail with EBADF. At the end
 * every tenant, with its workers gone, must see its group empty and
 * reach the limit again, as must a fresh tenant: a count that leaked
 * makes it come up short.
 *
 *   user_event_churn [SECONDS [SEED]]
 */
#include "abuse.h"

#include <linux/user_events.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define TENANTS		4	/* churn tenants, each with a reader */
#define QUIET		TENANTS	/* the tenant that counts the limit */
#define FRESH		(TENANTS + 1)	/* the tenant made at the end */
#define WORKERS		3
#define SLOTS		8	/* enable words of a worker */
#define DATA_FILES	2	/* user_events_data files a worker has open */
#define POOL		6	/* names every tenant uses: ue0..ue5 */
#define NAMES		(POOL + 2)	/* and t<tenant>_0, t<tenant>_1 */
#define NFMT		5
#define MAX_HELD	12	/* scoped readers a tenant's reader holds */
#define MAX_STATUS	640
#define PUBLISHED	64
#define USER_EVENTS_MAX	512	/* a namespace with those nested in it */
#define TAG		0x75650000u	/* first field of a payload: TAG | tenant */
#define TAG_BAD		0x8000u		/* ... of one the kernel must drop */

#define DATA_FILE	TRACEFS "/user_events_data"
#define STATUS_FILE	TRACEFS "/user_events_status"

/* Every format starts with the tag, so that a reader can check it. */
static const char *const formats[NFMT] = {
	"u32 tag",
	"u32 tag; u32 seq",
	"u32 tag; u64 seq",
	"u32 tag; char[16] msg",
	"u32 tag; __rel_loc char[] msg",
};

struct counters {
	double end;
	unsigned long violations;
	pid_t tenant_init[TENANTS];	/* the tenant's pid 1, in our pid ns */
	int nids[TENANTS + 1];
	int ids[TENANTS + 1][PUBLISHED];	/* from the tenant's status */
	unsigned long collisions, writes_bit_set,
		      writes_bit_clear, forks, nested_forks, adopted, exits,
		      samples, status_reads, foreign_reused, probes, killed,
		      limit_rounds, limit_retries, quiet_writes;
	struct errno_counts reg, unreg, del, write, bad_reg, bad_write,
			    bad_loc, open_own, open_foreign, probe_open;
};

static struct counters *shared;
static int me = -1;		/* this process's tenant */
static int ncpus;

static void violation(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (__atomic_add_fetch(&shared->violations, 1, __ATOMIC_RELAXED) > 40)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One printf: many processes print at once. */
	if (me < 0)
		printf("user_event_churn: FAIL: %s\n", msg);
	else
		printf("user_event_churn: FAIL tenant %d: %s\n", me, msg);
}

#define tally(field) __atomic_add_fetch(&shared->field, 1, __ATOMIC_RELAXED)

/* @ret is a result, or -1 with errno: count it, and fail on another errno. */
static void expect(struct errno_counts *c, int ret, bool ok, int e1, int e2,
		   const char *what)
{
	int err = errno;

	count_errno(c, ret);
	if (ret >= 0 ? !ok : err != e1 && err != e2)
		violation("%s: %s", what, ret >= 0 ? "succeeded" : strerrorname_np(err));
	errno = err;
}

/*
 * A tenant of even index nests groups, which count against its limit
 * too: with a few of them holding their events, it can reach it.
 */
static int limit_errno(void)
{
	return me % 2 == 0 ? EMFILE : 0;
}

static void name_of(char *buf, size_t len, int tenant, int name)
{
	if (name < POOL)
		snprintf(buf, len, "ue%d", name);
	else
		snprintf(buf, len, "t%d_%d", tenant, name - POOL);
}

static int ue_register(int fd, void *addr, int size, int bit,
		       const char *name_args, int flags, uint32_t *index)
{
	struct user_reg reg = {
		.size		= sizeof(reg),
		.enable_bit	= bit,
		.enable_size	= size,
		.flags		= flags,
		.enable_addr	= (uintptr_t)addr,
		.name_args	= (uintptr_t)name_args,
	};
	int ret = ioctl(fd, DIAG_IOCSREG, &reg);

	if (!ret && index)
		*index = reg.write_index;
	return ret;
}

static int ue_unregister(int fd, void *addr, int bit)
{
	struct user_unreg unreg = {
		.size		= sizeof(unreg),
		.disable_bit	= bit,
		.disable_addr	= (uintptr_t)addr,
	};

	return ioctl(fd, DIAG_IOCSUNREG, &unreg);
}

/*
 * The payload of format @fmt after its write index, tagged with @tag;
 * with @bad, one whose __rel_loc points past its end (format 4).
 */
static size_t payload(uint8_t *buf, int fmt, uint32_t tag, bool bad)
{
	static const char msg[] = "user_event_churn";
	uint64_t seq = rand();
	size_t len = 4;

	memcpy(buf, &tag, 4);
	switch (fmt) {
	case 1:
		memcpy(buf + 4, &seq, 4);
		len += 4;
		break;
	case 2:
		memcpy(buf + 4, &seq, 8);
		len += 8;
		break;
	case 3:
		memcpy(buf + 4, msg, 16);
		len += 16;
		break;
	case 4: {
		/* Size 17 with the NUL, right after the location word. */
		uint32_t loc = sizeof(msg) << 16 | (bad ? 200 : 0);

		memcpy(buf + 4, &loc, 4);
		memcpy(buf + 8, msg, sizeof(msg));
		len += 4 + sizeof(msg);
		break;
	}
	}
	return len;
}

static ssize_t ue_write(int fd, uint32_t index, const void *buf, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = &index, .iov_len = sizeof(index) },
		{ .iov_base = (void *)buf, .iov_len = len },
	};

	return writev(fd, iov, 2);
}

/* --- user_events_status -------------------------------------------- */

struct status {
	int n, active, busy;
	struct {
		char name[48];
		int id;
		bool perf;
	} ev[MAX_STATUS];
};

/*
 * Whether @name may be in @tenant's group: a pool name or one of its
 * own, with the ".<id>" of a multi-format event.
 */
static bool name_allowed(const char *name, int tenant)
{
	char base[48], own[16];
	char *dot;
	int n;

	snprintf(base, sizeof(base), "%s", name);
	dot = strrchr(base, '.');
	if (dot)
		*dot = '\0';
	if (sscanf(base, "ue%d", &n) == 1 && n >= 0 && n < POOL)
		return true;
	snprintf(own, sizeof(own), "t%d_", tenant);
	return !strncmp(base, own, strlen(own));
}

/*
 * Read this namespace's user_events_status: "NAME # id N" or "NAME # id
 * N; Used by perf" per event, a blank line, "Active: N", "Busy: N".
 * Returns false, after a violation, if it is not that or lists another
 * tenant's event.
 */
static bool read_status(struct status *st)
{
	static char buf[MAX_STATUS * 80];
	int fd = open(STATUS_FILE, O_RDONLY | O_CLOEXEC), state = 0, perf = 0;
	size_t len = 0;
	ssize_t r = 0;
	char *line, *nl;

	if (fd < 0) {
		violation("open %s: %s", STATUS_FILE, strerrorname_np(errno));
		return false;
	}
	while (len < sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	if (r < 0) {
		violation("read %s: %s", STATUS_FILE, strerrorname_np(errno));
		return false;
	}
	buf[len] = '\0';
	tally(status_reads);
	st->n = 0;
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		int off = 0;

		*nl = '\0';
		if (state == 0 && !*line) {
			state = 1;
		} else if (state == 0 && st->n < MAX_STATUS) {
			typeof(st->ev[0]) *ev = &st->ev[st->n++];

			if (sscanf(line, "%47s # id %d%n", ev->name, &ev->id,
				   &off) != 2 || !name_allowed(ev->name, me))
				goto bad;
			ev->perf = !strcmp(line + off, "; Used by perf");
			if (!ev->perf && line[off])
				goto bad;
			perf += ev->perf;
		} else if (state == 1 && sscanf(line, "Active: %d", &st->active) == 1) {
			state = 2;
		} else if (state == 2 && sscanf(line, "Busy: %d", &st->busy) == 1) {
			state = 3;
		} else {
			goto bad;
		}
	}
	if (state != 3 || *line || st->active != st->n || st->busy != perf ||
	    st->n > USER_EVENTS_MAX) {
		line = "(the counts)";
		goto bad;
	}
	return true;
bad:
	violation("user_events_status line \"%.60s\" (%d events, Active %d, Busy %d)",
		  line, st->n, st->active, st->busy);
	return false;
}

/* Make this tenant's ids known to the other tenants' readers. */
static void publish(const struct status *st)
{
	int n = st->n < PUBLISHED ? st->n : PUBLISHED;

	for (int i = 0; i < n; i++)
		__atomic_store_n(&shared->ids[me][i], st->ev[i].id, __ATOMIC_RELAXED);
	__atomic_store_n(&shared->nids[me], n, __ATOMIC_RELEASE);
}

/* --- the workers ----------------------------------------------------- */

struct slot {
	bool used;		/* registered in this process's mm */
	int file;		/* through files[file], -1 once that one is closed */
	int name, fmt, size, bit, half;
	bool multi;
	uint32_t index;
};

struct data_file {
	int fd;			/* -1: closed */
	/* Also another process's (fork, SCM_RIGHTS): both add indexes. */
	bool shared;
	int events;		/* distinct events registered through it */
	int index[NAMES][NFMT][2];	/* by name, format, multi; -1 unknown */
};

struct worker {
	uint64_t seed;
	int depth;		/* forks above this process */
	bool may_nest;
	struct slot slots[SLOTS];
	struct data_file files[DATA_FILES];
};

/* Each slot's enable word, 8 bytes so that either half can be a u32. */
static union {
	uint32_t half[2];
	uint64_t full;
} words[SLOTS] __attribute__((aligned(8)));

static void *slot_addr(const struct slot *sl, int i)
{
	return sl->size == 8 ? (void *)&words[i].full : (void *)&words[i].half[sl->half];
}

static bool slot_bit(const struct slot *sl, int i)
{
	uint64_t v = sl->size == 8 ?
		     __atomic_load_n(&words[i].full, __ATOMIC_RELAXED) :
		     __atomic_load_n(&words[i].half[sl->half], __ATOMIC_RELAXED);

	return v >> sl->bit & 1;
}

static void file_reset(struct data_file *f, int fd, bool is_shared)
{
	f->fd = fd;
	f->shared = is_shared;
	f->events = 0;
	memset(f->index, 0xff, sizeof(f->index));
}

static int open_data_file(struct worker *w)
{
	for (int f = 0; f < DATA_FILES; f++) {
		if (w->files[f].fd >= 0)
			continue;
		int fd = open(DATA_FILE, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			violation("open %s: %s", DATA_FILE, strerrorname_np(errno));
			return -1;
		}
		file_reset(&w->files[f], fd, false);
		return f;
	}
	return -1;
}

static int any_file(struct worker *w)
{
	int f = rnd_below(&w->seed, DATA_FILES);

	if (w->files[f].fd >= 0)
		return f;
	if (w->files[!f].fd >= 0)
		return !f;
	return open_data_file(w);
}

/*
 * Register @cmd for slot @i. A multi-format registration has no format
 * collision, so EADDRINUSE means that an enabler of this address and bit
 * is still there: one unregistered while the kernel was faulting its page
 * in (after a fork, copy on write) goes only when that fault's work has
 * run, which a loaded machine can put off past the next registrations of
 * the slot (CI run ci1 saw it once). Wait for it, up to 2 s, as ns_limits
 * waits for namespaces to be freed: one that stays has leaked.
 */
static int register_slot(struct data_file *df, struct slot *sl, int i,
			 const char *cmd, uint32_t *index)
{
	int flags = sl->multi ? USER_EVENT_REG_MULTI_FORMAT : 0, tries = 0;

	while (ue_register(df->fd, slot_addr(sl, i), sl->size, sl->bit, cmd,
			   flags, index)) {
		if (!sl->multi || errno != EADDRINUSE || ++tries > 200)
			return -1;
		usleep(10000);
	}
	return 0;
}

static void op_register(struct worker *w)
{
	int i = rnd_below(&w->seed, SLOTS), f = any_file(w);
	struct slot *sl = &w->slots[i];
	char name[32], cmd[96];
	struct data_file *df;
	uint32_t index;
	int *known;

	if (sl->used || f < 0)
		return;
	df = &w->files[f];
	sl->name = rnd_below(&w->seed, NAMES);
	sl->fmt = rnd_below(&w->seed, NFMT);
	sl->multi = !rnd_below(&w->seed, 4);
	sl->size = rnd_below(&w->seed, 2) ? 8 : 4;
	sl->half = rnd_below(&w->seed, 2);
	/*
	 * Not the bit this slot last had: an enabler unregistered while
	 * the kernel faults its page in (after a fork, copy on write)
	 * lingers until the fault is done, and would be EADDRINUSE.
	 */
	sl->bit = (sl->bit + 1 + rnd_below(&w->seed, sl->size * 8 - 1)) %
		  (sl->size * 8);
	words[i].full = 0;
	name_of(name, sizeof(name), me, sl->name);
	snprintf(cmd, sizeof(cmd), "%s %s", name, formats[sl->fmt]);
	if (register_slot(df, sl, i, cmd, &index)) {
		/*
		 * The name is in the group with another format: 6.12 says
		 * EADDRINUSE. A multi-format registration makes a new event
		 * instead, so it has no collision.
		 */
		expect(&shared->reg, -1, false, sl->multi ? 0 : EADDRINUSE,
		       limit_errno(), cmd);
		if (errno == EADDRINUSE)
			tally(collisions);
		return;
	}
	count_errno(&shared->reg, 0);
	known = &df->index[sl->name][sl->fmt][sl->multi];
	if (*known >= 0 && *known != (int)index)
		violation("%s: write index %u, %d before on the same file", cmd,
			  index, *known);
	if (*known < 0 && !df->shared && index != (uint32_t)df->events)
		violation("%s: write index %u for the file's event number %d",
			  cmd, index, df->events);
	if (*known < 0) {
		*known = index;
		df->events++;
	}
	sl->used = true;
	sl->file = f;
	sl->index = index;
}

static void op_write(struct worker *w)
{
	int i = rnd_below(&w->seed, SLOTS);
	struct slot *sl = &w->slots[i];
	uint8_t buf[64];
	size_t len;
	bool set;
	ssize_t ret;

	if (!sl->used || sl->file < 0)
		return;
	len = payload(buf, sl->fmt, TAG | me, false);
	set = slot_bit(sl, i);
	/* Disabled since the check, or enabled: either way is a race. */
	ret = ue_write(w->files[sl->file].fd, sl->index, buf, len);
	expect(&shared->write, ret == (ssize_t)(len + 4) ? 0 : -1, true,
	       EBADF, 0, "write");
	if (ret >= 0 && ret != (ssize_t)(len + 4))
		violation("write of %zu bytes returned %zd", len + 4, ret);
	if (ret >= 0 && set)
		tally(writes_bit_set);
	else if (ret >= 0)
		tally(writes_bit_clear);
}

static void op_unregister(struct worker *w)
{
	int i = rnd_below(&w->seed, SLOTS), f = any_file(w);
	struct slot *sl = &w->slots[i];

	if (!sl->used || f < 0)
		return;
	expect(&shared->unreg, ue_unregister(w->files[f].fd, slot_addr(sl, i),
					     sl->bit), true, 0, 0, "unregister");
	/* The kernel clears the bit, and writes it no more. */
	if (slot_bit(sl, i))
		violation("the enable bit is still set after DIAG_IOCSUNREG");
	sl->used = false;
}

static void op_delete(struct worker *w)
{
	int f = any_file(w);
	char name[32];

	if (f < 0)
		return;
	name_of(name, sizeof(name), me, rnd_below(&w->seed, NAMES));
	expect(&shared->del, ioctl(w->files[f].fd, DIAG_IOCSDEL, name), true,
	       EBUSY, ENOENT, "DIAG_IOCSDEL");
}

static void op_close(struct worker *w)
{
	int f = rnd_below(&w->seed, DATA_FILES);

	if (w->files[f].fd < 0) {
		open_data_file(w);
		return;
	}
	/* The enablers stay, holding their events; the indexes go. */
	close(w->files[f].fd);
	w->files[f].fd = -1;
	for (int i = 0; i < SLOTS; i++)
		if (w->slots[i].file == f)
			w->slots[i].file = -1;
}

/* A read-only page, for an enable word the kernel cannot write. */
static void *read_only_page(void)
{
	static void *page;

	if (!page)
		page = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return page;
}

/*
 * The same enable address and bit twice, then unregistrations with a
 * reserved field set and of an address with no enabler.
 */
static void bad_unregister(int fd, struct user_reg *reg)
{
	void *addr = (void *)(uintptr_t)reg->enable_addr;
	struct user_unreg unreg = {
		.size		= sizeof(unreg),
		.disable_bit	= reg->enable_bit,
		.__reserved	= 1,
		.disable_addr	= reg->enable_addr,
	};

	if (ioctl(fd, DIAG_IOCSREG, reg)) {
		expect(&shared->reg, -1, false, limit_errno(), 0,
		       (const char *)(uintptr_t)reg->name_args);
		return;
	}
	expect(&shared->bad_reg, ioctl(fd, DIAG_IOCSREG, reg), false,
	       EADDRINUSE, 0, "the same enable address and bit twice");
	expect(&shared->unreg, ue_unregister(fd, addr, reg->enable_bit), true,
	       0, 0, "unregister");
	expect(&shared->bad_reg, ioctl(fd, DIAG_IOCSUNREG, &unreg), false,
	       EINVAL, 0, "DIAG_IOCSUNREG with a reserved field set");
	expect(&shared->bad_reg, ue_unregister(fd, addr, reg->enable_bit), false,
	       ENOENT, 0, "DIAG_IOCSUNREG of an address not registered");
}

/*
 * Malformed registrations, on a file of their own, each with what 6.12
 * returns for it.
 */
static void op_bad_register(struct worker *w)
{
	static uint64_t word __attribute__((aligned(8)));
	static char long_name[600];
	char good[32], cmd[96];
	struct user_reg reg = {
		.size		= sizeof(reg),
		.enable_size	= 4,
		.enable_addr	= (uintptr_t)&word,
		.name_args	= (uintptr_t)good,
	};
	int fd = open(DATA_FILE, O_RDWR | O_CLOEXEC), c, want = EINVAL, ret;

	if (fd < 0)
		return;
	/* One format: a t<tenant>_x event is never EADDRINUSE. */
	snprintf(good, sizeof(good), "t%d_x u32 tag", me);
	switch ((c = rnd_below(&w->seed, 20))) {
	case 0:
		reg.enable_size = 2;
		break;
	case 1:
		reg.enable_size = 16;
		break;
	case 2:
		reg.enable_addr += 1;		/* unaligned */
		break;
	case 3:
		reg.enable_size = 8;
		reg.enable_addr += 4;
		break;
	case 4:
		reg.enable_bit = 32;
		break;
	case 5:
		reg.enable_size = 8;
		reg.enable_bit = 64;
		break;
	case 6:
		reg.flags = USER_EVENT_REG_MAX;
		break;
	case 7:
		/* Persistent events are the initial namespace's. */
		reg.flags = USER_EVENT_REG_PERSIST;
		want = EPERM;
		break;
	case 8:
		reg.size = 8;
		break;
	case 9:
		reg.size = sysconf(_SC_PAGESIZE) + 1;
		want = E2BIG;
		break;
	case 10:
		reg.name_args = 0;
		want = EFAULT;
		break;
	case 11:
		reg.enable_addr = 0xffff888000000000ULL;	/* kernel half */
		want = EFAULT;
		break;
	case 12:
	case 13:
	case 14:
	case 15:
	case 16: {
		/* Never registered: an existing name would be EADDRINUSE. */
		static const char *const bad[] = {
			"t%d_y:flag u32 tag", "t%d_y u31 tag",
			"t%d_y char[9999] msg", "t%d_y struct blob b",
			"t%d_y char c 20",
		};

		snprintf(cmd, sizeof(cmd), bad[c - 12], me);
		reg.name_args = (uintptr_t)cmd;
		break;
	}
	case 17:
		memset(long_name, 'a', sizeof(long_name) - 1);
		reg.name_args = (uintptr_t)long_name;
		break;
	case 18:
		/*
		 * 6.12 makes the event and refers to it from the file, then
		 * fails to fault the word in and says ENOMEM.
		 */
		reg.enable_addr = (uintptr_t)read_only_page();
		want = ENOMEM;
		break;
	default:
		/*
		 * A random bit: an enabler unregistered while the kernel
		 * faults its page in (after a fork, copy on write) lingers
		 * until the fault is done, and would be this one again.
		 */
		reg.enable_bit = rnd_below(&w->seed, 32);
		bad_unregister(fd, &reg);
		close(fd);
		return;
	}
	ret = ioctl(fd, DIAG_IOCSREG, &reg);
	snprintf(cmd, sizeof(cmd), "malformed registration %d", c);
	expect(&shared->bad_reg, ret, false, want, want == ENOMEM ? limit_errno() : 0,
	       cmd);
	if (!ret)
		ue_unregister(fd, (void *)(uintptr_t)reg.enable_addr, reg.enable_bit);
	close(fd);
}

/* Malformed writes to a registered event, each with what 6.12 returns. */
static void op_bad_write(struct worker *w)
{
	int i = rnd_below(&w->seed, SLOTS), fd;
	struct slot *sl = &w->slots[i];
	uint8_t buf[64];
	size_t len;
	ssize_t ret;

	if (!sl->used || sl->file < 0)
		return;
	fd = w->files[sl->file].fd;
	len = payload(buf, sl->fmt, TAG | TAG_BAD | me, true);
	switch (rnd_below(&w->seed, 5)) {
	case 0:
		ret = ue_write(fd, 100000, buf, len);
		expect(&shared->bad_write, ret, false, ENOENT, 0,
		       "write to an index past the file's");
		break;
	case 1:
		ret = ue_write(fd, -1, buf, len);
		expect(&shared->bad_write, ret, false, EINVAL, 0,
		       "write to a negative index");
		break;
	case 2:
		/* Shorter than the fields: refused before the enabled check. */
		ret = ue_write(fd, sl->index, buf, 0);
		expect(&shared->bad_write, ret, false, EINVAL, 0,
		       "write without the fields");
		break;
	case 3:
		ret = write(fd, buf, 2);
		expect(&shared->bad_write, ret, false, EFAULT, 0,
		       "write shorter than an index");
		break;
	default:
		if (sl->fmt != 4)
			return;
		/*
		 * A probe validates the location (EFAULT) or, with no reader
		 * on this CPU, never looks: then the write succeeds, but the
		 * payload reaches no ring (the reader checks TAG_BAD).
		 */
		ret = ue_write(fd, sl->index, buf, len);
		expect(&shared->bad_loc, ret, true, EFAULT, EBADF,
		       "write with a __rel_loc past the end");
	}
}

static void worker_loop(struct worker *w, double until);

/*
 * A child goes on with what it inherited: the enablers (the kernel
 * copies them), the files (now shared) and the slots. In a tenant of
 * even index, sometimes from a nested tracer namespace, where a file it
 * opens is of the nested namespace's group.
 */
static void op_fork(struct worker *w)
{
	bool nest = w->may_nest && !rnd_below(&w->seed, 3);
	uint64_t cs = rnd(&w->seed);
	pid_t pid, inner;

	if (w->depth >= 2)
		return;
	for (int f = 0; f < DATA_FILES; f++)
		w->files[f].shared = true;
	pid = fork();
	if (pid != 0) {
		/*
		 * A nested child is waited for, so that a few nested groups
		 * at most count against the tenant's limit; else reaped
		 * later, or by pid 1.
		 */
		if (pid > 0 && (nest || !rnd_below(&w->seed, 2)))
			wait_for(pid);
		return;
	}
	w->seed = cs;
	w->depth++;
	if (!nest) {
		tally(forks);
		worker_loop(w, now() + 0.05 + rnd_below(&w->seed, 200) / 1000.0);
		_exit(0);
	}
	if (sys_unshare(CLONE_NEWTRACER)) {
		violation("unshare(CLONE_NEWTRACER): %s", strerrorname_np(errno));
		_exit(0);
	}
	inner = fork();
	if (inner == 0) {
		tally(nested_forks);
		w->may_nest = false;
		worker_loop(w, now() + 0.05 + rnd_below(&w->seed, 200) / 1000.0);
		_exit(0);
	}
	/* Killed now and then, with its registrations in place. */
	if (inner > 0 && !rnd_below(&w->seed, 4)) {
		usleep(rnd_below(&w->seed, 50000));
		kill(inner, SIGKILL);
	}
	_exit(inner > 0 ? wait_for(inner) : 0);
}

/*
 * Adopt a user_events_data file that a task of a nested tracer namespace
 * opened and registered through: the file holds that namespace, with its
 * group, after its last task is gone.
 */
static void op_adopt(struct worker *w)
{
	int self = open("/proc/self/ns/tracer", O_RDONLY | O_CLOEXEC);
	int sv[2], f = -1, fd = -1;
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	pid_t pid;

	for (int i = 0; i < DATA_FILES; i++)
		if (w->files[i].fd < 0)
			f = i;
	if (f < 0 || self < 0 || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv)) {
		if (self >= 0)
			close(self);
		return;
	}
	if (sys_unshare(CLONE_NEWTRACER)) {
		violation("unshare(CLONE_NEWTRACER): %s", strerrorname_np(errno));
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		static uint32_t word;
		char cmd[64];

		fd = open(DATA_FILE, O_RDWR);
		if (fd < 0)
			_exit(1);
		snprintf(cmd, sizeof(cmd), "ue0 %s", formats[w->seed % NFMT]);
		/* Its enabler goes with this task; the file keeps the event. */
		if (ue_register(fd, &word, 4, 0, cmd, 0, NULL))
			violation("%s in a new namespace: %s", cmd,
				  strerrorname_np(errno));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		_exit(sendmsg(sv[1], &msg, 0) == 1 ? 0 : 1);
	}
	if (setns(self, 0))
		violation("setns() back: %s", strerrorname_np(errno));
	if (pid < 0)
		goto out;
	if (wait_for(pid) == 0 && recvmsg(sv[0], &msg, 0) == 1)
		cm = CMSG_FIRSTHDR(&msg);
	else
		cm = NULL;
	if (cm && cm->cmsg_type == SCM_RIGHTS) {
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		file_reset(&w->files[f], fd, true);
		tally(adopted);
	} else {
		violation("no user_events_data file from the nested namespace");
	}
out:
	close(sv[0]);
	close(sv[1]);
	close(self);
}

static void worker_loop(struct worker *w, double until)
{
	while (now() < until && now() < shared->end) {
		int op = rnd_below(&w->seed, 100);

		if (op < 30)
			op_register(w);
		else if (op < 60)
			op_write(w);
		else if (op < 70)
			op_unregister(w);
		else if (op < 75)
			op_delete(w);
		else if (op < 80)
			op_close(w);
		else if (op < 84)
			op_bad_register(w);
		else if (op < 88)
			op_bad_write(w);
		else if (op < 91)
			op_fork(w);
		else if (op < 92 && w->may_nest && w->depth == 0)
			op_adopt(w);
		else if (op < 93 && w->depth == 0 && !rnd_below(&w->seed, 4)) {
			tally(exits);
			return;		/* with everything registered */
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

static int worker(uint64_t seed)
{
	struct worker w = {
		.seed = seed ?: 1,
		.may_nest = me % 2 == 0,
	};

	for (int f = 0; f < DATA_FILES; f++)
		w.files[f].fd = -1;
	worker_loop(&w, shared->end);
	return 0;
}

/* --- the readers ----------------------------------------------------- */

struct held {
	int fd, id;
	void *ring;
	size_t size;
};

static int open_user_event_reader(int id, int cpu)
{
	/*
	 * Not open_scoped_reader(): its exclude_kernel would drop every
	 * sample, since a user event samples the kernel's registers
	 * (perf_fetch_caller_regs()), like raw_syscalls.
	 */
	struct perf_event_attr attr = {
		.type		= PERF_TYPE_TRACEPOINT,
		.size		= sizeof(attr),
		.config		= id,
		.sample_period	= 1,
		.sample_type	= PERF_SAMPLE_TID | PERF_SAMPLE_RAW,
		.tracer_scope	= 1,
		.wakeup_events	= 1,
	};

	return sys_perf_event_open(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* A sample of user event @id, in the ring of a reader of tenant @me. */
static void check_sample(const struct perf_event_header *rec, void *arg)
{
	const struct held *h = arg;
	const uint8_t *p = (const uint8_t *)(rec + 1);
	uint32_t raw_size, tag;
	uint16_t type;

	if (rec->type != PERF_RECORD_SAMPLE)
		return;
	/* pid, tid; then the raw size and the trace_entry. */
	memcpy(&raw_size, p + 8, 4);
	if (rec->size < sizeof(*rec) + 12 + 12 || raw_size < 12) {
		violation("sample of %u bytes, raw %u", rec->size, raw_size);
		return;
	}
	memcpy(&type, p + 12, 2);
	memcpy(&tag, p + 12 + 8, 4);
	tally(samples);
	if (type != h->id)
		violation("sample of type %u in the reader of id %d", type, h->id);
	if (tag == (TAG | TAG_BAD | me))
		violation("a payload with a __rel_loc past its end reached a reader");
	else if (tag != (TAG | me))
		violation("sample of id %d tagged %#x, not tenant %d's", h->id, tag, me);
}

static void release(struct held *h)
{
	if (h->ring) {
		ring_drain(h->ring, h->size - sysconf(_SC_PAGESIZE), check_sample, h);
		munmap(h->ring, h->size);
	}
	close(h->fd);
}

static bool holds(const struct held *held, int n, int id)
{
	for (int i = 0; i < n; i++)
		if (held[i].id == id)
			return true;
	return false;
}

/*
 * The status, checked against what this reader holds: nobody else can
 * open this group's events, so "Used by perf" is on the events it holds
 * open and only on them. A close is synchronous, but re-read for up to
 * a second before calling a difference a failure.
 */
static bool reader_status(struct status *st, const struct held *held, int n)
{
	for (int retry = 0; retry < 50; retry++) {
		int i;

		if (!read_status(st))
			return false;
		for (i = 0; i < st->n; i++)
			if (st->ev[i].perf != holds(held, n, st->ev[i].id))
				break;
		if (i == st->n)
			return true;
		if (retry == 49)
			violation("%s (id %d) %s \"Used by perf\"", st->ev[i].name,
				  st->ev[i].id, st->ev[i].perf ? "is" : "is not");
		usleep(20000);
	}
	return false;
}

static bool listed(const struct status *st, int id)
{
	for (int i = 0; i < st->n; i++)
		if (st->ev[i].id == id)
			return true;
	return false;
}

static int random_foreign_id(uint64_t *s, int *owner)
{
	int t = rnd_below(s, TENANTS + 1), n;

	if (t == me)
		t = QUIET;
	n = __atomic_load_n(&shared->nids[t], __ATOMIC_ACQUIRE);
	*owner = t;
	return n ? __atomic_load_n(&shared->ids[t][rnd_below(s, n)],
				   __ATOMIC_RELAXED) : -1;
}

/*
 * From a child in a new tracer namespace nested in the tenant, whose
 * group is empty (its status must say so): every tenant's user events
 * are out of its scope, its own tenant's too. A freed id is EINVAL as
 * well.
 */
static void probe_from_nested(struct held *held, int n)
{
	pid_t pid = fork(), inner;

	if (pid != 0) {
		if (pid > 0)
			wait_for(pid);
		return;
	}
	/* The reader's, not ours to drain; closed, so "Used by perf" goes. */
	for (int i = 0; i < n; i++) {
		if (held[i].ring)
			munmap(held[i].ring, held[i].size);
		close(held[i].fd);
	}
	if (sys_unshare(CLONE_NEWTRACER)) {
		violation("unshare(CLONE_NEWTRACER): %s", strerrorname_np(errno));
		_exit(0);
	}
	inner = fork();
	if (inner == 0) {
		static struct status st;

		if (read_status(&st) && st.n)
			violation("a new namespace's status lists %s", st.ev[0].name);
		for (int t = 0; t <= TENANTS; t++) {
			int nids = __atomic_load_n(&shared->nids[t], __ATOMIC_ACQUIRE);

			for (int i = 0; i < nids; i++) {
				int id = __atomic_load_n(&shared->ids[t][i],
							 __ATOMIC_RELAXED);
				int fd = open_user_event_reader(id, i % ncpus);
				char what[96];

				snprintf(what, sizeof(what),
					 "a nested namespace's reader of tenant %d's id %d",
					 t, id);
				expect(&shared->probe_open, fd, false, EINVAL, 0, what);
				if (fd >= 0)
					close(fd);
			}
		}
		tally(probes);
		_exit(0);
	}
	_exit(inner > 0 ? wait_for(inner) : 0);
}

static int reader(uint64_t seed)
{
	static struct status st;
	struct held held[MAX_HELD];
	long page = sysconf(_SC_PAGESIZE);
	uint64_t s = seed ?: 1;
	int n = 0;

	while (now() < shared->end) {
		int op = rnd_below(&s, 16), i;

		if (!reader_status(&st, held, n))
			usleep(100000);
		else
			publish(&st);
		if (op < 6 && n < MAX_HELD && st.n) {
			int id = st.ev[rnd_below(&s, st.n)].id;
			int fd = open_user_event_reader(id, rnd_below(&s, ncpus));

			/* Deleted since the status was read, or being deleted. */
			expect(&shared->open_own, fd, true, EINVAL, ENOENT,
			       "a reader of an id in the tenant's status");
			if (fd < 0)
				continue;
			held[n] = (struct held){ .fd = fd, .id = id };
			if (rnd_below(&s, 2)) {
				size_t size = (1 + (1 << rnd_below(&s, 3))) * page;
				void *ring = mmap(NULL, size, PROT_READ | PROT_WRITE,
						  MAP_SHARED, fd, 0);

				if (ring != MAP_FAILED) {
					held[n].ring = ring;
					held[n].size = size;
				}
			}
			n++;
		} else if (op < 11 && n) {
			i = rnd_below(&s, n);
			release(&held[i]);
			held[i] = held[--n];
		} else if (op < 13 && n) {
			ioctl(held[rnd_below(&s, n)].fd, rnd_below(&s, 4) ?
			      PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0);
		} else if (op < 15 && me % 2 && n < MAX_HELD) {
			/*
			 * No user events nested in this tenant: another
			 * tenant's id opens only if it is now an event of this
			 * group's, which the open holds, so the status must
			 * list it.
			 */
			int owner, id = random_foreign_id(&s, &owner), fd;
			char what[64];

			if (id < 0)
				continue;
			fd = open_user_event_reader(id, rnd_below(&s, ncpus));
			snprintf(what, sizeof(what), "tenant %d's id %d", owner, id);
			expect(&shared->open_foreign, fd, true, EINVAL, 0, what);
			if (fd < 0)
				continue;
			held[n++] = (struct held){ .fd = fd, .id = id };
			if (reader_status(&st, held, n) && !listed(&st, id))
				violation("opened tenant %d's user event id %d", owner, id);
			else
				tally(foreign_reused);
			release(&held[--n]);
		} else if (op == 15 && !rnd_below(&s, 4)) {
			probe_from_nested(held, n);
		}
	}
	while (n--)
		release(&held[n]);
	return 0;
}

/* --- the limit ------------------------------------------------------- */

struct holding {
	pid_t pid;
	int events;		/* registered */
	int err;		/* errno of the refusal, 0 if none */
};

static void on_sigusr1(int sig)
{
}

/*
 * Register up to @limit events from a new file, report on @report and
 * hold them until SIGUSR1 (or SIGKILL), then let them go one way or
 * another. Nobody reads this group: every enable bit must stay clear
 * and a write fail with EBADF. @exact: the group was empty, its status
 * must list exactly these.
 */
static void __attribute__((noreturn))
holder(int limit, const char *prefix, int report, uint64_t seed, bool exact)
{
	static uint32_t bits[USER_EVENTS_MAX + 8];
	static struct status st;
	struct holding h = { .pid = getpid() };
	sigset_t block, old;
	int fd = open(DATA_FILE, O_RDWR | O_CLOEXEC);
	char cmd[64];

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, on_sigusr1);
	if (fd < 0) {
		violation("open %s: %s", DATA_FILE, strerrorname_np(errno));
		_exit(1);
	}
	for (; h.events < limit; h.events++) {
		int i = h.events;

		/* A pool name has one format here: no EADDRINUSE. */
		if (i < POOL)
			snprintf(cmd, sizeof(cmd), "ue%d %s", i, formats[i % NFMT]);
		else
			snprintf(cmd, sizeof(cmd), "t%d_%s%d u32 tag", me, prefix, i);
		if (ue_register(fd, &bits[i], 4, i % 32, cmd, 0, NULL)) {
			h.err = errno;
			break;
		}
	}
	for (int i = 0; i < h.events; i++) {
		if (bits[i]) {
			violation("enable word %#x of an event nobody reads", bits[i]);
			break;
		}
	}
	if (h.events) {
		uint8_t buf[8];
		size_t len = payload(buf, 0, TAG | me, false);

		tally(quiet_writes);
		expect(&shared->write, ue_write(fd, 0, buf, len), false, EBADF,
		       0, "write to an event nobody reads");
	}
	if (read_status(&st)) {
		if (exact && (st.n != h.events || st.busy))
			violation("%d events registered, the status lists %d (%d busy)",
				  h.events, st.n, st.busy);
		if (me == QUIET && !strcmp(prefix, "f"))
			publish(&st);
	}
	if (write(report, &h, sizeof(h)) != sizeof(h))
		_exit(1);
	close(report);
	sigsuspend(&old);
	if (rnd_below(&seed, 2)) {
		/* Unregister all; the file still holds them: EBUSY. */
		for (int i = 0; i < h.events; i++)
			expect(&shared->unreg, ue_unregister(fd, &bits[i], i % 32),
			       true, 0, 0, "unregister");
		snprintf(cmd, sizeof(cmd), "t%d_%s%d", me, prefix, POOL);
		if (h.events > POOL)
			expect(&shared->del, ioctl(fd, DIAG_IOCSDEL, cmd), false,
			       EBUSY, 0, "DIAG_IOCSDEL of an event a file holds");
		close(fd);
		/* Deleted by now, or being deleted. */
		fd = open(DATA_FILE, O_RDWR | O_CLOEXEC);
		expect(&shared->del, ioctl(fd, DIAG_IOCSDEL, cmd), true, ENOENT,
		       EBUSY, "DIAG_IOCSDEL");
	}
	_exit(0);		/* else with everything registered */
}

static pid_t start_holder(int limit, const char *prefix, uint64_t seed,
			  bool nest, struct holding *h)
{
	int p[2];
	pid_t pid;

	h->events = -1;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (nest) {
			pid_t inner;

			if (sys_unshare(CLONE_NEWTRACER)) {
				violation("unshare(CLONE_NEWTRACER): %s",
					  strerrorname_np(errno));
				_exit(1);
			}
			inner = fork();
			if (inner == 0)
				holder(limit, prefix, p[1], seed, true);
			close(p[1]);
			_exit(inner > 0 ? wait_for(inner) : 1);
		}
		holder(limit, prefix, p[1], seed, true);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], h, sizeof(*h)) != sizeof(*h))
		h->events = -1;
	close(p[0]);
	return pid;
}

/*
 * Let a holder go: SIGUSR1, or SIGKILL with everything registered. (Not
 * one that never reported: its pid 0 would be our process group.)
 */
static void stop_holder(pid_t pid, const struct holding *h, uint64_t *s)
{
	if (h->events >= 0 && h->pid > 0)
		kill(h->pid, rnd_below(s, 3) ? SIGUSR1 : SIGKILL);
	if (pid > 0)
		wait_for(pid);
}

/* Poll this namespace's status until its group is empty, for 10 s. */
static bool group_empties(void)
{
	static struct status st;

	for (int retry = 0; retry < 100; retry++) {
		if (!read_status(&st))
			return false;
		if (!st.n)
			return true;
		usleep(100000);
	}
	violation("%d events left in the group with no file or process holding them",
		  st.n);
	return false;
}

/*
 * One count of the limit: a holder in a nested namespace registers
 * @nested events, one here registers until refused, which must be with
 * EMFILE at USER_EVENTS_MAX together. Events are deleted asynchronously
 * after the last file and enabler go, and so uncharged: a shortfall is
 * retried after 500 ms, for up to 10 s (as ns_limits does for
 * namespaces), then it is a count that leaked.
 */
static void reach_limit(int nested, uint64_t *s)
{
	struct holding in, here;
	int retry;

	tally(limit_rounds);
	for (retry = 0; retry < 20; retry++) {
		pid_t inner = -1, outer;
		int total;

		if (!group_empties())
			return;
		in = (struct holding){ .events = 0 };
		if (nested)
			inner = start_holder(nested, "n", rnd(s), true, &in);
		outer = start_holder(USER_EVENTS_MAX + 8, "f", rnd(s), false, &here);
		total = in.events + here.events;
		if (rnd_below(s, 2)) {
			stop_holder(outer, &here, s);
			stop_holder(inner, &in, s);
		} else {
			stop_holder(inner, &in, s);
			stop_holder(outer, &here, s);
		}
		if (in.events < 0 || here.events < 0) {
			violation("a holder did not report");
			return;
		}
		if (total > USER_EVENTS_MAX || here.err != EMFILE ||
		    (in.events < nested && in.err != EMFILE)) {
			violation("%d + %d user events, then %s and %s: the limit is %d",
				  in.events, here.events,
				  strerrorname_np(in.err) ?: "-",
				  strerrorname_np(here.err) ?: "-", USER_EVENTS_MAX);
			return;
		}
		if (total == USER_EVENTS_MAX)
			break;
		tally(limit_retries);
		usleep(500000);
	}
	if (retry == 20)
		violation("only %d + %d user events under the limit of %d after 10 s: a count leaked",
			  in.events, here.events, USER_EVENTS_MAX);
}

/* The quiet tenant: the limit, round after round. */
static int quiet_tenant(uint64_t seed)
{
	do
		reach_limit(rnd_below(&seed, 2) ? 1 + rnd_below(&seed, 255) : 0,
			    &seed);
	while (now() < shared->end);
	return 0;
}

/* --- tenants --------------------------------------------------------- */

/*
 * A churn tenant's pid 1: its reader and workers (a worker that exits
 * is replaced) until the end; then, with all of them gone, its group
 * must empty and the limit be reached again.
 */
static int churn_tenant(uint64_t seed)
{
	pid_t workers[WORKERS], rd, pid;
	int status;

	rd = fork();
	if (rd == 0)
		_exit(reader(rnd(&seed)));
	for (int i = 0; i < WORKERS; i++) {
		uint64_t ws = rnd(&seed);

		workers[i] = fork();
		if (workers[i] == 0)
			_exit(worker(ws));
	}
	/* Orphans are ours to reap too: we are pid 1 here. */
	while ((pid = wait(&status)) > 0 || errno == EINTR) {
		for (int i = 0; i < WORKERS; i++) {
			uint64_t ws = rnd(&seed);

			if (pid != workers[i] || now() > shared->end - 0.5)
				continue;
			workers[i] = fork();
			if (workers[i] == 0)
				_exit(worker(ws));
		}
		if (pid == rd && status)
			violation("the reader exited with %#x", status);
	}
	reach_limit(rnd_below(&seed, 2) ? rnd_below(&seed, 256) : 0, &seed);
	return 0;
}

/* The tenant made at the end, when every other is gone. */
static int fresh_tenant(uint64_t seed)
{
	reach_limit(rnd_below(&seed, 256), &seed);
	return 0;
}

/* Start tenant @t in a new user + tracer + pid namespace. */
static pid_t start_tenant(int t, int (*fn)(uint64_t), uint64_t seed)
{
	pid_t pid;

	if (t < TENANTS)
		shared->tenant_init[t] = 0;
	pid = fork();
	if (pid == 0) {
		pid_t init;

		me = t;
		if (new_tracer_ns(CLONE_NEWPID)) {
			violation("new user + tracer + pid namespace: %s",
				  strerrorname_np(errno));
			_exit(1);
		}
		init = fork();
		if (init == 0)
			_exit(fn(seed));
		if (init > 0 && t < TENANTS)
			__atomic_store_n(&shared->tenant_init[t], init,
					 __ATOMIC_RELEASE);
		_exit(init > 0 ? wait_for(init) : 1);
	}
	return pid;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 20;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	double start, kills[2];
	pid_t tenants[TENANTS + 1];
	uint64_t s;
	int rc;

	/* Children end with _exit(): nothing may wait in a buffer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 1;
	if (access(DATA_FILE, R_OK | W_OK) || access(STATUS_FILE, R_OK)) {
		printf("user_event_churn: %s or %s not open to this user: %s\n",
		       DATA_FILE, STATUS_FILE, strerror(errno));
		return 1;
	}
	s = seed ?: 1;
	start = now();
	shared->end = start + seconds;
	kills[0] = start + seconds * 0.3;
	kills[1] = start + seconds * 0.6;
	printf("user_event_churn: %d s, seed %#llx, %d tenants of %d workers and a reader, one quiet\n",
	       seconds, (unsigned long long)seed, TENANTS, WORKERS);

	for (int t = 0; t < TENANTS; t++)
		tenants[t] = start_tenant(t, churn_tenant, rnd(&s));
	tenants[QUIET] = start_tenant(QUIET, quiet_tenant, rnd(&s));
	/* Twice, a whole tenant dies mid-way; a new one takes its place. */
	for (int k = 0; k < 2; k++) {
		int t = rnd_below(&s, TENANTS);
		pid_t init;

		while (now() < kills[k])
			usleep(10000);
		init = __atomic_load_n(&shared->tenant_init[t], __ATOMIC_ACQUIRE);
		if (init <= 0)
			continue;
		kill(init, SIGKILL);
		rc = wait_for(tenants[t]);
		if (rc != 128 + SIGKILL)
			violation("tenant %d killed, exited %d", t, rc);
		tally(killed);
		tenants[t] = start_tenant(t, churn_tenant, rnd(&s));
	}
	for (int t = 0; t <= TENANTS; t++) {
		rc = wait_for(tenants[t]);
		if (rc)
			violation("tenant %d exited %d", t, rc);
	}
	/* Every tenant gone: a new one gets the whole limit. */
	rc = wait_for(start_tenant(FRESH, fresh_tenant, rnd(&s)));
	if (rc)
		violation("the fresh tenant exited %d", rc);

	print_errno_counts("registrations", &shared->reg);
	print_errno_counts("writes", &shared->write);
	print_errno_counts("unregistrations", &shared->unreg);
	print_errno_counts("deletes", &shared->del);
	print_errno_counts("malformed registrations", &shared->bad_reg);
	print_errno_counts("malformed writes", &shared->bad_write);
	print_errno_counts("writes with a bad __rel_loc", &shared->bad_loc);
	print_errno_counts("readers of own ids", &shared->open_own);
	print_errno_counts("readers of other tenants' ids", &shared->open_foreign);
	print_errno_counts("readers in a nested namespace", &shared->probe_open);
	printf("user_event_churn: %lu format collisions, writes with the bit set %lu, clear %lu, %lu samples checked, %lu status reads\n",
	       shared->collisions, shared->writes_bit_set,
	       shared->writes_bit_clear, shared->samples, shared->status_reads);
	printf("user_event_churn: %lu forks (%lu in a nested namespace), %lu files adopted from one, %lu exits, %lu nested probes, %lu foreign ids reused, %lu tenants killed\n",
	       shared->forks, shared->nested_forks, shared->adopted,
	       shared->exits, shared->probes, shared->foreign_reused,
	       shared->killed);
	printf("user_event_churn: %lu counts of the limit, %lu retries, %lu writes to events nobody reads\n",
	       shared->limit_rounds, shared->limit_retries, shared->quiet_writes);
	if (!shared->reg.ok || !shared->collisions || !shared->writes_bit_set ||
	    !shared->samples || !shared->open_own.ok || !shared->probe_open.err[EINVAL] ||
	    !shared->limit_rounds || !shared->killed || !shared->bad_reg.err[EINVAL]) {
		printf("user_event_churn: the run did not exercise the paths it is for\n");
		shared->violations++;
	}
	printf("user_event_churn: %s (%lu violations)\n",
	       shared->violations ? "FAIL" : "PASS", shared->violations);
	return shared->violations ? 1 : 0;
}
