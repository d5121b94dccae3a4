# A tenant tracing itself on the patched kernel, in the VM: the steps the
# demo (scripts/demo.sh --vm) and the end-to-end test
# (perfns-record/tests/vm/tracer-scope-e2e.sh) share. Sourced by both.
#
# On the host:
#   vm_build                   builds perfns and perfns-workload (release)
#   vm_boot OUTDIR COMMAND...  boots the patched 6.12 (kernel-patch/
#                              tracerns-vm.sh, which builds it on first use)
#                              and runs COMMAND as root in the VM, with
#                              OUTDIR shared read-write; the VM prints
#                              COMMAND's output when it is done
# In the VM, as root (which only sets the stage):
#   vm_stage OUTDIR BINDIR     mounts tracefs and publishes the formats of
#                              the tracepoints perfns record uses
#                              (perfns publish-tracefs), as a host does for
#                              its tenants, who cannot read its tracefs;
#                              and, on a kernel with user events, exposes
#                              user_events_data and user_events_status to
#                              them in $vm_user_events
#   as_tenant COMMAND...       runs COMMAND as uid 65534: an ordinary user,
#                              not root in the initial user namespace
#   vm_system_record           root records the whole VM (system.data,
#                              system.log), until vm_system_stop
#   vm_tenant_scene SIBLING_STEPS NAME=STEPS...
#       as_tenant: perfns run-container sibling   perfns-workload
#                                                 SIBLING_STEPS (comm
#                                                 noisy-sibling), outside T
#       as_tenant: perfns run-container tenant    T: user, pid, mount, uts,
#                                                 ipc, cgroup and tracer
#                                                 namespaces
#         in T:    perfns record (--scope auto, which must choose tracer;
#                  --tracefs the published formats) around, for each
#                  NAME=STEPS, perfns run-container NAME running
#                  perfns-workload STEPS
#       into OUTDIR: tenant.data, tenant.log, sibling.log; it returns when
#       T and the sibling are done.
#       With vm_tenant_user_event=(NAME TYPE N), a writer in T's own tracer
#       namespace registers user event NAME (one field, TYPE seq) before
#       T's perfns record starts, which records it (--user-events), and
#       writes it N times once recording runs (tenant-user-event.log and
#       .status); with vm_sibling_user_event=(NAME TYPE N), the sibling
#       does the same with a perfns record of its own (sibling.data,
#       sibling-record.log; sibling-user-event.log and .status), its writer
#       named noisy-sibling too.
# STEPS are perfns-workload's (burn MS, alloc MIB, getppid N, sleep MS).
# Nothing waits for a time limit: the steps follow each other by the
# processes' exits and by files appearing.

vm_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

vm_build() {
	(cd "$vm_repo" && nice -n 5 cargo build --release --locked -p perfns-cli \
		-p perfns-record --features perfns-record/testing --bins)
}

vm_boot() {
	local out=$1
	shift
	(cd "$vm_repo" && bash kernel-patch/tracerns-vm.sh run --rwdir "$out" -- "$@")
}

vm_stage() {
	vm_out=$1 vm_bin=$2
	vm_tracefs=/tmp/perfns-tracefs
	local tracefs=/sys/kernel/tracing
	[[ -d $tracefs/events ]] || mount -t tracefs nodev "$tracefs"
	# The tracer scope is off by default; the host's administrator turns
	# it on for its tenants.
	echo 1 >/proc/sys/kernel/perf_tracer_scope
	"$vm_bin/perfns" publish-tracefs "$vm_tracefs"
	# User events: the administrator exposes user_events_data and
	# user_events_status to the tenants, as the kernel's user_events
	# documentation says (a bind mount, or permissions): here both,
	# world-usable (each tenant registers in, and lists, its own tracer
	# namespace's group), bind-mounted where tenants can reach them.
	vm_user_events=/tmp/perfns-user-events
	if [[ -e $tracefs/user_events_data ]]; then
		mkdir -p "$vm_user_events"
		chmod 0666 "$tracefs/user_events_data"
		chmod 0444 "$tracefs/user_events_status"
		local f
		for f in user_events_data user_events_status; do
			: >"$vm_user_events/$f"
			mount --bind "$tracefs/$f" "$vm_user_events/$f"
		done
	fi
	uname -r >"$vm_out/kernel"
}

as_tenant() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

vm_system_record() {
	"$vm_bin/perfns" record --scope system -m 1024 -o "$vm_out/system.data" \
		2>"$vm_out/system.log" &
	vm_system=$!
	until [[ -s $vm_out/system.data ]]; do sleep 0.1; done
}

vm_system_stop() {
	kill -INT "$vm_system"
	# 3: the kernel lost events; the file is whole and its log says how many.
	wait "$vm_system" || [[ $? -eq 3 ]]
}

# More arguments for the tenant's perfns record (an array; none by default).
vm_tenant_record_args=()
# A user event T and the sibling each register and write (NAME TYPE N; none
# by default).
vm_tenant_user_event=()
vm_sibling_user_event=()

# Sets vm_writer to the command that, in a container, starts WRITER
# user-event NAME TYPE wait-file PREFIX.go emit N (its output in PREFIX.log,
# its exit status in PREFIX.status; registering through the
# user_events_data vm_stage exposed), waits until it has registered NAME
# (or failed), and then runs the rest of its arguments: a perfns record
# --user-events, whose command (vm_user_event_command) lets the writer
# write once recording runs and waits for it. The enable bit the writer
# waits for is set when the recorder opens the event, before it enables
# it: PREFIX.go is the second signal.
vm_user_event_writer() { # PREFIX WRITER NAME TYPE N
	# shellcheck disable=SC2016 # expanded in the container
	vm_writer=(sh -c 'd=$1 p=$2 w=$3 name=$4 type=$5 n=$6
		shift 6
		(PERFNS_USER_EVENTS_DATA=$d "$w" user-event "$name" "$type" wait-file "$p.go" \
			emit "$n" >"$p.log" 2>&1
			echo $? >"$p.status") &
		until grep -q " registered$" "$p.log" 2>/dev/null || [ -e "$p.status" ]; do
			sleep 0.1
		done
		exec "$@"' sh "$vm_user_events/user_events_data" "$@")
}

# Sets vm_user_event_command to COMMAND... wrapped for vm_user_event_writer's
# recording: it creates PREFIX.go (the recording runs: the command starts
# after the events are enabled), runs COMMAND, and waits for
# PREFIX.status, the writer's end (at most its own 60 s bound).
vm_user_event_command() { # PREFIX COMMAND...
	# shellcheck disable=SC2016 # expanded in the container
	vm_user_event_command=(sh -c 'p=$1
		shift
		: >"$p.go"
		"$@"
		s=$?
		until [ -e "$p.status" ]; do sleep 0.1; done
		exit $s' sh "$@")
}

vm_tenant_scene() {
	local sibling_steps=$1 sibling
	shift
	# The sibling's workload under a name of its own, to find its comm.
	ln -sf "$vm_bin/perfns-workload" /tmp/noisy-sibling
	# The steps are words: $sibling_steps and each NAME=STEPS's STEPS are
	# split on purpose.
	# shellcheck disable=SC2206
	local sibling_command=(/tmp/noisy-sibling $sibling_steps)
	if ((${#vm_sibling_user_event[@]})); then
		local p=$vm_out/sibling-user-event
		vm_user_event_writer "$p" /tmp/noisy-sibling "${vm_sibling_user_event[@]}"
		vm_user_event_command "$p" "${sibling_command[@]}"
		sibling_command=("${vm_writer[@]}" "$vm_bin/perfns" record -e cpu -m 64
			--tracefs "$vm_tracefs" --user-events="$vm_user_events/user_events_status"
			-o "$vm_out/sibling.data" -- "${vm_user_event_command[@]}")
	fi
	as_tenant "$vm_bin/perfns" run-container sibling --tracer required -- \
		"${sibling_command[@]}" >"$vm_out/sibling.log" 2>&1 &
	sibling=$!
	# shellcheck disable=SC2016 # expanded in T
	local command=(sh -c 'p=$1 w=$2; shift 2; for c do "$p" run-container "${c%%=*}" --tracer required -- "$w" ${c#*=} & done; wait'
		sh "$vm_bin/perfns" "$vm_bin/perfns-workload" "$@")
	local writer=() record_args=("${vm_tenant_record_args[@]}")
	if ((${#vm_tenant_user_event[@]})); then
		local p=$vm_out/tenant-user-event
		vm_user_event_writer "$p" "$vm_bin/perfns-workload" "${vm_tenant_user_event[@]}"
		writer=("${vm_writer[@]}")
		vm_user_event_command "$p" "${command[@]}"
		command=("${vm_user_event_command[@]}")
		record_args+=(--user-events="$vm_user_events/user_events_status")
	fi
	as_tenant "$vm_bin/perfns" run-container tenant --tracer required -- \
		"${writer[@]}" "$vm_bin/perfns" record -m 256 --tracefs "$vm_tracefs" \
		"${record_args[@]}" -o "$vm_out/tenant.data" -- "${command[@]}" \
		>"$vm_out/tenant.log" 2>&1 || [[ $? -eq 3 ]] # 3: events lost, said in the log
	wait "$sibling" || [[ $? -eq 3 ]] # the sibling's own recording's, as T's
}
