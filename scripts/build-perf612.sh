#!/usr/bin/env bash
# Builds perf 6.12 (tools/perf of Debian's linux-source-6.12) for the tests
# that check perfns against another perf than Debian's 6.1: they run with
# PERFNS_TEST_PERF set to the binary this prints on stdout (scripts/test.sh).
#
#   bash scripts/build-perf612.sh [DIR]   default DIR: target/perf612
#
# Debian packages only: linux-source-6.12 (the tarball the kernel build of
# kernel-patch/tracerns-vm.sh extracts too; here only tools/ and what
# tools/perf/MANIFEST lists besides are taken from it, into DIR, so a
# kernel tree being built elsewhere is not touched), and the libraries perf 6.12 needs for
# what the tests use: libelf, libdw, zstd (`perf record -z`, reading
# COMPRESSED records), libtraceevent (tracepoints). Idempotent: a perf 6.12
# already built in DIR is only printed. Needs root for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(realpath -m "${1:-target/perf612}")
perf=$dir/out/perf
if [ -x "$perf" ] && "$perf" version | grep -q "^perf version 6\.12\."; then
	echo "$perf"
	exit 0
fi

need=()
for pkg in linux-source-6.12 build-essential flex bison pkg-config libelf-dev libdw-dev \
	libzstd-dev libtraceevent-dev; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
	echo "build-perf612: apt-get install ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

src=$dir/src
if [ ! -f "$src/.extracted" ]; then
	echo "build-perf612: extracting tools/perf's sources into $src" >&2
	rm -rf "$src"
	mkdir -p "$src"
	# tools/perf/MANIFEST: tools/, arch/arm64/tools (perf's build makes the
	# arm64 sysreg header on every arch), arch/*/include/uapi, scripts/
	# and kernel/bpf/disasm.[ch]; and the top Makefile with arch/x86/,
	# which perf's version comes from (`make kernelversion`).
	tar -C "$src" -xf /usr/src/linux-source-6.12.tar.xz --strip-components=1 \
		--wildcards 'linux-source-6.12/tools' 'linux-source-6.12/include' \
		'linux-source-6.12/arch/*/include/uapi' 'linux-source-6.12/arch/arm64/tools' \
		'linux-source-6.12/arch/x86' 'linux-source-6.12/scripts' \
		'linux-source-6.12/kernel/bpf/disasm.*' 'linux-source-6.12/Makefile'
	touch "$src/.extracted"
fi

echo "build-perf612: building perf in $dir/out (a few minutes on 2 cores)" >&2
mkdir -p "$dir/out"
# Everything the tests do not use is left out, so that only the packages
# above are needed; `libzstd: [ on ]` and `libtraceevent: [ on ]` must be
# in perf's feature detection, checked below.
make -C "$src/tools/perf" O="$dir/out" -j"$(nproc)" NO_LIBPYTHON=1 NO_LIBPERL=1 NO_SLANG=1 \
	NO_GTK2=1 NO_LIBBPF=1 BUILD_BPF_SKEL=0 NO_JEVENTS=1 NO_LIBUNWIND=1 NO_LIBNUMA=1 \
	NO_LIBCAP=1 NO_LIBBABELTRACE=1 NO_LIBCRYPTO=1 NO_SDT=1 NO_LIBPFM4=1 NO_LIBLLVM=1 \
	NO_DEMANGLE=1 >&2
version=$("$perf" version)
case $version in
"perf version 6.12."*) ;;
*)
	echo "build-perf612: $perf says \"$version\", not 6.12" >&2
	exit 1
	;;
esac
for feature in zstd libtraceevent; do
	if ! "$perf" version --build-options | grep -Eq "^ +$feature: \[ on +\]"; then
		echo "build-perf612: $perf was built without $feature" >&2
		"$perf" version --build-options >&2
		exit 1
	fi
done
echo "$perf"
