#!/bin/sh
# Runs the test workloads in real containers, each in its own cgroup under
# $CG (cgroup v2) and its own user, pid, mount, uts and cgroup namespaces;
# record.sh runs it under `perf record`. All on CPU 0, so that a recording of
# CPU 0 sees all of it. Usage: containers.sh WORKLOAD_BINARY SET
set -eu
W=$1
SET=$2
CG=${CG:-/sys/fs/cgroup/unified/perfns}

# container NAME COMMAND: runs COMMAND in the background in a new container
# named NAME: its cgroup is $CG/NAME.
container() {
	name=$1
	shift
	mkdir -p "$CG/$name"
	taskset -c 0 sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CG/$name" \
		unshare --user --map-root-user --pid --mount --uts --cgroup --fork "$@" &
}

case $SET in
tracepoints)
	# big burns twice what small burns; outer burns as much as small and
	# holds inner, which burns as much again; mem touches 2 MiB; sys makes
	# 300 getppid and 300 failing close calls.
	mkdir -p "$CG/outer/inner"
	container big "$W" burn 600
	container small "$W" burn 300
	container outer sh -c "
		sh -c 'echo \$\$ > $CG/outer/inner/cgroup.procs; exec unshare --user --map-root-user --pid --mount --uts --cgroup --fork $W burn 300' &
		$W burn 300; wait"
	container mem "$W" mem 2
	container sys "$W" sys 300
	;;
cpu)
	container big "$W" burn 600
	container small "$W" burn 300
	;;
syscalls)
	container sys "$W" sys 3000
	;;
bench)
	# For the benchmark's big recording (perfns-report/BENCHMARK.md).
	container sys "$W" sys 1500000
	container big "$W" burn 3000
	container mem "$W" mem 256
	;;
*)
	echo "unknown set $SET" >&2
	exit 2
	;;
esac
wait
