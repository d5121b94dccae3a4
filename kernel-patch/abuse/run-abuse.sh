#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Abuse the tracer scope from an unprivileged tenant in the VM: build the
# patched kernel (tracerns-vm.sh build), compile the programs in this
# directory against its uapi headers, boot it and run each program as
# uid 65534 (setpriv), in user + tracer namespaces the program creates,
# for a bounded time. Fails if a program fails or the kernel splats.
#
#   run-abuse.sh [--debug] [SECONDS [SEED]]
#
# SECONDS (default 120) is shared out: 30% scope_fuzz, 20% ns_churn,
# 20% reader_race, 10% ns_limits, and 20% more each for uprobe_churn and
# user_event_churn; leak_audit runs its fixed list of cases after them
# (bounded by a timeout). SEED (default: from the clock) seeds
# scope_fuzz, ns_churn, reader_race, uprobe_churn and user_event_churn
# and is printed.
#
# Environment: as tracerns-vm.sh (TRACERNS_WORKDIR, CCACHE_DIR, ...).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM=$HERE/../tracerns-vm.sh
PROGRAMS=(scope_fuzz ns_churn reader_race ns_limits uprobe_churn user_event_churn
	leak_audit bpf_handoff)

debug=()
if [[ ${1:-} == --debug ]]; then
	debug=(--debug)
	shift
fi
seconds=${1:-120}
seed=${2:-$(( $(date +%s) * 2654435761 % 4294967296 ))}

if [[ -d /work ]]; then
	workdir=${TRACERNS_WORKDIR:-/work/kbuild/tracerns}
else
	workdir=${TRACERNS_WORKDIR:-/var/tmp/tracerns-kbuild}
fi
out=$workdir/out-$( ((${#debug[@]})) && echo debug || echo plain)

bash "$VM" build "${debug[@]}"

bin=$out/abuse
mkdir -p "$bin"
for prog in "${PROGRAMS[@]}"; do
	gcc -O2 -g -Wall -Wextra -Wno-sign-compare -Wno-unused-parameter \
		-Wno-missing-field-initializers -Werror \
		-isystem "$out/usr/include" -o "$bin/$prog" "$HERE/$prog.c" -lpthread
done

# Runs in the guest as root: what an unprivileged program cannot read
# (tracepoint ids, the kernel text range) goes to files first.
cat >"$bin/guest.sh" <<'EOF'
#!/bin/bash
bin=$1 seconds=$2 seed=$3
tracefs=/sys/kernel/tracing
[[ -e $tracefs/events ]] || mount -t tracefs nodev $tracefs 2>/dev/null
for tp in raw_syscalls:sys_enter raw_syscalls:sys_exit \
	syscalls:sys_enter_getppid syscalls:sys_enter_close syscalls:sys_exit_close \
	kmem:mm_page_alloc kmem:mm_page_free sched:sched_switch \
	sched:sched_process_fork sched:sched_wakeup irq:irq_handler_entry \
	signal:signal_generate task:task_newtask; do
	id=$(cat "$tracefs/events/${tp/://}/id" 2>/dev/null) && echo "$tp $id"
done >/tmp/abuse-tracepoints
chmod 644 /tmp/abuse-tracepoints
text=$(awk '$3 == "_stext" { lo = $1 } $3 == "_etext" { hi = $1 }
	END { if (lo && hi) print lo, hi }' /proc/kallsyms)
echo "guest: $(uname -r), $(nproc) CPUs, $(wc -l </tmp/abuse-tracepoints) tracepoint ids, kernel text ${text:-unknown}"
# The tracer scope is off by default: the host turns it on for tenants.
echo 1 >/proc/sys/kernel/perf_tracer_scope
# User events, as a host exposes them to its containers: each tenant
# registers in its own tracer namespace's group, and sees only that.
chmod o+x $tracefs
chmod 0666 $tracefs/user_events_data
chmod 0444 $tracefs/user_events_status
echo "guest: max_tracer_namespaces=$(cat /proc/sys/user/max_tracer_namespaces) perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid) perf_tracer_scope=$(cat /proc/sys/kernel/perf_tracer_scope)"
# kmemleak (the --debug kernel has it): forget what boot left, so that
# a report at the end is about what the programs did.
kmemleak=/sys/kernel/debug/kmemleak
[[ -e /sys/kernel/debug/kmemleak ]] || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
[[ -e $kmemleak ]] && echo clear >$kmemleak
status=0
run() {
	local limit=$1 start rc
	shift
	echo "=== $* (as uid 65534, limit ${limit}s)"
	start=$(date +%s)
	# bpf_handoff, as root, hands the program a loaded BPF program.
	"$bin/bpf_handoff" timeout -s KILL "$limit" \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		env ABUSE_TRACEPOINTS=/tmp/abuse-tracepoints ABUSE_KTEXT="$text" "$@"
	rc=$?
	echo "=== $1: exit $rc after $(($(date +%s) - start)) s"
	((rc == 0)) || status=1
}
run $((seconds * 3 / 10 + 60)) "$bin/scope_fuzz" $((seconds * 3 / 10)) "$seed"
run $((seconds * 2 / 10 + 60)) "$bin/ns_churn" $((seconds * 2 / 10)) "$seed"
# CPU hotplug beside the statedump: reader_race calls
# PERF_EVENT_IOC_TRACER_STATEDUMP in a loop, on every CPU, while root takes
# the last CPU offline and online again as fast as it can. The statedump
# holds no lock across its walk, so hotplug must keep going.
hotplug_cpu=/sys/devices/system/cpu/cpu$(($(nproc) - 1))/online
if [[ -w $hotplug_cpu ]]; then
	(
		cycles=0
		while [[ ! -e /tmp/abuse-hotplug-stop ]]; do
			echo 0 >"$hotplug_cpu" && echo 1 >"$hotplug_cpu" && cycles=$((cycles + 1))
		done
		echo 1 >"$hotplug_cpu"
		echo "$cycles" >/tmp/abuse-hotplug-cycles
	) &
	hotplug=$!
fi
run $((seconds * 2 / 10 + 60)) "$bin/reader_race" $((seconds * 2 / 10)) "$seed"
if [[ -n ${hotplug:-} ]]; then
	touch /tmp/abuse-hotplug-stop
	wait "$hotplug"
	echo "=== cpu hotplug beside reader_race's statedumps: $(cat /tmp/abuse-hotplug-cycles) offline/online cycles"
	[[ $(cat /tmp/abuse-hotplug-cycles) -gt 0 ]] || status=1
fi
run $((seconds / 10 + 60)) "$bin/ns_limits" $((seconds / 10))
# Scoped uprobes on libc by many tenants, and the budget exhausted.
run $((seconds * 2 / 10 + 60)) "$bin/uprobe_churn" $((seconds * 2 / 10)) "$seed"
# User events registered, written and read by many tenants at once, and
# the per-namespace limit; before the ucount check below, which counts
# the namespaces that their groups and events hold.
run $((seconds * 2 / 10 + 60)) "$bin/user_event_churn" $((seconds * 2 / 10)) "$seed"
run 600 "$bin/leak_audit"
# Leak check without kmemleak: every tracer namespace the programs made
# is charged to uid 65534 in the initial user namespace until it is
# freed. With the limit there lowered to the 32 a full-depth chain needs
# (the tenant's own namespace and 31 nested), a leaked one makes the
# chain come up short.
sleep 2
max=$(cat /proc/sys/user/max_tracer_namespaces)
echo 32 >/proc/sys/user/max_tracer_namespaces
run 120 "$bin/ns_limits" 0 31
echo "$max" >/proc/sys/user/max_tracer_namespaces
if [[ -e $kmemleak ]]; then
	# Two scans some seconds apart, as kmemleak's documentation advises,
	# so that objects only just freed are not reported.
	echo scan >$kmemleak
	sleep 5
	echo scan >$kmemleak
	leaks=$(grep -c '^unreferenced object' $kmemleak)
	echo "=== kmemleak: $leaks unreferenced objects"
	if ((leaks)); then
		cat $kmemleak
		status=1
	fi
fi
exit $status
EOF
chmod 755 "$bin/guest.sh"

echo "run-abuse: seconds=$seconds seed=$seed kernel=${debug[*]:-plain}"
exec bash "$VM" run "${debug[@]}" -- "$bin/guest.sh" "$bin" "$seconds" "$seed"
