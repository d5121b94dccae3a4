#!/bin/bash
# perfns top's memory under a fork-heavy workload with containers coming and
# going: its resident set every 10 s, which must stay flat (the live session
# keeps the tasks alive and the containers there are, never the events).
#
#   bash perfns-cli/benches/top_memory.sh [SECONDS]   # as root, from the workspace root
#
# For SECONDS (default 600): two containers (perfns run-container) loop over
# `cat /etc/hostname; date` the whole time (hundreds of forks and exits a
# second), and a third loop makes a new short-lived container after another
# (`perfns run-container churn-N -- true`). perfns top --format json -d 1
# watches the machine, its lines to a file. Every 10 s: top's VmRSS and
# VmHWM (/proc/PID/status), the frames so far, the containers in the last
# frame, and the containers made so far. PERFNS names the binary (default:
# target/release/perfns).
set -euo pipefail
seconds=${1:-600}
perfns=${PERFNS:-target/release/perfns}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$perfns" top --format json -d 1 >"$tmp/top.jsonl" 2>"$tmp/top.err" &
top=$!
until [[ -s $tmp/top.jsonl ]]; do sleep 0.1; done
for c in a b; do
	setsid "$perfns" run-container "forks-$c-$$" -- sh -c \
		'while :; do cat /etc/hostname > /dev/null; date > /dev/null; done' &
	pids+=($!)
done
setsid bash -c 'i=0; while :; do i=$((i + 1)); echo $i > '"$tmp"'/churned;
	'"$perfns"' run-container "churn-$i" -- true; done' &
pids+=($!)

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# seconds rss_kib hwm_kib frames containers_in_frame containers_made"
start=$(date +%s)
while (($(date +%s) - start < seconds)); do
	sleep 10
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$top/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$top/status")
	frames=$(wc -l <"$tmp/top.jsonl")
	in_frame=$(tail -n 1 "$tmp/top.jsonl" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["containers"]))')
	echo "$(($(date +%s) - start)) $rss $hwm $frames $in_frame $(cat "$tmp/churned" 2>/dev/null || echo 0)"
done
kill "$top"
echo "# lost events in all: $(tail -n 1 "$tmp/top.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lost_total"])')"
