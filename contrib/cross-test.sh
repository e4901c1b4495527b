#!/usr/bin/env bash
# Cross-builds densityd for aarch64 into build-aarch64 and runs the unit and
# fixtures suites there under qemu-user (no binfmt registration, nothing
# written to /proc or /sys); then its system suite: the aarch64 densityd and
# densityctl sample the real testbed beside the native build (built here in
# DENSITY_NATIVE_BUILD, default build/) and must report the same
# (tests/system/test-aarch64.sh; it starts libvirtd and guests, so it skips
# unless run as root). Installs what is missing first, like contrib/deps.sh:
# the build group, then the aarch64 cross compiler, qemu-user and the
# ':arm64' dev packages of every dependency() in meson.build
# (dpkg --add-architecture arm64 if needed). Idempotent.
# Usage: contrib/cross-test.sh [BUILD_DIR]   (default: build-aarch64)
# Exit status: 0 when every test passed, 1 otherwise (2: setup failed).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-aarch64}
NATIVE=${DENSITY_NATIVE_BUILD:-build}
case $NATIVE in /*) ;; *) NATIVE=$SRC/$NATIVE ;; esac
CROSS="$SRC/contrib/cross/aarch64-linux-gnu.ini"
# libc6:arm64 gives /lib/ld-linux-aarch64.so.1, which qemu-aarch64 runs the
# binaries with; qemu-user without its Recommends (qemu-user-binfmt).
CROSS_PKGS="gcc-aarch64-linux-gnu qemu-user libc6:arm64 libc6-dev:arm64 libvirt-dev:arm64
	libsystemd-dev:arm64 libproc2-dev:arm64 libjson-c-dev:arm64 libinih-dev:arm64 libxml2-dev:arm64"

"$SRC/contrib/deps.sh" build || exit 2
# The system test's own needs (jq, file); testbed.sh installs the testbed's.
[ "$(id -u)" -ne 0 ] || "$SRC/contrib/deps.sh" test || exit 2

want=()
for p in $CROSS_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
done
if [ ${#want[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "cross-test.sh: missing packages (${want[*]}); run as root to install them" >&2
		exit 2
	fi
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		echo "cross-test.sh: dpkg --add-architecture arm64" >&2
		dpkg --add-architecture arm64
	fi
	echo "cross-test.sh: installing ${want[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# Multiarch: the :arm64 libraries need the same versions as their amd64
	# twins, so apt may upgrade some amd64 libraries along with them.
	apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null
fi

cd "$SRC"

# setup DIR [meson options...]: configure (or reconfigure) and build.
setup() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		nice -n 19 meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		nice -n 19 meson setup "$dir" "$@" >/dev/null
	fi
	nice -n 19 meson compile -C "$dir" >/dev/null
}

# summary: meson's own log of the last run, by result.
summary() {
	local log="$BUILD/meson-logs/testlog.json"
	command -v jq >/dev/null && [ -f "$log" ] || return 0
	jq -rs 'group_by(.result) | map("  \(.[0].result): \(length)") | .[]' "$log"
	jq -rs '.[] | select(.result != "OK" and .result != "SKIP") | "  not OK: \(.name) (\(.result))"' "$log"
}

setup "$BUILD" --cross-file "$CROSS"
echo "cross-test.sh: aarch64 ($(aarch64-linux-gnu-gcc -dumpversion), $(qemu-aarch64 --version | head -n 1))"

rc=0
nice -n 19 meson test -C "$BUILD" --suite unit --suite fixtures --print-errorlogs || rc=$?
echo
echo "cross-test.sh: unit and fixtures under qemu-user:"
summary
if [ $rc -eq 0 ]; then
	echo "cross-test.sh: all unit and fixtures tests passed under qemu-user"
else
	echo "cross-test.sh: unit and fixtures FAILED (meson test exit status $rc); log: $BUILD/meson-logs/testlog.txt" >&2
fi

# The system test compares with the native build: make sure it is current.
setup "$NATIVE"
src=0
DENSITY_NATIVE_BUILD=$NATIVE meson test -C "$BUILD" --suite system --print-errorlogs || src=$?
echo
echo "cross-test.sh: system (aarch64 and $(uname -m) densityd on the testbed):"
summary
if [ $src -eq 0 ]; then
	echo "cross-test.sh: the system suite passed (or skipped: see above)"
else
	echo "cross-test.sh: system FAILED (meson test exit status $src); log: $BUILD/meson-logs/testlog.txt" >&2
fi
[ $rc -eq 0 ] && [ $src -eq 0 ] || exit 1
