#!/bin/bash
# perfns top's memory under a fork-heavy workload with containers coming and
# going: its resident set every 10 s, which must stay flat (the live session
# keeps the tasks alive and the containers there are, never the events),
# against perfns record's in the same run as the peer.
#
#   bash perfns-cli/benches/top_memory.sh [SECONDS]   # as root, from the workspace root
#
# For SECONDS (default 600): two containers (perfns run-container) loop over
# `cat /etc/hostname; date` the whole time (hundreds of forks and exits a
# second), and a third loop makes a new short-lived container after another
# (`perfns run-container churn-N -- true`). perfns top --format json -d 1
# watches the machine, its lines to a file; beside it, perfns record -o -
# (the same events and ring buffers, its stream to /dev/null) records the
# same machine. Every 10 s: top's and record's VmRSS and VmHWM
# (/proc/PID/status), top's frames so far, the containers in its last frame,
# and the containers made so far; at the end, the peaks and their ratio.
# Run it alone (flock /tmp/perfns-runtimes.lock): both record the whole
# machine. PERFNS names the binary (default: target/release/perfns).
set -euo pipefail
seconds=${1:-600}
perfns=${PERFNS:-target/release/perfns}
tmp=$(mktemp -d)
pids=()
cleanup() {
	kill "${top:-}" "${record:-}" 2>/dev/null || true
	for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# Python expression EXPR of f, the last whole JSON line of FILE (top may be
# writing the next one).
last_frame() {
	tail -c 1000000 "$1" | python3 -c '
import json, sys
f = json.loads(sys.stdin.read().split("\n")[-2])
print('"$2"')'
}

"$perfns" top --format json -d 1 >"$tmp/top.jsonl" 2>"$tmp/top.err" &
top=$!
"$perfns" record -o - >/dev/null 2>"$tmp/record.err" &
record=$!
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
echo "# seconds top_rss_kib top_hwm_kib record_rss_kib record_hwm_kib frames containers_in_frame containers_made"
start=$(date +%s)
while (($(date +%s) - start < seconds)); do
	sleep 10
	mem=""
	for p in "$top" "$record"; do
		mem+=$(awk '/^VmRSS/ { rss = $2 } /^VmHWM/ { hwm = $2 } END { printf "%s %s ", rss, hwm }' "/proc/$p/status")
	done
	frames=$(wc -l <"$tmp/top.jsonl")
	in_frame=$(last_frame "$tmp/top.jsonl" 'len(f["containers"])')
	churned=$(cat "$tmp/churned" 2>/dev/null || true)
	echo "$(($(date +%s) - start)) $mem$frames $in_frame ${churned:-?}"
done
top_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$top/status")
record_hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$record/status")
kill -INT "$record"
kill "$top"
wait "$record" || true  # exit status 3: events were lost, said below
echo "# peak RSS: perfns top $top_hwm KiB, perfns record $record_hwm KiB, top/record $(python3 -c "print(round($top_hwm / $record_hwm, 2))")"
echo "# perfns record: $(grep -h 'Captured and wrote' "$tmp/record.err")"
echo "# lost events in all: $(last_frame "$tmp/top.jsonl" 'f["lost_total"]')"
