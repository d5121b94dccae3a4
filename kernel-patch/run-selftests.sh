#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the patched kernel and run the series' selftests (tracerns and
# perf_events/tracer_scope) in a VM; exits non-zero on any failed test
# or kernel splat.
#
#   bash kernel-patch/run-selftests.sh           # plain kernel
#   bash kernel-patch/run-selftests.sh --debug   # lockdep + KASAN kernel
exec bash "$(dirname "${BASH_SOURCE[0]}")/tracerns-vm.sh" selftests "$@"
