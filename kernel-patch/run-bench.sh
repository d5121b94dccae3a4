#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the patched kernel and run the dispatch benchmark in a VM: the
# cost per syscall event with K tracer-scoped readers in other tracer
# namespaces against K stock per-CPU readers filtering by pid, K = 0, 1,
# 16, 128, 512, in one boot. See bench/dispatch_bench.c.
#
#   bash kernel-patch/run-bench.sh
exec bash "$(dirname "${BASH_SOURCE[0]}")/tracerns-vm.sh" bench "$@"
