#!/bin/sh
# The cost per traced syscall of `perfns trace` against strace and perf
# trace, on one workload: N getppid calls (perfns-workload getppid N), each
# tracer's output to /dev/null. One run of each, paired with a run of the
# workload alone (farm-bench --vs), whose time is taken off: the cost per
# call is (tracer's wall time - workload's) / N. perfns trace gets 64 MiB
# ring buffers per CPU (-m 64M): with the default, a loaded machine can
# lose events at a million calls a second (its exit status is then 3,
# which farm-bench shows). README.md has the figures.
#
# Run from the workspace root, as root, after
#   cargo build --release -p perfns-cli -p perfns-record --features perfns-record/testing
set -eu
N=${N:-1000000}
W=target/release/perfns-workload
P=target/release/perfns
alone="$W getppid $N"
run() {
    echo "== $1"
    farm-bench -n 1 --warmup 0 --timeout 900 --vs "$alone" -- sh -c "$2"
}
run "perfns trace" "exec $P trace -m 64M -o /dev/null -- $W getppid $N"
run "perfns trace -c" "exec $P trace -m 64M -c -o /dev/null -- $W getppid $N"
run "strace -f -qq" "exec strace -f -qq -o /dev/null $W getppid $N"
run "perf trace" "exec perf trace -o /dev/null -- $W getppid $N"
