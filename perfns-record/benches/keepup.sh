#!/usr/bin/env bash
# Does `perfns record` keep up as well as `perf record`? Lost events and
# the recorder's CPU per record, both tools recording the whole machine
# (-a) with the same events and the same ring buffer size, in pairs run
# one after the other (perfns first in odd pairs, perf first in even ones),
# for three loads at three sizes, and a paced load of about a million
# events a second at -m 1024:
#
#   syscalls  `perfns-workload getppid CALLS` (2 events a call)
#   fork      two containers (`perfns run-container`) running a shell loop
#             of short commands (cat, date) the whole time; each run
#             records for SECONDS; every event group (context switches,
#             page allocations, system calls)
#   alloc     `perfns-workload alloc MIB` (a page allocation and a free a
#             page)
#   paced     `perfns-workload` making 500 getppid calls (1000 events) a
#             millisecond, PACED_MS times
#
#   bash perfns-record/benches/keepup.sh [PAIRS] [SIZES] [LOADS]
#
# Defaults: 3 pairs, sizes "128 256 1024", loads "syscalls fork alloc
# paced". As root, from the workspace root; needs perf (Debian's
# linux-perf). CALLS, MIB, SECONDS_PER_RUN and PACED_MS come from the environment
# (1000000, 1000, 3, 3000); PERFNS names another perfns binary to measure
# (an earlier build). Prints one line per run, then per load and size
# the events lost by each tool over all its runs and their ratio, and the
# medians of the pairs' ratios perfns/perf of the recorder's CPU per sample
# kept and of the workload's CPU (keepup_table.py, which also reads those
# lines back from a saved output). The recorder's CPU is its
# own user+sys time (the workload's, measured apart with bash's `times`,
# taken out); records are the samples the file holds (count_records.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-3}
sizes=${2:-"128 256 1024"}
loads=${3:-"syscalls fork alloc paced"}
calls=${CALLS:-1000000}
mib=${MIB:-1000}
seconds=${SECONDS_PER_RUN:-3}
paced_ms=${PACED_MS:-3000}

cargo build --quiet --release -p perfns-cli --bin perfns
cargo build --quiet --release -p perfns-record --features testing --bin perfns-workload
bin=$PWD/target/release
here=$PWD/perfns-record/benches
out=$(mktemp -d)
containers=()
# Each container runs in a session of its own, killed whole (SIGKILL: a pid
# namespace's init ignores the signals it has no handler for).
stop_containers() {
	for pid in "${containers[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
	containers=()
}
cleanup() {
	stop_containers
	wait 2>/dev/null || true
	rm -rf "$out"
}
trap cleanup EXIT

side_band="--namespaces --all-cgroups"
events() { # TOOL LOAD: the events, the same for both tools
	case "$1:$2" in
	perfns:syscalls | perfns:paced) echo "--events syscalls" ;;
	perf:syscalls | perf:paced) echo "-e raw_syscalls:sys_enter,raw_syscalls:sys_exit $side_band" ;;
	perfns:alloc) echo "--events mem" ;;
	perf:alloc) echo "-e kmem:mm_page_alloc,kmem:mm_page_free $side_band" ;;
	perfns:fork) echo "--events cpu,mem,syscalls" ;;
	perf:fork) echo "-e kmem:mm_page_alloc,kmem:mm_page_free,raw_syscalls:sys_enter,raw_syscalls:sys_exit --switch-events $side_band" ;;
	esac
}
workload() { # LOAD: the command recorded
	case "$1" in
	syscalls) echo "$bin/perfns-workload getppid $calls" ;;
	alloc) echo "$bin/perfns-workload alloc $mib" ;;
	paced) echo "$bin/perfns-workload $(for _ in $(seq "$paced_ms"); do printf 'getppid 500 sleep 1 '; done)" ;;
	fork) echo "sleep $seconds" ;;
	esac
}
record() { # TOOL: the record command's start
	case "$1" in
	perfns) echo "${PERFNS:-$bin/perfns} record -a" ;;
	perf) echo "perf record -q -a" ;;
	esac
}

# One run: prints TOOL LOAD PAGES RECORDER_CPU_S SAMPLES LOST WORKLOAD_CPU_S.
run() {
	local tool=$1 load=$2 pages=$3 data=$out/$1.data
	# shellcheck disable=SC2046 # word splitting wanted
	/usr/bin/time -f "%U %S" -o "$out/time" $(record "$tool") $(events "$tool" "$load") -m "$pages" \
		-o "$data" -- bash -c "$(workload "$load"); times > $out/times" >/dev/null 2>"$out/stderr" ||
		[[ $? -eq 3 ]] || # perfns record's status when events were lost, which this measures
		{ cat "$out/stderr" >&2; return 1; }
	local total workload_cpu
	# The last line: time writes "Command exited with non-zero status 3"
	# before it when perfns record lost events.
	total=$(awk 'END { print $1 + $2 }' "$out/time")
	# bash's `times`: its own line, then its children's: "0m0.050s 0m0.090s".
	workload_cpu=$(awk 'NR == 2 { gsub(/s/, ""); split($1, u, "m"); split($2, s, "m");
		print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$out/times")
	echo "$tool $load $pages $(awk -v t="$total" -v w="$workload_cpu" 'BEGIN { print t - w }') \
$(python3 "$here/count_records.py" "$data") $workload_cpu"
	rm -f "$data"
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# tool load pages recorder_cpu_s samples lost workload_cpu_s"
for load in $loads; do
	if [ "$load" = fork ]; then
		for c in a b; do
			setsid "$bin/perfns" run-container "keepup-$c-$$" -- sh -c \
				'while :; do cat /etc/hostname > /dev/null; date > /dev/null; done' &
			containers+=($!)
		done
	fi
	load_sizes=$sizes
	[ "$load" = paced ] && load_sizes=1024
	for pages in $load_sizes; do
		for i in $(seq "$pairs"); do
			if [ $((i % 2)) = 1 ]; then order="perfns perf"; else order="perf perfns"; fi
			for tool in $order; do run "$tool" "$load" "$pages"; done
		done
	done | tee -a "$out/runs"
	stop_containers
done
echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$here/keepup_table.py" "$out/runs"
