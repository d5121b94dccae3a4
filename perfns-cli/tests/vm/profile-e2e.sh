#!/usr/bin/env bash
# End to end, on the patched kernel in the VM: perfns record --profile run
# unprivileged inside a container profiles the two containers nested in it
# (clock samples with user call chains, and the kernel's mmap records for
# the tracer scope), and perfns report --profile names their hot functions
# in the right proportion, with nothing of the sibling beside it.
#
#   bash perfns-cli/tests/vm/profile-e2e.sh [OUTDIR]
#
# On the host: compiles profile-burn (perfns_record::testing's: two
# functions burning CPU 2:1, frame pointers) into OUTDIR (default
# target/vm-profile-e2e), builds perfns (release), boots the patched kernel
# (kernel-patch/tracerns-vm.sh) and runs this script's guest part as root.
# Then the checks run on the host, against the recording: cargo test -p
# perfns-cli --test vm_profile -- --ignored, with PERFNS_VM_E2E_DIR=OUTDIR.
#
# In the VM (scripts/vm-tenant.sh: root only sets the stage; uid 65534
# makes every container):
#   sibling   perfns run-container sibling: profile-burn 3000 under another
#             name (profile-burn-sibling), beside T
#   T         perfns run-container tenant: perfns record --profile=999 -e cpu
#             (tracer scope, chosen by --scope auto) -o tenant.data
#               -- perfns run-container web   -- profile-burn 3000
#                  perfns run-container batch -- profile-burn 1500
# started after the recording is: their MMAP2 records are the kernel's, and
# profile-burn-sibling's never reach T. A second recording, in tenant
# late, started while its container burner already runs profile-burn
# (late.data), must still name its functions: the statedump's mmap
# records. A third, in tenant unwinder, records --call-graph dwarf around
# container nofp running profile-burn built without frame pointers
# (dwarf.data): only unwinding its copied stack finds the caller.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

# shellcheck source=../../../scripts/vm-tenant.sh
source "$repo/scripts/vm-tenant.sh"

if [[ ${1:-} == --guest ]]; then
	out=$2 bin=$3
	vm_stage "$out" "$bin"
	# 999 Hz: thousands of samples for the 2:1 check; -e cpu: the
	# context switches only (each container's exact CPU time), no
	# system call tracing around profile-burn's clock reads.
	vm_tenant_record_args=(--profile=999 -e cpu)
	# The sibling runs its copy under its own name; the tenant's
	# containers run OUTDIR's.
	cp "$out/profile-burn" /tmp/profile-burn-sibling
	vm_tenant_scene "exec /tmp/profile-burn-sibling 3000" \
		web="exec $out/profile-burn 3000" batch="exec $out/profile-burn 1500"
	# A late recording: container burner runs profile-burn before perfns
	# record starts (its mappings come from the statedump), and 2 s of
	# recording take part of its 6 s burn, whose end T then waits for.
	# shellcheck disable=SC2016 # expanded in the container
	as_tenant "$bin/perfns" run-container late --tracer required -- sh -c '
		b=$1 out=$2 tracefs=$3
		"$b/perfns" run-container burner --tracer required -- \
			"$out/profile-burn" 6000 >"$out/late-burn.txt" &
		until grep -qx profile-burn /proc/[0-9]*/comm 2>/dev/null; do sleep 0.05; done
		"$b/perfns" record --profile=999 -e cpu -m 256 --tracefs "$tracefs" --duration 2 \
			-o "$out/late.data"
		s=$?
		wait
		exit $s' sh "$bin" "$out" "$vm_tracefs" >"$out/late.log" 2>&1 ||
		echo "late: exit status $?" >>"$out/late.log"
	# DWARF: profile-burn built without frame pointers, recorded with
	# the sampled task's user registers and stack (the series' patch 14),
	# unwound by perfns report.
	as_tenant "$bin/perfns" run-container unwinder --tracer required -- \
		"$bin/perfns" record --profile=999 --call-graph dwarf,2048 -e cpu -m 256 \
		--tracefs "$vm_tracefs" -o "$out/dwarf.data" -- \
		"$bin/perfns" run-container nofp --tracer required -- \
		"$out/profile-burn-nofp" 1500 >"$out/dwarf.log" 2>&1 ||
		echo "unwinder: exit status $?" >>"$out/dwarf.log"
	exit 0
fi

out=$(realpath -m "${1:-$repo/target/vm-profile-e2e}")
rm -rf "$out"
mkdir -p "$out"
chmod 1777 "$out"
cc -O1 -g -fno-omit-frame-pointer -fno-inline -o "$out/profile-burn" \
	"$repo/perfns-record/src/testing/profile_burn.c"
cc -O1 -g -fomit-frame-pointer -fno-inline -o "$out/profile-burn-nofp" \
	"$repo/perfns-record/src/testing/profile_burn.c"
vm_build
start=$(date +%s)
vm_boot "$out" bash "$here/profile-e2e.sh" --guest "$out" "$repo/target/release"
echo "profile-e2e: VM part took $(($(date +%s) - start)) s"
cat "$out/tenant.log"
release=$repo/target/release
"$release/perfns" report --profile -i "$out/tenant.data" | tee "$out/tenant-profile.txt"
"$release/perfns" report --profile --format json -i "$out/tenant.data" >"$out/tenant-profile.json"
"$release/perfns" report --profile --format folded -i "$out/tenant.data" >"$out/tenant.folded"
"$release/perfns" report --flamegraph "$out/tenant.svg" -i "$out/tenant.data" >/dev/null
cat "$out/late.log"
"$release/perfns" report --profile --format json -i "$out/late.data" >"$out/late-profile.json"
"$release/perfns" report --profile --format folded -i "$out/late.data" >"$out/late.folded"
cat "$out/dwarf.log"
"$release/perfns" report --profile --format json -i "$out/dwarf.data" >"$out/dwarf-profile.json"
"$release/perfns" report --profile --format folded -i "$out/dwarf.data" >"$out/dwarf.folded"
cd "$repo"
PERFNS_VM_E2E_DIR=$out cargo test -q --locked -p perfns-cli --test vm_profile -- --ignored
