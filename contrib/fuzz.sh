#!/usr/bin/env bash
# Fuzz every parser for a short, fixed time: builds build-fuzz with clang,
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (-Dfuzz=true),
# then runs each target (tests/fuzz/fuzz-<name>.c) for SECONDS, as many at
# once as there are CPUs (FUZZ_JOBS=N to choose), starting
# from its checked-in corpus (tests/fuzz/corpus/<name>, read only: new
# inputs go to a scratch directory). A crash leaves its input in
# build-fuzz/crashes/<name>/: fix the bug, then add the input to the corpus,
# where the unit suite runs it in every build from then on.
# Usage: contrib/fuzz.sh [SECONDS]   (default 10 per target)
# Exit status: 0 when no target crashed, 1 otherwise (2: setup failed).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-10}
BUILD=$SRC/build-fuzz
case $SECONDS_EACH in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac

"$SRC/contrib/deps.sh" build sanitize >&2 || exit 2
cd "$SRC"
export CC=clang
if [ -f "$BUILD/build.ninja" ]; then
	meson setup --reconfigure "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all >/dev/null
else
	meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all >/dev/null
fi
meson compile -C "$BUILD" >/dev/null

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
targets=$(sed -n "/^fuzz_targets = \[/,/^\]/p" tests/fuzz/meson.build | grep -o "'[a-z-]*'" | tr -d "'")
# fuzz_one TARGET: runs it; its verdict goes to scratch/TARGET.result.
fuzz_one() {
	local t=$1 log=$BUILD/crashes/$1.log runs
	mkdir -p "$scratch/$t" "$BUILD/crashes/$t"
	if nice -n 10 "$BUILD/tests/fuzz/fuzz-$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$BUILD/crashes/$t/" -print_final_stats=1 "$scratch/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
		runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
		echo "fuzz.sh: $t: ok, ${runs:-?} runs in ${SECONDS_EACH}s, corpus $(ls "$scratch/$t" | wc -l) new inputs" \
			>"$scratch/$t.result"
	else
		{
			echo "fuzz.sh: $t: CRASHED; input in $BUILD/crashes/$t/, log $log:"
			grep -E "ERROR|runtime error|SUMMARY" "$log" | head -n 5 | sed 's/^/    /'
		} >"$scratch/$t.crashed"
	fi
}
# As many targets at once as there are CPUs (FUZZ_JOBS= to choose).
jobs_max=${FUZZ_JOBS:-$(nproc)}
for t in $targets; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
	fuzz_one "$t" &
done
wait
failed=0 total=0
for t in $targets; do
	total=$((total + 1))
	if [ -f "$scratch/$t.result" ]; then
		cat "$scratch/$t.result"
	else
		failed=$((failed + 1))
		cat "$scratch/$t.crashed" >&2 2>/dev/null || echo "fuzz.sh: $t: no verdict (killed?)" >&2
	fi
done
echo "fuzz.sh: $((total - failed)) of $total targets ran ${SECONDS_EACH}s each without a crash"
[ $failed -eq 0 ] || exit 1
