#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The delegated cgroup event, measured: build the series with
# cgroup-delegation.patch (a prototype, not part of the series) on top,
# in a work directory of its own, and boot it twice: once to run
# cgroup_delegation (what an unprivileged tenant can open with the
# prototype, and what its events show of tasks outside its cgroup), once
# for the dispatch benchmark, whose "stock-cgroup" series is the
# prototype's dispatch (the prototype changes who may open a cgroup
# event, not how it is dispatched) beside the scoped readers'.
#
#   bash kernel-patch/alternatives/run-cgroup-delegation.sh [--no-bench]
#
# TRACERNS_WORKDIR defaults to /work/kbuild/cgdeleg (or
# /var/tmp/tracerns-cgdeleg), CCACHE_DIR to the series' own work
# directory's cache, so only the files the prototype touches compile.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm=$here/../tracerns-vm.sh
if [[ -d /work ]]; then
	main=/work/kbuild/tracerns
	export TRACERNS_WORKDIR=${TRACERNS_WORKDIR:-/work/kbuild/cgdeleg}
else
	main=/var/tmp/tracerns-kbuild
	export TRACERNS_WORKDIR=${TRACERNS_WORKDIR:-/var/tmp/tracerns-cgdeleg}
fi
export CCACHE_DIR=${CCACHE_DIR:-$main/ccache}
export TRACERNS_EXTRA_PATCHES=$here/cgroup-delegation.patch
export TRACERNS_TIMEOUT=${TRACERNS_TIMEOUT:-1800}

bash "$vm" build
out=$TRACERNS_WORKDIR/out-plain
gcc -O2 -Wall -Werror -isystem "$out/usr/include" \
	-o "$out/cgroup_delegation" "$here/cgroup_delegation.c"
# Debian's perf_event_paranoid=3 refuses every unprivileged
# perf_event_open(): the tenant needs 2, the upstream default.
cat >"$out/cgroup_delegation.sh" <<EOS
echo 2 >/proc/sys/kernel/perf_event_paranoid
exec $out/cgroup_delegation
EOS
bash "$vm" run -- bash "$out/cgroup_delegation.sh"
[[ ${1:-} == --no-bench ]] || bash "$vm" bench
