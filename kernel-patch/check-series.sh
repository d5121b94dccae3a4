#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the series patch by patch: checkpatch --strict on every patch,
# a build at every patch, a build with CONFIG_TRACER_NS=n, and the
# selftest compiles. See "tracerns-vm.sh check-series".
#
#   bash kernel-patch/check-series.sh
exec bash "$(dirname "${BASH_SOURCE[0]}")/tracerns-vm.sh" check-series "$@"
