#!/usr/bin/env bash
# Runs every perfns test: the Rust workspace (unit, real-kernel and
# perf-compatibility tests, insta snapshots checked, never updated) and,
# when the kernel series is present, the patched kernel's selftests in a VM.
# Run as root on Debian 12: the real-kernel tests open system-wide perf
# events, make containers with unshare and compare with Debian's perf.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

export INSTA_UPDATE=no CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo build --workspace --all-targets --locked
cargo test --workspace --locked

if [ -x kernel-patch/run-selftests.sh ] || [ -f kernel-patch/run-selftests.sh ]; then
	bash kernel-patch/run-selftests.sh
fi
