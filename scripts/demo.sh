#!/usr/bin/env bash
# The perfns demo: records real containers on this machine and prints the
# per-container report. Run as root on Debian 12 (README.md).
#
# Containers are made with `perfns run-container` (namespaces and a cgroup,
# no runtime needed):
#   web      two busy loops                      about 2x the CPU of batch
#   batch    one busy loop
#   tenant   a shell with two containers nested in it:
#     cache  writes 256 MiB into memory          pages allocated, then freed
#     api    200000 one-byte read()s and write()s syscalls
#
#   DEMO_SECONDS  how long to record (default 5)
#   DEMO_OUTPUT   where to keep the recording (default: a temporary file)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${DEMO_SECONDS:-5}
bash scripts/install-deps.sh
cargo build --release --locked --quiet
perfns=$PWD/target/release/perfns

work=$(mktemp -d /tmp/perfns-demo.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
output=${DEMO_OUTPUT:-$work/demo.data}

# Each workload runs a little longer than the recording and then stops.
burn="timeout $((seconds + 2)) sh -c 'while :; do :; done'"
"$perfns" run-container web -- sh -c "$burn & $burn & wait" &
"$perfns" run-container batch -- sh -c "$burn" &
"$perfns" run-container tenant -- sh -c "
	'$perfns' run-container cache -- perl -e 'for (1..$seconds) { my \$x = \"x\" x (256 << 20); sleep 1 }' &
	'$perfns' run-container api -- sh -c 'for i in \$(seq $seconds); do dd if=/dev/zero of=/dev/null bs=1 count=40000 2>/dev/null; sleep 1; done' &
	wait" &
sleep 0.5

"$perfns" record -a -m 1024 --duration "$seconds" -o "$output"
wait
"$perfns" report -i "$output" --per-container
