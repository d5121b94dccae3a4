#!/usr/bin/env bash
# End to end, on the patched kernel in the VM: perfns record run
# unprivileged inside a container records that container and the two nested
# in it, and nothing else; a host-level recording of the same moment gives
# the same figures for them.
#
#   bash perfns-record/tests/vm/tracer-scope-e2e.sh [--testdata] [OUTDIR]
#
# On the host: builds perfns and perfns-workload (release), boots the
# patched kernel (kernel-patch/tracerns-vm.sh, built on first use) and runs
# this script's guest part as root in the VM; the recordings and reports
# land in OUTDIR (default target/vm-e2e). Then the checks run on the host,
# against the recordings themselves: cargo test -p perfns-record --test
# vm_tracer_scope, with PERFNS_VM_E2E_DIR=OUTDIR.
#
# In the VM (root only sets the stage; every container is made by an
# ordinary user, uid 65534, not root in the initial user namespace):
#   root      perfns record --scope system   the whole VM, from before to after
#   65534     perfns run-container sibling   a noisy workload, outside T
#   65534     perfns run-container tenant    T: user, pid, mount, uts, ipc,
#                                            cgroup and tracer namespaces
#     in T:   perfns record (--scope auto, which must choose tracer),
#             with a uprobe and a uretprobe on perfns_workload_request
#             and --user-events
#               -- perfns run-container web   -- burn 2000 ms, 1500 getppid,
#                                                300 requests
#                  perfns run-container batch -- burn 1000 ms, 8 MiB touched
#             beside it, in T itself, perfns-workload registers user event
#             request_done (u32 seq) before the recording starts and
#             writes it 250 times once it runs
# The sibling runs the same perfns-workload file and makes 500 requests
# of its own, which must not reach T (the series' patch 11); and it
# registers a request_done of its own, of another format (u64 seq),
# which its own perfns record --user-events opens, and writes it 400
# times: none may reach T, and its recording has them all. The tenants'
# user_events_data and user_events_status are the VM's tracefs files,
# which root exposes to them (vm_stage), as a host's administrator does.
# Root turns the tracer scope on first (kernel.perf_tracer_scope=1, off by
# default; scripts/vm-tenant.sh's vm_stage). Then, as 65534, perfns record
# --scope tracer is refused four ways (in the initial tracer namespace; in
# a container without capabilities; with kernel.perf_tracer_scope=0, the
# default; with kernel.perf_event_paranoid=3), and must say why each time;
# and a container root limits to 256 KiB of ring buffers refuses perfns
# record -m 128 and says what is left (the series' buffer budget).
# The tenant cannot read the VM's tracefs (mode 0700), so root publishes the
# formats of the tracepoints perfns record uses (perfns publish-tracefs) in
# a directory it can read (--tracefs), as a host would for its tenants.
# The stage, the sibling and T are scripts/vm-tenant.sh's, which the demo
# (scripts/demo.sh --vm) shares.
#
# Nothing here waits for a time limit: the steps follow each other by the
# processes' exits and by files appearing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

# The workloads (perfns-workload steps); --testdata makes small ones, for a
# recording under 1 MiB, and skips the checks, which expect these.
web_steps="burn 2000 getppid 1500 requests 300"
batch_steps="alloc 8 burn 1000"
sibling_steps="getppid 2000 burn 1500 requests 500 burn 4500"
# The user events T and the sibling write.
tenant_user_events=250
sibling_user_events=400

# shellcheck source=../../../scripts/vm-tenant.sh
source "$repo/scripts/vm-tenant.sh"

if [[ ${1:-} == --guest ]]; then
	out=$2 bin=$3 web_steps=$4 batch_steps=$5 sibling_steps=$6
	tenant_user_events=$7 sibling_user_events=$8
	vm_stage "$out" "$bin"
	vm_system_record
	probe=$bin/perfns-workload:perfns_workload_request
	vm_tenant_record_args=(--uprobe "$probe" --uprobe "$probe%return")
	vm_tenant_user_event=(request_done u32 "$tenant_user_events")
	vm_sibling_user_event=(request_done u64 "$sibling_user_events")
	vm_tenant_scene "$sibling_steps" web="$web_steps" batch="$batch_steps"
	vm_system_stop
	# Why the tracer scope is refused: in the initial tracer namespace,
	# without CAP_PERFMON over the owner (root in T with no capabilities),
	# with the sysctl off, and with perf_event_paranoid at 3 (no
	# unprivileged perf at all). Each must fail and say so.
	why() {
		local name=$1
		shift
		if "$@" >"$out/why-$name.log" 2>&1; then
			echo "perfns record --scope tracer worked ($name)" >>"$out/why-$name.log"
		fi
	}
	why initial as_tenant "$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	why nocap as_tenant "$bin/perfns" run-container why --tracer required -- \
		setpriv --bounding-set=-all -- \
		"$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	echo 0 >/proc/sys/kernel/perf_tracer_scope
	why sysctl as_tenant "$bin/perfns" run-container why --tracer required -- \
		"$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	echo 1 >/proc/sys/kernel/perf_tracer_scope
	paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
	echo 3 >/proc/sys/kernel/perf_event_paranoid
	why paranoid as_tenant "$bin/perfns" run-container why --tracer required -- \
		"$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	echo "$paranoid" >/proc/sys/kernel/perf_event_paranoid
	# The ring-buffer budget (the series' patch 10): root limits a
	# container's tracer namespace to 256 KiB, and perfns record in it is
	# refused -m 128 (512 KiB per CPU) and says what is left; within 1 MiB
	# -m 16 records; an ordinary user may not set a limit at all.
	why budget "$bin/perfns" run-container budget --tracer required \
		--trace-buffer-limit 256K -- "$bin/perfns" record --scope tracer -m 128 \
		--tracefs "$vm_tracefs" -o /tmp/why.data -- true
	why budget-ok "$bin/perfns" run-container budget --tracer required \
		--trace-buffer-limit 1M -- "$bin/perfns" record --scope tracer -m 16 \
		--tracefs "$vm_tracefs" -o /tmp/why.data -- true
	why budget-unprivileged as_tenant "$bin/perfns" run-container budget --tracer required \
		--trace-buffer-limit 256K -- true
	for r in tenant system; do
		"$bin/perfns" report --per-container -i "$out/$r.data" >"$out/$r.report" 2>&1
	done
	for r in tenant sibling; do
		"$bin/perfns" report --per-container --format json -i "$out/$r.data" \
			>"$out/$r.json" 2>"$out/$r-json.log"
	done
	exit 0
fi

check=1
if [[ ${1:-} == --testdata ]]; then
	shift
	check=0
	web_steps="burn 600 getppid 300 requests 100"
	batch_steps="alloc 1 burn 300"
	sibling_steps="getppid 500 burn 600 requests 200 burn 2400"
	tenant_user_events=100
	sibling_user_events=200
fi
out=$(realpath -m "${1:-$repo/target/vm-e2e}")
rm -rf "$out"
mkdir -p "$out"
chmod 1777 "$out"
cd "$repo"
vm_build
start=$(date +%s)
vm_boot "$out" bash "$here/tracer-scope-e2e.sh" --guest "$out" "$repo/target/release" \
	"$web_steps" "$batch_steps" "$sibling_steps" "$tenant_user_events" "$sibling_user_events"
echo "tracer-scope-e2e: VM part took $(($(date +%s) - start)) s"
for f in tenant.log tenant-user-event.log tenant.report system.report sibling.log \
	sibling-user-event.log; do
	echo "== $f"
	if [[ -e $out/$f ]]; then cat "$out/$f"; else echo "(none)"; fi
done
((check)) || exit 0
PERFNS_VM_E2E_DIR=$out cargo test --locked -p perfns-record --test vm_tracer_scope -- --ignored --nocapture
