#!/bin/sh
# Makes the report's test recordings in testdata/ with Debian's perf: real
# containers (containers.sh) running known workloads (workload.c), all on
# CPU 0, recorded on CPU 0. Run as root from anywhere; testdata/README.md
# says what each recording should show.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/../../../testdata}
W=$(mktemp -d)/workload
cc -O2 -static -o "$W" "$HERE/workload.c"
C=$HERE/containers.sh
P="perf record -m 2048 --synth=task,cgroup -a -C 0"

# Tracepoints: CPU time from sched_switch (every task), memory and syscalls
# from the containers' cgroups only (-G, so that perf's own syscalls and the
# host's page traffic do not swamp the file).
$P -o "$OUT/containers-tracepoints.data" --namespaces --all-cgroups \
	-e sched:sched_switch -e kmem:mm_page_alloc -e kmem:mm_page_free \
	-e raw_syscalls:sys_enter -e raw_syscalls:sys_exit -G ,perfns,perfns,perfns,perfns \
	-- "$C" "$W" tracepoints

# Sampling with context-switch records (no tracepoints).
$P -o "$OUT/containers-switch.data" --namespaces --all-cgroups --switch-events \
	-e cpu-clock -F 999 -- "$C" "$W" cpu

# A plain recording: no namespaces, no cgroups.
$P -o "$OUT/plain-sched-switch.data" -e sched:sched_switch -- "$C" "$W" cpu

# Lost events: a one-page buffer that the syscall workload overflows.
perf record -m 1 --synth=task,cgroup -a -C 0 -o "$OUT/lost-syscalls.data" --namespaces --all-cgroups \
	-e raw_syscalls:sys_enter -e raw_syscalls:sys_exit -G perfns,perfns \
	-- "$C" "$W" syscalls

chmod 644 "$OUT"/*.data
ls -l "$OUT"/*.data
