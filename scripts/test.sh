#!/usr/bin/env bash
# Runs every perfns test: the Rust workspace (unit, real-kernel and
# perf-compatibility tests, insta snapshots checked, never updated), the
# perf-compatibility tests again against perf 6.12 built from source, a
# short bounded run of every fuzz target, and the patched kernel's
# selftests in a VM.
#
#   PERFNS_FUZZ_SECONDS  seconds per fuzz target (default 20; 0 skips)
# Run as root on Debian 12: the real-kernel tests open system-wide perf
# events, make containers with unshare and compare with Debian's perf.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every test runs, or the run fails: under CI=true a test whose
# prerequisite (root, tracefs, perf) is missing fails and names it
# (perfns::testing) instead of skipping.
export CI=${CI:-true}
if [ "$(id -u)" != 0 ]; then
	echo "scripts/test.sh: runs as root (uid $(id -u) now): the tests open system-wide" \
		"perf events, make containers and cgroups, mount file systems and boot the" \
		"patched kernel in a VM" >&2
	exit 1
fi
echo "scripts/test.sh: as root, CI=$CI (a missing prerequisite fails its test)"

bash scripts/install-deps.sh

export INSTA_UPDATE=no CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo build --workspace --all-targets --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The perf-compatibility tests again against perf 6.12, built once from
# Debian's linux-source-6.12 into target/perf612 (scripts/build-perf612.sh):
# it records plain, -z and pipe-mode files that perfns must count as perf
# does, and reads what perfns writes (testdata/README.md).
perf612=$(bash scripts/build-perf612.sh)
PERFNS_TEST_PERF=$perf612 cargo test --locked -p perfns-report --test perf_formats
PERFNS_TEST_PERF=$perf612 cargo test --locked -p perfns --lib real_perf

fuzz_seconds=${PERFNS_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
	bash scripts/fuzz.sh "$fuzz_seconds"
fi

if [ -x kernel-patch/run-selftests.sh ] || [ -f kernel-patch/run-selftests.sh ]; then
	bash kernel-patch/run-selftests.sh
fi
bash perfns-record/tests/vm/tracer-scope-e2e.sh
# perfns top (JSON Lines, a text frame, the full-screen view in tmux) and
# perfns trace as the unprivileged tenant, in one boot (about 1 min in the
# VM): its containers' figures, the known calls, nothing of the sibling.
bash perfns-cli/tests/vm/live-e2e.sh
bash perfns-record/tests/vm/cpu-hotplug.sh
# perf itself (the series' tools/perf patch, built from the patched tree)
# records as the tenant beside perfns, and their figures agree; every
# record of perf's file once (the series' perf record fix, patch 14).
bash kernel-patch/perf-tools-e2e.sh
# An unprivileged tenant abusing the tracer scope (fuzzer, namespace churn,
# racing readers, the limits) and the leak audit, bounded: 60 s, with the
# reference seed, and QEMU's vCPUs in one thread: multi-threaded TCG oopsed
# on text patching under scope_fuzz (kernel-patch/abuse/README.md, open).
TRACERNS_TCG_THREAD=single bash kernel-patch/abuse/run-abuse.sh 60 0x5eed2026
