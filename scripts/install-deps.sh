#!/usr/bin/env bash
# Installs what perfns's tests and demo need on a fresh Debian 12 machine.
# Idempotent: a second run only checks. Needs root (apt-get, tracefs).
set -euo pipefail

need=()
# docker.io, podman (uidmap for its rootless test) and busybox-static: the tests that run real Docker and
# Podman containers (perfns-cli/tests/runtimes.rs) and build their image
# offline from busybox.
# python3-venv: the venv of DuckDB and chDB below. prometheus: the server
# that scrapes `perfns serve` in perfns-cli/tests/prometheus.rs (started
# by the test on loopback; the package's own service is not needed).
# tmux: the terminal perfns-cli/tests/top.rs drives `perfns top`'s
# full-screen view in.
# binutils (gcc's dependency, named for what uses it): nm, readelf and strip
# in perfns-cli/tests/uprobes.rs (the probed symbol, its build-id, a
# stripped copy); nm, readelf, objcopy, strip and c++filt in
# perfns-report/src/profile/symbolize/tests.rs (addresses, build-ids, a
# debug file, the names demangled).
for pkg in linux-perf util-linux procps gcc make docker.io podman uidmap busybox-static python3-venv \
	prometheus tmux binutils; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
	echo "install-deps: apt-get install ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# DuckDB and chDB (ClickHouse's engine) from PyPI read the Parquet export
# in perfns-report/tests/parquet_engines.rs (PERFNS_PYTHON names another
# Python that has them).
venv=${PERFNS_VENV:-/opt/perfns-venv}
if ! "$venv/bin/python" -c 'import duckdb, chdb' 2>/dev/null; then
	echo "install-deps: pip install duckdb chdb in $venv"
	/usr/bin/python3 -m venv "$venv"
	"$venv/bin/pip" install -q duckdb chdb
fi

# Rootless Podman's test (perfns-cli/tests/runtimes.rs) runs as this
# user; useradd gives it a range in /etc/subuid and /etc/subgid.
if ! id perfns-rootless >/dev/null 2>&1; then
	echo "install-deps: useradd perfns-rootless (rootless Podman's test)"
	useradd --create-home --shell /usr/sbin/nologin perfns-rootless
fi

# perf and perfns read tracepoint formats from tracefs.
if [ ! -e /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing
fi

if ! command -v cargo >/dev/null; then
	echo "install-deps: cargo not found; install Rust stable (rustup) first" >&2
	exit 1
fi
