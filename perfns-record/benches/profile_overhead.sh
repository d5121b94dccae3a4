#!/usr/bin/env bash
# Sampling overhead of `perfns record --profile` against `perf record -F HZ
# -a` with the same call-graph mode, as the slowdown of a fixed amount of
# work: a workload (compiled here, as profile-burn is: frame pointers, no
# inlining) runs ROUNDS rounds of two functions (2:1) and prints the wall
# time they took. Each pair runs it alone, under perfns record and under
# perf record, in that order; the table gives the medians and the ratio of
# the two recorders' slowdowns.
#
#   bash perfns-record/benches/profile_overhead.sh [PAIRS] [ROUNDS]   # as root
#
# PERFNS: the perfns binary (default target/release/perfns). perfns records
# its default groups besides the profile, as `perfns record --profile`
# does; perf record only the samples.
set -euo pipefail
pairs=${1:-5}
rounds=${2:-8000}
perfns=${PERFNS:-target/release/perfns}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/work.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static volatile unsigned long sink;
__attribute__((noinline)) void spin(long n)
{
	unsigned long x = sink;
	for (long i = 0; i < n; i++)
		x = x * 6364136223846793005UL + 1;
	sink = x;
}
__attribute__((noinline)) void two(void) { spin(200000); }
__attribute__((noinline)) void one(void) { spin(100000); }
int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 8000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long r = 0; r < rounds; r++) {
		two();
		one();
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("work %.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
EOF
cc -O1 -fno-omit-frame-pointer -fno-inline -o "$dir/work" "$dir/work.c"

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
seconds() { awk '$1 == "work" {print $2}'; }

echo "| call graph | Hz | alone (s) | perfns record (s) | perf record (s) | slowdown perfns | slowdown perf | perfns/perf |"
echo "|---|---|---|---|---|---|---|---|"
for mode in fp dwarf; do
	for hz in 99 999; do
		: >"$dir/alone"
		: >"$dir/perfns"
		: >"$dir/perf"
		for _ in $(seq "$pairs"); do
			"$dir/work" "$rounds" | seconds >>"$dir/alone"
			"$perfns" record -q --profile="$hz" --call-graph "$mode" -o "$dir/a.data" \
				-- "$dir/work" "$rounds" | seconds >>"$dir/perfns"
			perf record -q -F "$hz" --call-graph "$mode" -a -o "$dir/b.data" \
				-- "$dir/work" "$rounds" | seconds >>"$dir/perf"
		done
		t0=$(median <"$dir/alone")
		ta=$(median <"$dir/perfns")
		tb=$(median <"$dir/perf")
		awk -v m="$mode" -v hz="$hz" -v t0="$t0" -v ta="$ta" -v tb="$tb" 'BEGIN {
			printf "| %s | %s | %.3f | %.3f | %.3f | %.4f | %.4f | %.4f |\n", m, hz, t0, ta, tb, ta / t0, tb / t0, ta / tb
		}'
	done
done
