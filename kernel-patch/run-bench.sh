#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the patched kernel and run the dispatch benchmark in a VM: the
# cost per syscall event, and per context switch, with K tracer-scoped
# readers in other tracer namespaces against K stock per-CPU readers
# filtering by pid and K perf cgroup events on other cgroups, K = 0, 1,
# 16, 128, 512, in one boot. See bench/dispatch_bench.c.
#
#   bash kernel-patch/run-bench.sh
#
# It takes several minutes under TCG, so the VM's time limit is raised
# to 30 minutes unless TRACERNS_TIMEOUT says otherwise.
export TRACERNS_TIMEOUT=${TRACERNS_TIMEOUT:-1800}
exec bash "$(dirname "${BASH_SOURCE[0]}")/tracerns-vm.sh" bench "$@"
