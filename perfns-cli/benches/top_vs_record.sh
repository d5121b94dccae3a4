#!/bin/bash
# perfns top's CPU per million events against perfns record's, on the same
# workload: one run each, as root, from the workspace root.
#
#   bash perfns-cli/benches/top_vs_record.sh [SECONDS] [CALLS]
#
# Each tool watches the whole machine's system calls (--events syscalls,
# -m 1024) for SECONDS (default 6) while perfns-workload makes CALLS getppid
# calls (default 1000000: two events each), started a second after the
# tool. The tool's CPU is its own user+sys time (/usr/bin/time); its events
# are what it counted: perfns record's summary (records), perfns top's JSON
# lines (the `events` of every interval). PERFNS and WORKLOAD name the
# binaries (default: target/release/).
set -euo pipefail
seconds=${1:-6}
calls=${2:-1000000}
perfns=${PERFNS:-target/release/perfns}
workload=${WORKLOAD:-target/release/perfns-workload}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu_of() { tail -n 1 "$1" | awk '{ printf "%.3f", $1 + $2 }'; }

# perfns record
/usr/bin/time -f "%U %S" -o "$tmp/record.time" \
	"$perfns" record --events syscalls -m 1024 --duration "$seconds" -o "$tmp/r.data" \
	2>"$tmp/record.err" &
sleep 1
"$workload" getppid "$calls"
wait || true  # exit status 3: events were lost, counted below
record_events=$(grep -o '[0-9]* records' "$tmp/record.err" | head -1 | cut -d' ' -f1)
record_cpu=$(cpu_of "$tmp/record.time")
record_lost=$(grep -o 'Warning: lost [0-9]*' "$tmp/record.err" | grep -o '[0-9]*$' || echo 0)

# perfns top
/usr/bin/time -f "%U %S" -o "$tmp/top.time" \
	"$perfns" top --format json --events syscalls -m 1024 -d 1 -n "$seconds" \
	>"$tmp/top.jsonl" 2>"$tmp/top.err" &
sleep 1
"$workload" getppid "$calls"
wait || true  # exit status 3: events were lost, counted below
top_events=$(python3 -c 'import json,sys; print(sum(json.loads(l)["events"] for l in open(sys.argv[1])))' "$tmp/top.jsonl")
top_lost=$(python3 -c 'import json,sys; print(sum(json.loads(l)["lost"] for l in open(sys.argv[1])))' "$tmp/top.jsonl")
top_cpu=$(cpu_of "$tmp/top.time")

python3 - "$record_cpu" "$record_events" "$top_cpu" "$top_events" "$top_lost" "$record_lost" <<'PY'
import sys
rc, re, tc, te, tl, rl = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
r = rc / (re / 1e6)
t = tc / (te / 1e6)
print(f"perfns record: {rc:.3f} s CPU, {re} events ({rl} lost): {r:.3f} s per million events")
print(f"perfns top:    {tc:.3f} s CPU, {te} events ({tl} lost): {t:.3f} s per million events")
print(f"ratio top/record: {t / r:.2f}")
PY
