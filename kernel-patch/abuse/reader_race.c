// SPDX-License-Identifier: GPL-2.0
/*
 * reader_race: scoped readers go away while their events fire. Worker
 * processes of the scope run system calls, faults and forks on every
 * CPU; the main thread opens readers on random CPUs with rings, and a
 * second thread races it with ioctls (enable, disable, statedump,
 * set_output), read() and extra mmap/munmap of the same events, while
 * the main thread munmaps and closes them after a random delay.
 *
 *   reader_race [SECONDS [SEED]]
 */
#include "abuse.h"

#include <pthread.h>

#define NR_READERS	8

static int fds[NR_READERS];
static volatile int round_no, stop;
static unsigned long racer_calls;

static void *racer(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	long page = sysconf(_SC_PAGESIZE);
	char buf[64];

	while (!stop) {
		int fd = fds[rnd_below(&s, NR_READERS)];
		void *map;

		switch (rnd_below(&s, 7)) {
		case 0: ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); break;
		case 1: ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); break;
		case 2: ioctl(fd, PERF_EVENT_IOC_TRACER_STATEDUMP, 0); break;
		case 3: ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT,
			      fds[rnd_below(&s, NR_READERS)]); break;
		case 4: if (read(fd, buf, sizeof(buf)) < 0) {} break;
		case 5: ioctl(fd, PERF_EVENT_IOC_PAUSE_OUTPUT, rnd_below(&s, 2)); break;
		default:
			map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0);
			if (map != MAP_FAILED)
				munmap(map, 3 * page);
		}
		racer_calls++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 30;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) :
				   (uint64_t)time(NULL) * 2654435761u;
	int ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	long page = sysconf(_SC_PAGESIZE);
	struct errno_counts opens = {};
	unsigned long rounds = 0;
	uint64_t s = seed ? seed : 1;
	pid_t pid, workers[4];
	pthread_t thread;
	double end;

	printf("reader_race: seed=%#llx seconds=%d\n", (unsigned long long)seed,
	       seconds);
	fflush(stdout);
	if (new_tracer_ns(CLONE_NEWPID)) {
		perror("reader_race: unshare");
		return 1;
	}
	pid = fork();
	if (pid != 0)
		return pid < 0 ? 1 : wait_for(pid);

	for (int i = 0; i < 4; i++) {
		workers[i] = fork();
		if (workers[i] == 0) {
			pin_to_cpu(i % ncpus);
			for (;;) {
				busy_work(16);
				usleep(500);
			}
		}
	}
	for (int i = 0; i < NR_READERS; i++)
		fds[i] = -1;
	pthread_create(&thread, NULL, racer, (void *)(uintptr_t)(s ^ 0x5a5a));
	end = now() + seconds;
	while (now() < end) {
		void *rings[NR_READERS] = {};
		size_t lens[NR_READERS];

		for (int i = 0; i < NR_READERS; i++) {
			int pages = rnd_below(&s, 3) ? 1 << rnd_below(&s, 3) : 0;
			int fd = open_scoped_reader(rnd_below(&s, 5),
						    rnd_below(&s, ncpus), pages,
						    &rings[i]);

			lens[i] = (pages + 1) * page;

			count_errno(&opens, fd);
			fds[i] = fd;
		}
		usleep(rnd_below(&s, 3000));
		for (int i = 0; i < NR_READERS; i++) {
			int j = rnd_below(&s, NR_READERS);
			int fd = fds[j];

			if (fd < 0)
				continue;
			if (rings[j] && rnd_below(&s, 2)) {
				/* Unmap first, close later; or the reverse. */
				munmap(rings[j], lens[j]);
				rings[j] = NULL;
			}
			fds[j] = -1;
			close(fd);
		}
		for (int i = 0; i < NR_READERS; i++) {
			if (rings[i])
				munmap(rings[i], lens[i]);
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
		rounds++;
	}
	stop = 1;
	pthread_join(thread, NULL);
	for (int i = 0; i < 4; i++)
		kill(workers[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	printf("reader_race: rounds=%lu racer_calls=%lu\n", rounds, racer_calls);
	print_errno_counts("reader_race: open", &opens);
	return 0;
}
