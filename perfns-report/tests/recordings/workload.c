/* Known workloads for the report's test recordings (see record.sh):
 *   workload burn N    spin N million loop iterations (CPU time grows with N)
 *   workload mem MIB   allocate MIB MiB and touch every page, then free it
 *   workload sys N     N getppid() calls and N close(-1) calls (which fail)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: workload burn|mem|sys N\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (!strcmp(argv[1], "burn")) {
		for (volatile long i = 0; i < n * 1000000L; i++)
			;
	} else if (!strcmp(argv[1], "mem")) {
		size_t len = (size_t)n << 20;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		/* One page at a time, so the allocations are order 0. */
		madvise(p, len, MADV_NOHUGEPAGE);
		for (size_t i = 0; i < len; i += 4096)
			p[i] = 1;
		munmap(p, len);
	} else if (!strcmp(argv[1], "sys")) {
		for (long i = 0; i < n; i++) {
			getppid();
			close(-1);
		}
	} else {
		return 2;
	}
	return 0;
}
