#!/bin/sh
# The cost per traced syscall of `perfns trace` against strace and perf
# trace, on one workload: N getppid calls (perfns-workload getppid N), each
# tracer's output to /dev/null. One invocation runs the workload alone,
# then under each tracer, one after the other, each timed by /usr/bin/time
# (wall, and user+system CPU of the tracer and the workload); the cost per
# call is (the traced run's time - the workload's alone) / N, and the
# ratios are taken within this invocation. perfns trace gets 64 MiB ring
# buffers per CPU (-m 64M, PERFNS_M to change): with the default, a loaded
# machine can lose events at a million calls a second; its exit status (3
# when events were lost) is printed. README.md has the figures.
#
# Run from the workspace root, as root, after
#   cargo build --release -p perfns-cli -p perfns-record --features perfns-record/testing
set -eu
N=${N:-1000000}
M=${PERFNS_M:-64M}
W=${W:-target/release/perfns-workload}
P=${P:-target/release/perfns}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# timed NAME COMMAND...: runs it, its stdout and stderr to /dev/null;
# appends "NAME wall cpu status" to $out/times.
timed() {
    name=$1
    shift
    status=0
    /usr/bin/time -o "$out/t" -f '%e %U %S' "$@" >/dev/null 2>&1 || status=$?
    # /usr/bin/time adds a line when the command failed: the last is ours.
    tail -n 1 "$out/t" | awk -v n="$name" -v s="$status" '{ printf "%s %s %.2f %s\n", n, $1, $2 + $3, s }' >>"$out/times"
}

timed alone "$W" getppid "$N"
timed "perfns-trace" "$P" trace -m "$M" -o /dev/null -- "$W" getppid "$N"
timed "perfns-trace-c" "$P" trace -m "$M" -c -o /dev/null -- "$W" getppid "$N"
timed "strace" strace -f -qq -o /dev/null "$W" getppid "$N"
timed "perf-trace" perf trace -o /dev/null -- "$W" getppid "$N"

echo "N=$N getppid calls; $(uname -r); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
awk -v n="$N" '
    { name[NR] = $1; wall[$1] = $2; cpu[$1] = $3; status[$1] = $4 }
    END {
        printf "%-16s %9s %9s %6s %11s %11s %11s %11s\n", "tracer", "wall s", "cpu s", "exit", "wall/call", "cpu/call", "/strace", "/perf-trace"
        per = 1e6 / n
        sw = (wall["strace"] - wall["alone"]) * per
        pw = (wall["perf-trace"] - wall["alone"]) * per
        for (i = 1; i <= NR; i++) {
            t = name[i]
            w = (wall[t] - wall["alone"]) * per
            c = (cpu[t] - cpu["alone"]) * per
            if (t == "alone") {
                printf "%-16s %9.2f %9.2f %6s %11s %11s %11s %11s\n", t, wall[t], cpu[t], status[t], "-", "-", "-", "-"
            } else {
                printf "%-16s %9.2f %9.2f %6s %9.2fus %9.2fus %11.3f %11.3f\n", t, wall[t], cpu[t], status[t], w, c, w / sw, w / pw
            }
        }
    }' "$out/times"
