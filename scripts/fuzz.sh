#!/usr/bin/env bash
# Runs every perfns fuzz target (fuzz/: cargo-fuzz, libFuzzer, AddressSanitizer)
# for a bounded time each; docs/fuzzing.md describes the targets.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 30; TARGET defaults to all of them. CI runs
# it with a short budget (20-30 s a target); the long campaign in
# docs/fuzzing.md used 300.
#
# Cost on a 2-core machine: installing cargo-fuzz when it is missing
# (`cargo install cargo-fuzz --locked`) takes about 1.5 minutes, the first
# build of the targets about 1.5 minutes, then the time asked for.
#
# The toolchain is stable Rust: cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address, sanitizer coverage), which RUSTC_BOOTSTRAP=1 allows.
#
# The corpus is kept in fuzz/corpus/<target> between runs and starts from
# the seeds examples/seeds.rs writes, the recordings in testdata/ and real
# `perf record` files (plain, -z, pipe mode) when perf is installed and
# this runs as root. A crash, panic, leak, timeout
# (10 s) or out-of-memory (2 GiB) stops the run with a non-zero status and
# leaves the input in fuzz/artifacts/<target>/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
	targets=(record_parse attr_set ring_walk tracepoint_format feature_sections perf_data_reader compressed_records pipe_stream)
fi
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "fuzz: installing cargo-fuzz (about 1.5 minutes)"
	cargo install cargo-fuzz --locked
fi

# Seeds: valid inputs for every target, written by the library's own code.
(cd fuzz && cargo run --quiet --locked --no-default-features --example seeds -- corpus)
# The recordings in testdata/, as whole files.
for f in testdata/*; do
	case $f in *.md | *.txt) continue ;; esac
	if [ -f "$f" ]; then
		cp "$f" "fuzz/corpus/perf_data_reader/seed-testdata-$(basename "$f")"
	fi
done
if [ -x /usr/bin/perf ] && [ "$(id -u)" = 0 ] && [ -e /sys/kernel/tracing/events/sched ]; then
	# A recording by the real perf: its features and record types differ
	# from perfns's own.
	seed=fuzz/corpus/perf_data_reader/seed-perf-record
	if [ ! -s "$seed" ]; then
		/usr/bin/perf record -q -o "$seed" --no-buildid \
			-e sched:sched_switch -e sched:sched_process_exec -a -- sh -c 'true' \
			>/dev/null 2>&1 || rm -f "$seed"
	fi
	# The same compressed (perf record -z), and in pipe mode (perf record
	# -o -), whose input for pipe_stream is the stream after its 16-byte
	# header.
	seed=fuzz/corpus/perf_data_reader/seed-perf-record-z
	if [ ! -s "$seed" ]; then
		/usr/bin/perf record -q -z -o "$seed" --no-buildid \
			-e sched:sched_switch -e sched:sched_process_exec -a -- sh -c 'true' \
			>/dev/null 2>&1 || rm -f "$seed"
	fi
	seed=fuzz/corpus/pipe_stream/seed-perf-record-pipe
	if [ ! -s "$seed" ]; then
		/usr/bin/perf record -q -o - --no-buildid \
			-e sched:sched_switch -e sched:sched_process_exec -a -- sh -c 'true' \
			2>/dev/null | tail -c +17 >"$seed" || rm -f "$seed"
	fi
	# Both: perf record -z -o - (HEADER_COMPRESSED, COMPRESSED records in
	# the stream).
	seed=fuzz/corpus/pipe_stream/seed-perf-record-z-pipe
	if [ ! -s "$seed" ]; then
		/usr/bin/perf record -q -z -o - --no-buildid \
			-e sched:sched_switch -e sched:sched_process_exec -a -- sh -c 'true' \
			2>/dev/null | tail -c +17 >"$seed" || rm -f "$seed"
	fi
fi

cargo fuzz build --release --debug-assertions
# The targets' scratch files, in a directory of this run's own: removing
# /dev/shm/perfns-fuzz-* would delete the files of another run's target
# (another worktree, CI) while it reads them.
scratch_parent=/dev/shm
[ -d "$scratch_parent" ] || scratch_parent=${TMPDIR:-/tmp}
PERFNS_FUZZ_SCRATCH=$(mktemp -d "$scratch_parent/perfns-fuzz.XXXXXX")
export PERFNS_FUZZ_SCRATCH
trap 'rm -rf "$PERFNS_FUZZ_SCRATCH"' EXIT
for target in "${targets[@]}"; do
	echo "fuzz: $target for ${seconds}s"
	log=fuzz/artifacts/$target.log
	mkdir -p fuzz/artifacts
	status=0
	cargo fuzz run --release --debug-assertions "$target" "fuzz/corpus/$target" -- \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 >"$log" 2>&1 || status=$?
	rm -f "$PERFNS_FUZZ_SCRATCH"/*
	if ((status != 0)); then
		tail -n 60 "$log" >&2
		echo "fuzz: $target FAILED (status $status); input in fuzz/artifacts/$target/, log in $log" >&2
		exit 1
	fi
	# The last status line: coverage, features, corpus size, executions.
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	echo "fuzz: $target ok: $runs runs; ${last#* }"
done
