// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * profile-burn: the known hot functions of a profiling test.
 *
 *   profile-burn MS
 *
 * Burns MS ms of the process's CPU time in rounds of three 1 ms slices of
 * CPU time: two in perfns_hot_two(), one in perfns_hot_one(), both called
 * from perfns_burn_round(), called from main(). A sampled profile of it
 * shows the two functions' self time 2:1 and perfns_burn_round() in every
 * user call chain. Built by perfns_record::testing::profile_burn_binary()
 * with frame pointers and without inlining, so that call chains unwind.
 * Prints the CPU time each function spun on stdout at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

static long long cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) {
		perror("profile-burn: clock_gettime");
		exit(1);
	}
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Spins until the process has used @ns more ns of CPU time. The clock is a
 * system call: it is read after each 20000 rounds of arithmetic (tens of
 * microseconds), so the spinning, not the reading, is what samples see.
 * Inlined, so the spinning is the hot functions' own (self) time.
 */
static inline __attribute__((always_inline)) long long spin(long long ns)
{
	long long start = cpu_ns(), now;
	unsigned long x = sink;

	do {
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005UL + 1;
		sink = x;
		now = cpu_ns();
	} while (now - start < ns);
	return now - start;
}

__attribute__((noinline)) long long perfns_hot_two(void)
{
	return spin(2000000);
}

__attribute__((noinline)) long long perfns_hot_one(void)
{
	return spin(1000000);
}

__attribute__((noinline)) void perfns_burn_round(long long *two, long long *one)
{
	*two += perfns_hot_two();
	*one += perfns_hot_one();
}

int main(int argc, char **argv)
{
	long long ms, two = 0, one = 0, start;

	if (argc != 2 || (ms = atoll(argv[1])) <= 0) {
		fprintf(stderr, "usage: profile-burn MS\n");
		return 2;
	}
	start = cpu_ns();
	while (cpu_ns() - start < ms * 1000000)
		perfns_burn_round(&two, &one);
	printf("profile-burn: perfns_hot_two %lld ms perfns_hot_one %lld ms\n",
	       two / 1000000, one / 1000000);
	return 0;
}
