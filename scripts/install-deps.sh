#!/usr/bin/env bash
# Installs what perfns's tests and demo need on a fresh Debian 12 machine.
# Idempotent: a second run only checks. Needs root (apt-get, tracefs).
set -euo pipefail

need=()
# docker.io, podman and busybox-static: the tests that run real Docker and
# Podman containers (perfns-record/tests/runtimes.rs) and build their image
# offline from busybox.
for pkg in linux-perf util-linux procps gcc make docker.io podman busybox-static; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
	echo "install-deps: apt-get install ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# perf and perfns read tracepoint formats from tracefs.
if [ ! -e /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing
fi

if ! command -v cargo >/dev/null; then
	echo "install-deps: cargo not found; install Rust stable (rustup) first" >&2
	exit 1
fi
