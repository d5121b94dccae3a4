#!/usr/bin/env bash
# CI entry point for kernel-patch/: build the patched kernel and run the
# tracer namespace selftests in a VM (kernel-patch/README.md). Set
# TRACERNS_CI_DEBUG=1 to also run them on the lockdep + KASAN kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
bash kernel-patch/run-selftests.sh
if [[ ${TRACERNS_CI_DEBUG:-0} == 1 ]]; then
	bash kernel-patch/run-selftests.sh --debug
fi
