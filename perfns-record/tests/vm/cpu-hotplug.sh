#!/usr/bin/env bash
# CPUs going offline and online while perfns record records, in the VM
# (two CPUs; the machine the tests run on is not ours to unplug CPUs from).
#
#   bash perfns-record/tests/vm/cpu-hotplug.sh [OUTDIR]
#
# On the host: builds perfns and perfns-workload (release), boots the
# patched kernel (kernel-patch/tracerns-vm.sh, built on first use; the
# series plays no part here, any kernel with CPU hotplug would do) and runs
# this script's guest part as root in the VM; the recording and the logs
# land in OUTDIR (default target/vm-hotplug). Then the checks run on the
# host against the recording itself: cargo test -p perfns-cli --test
# faults cpu_hotplug, with PERFNS_VM_HOTPLUG_DIR=OUTDIR.
#
# In the VM, one system-wide recording throughout:
#   before    perfns-workload getppid 1000, pinned to cpu1
#   cpu1 goes offline; once perfns record has said so:
#   offline   perfns-workload getppid 1000 (on cpu0, the only one left)
#   cpu1 comes back; once perfns record has opened its events again:
#   after     perfns-workload getppid 1000, pinned to cpu1
# Each workload's pid is written to OUTDIR/{before,offline,after}.pid.
#
# Nothing here waits for a time limit: the steps follow each other by the
# processes' exits and by what perfns record prints.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

if [[ ${1:-} == --guest ]]; then
	out=$2 bin=$3
	tracefs=/sys/kernel/tracing
	[[ -d $tracefs/events ]] || mount -t tracefs nodev "$tracefs"
	uname -r >"$out/kernel"
	nproc >"$out/nproc"
	cpu1=/sys/devices/system/cpu/cpu1/online
	[[ -w $cpu1 ]] || { echo "cpu1 cannot go offline here" >&2; exit 1; }
	log=$out/record.log
	"$bin/perfns" record --scope system -a --events cpu,syscalls \
		-o "$out/hotplug.data" 2>"$log" &
	rec=$!
	# The statedump is written (and flushed) before recording starts.
	until [[ $(stat -c %s "$out/hotplug.data" 2>/dev/null || echo 0) -gt 8192 ]]; do
		sleep 0.1
	done
	workload() {
		"$bin/perfns-workload" getppid 1000 &
		echo $! >"$out/$1.pid"
		wait $!
	}
	# taskset execs the workload: the pid is the workload's.
	taskset -c 1 "$bin/perfns-workload" getppid 1000 &
	echo $! >"$out/before.pid"
	wait $!
	echo 0 >"$cpu1"
	until grep -q "cpu1 went offline" "$log"; do sleep 0.1; done
	workload offline
	echo 1 >"$cpu1"
	until grep -q "cpu1 is back online" "$log"; do sleep 0.1; done
	taskset -c 1 "$bin/perfns-workload" getppid 1000 &
	echo $! >"$out/after.pid"
	wait $!
	kill -INT "$rec"
	status=0
	wait "$rec" || status=$?
	echo "$status" >"$out/record.status"
	"$bin/perfns" report -i "$out/hotplug.data" >"$out/report" 2>&1
	perf script -i "$out/hotplug.data" >"$out/script" 2>"$out/script.err" || true
	exit 0
fi

out=$(realpath -m "${1:-$repo/target/vm-hotplug}")
rm -rf "$out"
mkdir -p "$out"
cd "$repo"
nice -n 5 cargo build --release --locked -p perfns-cli -p perfns-record \
	--features perfns-record/testing --bins
start=$(date +%s)
bash kernel-patch/tracerns-vm.sh run --rwdir "$out" -- \
	bash "$here/cpu-hotplug.sh" --guest "$out" "$repo/target/release"
echo "cpu-hotplug: VM part took $(($(date +%s) - start)) s"
for f in record.log report; do
	echo "== $f"
	cat "$out/$f"
done
PERFNS_VM_HOTPLUG_DIR=$out cargo test --locked -p perfns-cli --test faults \
	cpu_hotplug -- --ignored --nocapture
