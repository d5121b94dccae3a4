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
#     in T:   perfns record (--scope auto, which must choose tracer)
#               -- perfns run-container web   -- burn 2000 ms, 1500 getppid
#                  perfns run-container batch -- burn 1000 ms, 8 MiB touched
# Then, as 65534, perfns record --scope tracer is refused three ways (in the
# initial tracer namespace; in a container without capabilities; with
# kernel.perf_tracer_scope=0), and must say why each time.
# The tenant cannot read the VM's tracefs (mode 0700), so root publishes the
# formats of the tracepoints perfns record uses (raw_syscalls, kmem page
# allocations) in a directory it can read (--tracefs), as a host would for
# its tenants.
#
# Nothing here waits for a time limit: the steps follow each other by the
# processes' exits and by files appearing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

# The workloads (perfns-workload steps); --testdata makes small ones, for a
# recording under 1 MiB, and skips the checks, which expect these.
web_steps="burn 2000 getppid 1500"
batch_steps="alloc 8 burn 1000"
sibling_steps="getppid 2000 burn 6000"

if [[ ${1:-} == --guest ]]; then
	out=$2 bin=$3 web_steps=$4 batch_steps=$5 sibling_steps=$6
	tracefs=/sys/kernel/tracing
	[[ -d $tracefs/events ]] || mount -t tracefs nodev "$tracefs"
	pub=/tmp/perfns-tracefs
	mkdir -p "$pub/events"
	cp "$tracefs/events/header_page" "$tracefs/events/header_event" "$pub/events/"
	for e in raw_syscalls/sys_enter raw_syscalls/sys_exit kmem/mm_page_alloc kmem/mm_page_free; do
		mkdir -p "$pub/events/$e"
		cp "$tracefs/events/$e/format" "$pub/events/$e/"
	done
	chmod -R a+rX "$pub"
	# The sibling's workload under a name of its own, to find its comm.
	ln -sf "$bin/perfns-workload" /tmp/noisy-sibling
	uname -r >"$out/kernel"
	tenant() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

	"$bin/perfns" record --scope system -m 1024 -o "$out/system.data" \
		2>"$out/system.log" &
	system=$!
	until [[ -s $out/system.data ]]; do sleep 0.1; done

	# The steps are words: $sibling_steps, $2 and $3 are split on purpose.
	tenant "$bin/perfns" run-container sibling --tracer required -- \
		/tmp/noisy-sibling $sibling_steps >"$out/sibling.log" 2>&1 &
	sibling=$!
	# shellcheck disable=SC2016 # expanded in T
	tenant "$bin/perfns" run-container tenant --tracer required -- \
		"$bin/perfns" record -m 256 --tracefs "$pub" -o "$out/tenant.data" -- \
		sh -c '"$0" run-container web --tracer required -- "$1" $2 &
		       "$0" run-container batch --tracer required -- "$1" $3 &
		       wait' "$bin/perfns" "$bin/perfns-workload" "$web_steps" "$batch_steps" \
		>"$out/tenant.log" 2>&1
	wait "$sibling"
	kill -INT "$system"
	wait "$system"
	# Why the tracer scope is refused: in the initial tracer namespace,
	# without CAP_PERFMON over the owner (root in T with no capabilities),
	# and with the sysctl off. Each must fail and say so.
	why() {
		local name=$1
		shift
		if "$@" >"$out/why-$name.log" 2>&1; then
			echo "perfns record --scope tracer worked ($name)" >>"$out/why-$name.log"
		fi
	}
	why initial tenant "$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	why nocap tenant "$bin/perfns" run-container why --tracer required -- \
		setpriv --bounding-set=-all -- \
		"$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	echo 0 >/proc/sys/kernel/perf_tracer_scope
	why sysctl tenant "$bin/perfns" run-container why --tracer required -- \
		"$bin/perfns" record --scope tracer -o /tmp/why.data -- true
	echo 1 >/proc/sys/kernel/perf_tracer_scope
	for r in tenant system; do
		"$bin/perfns" report --per-container -i "$out/$r.data" >"$out/$r.report" 2>&1
	done
	exit 0
fi

check=1
if [[ ${1:-} == --testdata ]]; then
	shift
	check=0
	web_steps="burn 800 getppid 300"
	batch_steps="alloc 2 burn 400"
	sibling_steps="getppid 500 burn 3000"
fi
out=$(realpath -m "${1:-$repo/target/vm-e2e}")
rm -rf "$out"
mkdir -p "$out"
chmod 1777 "$out"
cd "$repo"
nice -n 5 cargo build --release --locked -p perfns-cli -p perfns-record \
	--features perfns-record/testing --bins
start=$(date +%s)
bash kernel-patch/tracerns-vm.sh run --rwdir "$out" -- \
	bash "$here/tracer-scope-e2e.sh" --guest "$out" "$repo/target/release" \
	"$web_steps" "$batch_steps" "$sibling_steps"
echo "tracer-scope-e2e: VM part took $(($(date +%s) - start)) s"
for f in tenant.log tenant.report system.report; do
	echo "== $f"
	cat "$out/$f"
done
((check)) || exit 0
PERFNS_VM_E2E_DIR=$out cargo test --locked -p perfns-record --test vm_tracer_scope -- --nocapture
