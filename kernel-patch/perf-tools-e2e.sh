#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end, on the patched kernel in the VM: perf itself records a
# container's containers unprivileged, with the tools/perf patch's
# `perf record --tracer-scope`, and its figures agree with perfns record's.
#
#   bash kernel-patch/perf-tools-e2e.sh [OUTDIR]    default OUTDIR: target/perf-tools-e2e
#
# On the host: builds the patched kernel and its tree (tracerns-vm.sh build,
# which applies every patch here, the tools/perf one too), tools/perf from
# that tree (the minimal feature set of scripts/build-perf612.sh: Debian
# packages only) and perfns (release), boots the VM and runs this script's
# guest part as root there. Then, on the host, it reads both recordings and
# checks them.
#
# In the VM (root only sets the stage, as scripts/vm-tenant.sh's vm_stage:
# kernel.perf_tracer_scope=1, the tracepoint formats published for tenants):
#   65534     perfns run-container tenant    T: user, pid, mount, uts, ipc,
#                                            cgroup and tracer namespaces
#     in T:   perfns record --scope tracer
#               -- perf record --tracer-scope --switch-events
#                    -e raw_syscalls:sys_enter,...,kmem:mm_page_free
#                  -- perfns run-container web   -- burn 2000 ms, 1500 getppid
#                     perfns run-container batch -- 8 MiB touched, burn 1000 ms
#     in a container of its own: perf record --tracer-scope (cpu-clock:u)
#                  -- perfns-workload burn 500
#     in another:  perf record --tracer-scope -g -- profile-burn 1500
#                  (two functions burning CPU 2:1, compiled here)
# Both recorders run in T at once, perfns's around perf's, so both see the
# same run of the workload. Then perf record --tracer-scope is refused four
# ways (in the initial tracer namespace; without capabilities in T; with
# kernel.perf_tracer_scope=0; with kernel.perf_event_paranoid=3) and must
# say what to do each time.
#
# The checks, on the host, for web and batch (T's own tasks are the two
# recorders, which do not run for the same span):
#   - perfns report --per-container of perf.data against that of perfns's
#     recording: CPU time within 1% + 20 ms, syscalls and pages allocated
#     and freed exact;
#   - perf's own figures: perf report --sort tracerns's sample counts of
#     raw_syscalls:sys_enter and kmem:mm_page_alloc per tracer namespace
#     against perfns's syscalls and allocations of the container whose
#     TRACER_NAMESPACES records (perf report -D) give that tracer namespace.
#     perf shows as "unknown" the samples it takes before their task's
#     FORK record: under TCG a CPU's clock is held back and gives a new
#     task's first samples the very timestamp of its fork on another CPU,
#     and perf then gives them a thread that the FORK record replaces
#     (perf script shows their comm as ":TID" too). Those are counted by
#     tid (--sort tracerns,pid) and must make up the difference exactly;
#   - the profile: an MMAP2 record of profile-burn, exec'd after perf
#     started (the series' mmap records for scoped readers), and perf
#     report --sort sym giving perfns_hot_two 2/3 of the two hot
#     functions' samples (within 5 points), with perfns_burn_round in
#     their call chains;
#   - the refusals' messages.
#
# Environment: TRACERNS_WORKDIR and CCACHE_DIR as tracerns-vm.sh takes them
# (the same defaults).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

web_steps="burn 2000 getppid 1500"
batch_steps="alloc 8 burn 1000"
tracepoints=raw_syscalls:sys_enter,raw_syscalls:sys_exit,kmem:mm_page_alloc,kmem:mm_page_free

# shellcheck source=../scripts/vm-tenant.sh
source "$repo/scripts/vm-tenant.sh"

# perf finds tracepoints and their formats in tracefs, which a tenant
# cannot read: root copies what it needs (TRACEFS_PATH names the copy), as
# perfns publish-tracefs does for perfns record. perf's tracing data wants
# events/ftrace too, even empty.
publish_for_perf() {
	local dir=$1 tp sys name
	local tracefs=/sys/kernel/tracing
	mkdir -p "$dir/events/ftrace"
	cp "$tracefs/events/header_page" "$tracefs/events/header_event" "$dir/events/"
	for tp in ${tracepoints//,/ }; do
		sys=${tp%%:*} name=${tp#*:}
		mkdir -p "$dir/events/$sys/$name"
		cp "$tracefs/events/$sys/$name/format" "$tracefs/events/$sys/$name/id" \
			"$dir/events/$sys/$name/"
	done
	chmod -R a+rX "$dir"
}

if [[ ${1:-} == --guest ]]; then
	out=$2 bin=$3 perf=$4
	vm_stage "$out" "$bin"
	publish_for_perf /tmp/perf-tracefs
	# shellcheck disable=SC2016 # expanded in T
	as_tenant "$bin/perfns" run-container tenant --tracer required -- \
		"$bin/perfns" record --scope tracer -m 256 --tracefs "$vm_tracefs" \
		-o "$out/perfns.data" -- \
		env TRACEFS_PATH=/tmp/perf-tracefs \
		"$perf" record --tracer-scope -B -N -m 128 --switch-events \
		-e "$tracepoints" -o "$out/perf.data" -- \
		sh -c 'p=$1 w=$2; shift 2; for c do "$p" run-container "${c%%=*}" --tracer required -- "$w" ${c#*=} & done; wait' \
		sh "$bin/perfns" "$bin/perfns-workload" web="$web_steps" batch="$batch_steps" \
		>"$out/tenant.log" 2>&1 || echo "tenant: exit status $?" >>"$out/tenant.log"

	# The default event, cpu-clock:u, in a container of its own.
	as_tenant "$bin/perfns" run-container clock --tracer required -- \
		env TRACEFS_PATH=/tmp/perf-tracefs "$perf" record --tracer-scope -B -N \
		-o "$out/clock.data" -- "$bin/perfns-workload" burn 500 \
		>"$out/clock.log" 2>&1 || echo "clock: exit status $?" >>"$out/clock.log"

	# A profile with user call chains of profile-burn, exec'd after perf
	# started: its MMAP2 comes from the kernel (patch 13).
	as_tenant "$bin/perfns" run-container profile --tracer required -- \
		env TRACEFS_PATH=/tmp/perf-tracefs "$perf" record --tracer-scope -g \
		-o "$out/profile.data" -- "$out/profile-burn" 1500 \
		>"$out/profile.log" 2>&1 || echo "profile: exit status $?" >>"$out/profile.log"

	# Why perf record --tracer-scope is refused; each must fail.
	why() {
		local name=$1
		shift
		if "$@" >"$out/why-$name.log" 2>&1; then
			echo "perf record --tracer-scope worked ($name)" >>"$out/why-$name.log"
		fi
	}
	record=("$perf" record --tracer-scope -B -N -e raw_syscalls:sys_enter
		-o /tmp/why.data -- true)
	why initial as_tenant env TRACEFS_PATH=/tmp/perf-tracefs "${record[@]}"
	why nocap as_tenant "$bin/perfns" run-container why --tracer required -- \
		setpriv --bounding-set=-all -- env TRACEFS_PATH=/tmp/perf-tracefs "${record[@]}"
	echo 0 >/proc/sys/kernel/perf_tracer_scope
	why sysctl as_tenant "$bin/perfns" run-container why --tracer required -- \
		env TRACEFS_PATH=/tmp/perf-tracefs "${record[@]}"
	echo 1 >/proc/sys/kernel/perf_tracer_scope
	paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
	echo 3 >/proc/sys/kernel/perf_event_paranoid
	why paranoid as_tenant "$bin/perfns" run-container why --tracer required -- \
		env TRACEFS_PATH=/tmp/perf-tracefs "${record[@]}"
	echo "$paranoid" >/proc/sys/kernel/perf_event_paranoid
	exit 0
fi

# tracerns-vm.sh's default, so that the kernel the other VM tests built is
# the one used here.
if [[ -z ${TRACERNS_WORKDIR:-} ]]; then
	if [[ -d /work ]]; then
		TRACERNS_WORKDIR=/work/kbuild/tracerns
	else
		TRACERNS_WORKDIR=/var/tmp/tracerns-kbuild
	fi
fi
export TRACERNS_WORKDIR
out=$(realpath -m "${1:-$repo/target/perf-tools-e2e}")
src=$TRACERNS_WORKDIR/src
perf_out=$TRACERNS_WORKDIR/perf-out
perf=$perf_out/perf

bash "$here/tracerns-vm.sh" build
if ! grep -qx 'perf tools: add tracer-scope recording' < <(git -C "$src" log --format=%s); then
	echo "perf-tools-e2e: the series in $here has no tools/perf patch" >&2
	exit 1
fi
# The minimal feature set of scripts/build-perf612.sh (Debian packages only).
need=()
for pkg in build-essential flex bison pkg-config libelf-dev libdw-dev libzstd-dev \
	libtraceevent-dev; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
	echo "perf-tools-e2e: apt-get install ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$perf_out"
nice -n 5 make -s -C "$src/tools/perf" O="$perf_out" -j"$(nproc)" NO_LIBPYTHON=1 \
	NO_LIBPERL=1 NO_SLANG=1 NO_GTK2=1 NO_LIBBPF=1 BUILD_BPF_SKEL=0 NO_JEVENTS=1 \
	NO_LIBUNWIND=1 NO_LIBNUMA=1 NO_LIBCAP=1 NO_LIBBABELTRACE=1 NO_LIBCRYPTO=1 \
	NO_SDT=1 NO_LIBPFM4=1 NO_LIBLLVM=1 NO_DEMANGLE=1 >/dev/null
vm_build

rm -rf "$out"
mkdir -p "$out"
chmod 1777 "$out"
# The profile's workload: two functions burning CPU 2:1, with frame
# pointers (perfns_record::testing's profile-burn).
cc -O1 -g -fno-omit-frame-pointer -fno-inline -o "$out/profile-burn" \
	"$repo/perfns-record/src/testing/profile_burn.c"
start=$(date +%s)
(cd "$repo" && bash kernel-patch/tracerns-vm.sh run --rwdir "$out" -- \
	bash "$here/perf-tools-e2e.sh" --guest "$out" "$repo/target/release" "$perf")
echo "perf-tools-e2e: VM part took $(($(date +%s) - start)) s"
cat "$out/tenant.log"

fail=0
expect() {
	local name=$1 text=$2
	if grep -q "perf record --tracer-scope worked" "$out/why-$name.log" ||
		! grep -qF "$text" "$out/why-$name.log"; then
		echo "FAIL: refusal '$name' does not say \"$text\":" >&2
		cat "$out/why-$name.log" >&2
		fail=1
	else
		echo "ok: refusal '$name' says \"$text\""
	fi
}
expect initial "In the initial tracer namespace"
expect nocap "no CAP_PERFMON over the user namespace that owns perf's tracer namespace"
expect sysctl "kernel.perf_tracer_scope is 0"
expect paranoid "kernel.perf_event_paranoid is 3"

# perf record --tracer-scope's default event: samples of the burn, in the
# container's own tracer namespace (level 0), at user-space addresses only
# (how many, TCG's timers decide: 99 to 438 seen for 500 ms).
"$perf" report -i "$out/clock.data" --stdio -n --sort comm,tracerns >"$out/clock.report" 2>&1
"$perf" script -i "$out/clock.data" -F ip >"$out/clock.ips" 2>/dev/null
cat "$out/clock.log"
if grep -q "of event 'cpu-clock:u'" "$out/clock.report" &&
	grep -Eq '^ +[0-9.]+% +[1-9][0-9]* +perfns-workload +[0-9]+ \(level 0\)' "$out/clock.report" &&
	[[ -s $out/clock.ips ]] && ! grep -Eqv '^ *[0-7]?[0-9a-f]{1,11}$' "$out/clock.ips"; then
	echo "ok: the default event, cpu-clock:u, sampled the burn in its tracer namespace, in user space"
else
	echo "FAIL: no cpu-clock:u samples of the burn with its tracer namespace:" >&2
	cat "$out/clock.report" >&2
	fail=1
fi

# perf record --tracer-scope -g of profile-burn: its MMAP2 record, and
# perf report naming its two hot functions 2:1 (perfns_hot_two's share of
# the two within 5 points of 2/3), with perfns_burn_round in their chains.
cat "$out/profile.log"
"$perf" script -i "$out/profile.data" --show-mmap-events 2>/dev/null |
	grep 'PERF_RECORD_MMAP2.*profile-burn' >"$out/profile.mmaps" || true
"$perf" report -i "$out/profile.data" --stdio --no-children -n --sort sym \
	>"$out/profile.report" 2>&1 || true
if python3 - "$out/profile.report" "$out/profile.mmaps" <<'EOF'
import re, sys
report, mmaps = open(sys.argv[1]).read(), open(sys.argv[2]).read()
counts = {}
for m in re.finditer(r'^ +[0-9.]+% +([0-9]+) +\[\.\] (perfns_hot_(?:one|two)) *$', report, re.M):
    counts[m.group(2)] = int(m.group(1))
two, one = counts.get('perfns_hot_two', 0), counts.get('perfns_hot_one', 0)
share = two / (two + one) if two + one else 0
print(f"perf record --tracer-scope -g: MMAP2 of profile-burn {len(mmaps.splitlines())}, "
      f"samples perfns_hot_two {two}, perfns_hot_one {one}, share {share:.3f} (2/3 +- 0.05)")
ok = mmaps and one >= 20 and abs(share - 2 / 3) <= 0.05 and 'perfns_burn_round' in report
sys.exit(0 if ok else 1)
EOF
then
	echo "ok: perf record --tracer-scope -g names the tenant's hot functions 2:1"
else
	echo "FAIL: perf's tenant profile of profile-burn:" >&2
	head -40 "$out/profile.report" >&2
	fail=1
fi

release=$repo/target/release
"$release/perfns" report --per-container --format json -i "$out/perfns.data" >"$out/perfns.json"
"$release/perfns" report --per-container --format json -i "$out/perf.data" >"$out/perf-by-perfns.json"
"$release/perfns" report --per-container -i "$out/perf.data" >"$out/perf-by-perfns.report"
"$perf" report -i "$out/perf.data" --stdio -n --sort tracerns >"$out/perf-tracerns.report" 2>&1
"$perf" report -i "$out/perf.data" --stdio -n --sort tracerns,pid >"$out/perf-tracerns-pid.report" 2>&1
"$perf" report -i "$out/perf.data" -D 2>&1 |
	grep -A6 'PERF_RECORD_TRACER_NAMESPACES' >"$out/perf-tracer-namespaces.dump" || true
echo "== perfns report --per-container -i perf.data"
cat "$out/perf-by-perfns.report"
echo "== perf report --sort tracerns -i perf.data"
cat "$out/perf-tracerns.report"

# Each record once: perf_mmap__push() wrote a record that the kernel
# published between its two reads of the buffer's head twice (patch 14),
# about one run in three here. Nanosecond times: no two records of a
# task on a CPU share one.
"$perf" script -i "$out/perf.data" --ns -F tid,cpu,time,event,trace 2>/dev/null |
	sort | uniq -d >"$out/twice.txt"
if [[ -s $out/twice.txt ]]; then
	echo "FAIL: records written to perf.data twice:" >&2
	head "$out/twice.txt" >&2
	fail=1
else
	echo "ok: every record of perf.data once"
fi

python3 - "$out" <<'EOF' || fail=1
import json, re, sys

out = sys.argv[1]
ok = True

def containers(path):
    with open(path) as f:
        report = json.load(f)
    return {c["pid_ns"]: c for c in report["containers"] if c.get("pid_ns")}

theirs = containers(f"{out}/perfns.json")
ours = containers(f"{out}/perf-by-perfns.json")

# web and batch: the containers perfns named so, in perfns's recording.
wanted = {c["name"]: ns for ns, c in theirs.items() if c["name"] in ("web", "batch")}
if set(wanted) != {"web", "batch"}:
    print(f"FAIL: perfns's recording names {sorted(wanted)}, not web and batch")
    sys.exit(1)

def allocations(c):
    return sum(c["own"]["memory"]["allocations_by_order"].values())

for name, ns in sorted(wanted.items()):
    a, b = theirs[ns]["own"], ours.get(ns, {}).get("own")
    if b is None:
        print(f"FAIL: {name} (pid ns {ns:#x}) is not in perf's recording")
        ok = False
        continue
    cpu_a, cpu_b = a["cpu"]["time_ns"], b["cpu"]["time_ns"]
    limit = cpu_a // 100 + 20_000_000
    rows = [
        ("cpu_ns", cpu_a, cpu_b, abs(cpu_a - cpu_b) <= limit),
        ("syscalls", a["syscalls"]["calls"], b["syscalls"]["calls"],
         a["syscalls"]["calls"] == b["syscalls"]["calls"]),
        ("pages_allocated", a["memory"]["pages_allocated"], b["memory"]["pages_allocated"],
         a["memory"]["pages_allocated"] == b["memory"]["pages_allocated"]),
        ("pages_freed", a["memory"]["pages_freed"], b["memory"]["pages_freed"],
         a["memory"]["pages_freed"] == b["memory"]["pages_freed"]),
    ]
    for what, x, y, good in rows:
        print(f"{'ok' if good else 'FAIL'}: {name} {what}: perfns record {x}, perf record {y}"
              + (f" (limit {limit})" if what == "cpu_ns" else ""))
        ok &= good

# perf's own view: the tracer namespace id of each pid namespace, and the
# pid namespace of each task, from the TRACER_NAMESPACES records; then perf
# report --sort tracerns's counts, and its unknown ones by task.
tracer_of, pid_ns_of = {}, {}
dump = open(f"{out}/perf-tracer-namespaces.dump").read()
for block in dump.split("PERF_RECORD_TRACER_NAMESPACES")[1:]:
    task = re.match(r" \d+/(\d+) ", block)
    pid = re.search(r"3/pid: \d+/(0x[0-9a-f]+)", block)
    ids = re.search(r"tracer ns id/inode: \[([^\]]*)\]", block)
    if task and pid and ids:
        own = ids.group(1).split(", ")[-1].split("/")[0]
        tracer_of[int(pid.group(1), 16)] = own
        pid_ns_of[int(task.group(1))] = int(pid.group(1), 16)

def per_event(path, row):
    counts, event = {}, None
    for line in open(path):
        m = re.match(r"# Samples: .* of event '([^']+)'", line)
        if m:
            event = m.group(1)
            continue
        m = re.match(row, line)
        if m and event:
            counts[(event, m.group(2))] = counts.get((event, m.group(2)), 0) + int(m.group(1))
    return counts

counts = per_event(f"{out}/perf-tracerns.report", r"\s+[\d.]+%\s+(\d+)\s+(\d+) \(level \d+\)")
unknown = per_event(f"{out}/perf-tracerns-pid.report", r"\s+[\d.]+%\s+(\d+)\s+unknown\s+(\d+):")

for name, ns in sorted(wanted.items()):
    tns = tracer_of.get(ns)
    if tns is None:
        print(f"FAIL: no PERF_RECORD_TRACER_NAMESPACES gives {name}'s tracer namespace")
        ok = False
        continue
    a = theirs[ns]
    for event, x in (("raw_syscalls:sys_enter", a["own"]["syscalls"]["calls"]),
                     ("kmem:mm_page_alloc", allocations(a))):
        y = counts.get((event, tns), 0)
        u = sum(n for (e, tid), n in unknown.items()
                if e == event and pid_ns_of.get(int(tid)) == ns)
        good = x == y + u
        print(f"{'ok' if good else 'FAIL'}: {name} (tracer ns {tns}) {event}: "
              f"perfns record {x}, perf report --sort tracerns {y} + {u} unknown "
              f"before their task's FORK record")
        ok &= good

sys.exit(0 if ok else 1)
EOF
if ((fail)); then
	echo "perf-tools-e2e: FAILED (files in $out)" >&2
	exit 1
fi
echo "perf-tools-e2e: passed (files in $out)"
