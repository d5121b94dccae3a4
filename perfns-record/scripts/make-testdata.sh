#!/usr/bin/env bash
# Makes the recordings of testdata/ that `perfns record` writes (see the
# section "Recordings made by perfns record" in testdata/README.md). Run as
# root from the workspace root; needs cgroup2, unshare and tracefs.
# perfns-report's snapshots are made from the committed files: a remade
# file means new snapshots there, and new figures in the README.
#
# With names (`make-testdata.sh uprobes`), only those recordings are made.
#
# Each recording is limited to one cgroup (--cgroup) so that the rest of the
# machine does not make it large: the containers are made under it, in
# /perfns/<recording>/<container>.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --quiet -p perfns-cli --bin perfns
cargo build --quiet -p perfns-record --features testing --bin perfns-workload
export PATH="$PWD/target/debug:$PATH"

cgroup2=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgroup2" ] || { echo "no cgroup2 mount" >&2; exit 1; }

only=("$@")
made=()

# record NAME PERFNS-RECORD-ARGS... -- WORKLOAD-SHELL-COMMAND
record() {
	local name=$1 base=/perfns/$1
	shift
	if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then
		return
	fi
	made+=("$name")
	mkdir -p "$cgroup2$base"
	local args=()
	while [ "$1" != "--" ]; do args+=("$1"); shift; done
	shift
	perfns record --cgroup "$base" -o "testdata/$name.data" "${args[@]}" -- \
		env PERFNS_CGROUP_DIR="$cgroup2$base" sh -c "$1"
	find "$cgroup2$base" -depth -type d -exec rmdir {} +
}

# Two sibling containers: busy burns 300 ms of CPU and touches 2 MiB
# (512 pages); calm makes 1500 getppid calls and burns 150 ms.
record two-containers -- \
	'perfns-workload container busy alloc 2 burn 300 &
	 perfns-workload container calm getppid 1500 burn 150 &
	 wait'

# A container in a container: outer makes 100 getppid calls, inner 300
# and burns 100 ms.
record nested -- \
	'perfns-workload container outer sleep 100 getppid 100 container inner sleep 100 getppid 300 burn 100'

# A one-page buffer flooded by 20000 getppid calls: LOST records. How many
# records the buffers keep varies from run to run, and with it the file's
# size: check it stays under 1 MiB.
record lost -m 1 --events syscalls -- \
	'perfns-workload container flood sleep 100 getppid 20000'

# Two containers calling the workload's request function, 30 and 50 times
# after 100 ms (the recorder names them meanwhile)
# (100 us of spinning each), under an entry and a return uprobe; context
# switches only, to stay small.
record uprobes --events cpu \
	--uprobe perfns-workload:perfns_workload_request \
	--uprobe perfns-workload:perfns_workload_request%return -- \
	'perfns-workload container front sleep 100 requests 30 &
	 perfns-workload container back sleep 100 requests 50 &
	 wait'

for f in "${made[@]}"; do
	ls -l "testdata/$f.data"
	if [ "$(stat -c %s "testdata/$f.data")" -ge $((1 << 20)) ]; then
		echo "testdata/$f.data is 1 MiB or more: make it again" >&2
		exit 1
	fi
done
