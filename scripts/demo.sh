#!/usr/bin/env bash
# The perfns demo: records real containers and prints the per-container
# report. Run as root on Debian 12 (README.md).
#
#   bash scripts/demo.sh        the host's view, on this machine's kernel
#   bash scripts/demo.sh --vm   a tenant's view, unprivileged, on the
#                               patched 6.12 kernel in a VM
#
# Containers are made with `perfns run-container` (namespaces and a cgroup,
# no runtime needed).
#
# On this machine, root records everything (perfns record --scope system):
#   web      two busy loops                      about 2x the CPU of batch
#   batch    one busy loop
#   tenant   a shell with two containers nested in it:
#     cache  writes 256 MiB into memory          pages allocated, then freed
#     api    200000 one-byte read()s and write()s syscalls
#
# With --vm: builds perfns, boots the patched kernel in QEMU
# (kernel-patch/tracerns-vm.sh builds it on first use) and, in the VM, an
# ordinary user (uid 65534, no privilege) starts a container `tenant` with
# a tracer namespace of its own; tenant's root runs perfns record, which
# chooses the tracer scope by itself, around containers nested in tenant:
#   web      burns 2 s of CPU                    2x batch's CPU time
#   batch    burns 1 s of CPU
#   cache    touches 16 MiB                      4096 pages allocated
#   api      5000 getppid()s                     5000 getppid in syscalls
# while a sibling container outside tenant (`sibling`, comm noisy-sibling)
# burns 3 s and makes 5000 getppid()s. The tenant's report has tenant as
# its root and nothing of the sibling; the VM's root recorded the whole VM
# at the same time, and its report follows, for contrast. The workloads
# are perfns-workload's (exact CPU time, memory and syscalls), and the
# steps are scripts/vm-tenant.sh's, which the VM end-to-end test shares.
#
#   DEMO_SECONDS  how long to record (default 5; not with --vm, whose
#                 workloads stop by themselves)
#   DEMO_OUTPUT   where to keep the recording (default: a temporary file);
#                 with --vm, a directory for tenant.data and system.data
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == --vm-guest ]]; then
	# In the VM, as root: see --vm above.
	source scripts/vm-tenant.sh
	vm_stage "$2" "$3"
	vm_system_record
	vm_tenant_scene "getppid 5000 burn 3000" web="burn 2000" \
		batch="burn 1000" cache="alloc 16" api="getppid 5000"
	vm_system_stop
	exit 0
fi

if [[ ${1:-} == --vm ]]; then
	bash scripts/install-deps.sh
	source scripts/vm-tenant.sh
	vm_build
	perfns=$PWD/target/release/perfns
	out=${DEMO_OUTPUT:-}
	if [[ -z $out ]]; then
		out=$(mktemp -d /tmp/perfns-demo.XXXXXX)
		trap 'rm -rf "$out"' EXIT
	fi
	mkdir -p "$out"
	out=$(realpath "$out")
	# The tenant, uid 65534 in the VM, writes its recording here.
	chmod 1777 "$out"
	vm_boot "$out" bash scripts/demo.sh --vm-guest "$out" "$PWD/target/release"
	cat <<-EOF

	== The tenant's perfns record, unprivileged in container tenant ($(cat "$out/kernel"))
	$(grep -E '^(\[ perfns record|Warning|Use a larger)' "$out/tenant.log")

	== What the tenant recorded: its own container (the root) and the ones nested in it
	   web      burned 2 s of CPU          2x batch's CPU time
	   batch    burned 1 s of CPU
	   cache    touched 16 MiB             4096 pages allocated
	   api      5000 getppid()s            5000 getppid in the syscalls
	   (sibling, outside tenant, is not in it)
	EOF
	"$perfns" report -i "$out/tenant.data" --per-container
	cat <<-'EOF'

	== For contrast, the VM's root, recording the whole VM at the same time
	   tenant's containers as above, under the VM's own tasks
	   sibling  burned 3 s of CPU, 5000 getppid()s, beside tenant
	EOF
	"$perfns" report -i "$out/system.data" --per-container
	exit 0
fi

seconds=${DEMO_SECONDS:-5}
bash scripts/install-deps.sh
cargo build --release --locked --quiet -p perfns-cli
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

# 3: the kernel lost events; the recording is whole and says how many.
"$perfns" record -a -m 1024 --duration "$seconds" -o "$output" || [[ $? -eq 3 ]]
wait
cat <<EOF

== What root recorded on $(uname -r), every container on the machine
   web      two busy loops             about 2x the CPU of batch
   batch    one busy loop
   tenant   a shell with two containers nested in it:
     cache  writes 256 MiB, each second  pages allocated, then freed
     api    one-byte read()s and write()s, 40000 a second  syscalls
EOF
"$perfns" report -i "$output" --per-container
