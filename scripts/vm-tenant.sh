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
#                              its tenants, who cannot read its tracefs
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

vm_tenant_scene() {
	local sibling_steps=$1 sibling
	shift
	# The sibling's workload under a name of its own, to find its comm.
	ln -sf "$vm_bin/perfns-workload" /tmp/noisy-sibling
	# The steps are words: $sibling_steps and each NAME=STEPS's STEPS are
	# split on purpose.
	# shellcheck disable=SC2086
	as_tenant "$vm_bin/perfns" run-container sibling --tracer required -- \
		/tmp/noisy-sibling $sibling_steps >"$vm_out/sibling.log" 2>&1 &
	sibling=$!
	# shellcheck disable=SC2016 # expanded in T
	as_tenant "$vm_bin/perfns" run-container tenant --tracer required -- \
		"$vm_bin/perfns" record -m 256 --tracefs "$vm_tracefs" \
		"${vm_tenant_record_args[@]}" -o "$vm_out/tenant.data" -- \
		sh -c 'p=$1 w=$2; shift 2; for c do "$p" run-container "${c%%=*}" --tracer required -- "$w" ${c#*=} & done; wait' \
		sh "$vm_bin/perfns" "$vm_bin/perfns-workload" "$@" \
		>"$vm_out/tenant.log" 2>&1 || [[ $? -eq 3 ]] # 3: events lost, said in the log
	wait "$sibling"
}
