#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build Linux 6.12 (Debian's linux-source-6.12) with the tracer namespace
# series in this directory, boot it under QEMU and run a command in it.
#
#   tracerns-vm.sh build        [--debug]
#   tracerns-vm.sh run          [--debug] [--user USER] [--rwdir DIR]...
#                               [--] COMMAND [ARG...]
#   tracerns-vm.sh selftests    [--debug]
#   tracerns-vm.sh bench        [issue14|uprobe|uprobe-mapped]
#   tracerns-vm.sh check-series
#
# build      installs what it needs (apt, pip), extracts the source package
#            into $TRACERNS_WORKDIR/src as a git commit, applies the series
#            with "git am", configures tinyconfig plus tracerns.config (and
#            debug.config with --debug) and builds bzImage with ccache. The
#            tree and build are reused while the series, the fragments and
#            the source package are unchanged; a changed series is applied
#            again to the pristine commit in place, so the build stays
#            incremental.
# run        builds if needed, boots the kernel with virtme-ng (host root
#            filesystem over 9p, read-only, the current directory as cwd)
#            and runs COMMAND as root, or as USER with --user. Writes
#            outside the throwaway overlays (/tmp, /home, /var, ...) need
#            --rwdir DIR, which shares DIR read-write. The exit
#            status is COMMAND's; it is 1 instead if the guest's dmesg shows
#            a kernel splat (BUG, WARNING, KASAN, lockdep, ...), and 125 if
#            the VM itself fails.
# selftests  builds, compiles tools/testing/selftests/tracerns and
#            perf_events/tracer_scope and runs them in one VM boot; fails
#            on any failed or skipped test or on a splat.
# bench      builds, compiles bench/dispatch_bench.c against the series'
#            headers and runs it in the VM: the cost per syscall event and
#            per context switch with K tracer-scoped readers in other
#            namespaces against K stock per-CPU readers filtering by pid and
#            K perf cgroup events on other cgroups (not a test; it prints
#            figures).
# check-series
#            runs "checkpatch.pl --strict" on every patch (no errors,
#            warnings or checks), fails on a hunk that keeps or removes a
#            line only Debian's patches add (DISTRO_ONLY below), builds
#            the plain kernel at every patch of the tree "build" applied
#            them to, then the last one with
#            CONFIG_TRACER_NS=n, and compiles the selftest. Builds are
#            incremental in the plain build directory, which is left as
#            "build" made it.
#
# Environment:
#   TRACERNS_WORKDIR  where trees, builds and ccache live
#                     (default /work/kbuild/tracerns, or
#                     /var/tmp/tracerns-kbuild when /work does not exist)
#   CCACHE_DIR        ccache directory (default $TRACERNS_WORKDIR/ccache)
#   TRACERNS_ACCEL    kvm or tcg to skip the KVM probe
#   TRACERNS_JOBS     make -j value (default: number of CPUs + 1)
#   TRACERNS_MEMORY   guest memory (default 2G, 4G with --debug)
#   TRACERNS_TIMEOUT  seconds before the VM is killed (default 900)
#   TRACERNS_TCG_THREAD  multi (default) or single: QEMU's TCG threading
#                     without KVM; single runs the vCPUs in one host
#                     thread, one at a time
#   TRACERNS_VERBOSE  set to show the guest's console (boot problems)
#   TRACERNS_EXTRA_PATCHES
#                     patches applied after the series, in the order
#                     given (space-separated paths): the prototypes in
#                     alternatives/, in a work directory of their own

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_TARBALL=/usr/src/linux-source-6.12.tar.xz
SOURCE_PACKAGE=linux-source-6.12
APT_PACKAGES=(linux-source-6.12 build-essential flex bison bc libelf-dev
	libssl-dev cpio xz-utils git ccache qemu-system-x86 python3-pip
	util-linux)

if [[ -d /work ]]; then
	DEFAULT_WORKDIR=/work/kbuild/tracerns
else
	DEFAULT_WORKDIR=/var/tmp/tracerns-kbuild
fi
WORKDIR=${TRACERNS_WORKDIR:-$DEFAULT_WORKDIR}
export CCACHE_DIR=${CCACHE_DIR:-$WORKDIR/ccache}
# Let trees in different directories share cache entries.
export CCACHE_BASEDIR=$WORKDIR CCACHE_NOHASHDIR=1
JOBS=${TRACERNS_JOBS:-$(($(nproc) + 1))}
TIMEOUT=${TRACERNS_TIMEOUT:-900}
TCG_THREAD=${TRACERNS_TCG_THREAD:-multi}

# Kernel messages that fail a run.
SPLAT_RE='BUG:|WARNING:|KASAN|UBSAN|possible .*deadlock|possible recursive locking|inconsistent lock state|suspicious RCU usage|lock held when returning|Kernel panic|Oops|general protection fault|refcount_t:|kernel BUG at|list_add corruption|list_del corruption|stack-protector|INFO: task .* blocked'

log() { printf '[tracerns-vm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 125; }

usage() {
	awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' \
		"${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# --- dependencies ------------------------------------------------------------

install_deps() {
	local missing=() pkg
	for pkg in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$pkg")
	done
	if ((${#missing[@]})); then
		[[ $(id -u) == 0 ]] || die "missing packages (run as root): ${missing[*]}"
		log "apt-get install ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			"${missing[@]}" >/dev/null
	fi
	if ! command -v vng >/dev/null; then
		log "pip install virtme-ng"
		pip install -q virtme-ng ||
			pip install -q --break-system-packages virtme-ng
		hash -r
		command -v vng >/dev/null || die "vng not found after pip install"
	fi
}

# --- tree and build ------------------------------------------------------------

series_patches() {
	ls "$HERE"/[0-9][0-9][0-9][0-9]-*.patch | grep -v '/0000-cover-letter.patch$'
	local extra
	for extra in ${TRACERNS_EXTRA_PATCHES:-}; do
		realpath "$extra"
	done
}

package_version() {
	dpkg-query -W -f='${Version}\n' "$SOURCE_PACKAGE"
}

# The source package and the series, as a short hash.
source_key() {
	{
		package_version
		cat $(series_patches)
	} | sha256sum | cut -c1-12
}

# Everything the built kernel depends on, as a short hash.
cache_key() {
	{
		package_version
		cat $(series_patches) "$HERE/tracerns.config"
		if ((DEBUG)); then cat "$HERE/debug.config"; fi
	} | sha256sum | cut -c1-12
}

git_as_tracerns() {
	GIT_AUTHOR_NAME=tracerns GIT_AUTHOR_EMAIL=tracerns@localhost \
	GIT_COMMITTER_NAME=tracerns GIT_COMMITTER_EMAIL=tracerns@localhost \
		git -C "$SRC" "$@"
}

# $SRC is the pristine source as a git commit with the series applied on
# top by "git am". Its path never changes, so that builds stay
# incremental and ccache entries keep matching: when the series changes,
# the tree is reset to the pristine commit (which touches only the files
# the series changed) and the new series is applied.
prepare_tree() {
	local key patch base blob mtime file
	key=$(source_key)
	if [[ -f $SRC/.tracerns-applied && $(cat "$SRC/.tracerns-applied") == "$key" ]]; then
		return
	fi
	if [[ -f $SRC/.tracerns-base &&
		$(cat "$SRC/.tracerns-base") == "$(package_version)" ]]; then
		log "resetting $SRC to the pristine source"
		rm -f "$SRC/.tracerns-applied"
		base=$(git -C "$SRC" rev-list --max-parents=0 HEAD)
		# Remember the files the old series touched, with their blobs and
		# mtimes, so that those the new series leaves as they were keep
		# their mtimes and make does not rebuild what includes them.
		git -C "$SRC" diff --name-only "$base" HEAD | while IFS= read -r file; do
			[[ -f $SRC/$file ]] || continue
			printf '%s %s %s\n' "$(git -C "$SRC" rev-parse "HEAD:$file")" \
				"$(stat -c %Y "$SRC/$file")" "$file"
		done >"$WORKDIR/.tracerns-mtimes"
		git_as_tracerns am --abort >/dev/null 2>&1 || true
		git_as_tracerns reset -q --hard "$base"
	else
		log "extracting $SOURCE_TARBALL into $SRC"
		rm -rf "$SRC"
		mkdir -p "$SRC"
		tar -C "$SRC" -xf "$SOURCE_TARBALL" --strip-components=1
		git_as_tracerns init -q
		# Debian's .gitignore ignores everything at the top level.
		git_as_tracerns add -f . >/dev/null
		git_as_tracerns commit -q -m "$SOURCE_PACKAGE $(package_version)"
		package_version >"$SRC/.tracerns-base"
	fi
	for patch in $(series_patches); do
		log "applying $(basename "$patch")"
		git_as_tracerns am -q "$patch"
	done
	if [[ -f $WORKDIR/.tracerns-mtimes ]]; then
		while read -r blob mtime file; do
			if [[ $(git -C "$SRC" rev-parse "HEAD:$file" 2>/dev/null) == "$blob" ]]; then
				touch -d "@$mtime" "$SRC/$file"
			fi
		done <"$WORKDIR/.tracerns-mtimes"
		rm -f "$WORKDIR/.tracerns-mtimes"
	fi
	echo "$key" >"$SRC/.tracerns-applied"
}

# Fail if a symbol the fragments ask for (the last one wins) did not make
# it into .config.
check_config() {
	local out=$1 frag line sym want got
	local -A wanted=() origin=()
	shift
	for frag in "$@"; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=*)
				sym=${line%%=*} want=${line#*=} ;;
			'# CONFIG_'*' is not set')
				sym=${line#\# } sym=${sym%% *} want=n ;;
			*) continue ;;
			esac
			wanted[$sym]=$want origin[$sym]=$(basename "$frag")
		done <"$frag"
	done
	for sym in "${!wanted[@]}"; do
		want=${wanted[$sym]}
		got=$(grep -E "^$sym=|^# $sym is not set" "$out/.config" || true)
		case $got in
		"$sym=$want") ;;
		"# $sym is not set") [[ $want == n ]] ||
			die "$sym=$want from ${origin[$sym]} is not set" ;;
		"") [[ $want == n ]] ||
			die "$sym=$want from ${origin[$sym]} is unknown" ;;
		*) die "$sym=$want from ${origin[$sym]} became ${got#*=}" ;;
		esac
	done
}

configure_kernel() {
	make -s -C "$SRC" O="$OUT" tinyconfig >/dev/null
	KCONFIG_CONFIG=$OUT/.config "$SRC/scripts/kconfig/merge_config.sh" \
		-m -O "$OUT" "$OUT/.config" "$@" >/dev/null
	make -s -C "$SRC" O="$OUT" olddefconfig >/dev/null
	check_config "$OUT" "$@"
}

make_kernel() {
	nice -n 10 make -s -C "$SRC" O="$OUT" -j"$JOBS" CC="ccache gcc" \
		KBUILD_BUILD_TIMESTAMP='' bzImage headers
}

# Sets SRC, OUT, KERNEL and FRAGMENTS for the selected variant.
select_build() {
	local variant
	variant=$( ((DEBUG)) && echo debug || echo plain)
	FRAGMENTS=("$HERE/tracerns.config")
	((DEBUG)) && FRAGMENTS+=("$HERE/debug.config")
	SRC=$WORKDIR/src
	OUT=$WORKDIR/out-$variant
	KERNEL=$OUT/arch/x86/boot/bzImage
}

build_kernel() {
	local key start
	install_deps
	select_build
	key=$(cache_key)
	mkdir -p "$WORKDIR" "$CCACHE_DIR"
	prepare_tree

	if [[ -f $OUT/.tracerns-built && $(cat "$OUT/.tracerns-built") == "$key" &&
		-f $KERNEL ]]; then
		log "reusing $KERNEL ($key)"
		return
	fi
	rm -f "$OUT/.tracerns-built"
	mkdir -p "$OUT"

	log "configuring $OUT"
	configure_kernel "${FRAGMENTS[@]}"
	log "building bzImage with -j$JOBS (ccache in $CCACHE_DIR)"
	start=$(date +%s)
	make_kernel
	log "built $KERNEL in $(($(date +%s) - start)) s"
	echo "$key" >"$OUT/.tracerns-built"
}

# Symbols that only Debian's own patches put into the files the series
# touches: a hunk that has one in its context or removes it would not
# apply to vanilla 6.12.y.
DISTRO_ONLY='perf_paranoid_any|SECURITY_PERF_EVENTS_RESTRICT|unprivileged_userns_clone'

# Fails if a patch's hunks keep or remove a line with a DISTRO_ONLY symbol.
check_no_distro_context() {
	local patch=$1 found
	found=$(awk '/^@@ /{h=1; next} /^diff --git /{h=0} h && /^[ -]/' "$patch" |
		grep -E "$DISTRO_ONLY" || true)
	[[ -z $found ]] ||
		die "$(basename "$patch") depends on Debian's patches: $found"
}

check_series() {
	local head base commits patches i start total_start disabled n
	total_start=$(date +%s)
	DEBUG=0
	build_kernel
	# Restore the branch, not just its commit, when done.
	head=$(git -C "$SRC" symbolic-ref -q --short HEAD ||
		git -C "$SRC" rev-parse HEAD)
	base=$(git -C "$SRC" rev-list --max-parents=0 HEAD)
	mapfile -t commits < <(git -C "$SRC" rev-list --reverse "$base..HEAD")
	mapfile -t patches < <(series_patches)
	n=${#patches[@]}
	((${#commits[@]} == n)) || die "$SRC has ${#commits[@]} commits for $n patches"

	# Leave the tree and the plain build as build_kernel made them.
	# The values now: the locals are gone when the trap runs on an error.
	# shellcheck disable=SC2064
	trap "git -C '$SRC' checkout -q '$head'; rm -f '$OUT/.tracerns-built'" EXIT
	for i in "${!patches[@]}"; do
		log "[$((i + 1))/$n] checkpatch --strict $(basename "${patches[i]}")"
		"$SRC/scripts/checkpatch.pl" --strict --no-tree -q "${patches[i]}"
		check_no_distro_context "${patches[i]}"
	done
	log "no patch has Debian-only lines in its context"
	rm -f "$OUT/.tracerns-built"
	for i in "${!commits[@]}"; do
		git -C "$SRC" checkout -q "${commits[i]}"
		configure_kernel "${FRAGMENTS[@]}"
		start=$(date +%s)
		make_kernel
		log "[$((i + 1))/$n] $(git -C "$SRC" log -1 --format=%s) builds" \
			"($(($(date +%s) - start)) s)"
	done

	disabled=$WORKDIR/tracer-ns-disabled.config
	echo '# CONFIG_TRACER_NS is not set' >"$disabled"
	configure_kernel "${FRAGMENTS[@]}" "$disabled"
	start=$(date +%s)
	make_kernel
	log "[$n/$n] builds with CONFIG_TRACER_NS=n ($(($(date +%s) - start)) s)"

	build_selftests
	log "the selftest compiles"

	git -C "$SRC" checkout -q "$head"
	trap - EXIT
	configure_kernel "${FRAGMENTS[@]}"
	make_kernel
	cache_key >"$OUT/.tracerns-built"
	log "all $n patches pass checkpatch --strict and build" \
		"($(($(date +%s) - total_start)) s in all)"
}

# --- VM ------------------------------------------------------------------------

# QEMU can hang or abort on KVM under nested hypervisors: use it only when a
# short boot to a kernel panic (no init), with -cpu host as virtme-ng
# uses, finishes in time.
probe_kvm() {
	if [[ -n ${TRACERNS_ACCEL:-} ]]; then
		[[ $TRACERNS_ACCEL == kvm ]]
		return
	fi
	[[ -r /dev/kvm && -w /dev/kvm ]] || return 1
	local console
	console=$(timeout -s KILL 20 qemu-system-x86_64 -accel kvm -cpu host \
		-m 256 -nodefaults -display none -no-reboot -serial stdio \
		-kernel "$KERNEL" \
		-append "console=ttyS0 panic=-1 init=/tracerns-kvm-probe" \
		2>/dev/null </dev/null || true)
	[[ $console == *'Kernel panic'* ]]
}

# Run "$@" in the VM; the guest writes the command's status to a file in
# a host directory shared read-write.
run_in_vm() {
	local user=$1 rundir accel_args=() status memory
	shift
	rundir=$(mktemp -d "$WORKDIR/run.XXXXXX")
	chmod 755 "$rundir"
	# virtme-ng's script I/O ports need udev rules the host may lack, so
	# the guest reports through files in a directory shared read-write.
	cat >"$rundir/guest.sh" <<-'EOF'
	#!/bin/bash
	# Usage: guest.sh OUTDIR CWD USER COMMAND [ARG...]
	outdir=$1 cwd=$2 user=$3
	shift 3
	dmesg -n 1 2>/dev/null
	cd "$cwd" || exit 125
	if [[ $user == root ]]; then
		"$@"
	else
		gid=$(id -g "$user") && home=$(getent passwd "$user" | cut -d: -f6) &&
			HOME=$home USER=$user LOGNAME=$user setpriv --reuid="$user" \
				--regid="$gid" --init-groups -- "$@"
	fi >"$outdir/output" 2>&1 </dev/null
	status=$?
	dmesg >"$outdir/dmesg" 2>&1
	echo "$status" >"$outdir/status"
	EOF
	chmod 755 "$rundir/guest.sh"
	mkdir -m 1777 "$rundir/out"

	if probe_kvm; then
		log "KVM works, using it"
	else
		log "using TCG (KVM unavailable or hangs), ${TCG_THREAD}-threaded"
		accel_args=(--disable-kvm "--qemu-opts=-accel tcg,thread=$TCG_THREAD")
	fi
	memory=${TRACERNS_MEMORY:-$( ((DEBUG)) && echo 4G || echo 2G)}

	local cmd
	cmd=$(printf '%q ' "$rundir/guest.sh" "$rundir/out" "$PWD" "$user" "$@")
	log "booting $KERNEL: $*"
	set +e
	timeout -s KILL "$TIMEOUT" vng --run "$KERNEL" "${accel_args[@]}" \
		${TRACERNS_VERBOSE:+--verbose} --cpus 2 --memory "$memory" \
		--rwdir "$rundir/out" "${RWDIRS[@]}" \
		--exec "$cmd" </dev/null >"$rundir/vng.log" 2>&1
	status=$?
	set -e
	# QEMU truncates the file it writes the console to, so it never gets
	# the caller's stdout.
	if [[ -n ${TRACERNS_VERBOSE:-} ]]; then
		cat "$rundir/vng.log" >&2
	fi

	[[ -f $rundir/out/output ]] && cat "$rundir/out/output"
	if [[ ! -f $rundir/out/status ]]; then
		log "the VM did not report a status (vng exited with $status):"
		cat "$rundir/vng.log" >&2
		log "(TRACERNS_VERBOSE=1 shows the guest's console)"
		return 125
	fi
	status=$(cat "$rundir/out/status")
	if grep -E "$SPLAT_RE" "$rundir/out/dmesg" >"$rundir/out/splats"; then
		log "kernel splat in the guest's dmesg:"
		cat "$rundir/out/dmesg" >&2
		log "matching lines:"
		cat "$rundir/out/splats" >&2
		[[ $status != 0 ]] || status=1
	fi
	log "guest command exited with $status"
	rm -rf "$rundir"
	return "$status"
}

# The selftests of the series, as "directory/program" under
# tools/testing/selftests.
SELFTESTS=(tracerns/tracerns_test perf_events/tracer_scope)

build_selftests() {
	local test dir
	for test in "${SELFTESTS[@]}"; do
		dir=${test%/*}
		log "building tools/testing/selftests/$test"
		mkdir -p "$OUT/kselftest/$dir"
		make -s -C "$SRC/tools/testing/selftests/$dir" \
			OUTPUT="$OUT/kselftest/$dir" \
			KHDR_INCLUDES="-isystem $OUT/usr/include" \
			"$OUT/kselftest/$test" >/dev/null
	done
}

# Run every selftest in one boot; fail if any fails, or skips: the
# fragments give the VM all that every test needs, so a skip means a
# test did not run, and must not pass as a run that did. Each test's
# output goes to a file first, not through a
# pipe: a process a test leaves behind would hold a pipe open.
run_selftests() {
	local tests=() test
	for test in "${SELFTESTS[@]}"; do
		tests+=("$OUT/kselftest/$test")
	done
	# One line: the command crosses virtme-ng's --exec.
	# shellcheck disable=SC2016 # expanded by the guest's bash
	run_in_vm root bash -c 'status=0; log=$(mktemp); for t in "$@"; do "$t" >"$log" 2>&1 </dev/null || status=1; cat "$log"; if grep -E "^ok [0-9]+ .*# SKIP" "$log" >"$log.skips"; then printf "%s skipped, which fails the run:\n" "${t##*/}"; cat "$log.skips"; status=1; fi; done; exit $status' \
		selftests "${tests[@]}"
}

build_bench() {
	log "building bench/dispatch_bench.c"
	gcc -O2 -Wall -Werror -isystem "$OUT/usr/include" \
		-o "$OUT/dispatch_bench" "$HERE/bench/dispatch_bench.c"
}

# --- main ----------------------------------------------------------------------

main() {
	local cmd=${1:-} user=root
	DEBUG=0
	RWDIRS=()
	[[ -n $cmd ]] || usage 2
	shift
	while (($#)); do
		case $1 in
		--debug) DEBUG=1 ;;
		--user) user=$2; shift ;;
		--rwdir) RWDIRS+=(--rwdir "$(realpath "$2")"); shift ;;
		--) shift; break ;;
		-h|--help) usage ;;
		*) break ;;
		esac
		shift
	done

	case $cmd in
	build)
		build_kernel ;;
	run)
		(($#)) || usage 2
		build_kernel
		run_in_vm "$user" "$@" ;;
	selftests)
		build_kernel
		build_selftests
		run_selftests ;;
	bench)
		build_kernel
		build_bench
		run_in_vm root "$OUT/dispatch_bench" "$@" ;;
	check-series)
		check_series ;;
	-h|--help|help)
		usage ;;
	*)
		usage 2 ;;
	esac
}

main "$@"
