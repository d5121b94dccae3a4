#!/usr/bin/env bash
# Overhead of `perfns record` against `perf record` on a system-call-heavy
# loop: the same events (raw_syscalls:sys_enter and sys_exit, plus the
# task, namespace and cgroup side-band), the same ring buffer size, the
# whole machine (-a), the same workload (`perfns-workload getppid N`).
#
#   bash perfns-record/benches/overhead.sh [CALLS] [PAGES] [RUNS]
#
# Defaults: 1000000 calls, -m 256 pages per CPU, 5 runs. As root, from the
# workspace root; needs perf (Debian's linux-perf) and hyperfine (installed
# with apt-get if missing). Prints hyperfine's table, then per tool the cost
# of one traced call (wall time with N calls minus wall time with none,
# divided by N: the tools' start and finish cancel out), the ratio of the
# two, and the events lost in the last run of each.
set -euo pipefail
cd "$(dirname "$0")/../.."
calls=${1:-1000000}
pages=${2:-256}
runs=${3:-5}

cargo build --quiet --release -p perfns-cli --bin perfns
cargo build --quiet --release -p perfns-record --features testing --bin perfns-workload
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
bin=$PWD/target/release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

perfns="$bin/perfns record -a --events syscalls -m $pages -o $out/perfns.data --"
perf="perf record -q -a -e raw_syscalls:sys_enter,raw_syscalls:sys_exit --namespaces --all-cgroups -m $pages -o $out/perf.data --"
work="$bin/perfns-workload getppid"

# -i: perfns record exits 3 when the kernel lost events, which these loads
# may; every run's exit code is in times.json.
hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$out/times.json" \
	-n "perfns, 0 calls" "$perfns $work 0" \
	-n "perf, 0 calls" "$perf $work 0" \
	-n "perfns, $calls calls" "$perfns $work $calls" \
	-n "perf, $calls calls" "$perf $work $calls" \
	-n "no tracing, $calls calls" "$work $calls"

# The events lost in the last (N-call) run of each. perf writes the
# kernel's LOST records and, when it stops, one LOST_SAMPLES per event with
# the event's own count (read_format LOST), which includes what the LOST
# records reported; perfns writes only LOST records, the last ones for what
# the kernel had not reported yet. So: the larger of the two sums.
lost() {
	perf script -D -i "$1" 2>/dev/null | awk '
		/PERF_RECORD_LOST_SAMPLES:/ { split($0, a, "lost samples :"); ls += a[2] + 0; next }
		/PERF_RECORD_LOST:/ { split($0, a, "lost:"); l += a[2] + 0 }
		END { print (ls > l ? ls : l) + 0 }'
}
samples() {
	perf report --stats -i "$1" 2>/dev/null | awk '/SAMPLE events:/ { print $3; exit }'
}

python3 - "$out/times.json" "$calls" "$(lost "$out/perfns.data")" "$(lost "$out/perf.data")" \
	"$(samples "$out/perfns.data")" "$(samples "$out/perf.data")" <<'PY'
import json, sys
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
calls = int(sys.argv[2])
lost = {"perfns": int(sys.argv[3]), "perf": int(sys.argv[4])}
kept = {"perfns": int(sys.argv[5] or 0), "perf": int(sys.argv[6] or 0)}
per_call = {}
for tool in ("perfns", "perf"):
    t0 = times[f"{tool}, 0 calls"]["median"]
    tn = times[f"{tool}, {calls} calls"]["median"]
    per_call[tool] = (tn - t0) / calls * 1e9
    print(f"{tool}: start+finish {t0*1e3:.0f} ms, {per_call[tool]:.0f} ns per traced call, "
          f"last run: {kept[tool]} samples kept, {lost[tool]} lost")
bare = times[f"no tracing, {calls} calls"]["median"] / calls * 1e9
print(f"untraced: {bare:.0f} ns per call (process included)")
print(f"per-call cost perfns/perf: {per_call['perfns'] / per_call['perf']:.2f}")
if lost["perf"]:
    print(f"lost events perfns/perf: {lost['perfns'] / lost['perf']:.2f}")
else:
    print(f"lost events: perfns {lost['perfns']}, perf {lost['perf']}")
PY
