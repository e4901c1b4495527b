#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (run as root):
# installs what is missing, builds, runs the unit, fixtures and system
# suites (system: a real libvirtd and real tiny QEMU guests, started here),
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer
# (clang) and runs the unit and fixtures suites there, fuzzes every parser
# for 30 s each (contrib/fuzz.sh), and cross-builds for aarch64 and runs
# them under qemu-user, then the aarch64 build's system test
# (its densityd and densityctl on the testbed, compared with build/'s:
# contrib/cross-test.sh), and last the Debian package: built, linted,
# installed, run and purged (contrib/deb-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run as root (it installs packages and starts libvirtd and guests)" >&2
	exit 1
fi

contrib/deps.sh build test sanitize testbed deb

setup() { # setup DIR [meson options...]
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	meson compile -C "$dir" >/dev/null
}

summary=$(mktemp)
trap 'rm -f "$summary" "$summary.deb"' EXIT
run() { # run DIR SUITES...: meson test, its summary kept for the total
	local dir=$1 args=()
	shift
	for s in "$@"; do args+=(--suite "$s"); done
	local rc=0
	meson test -C "$dir" --print-errorlogs "${args[@]}" | tee -a "$summary" || rc=$?
	return $rc
}

rc=0
echo "== build (gcc, -Werror) and run unit, fixtures, system"
setup build
run build unit fixtures system || rc=1

echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer (clang), run unit, fixtures"
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
CC=clang setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all
run build-asan unit fixtures || rc=1

echo "== fuzz every parser for 30 s each (clang, libFuzzer, ASan + UBSan)"
contrib/fuzz.sh 30 || rc=1

echo "== cross build for aarch64 (gcc-aarch64-linux-gnu), run unit, fixtures, system under qemu-user"
contrib/cross-test.sh build-aarch64 | tee -a "$summary" || rc=1

echo "== the .deb: build in a copy of the tree, lintian, install, run, reinstall, purge (contrib/deb-test.sh)"
deb_tap=$summary.deb
contrib/deb-test.sh | tee "$deb_tap" || rc=1
# Its TAP lines, counted in the closing line as meson's summaries are.
awk '/^ok / {ok++} /^not ok / {f++} END {printf "Ok: %d\nFail: %d\n", ok, f}' "$deb_tap" >>"$summary"
grep -q '^1\.\.[0-9]' "$deb_tap" || { echo "Fail: 1 (deb-test.sh stopped before its plan)" >>"$summary"; rc=1; }

# One closing line over all the runs.
awk '/^Ok:/ {ok += $2} /^Fail:/ {f += $2} /^Unexpected Pass:/ {f += $3} /^Timeout:/ {f += $2}
     /^Skipped:/ {s += $2} END {printf "%d passed, %d failed, %d skipped\n", ok, f, s}' "$summary"
exit $rc
