#!/usr/bin/env bash
# End to end, on the patched kernel in the VM: perfns top and perfns trace
# run unprivileged inside a container, in tracer scope, see that container
# and the two nested in it, and never the sibling beside it.
#
#   bash perfns-cli/tests/vm/live-e2e.sh [OUTDIR]
#
# On the host: builds perfns and perfns-workload (release), boots the
# patched kernel once (kernel-patch/tracerns-vm.sh) and runs this script's
# guest part as root in the VM; what the tenant saw lands in OUTDIR
# (default target/vm-live-e2e). Then the checks run on the host, against
# those files: cargo test -p perfns-cli --test vm_live, with
# PERFNS_VM_E2E_DIR=OUTDIR.
#
# In the VM, root only sets the stage (scripts/vm-tenant.sh's vm_stage:
# the tracer scope on, the tracepoint and syscall formats published for
# the tenant, who passes --tracefs). Everything else runs as uid 65534:
#   sibling   perfns run-container sibling, outside T: at each of T's
#             steps, the same work as T's containers under other figures
#             (3000 getppid calls and 1000 ms burnt; the known syscalls
#             with 7 getppid calls, and 333-byte writes to /dev/null)
#   T         perfns run-container tenant, which runs this script's tenant
#             part (--tenant), three steps, with nested containers:
#     top     web: burn 1000 ms, 1500 getppid calls; batch: 8 MiB touched,
#             burn 500 ms; each timed by bash's `time` (the workload's
#             rusage, ms). One text frame (top -b -n 1) while both wait to
#             start, then top -b -n N -d S --format json from before they
#             start to the first frame after both are gone (top-*.time,
#             top-text.txt, top.jsonl).
#     screen  top's full-screen view in tmux (80x24): the rows of web and
#             batch, then q and top's exit status (screen-*.txt).
#     trace   perfns trace --tracefs -e openat,write,close,getppid,kill of
#             perfns run-container web -- perfns-workload gate syscalls 5
#             gate (the known calls: a missing path, a 100-byte write to
#             /dev/null, getppid, a kill that fails), the second gate held
#             until the sibling has made the same calls (trace.txt,
#             trace-web.err, trace-web.pid: the workload's pid in T).
# Nothing waits for a time limit: each step follows the one before by
# processes' exits, lines read and files appearing, each bounded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

# The rendezvous of T's steps with its containers and with the sibling:
# FIFOs under /tmp, which T, its containers and the sibling share.
gates=/tmp/perfns-live-e2e

# Waits until COMMAND succeeds, up to 60 s (each try 50 ms apart); fails
# saying WHAT it waited for.
await() {
	local what=$1 i
	shift
	for ((i = 0; i < 1200; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.05
	done
	echo "live-e2e: no $what after 60 s" >&2
	return 1
}

# Opens gate NAME: a line to whoever waits on it (within 60 s: a FIFO
# nobody reads any more would take the line for ever).
open_gate() { timeout 60 bash -c 'echo go >"$1"' bash "$gates/$1"; }

# Starts nested container NAME, which says it is up ($gates/NAME.up) and
# waits at gate NAME before running COMMAND (bash, with $W the workload
# and $OUT the output directory); its stderr goes to $OUT/NAME-$step.log.
# Its stdin is the gate, opened read-write so that opening it does not
# wait for a writer. (Each file in $OUT is written through one open: the
# VM's 9p share refuses the tenant a second open of a file it made.)
nested() {
	local name=$1 command=$2
	rm -f "$gates/$name.up"
	# shellcheck disable=SC2016 # expanded in the container
	"$perfns" run-container "$name" --tracer required -- \
		bash -c ': >"$1"; read -r _; eval "$2"' bash "$gates/$name.up" "$command" \
		<>"$gates/$name" 2>"$OUT/$name-$step.log" &
}

# Starts web and batch (nested), running WEB_COMMAND and BATCH_COMMAND
# once their gates open; their pids in $web and $batch. Returns once both
# are up.
web_and_batch() {
	nested web "$1"
	web=$!
	nested batch "$2"
	batch=$!
	await "web up" test -e "$gates/web.up"
	await "batch up" test -e "$gates/batch.up"
}

# In T, as the tenant: the three steps.
tenant() {
	OUT=$1 bin=$2 tracefs=$3
	perfns=$bin/perfns W=$bin/perfns-workload
	export OUT W TERM=xterm-256color
	cd /tmp
	local frames tracer status
	# A step that fails ends T (set -e): its containers go with it, and
	# the guest's root then stops the sibling.
	trap 'kill -KILL $(jobs -p) 2>/dev/null || true' EXIT

	# --- top: a text frame, then JSON Lines over the whole of the work ---
	step=top
	# shellcheck disable=SC2016 # expanded in the containers
	web_and_batch \
		'TIMEFORMAT="%3U %3S"; { time "$W" burn 1000 getppid 1500; } 2>"$OUT/top-web.time"' \
		'TIMEFORMAT="%3U %3S"; { time "$W" alloc 8 burn 500; } 2>"$OUT/top-batch.time"'
	"$perfns" top -b -n 1 -d 0.5 --tracefs "$tracefs" >"$OUT/top-text.txt" 2>"$OUT/top-text.log"
	# The first frame opens the gates: everything after it counts. awk
	# keeps the frames up to the first without web and batch (their tasks
	# gone an interval before: it has the last of their records); top then
	# ends at its next write, on the closed pipe (-n bounds it). (Not
	# bash's read, which reads a pipe a byte at a time: a system call per
	# byte of each frame, in T, for top to count.)
	{
		status=0
		"$perfns" top -b -n 600 -d 0.5 --format json -m 256 --tracefs "$tracefs" \
			2>"$OUT/top.log" || status=$?
		echo "$status" >"$OUT/top.status"
	} | awk '{ print; fflush() }
		!/"name":"web"/ && !/"name":"batch"/ { gone = 1; exit }
		END { exit !gone }' >"$OUT/top.jsonl" &
	frames=$!
	await "top's first frame" test -s "$OUT/top.jsonl"
	open_gate web
	open_gate batch
	open_gate sibling-top
	wait "$frames"
	wait "$web" "$batch"

	# --- screen: the full-screen view in tmux, as the tenant ---
	step=screen
	web_and_batch '' ''
	screen
	open_gate web
	open_gate batch
	wait "$web" "$batch"

	# --- trace: the known calls in web, the same calls in the sibling ---
	step=trace
	# The workload waits at its gate (the trace's stdin) until its pid in
	# T is known, then makes its calls, then waits again until the
	# sibling has made its own.
	rm -f "$gates/web.up"
	"$perfns" trace --tracefs "$tracefs" -e openat,write,close,getppid,kill \
		-o "$OUT/trace.txt" -- \
		"$perfns" run-container web --tracer required -- "$W" gate syscalls 5 gate \
		<>"$gates/web" 2>"$OUT/trace-web.err" &
	tracer=$!
	await "the traced workload" workload_in_web "$OUT/trace-web.pid"
	open_gate web
	await "the traced calls" grep -q '^syscalls: pid ' "$OUT/trace-web.err"
	open_gate sibling-trace
	await "the sibling's calls" test -e "$OUT/sibling.done"
	open_gate web
	status=0
	wait "$tracer" || status=$?
	echo "$status" >"$OUT/trace.status"
}

# Writes into FILE the pid, in T, of the perfns-workload one pid
# namespace below T (two pids on its NSpid line); fails if there is none.
# One awk for all of /proc: this runs while perfns trace records.
workload_in_web() {
	local pid
	pid=$(awk 'FNR == 1 { n = "" } /^Name:/ { n = $2 }
		/^NSpid:/ && n == "perfns-workload" && NF == 3 { print $2; exit }' \
		/proc/[0-9]*/status 2>/dev/null) || true
	[[ -n $pid ]] && echo "$pid" >"$1"
}

# The full-screen view in tmux: once the rows of web and batch are on the
# pane, q; then its exit status, which the pane prints. A view that stops
# taking keys (a known bug of the screen loop under load) is left after
# 30 s, and its last pane kept.
screen() {
	local sock=$gates/tmux.sock i pane=
	# shellcheck disable=SC2016 # expanded by tmux's shell
	tmux -S "$sock" new-session -d -x 80 -y 24 \
		"$perfns top -d 0.3 --tracefs $tracefs; echo perfns top exited \$?; read -r _"
	for ((i = 0; i < 600; i++)); do
		pane=$(tmux -S "$sock" capture-pane -p -t 0)
		if grep -q '^ *[+-]\? *web ' <<<"$pane" && grep -q '^ *[+-]\? *batch ' <<<"$pane"; then
			break
		fi
		sleep 0.05
	done
	printf '%s\n' "$pane" >"$OUT/screen-rows.txt"
	tmux -S "$sock" send-keys -t 0 q
	for ((i = 0; i < 600; i++)); do
		pane=$(tmux -S "$sock" capture-pane -p -t 0)
		[[ $pane != *'perfns top exited'* ]] || break
		sleep 0.05
	done
	printf '%s\n' "$pane" >"$OUT/screen-exit.txt"
	tmux -S "$sock" kill-server
}

if [[ ${1:-} == --tenant ]]; then
	shift
	tenant "$@"
	exit 0
fi

# shellcheck source=../../../scripts/vm-tenant.sh
source "$repo/scripts/vm-tenant.sh"

if [[ ${1:-} == --guest ]]; then
	out=$2 bin=$3
	vm_stage "$out" "$bin"
	rm -rf "$gates"
	mkdir -m 1777 "$gates"
	for g in web batch sibling-top sibling-trace; do
		mkfifo -m 666 "$gates/$g"
	done
	# The sibling's workload under a name of its own, to find its comm.
	ln -sf "$bin/perfns-workload" /tmp/noisy-sibling
	# shellcheck disable=SC2016 # expanded in the sibling
	as_tenant "$bin/perfns" run-container sibling --tracer required -- bash -c '
		g=$1 out=$2
		read -r _ <"$g/sibling-top"
		/tmp/noisy-sibling getppid 3000 burn 1000
		read -r _ <"$g/sibling-trace"
		/tmp/noisy-sibling syscalls 7
		dd if=/dev/zero of=/dev/null bs=333 count=3 status=none
		: >"$out/sibling.done"' bash "$gates" "$out" >"$out/sibling.log" 2>&1 &
	sibling=$!
	t=0
	as_tenant "$bin/perfns" run-container tenant --tracer required -- \
		bash "$here/live-e2e.sh" --tenant "$out" "$bin" "$vm_tracefs" \
		>"$out/tenant.log" 2>&1 || t=$?
	# T failed before the sibling's last step: it waits for nothing now.
	[[ -e $out/sibling.done ]] || kill "$sibling" 2>/dev/null || true
	s=0
	wait "$sibling" || s=$?
	echo "T: exit $t; sibling: exit $s" >"$out/exits"
	exit 0
fi

out=$(realpath -m "${1:-$repo/target/vm-live-e2e}")
rm -rf "$out"
mkdir -p "$out"
chmod 1777 "$out"
cd "$repo"
vm_build
if ! command -v tmux >/dev/null; then
	echo "live-e2e: tmux is missing (scripts/install-deps.sh installs it): the VM runs" \
		"the host's binaries" >&2
	exit 1
fi
start=$(date +%s)
# The VM's own bound, for a step that waits for ever (none should).
export TRACERNS_TIMEOUT=${TRACERNS_TIMEOUT:-480}
vm_boot "$out" bash "$here/live-e2e.sh" --guest "$out" "$repo/target/release"
echo "live-e2e: VM part took $(($(date +%s) - start)) s"
for f in tenant.log sibling.log top-text.txt screen-exit.txt trace-web.err; do
	echo "== $f"
	cat "$out/$f" 2>/dev/null || echo "(none)"
done
PERFNS_VM_E2E_DIR=$out cargo test --locked -p perfns-cli --test vm_live -- --ignored --nocapture
