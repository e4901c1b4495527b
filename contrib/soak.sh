#!/usr/bin/env bash
# Soak: densityd with every controller on, while a guest is started and
# destroyed over and over on the testbed. Its RSS and open fds must stay
# flat; under valgrind memcheck, no leak and no invalid access.
#
# Usage: contrib/soak.sh [--valgrind] [CYCLES]   (default 200; 20 with
#        --valgrind; root)
#
# dtest-1 and dtest-2 run throughout; dtest-3 is started, seen by densityd
# (listed with its class: its XML read, its stats sampled), destroyed, and
# seen gone, CYCLES times. KSM (auto), balloons, NUMA (SingleNode=yes, so
# that every start is placed and pinned) and shedding are all enabled.
# Prints the daemon's RSS and fd count at the start, every 10% and the end,
# writes them as CSV (SOAK_OUT, default /tmp/densityd-soak-DATE/soak.csv),
# and fails when the RSS grew by more than 2 MiB from the first tenth of
# the run to its end or an fd was not given back. With --valgrind the
# daemon runs under memcheck (definite and indirect leaks and any invalid
# access are errors) and the script fails on any error valgrind counts; the
# RSS is printed but not judged there (it is valgrind's too).
# Guests and KSM's knobs are put back on exit.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
KSM=/sys/kernel/mm/ksm
VIRSH=(virsh -q -c qemu:///system)

VALGRIND=0
if [ "${1:-}" = --valgrind ]; then
	VALGRIND=1
	shift
fi
CYCLES=${1:-$([ $VALGRIND = 1 ] && echo 20 || echo 200)}
RSS_SLACK_KIB=2048

[ "$(id -u)" -eq 0 ] || { echo "soak.sh: run as root" >&2; exit 1; }
[[ $CYCLES =~ ^[0-9]+$ ]] && [ "$CYCLES" -ge 10 ] || { echo "soak.sh: CYCLES must be 10 or more" >&2; exit 2; }
if [ ! -x "$DENSITYD" ]; then
	(cd "$SRC" && { [ -d "$BUILD" ] || meson setup "$BUILD"; } && ninja -C "$BUILD") >&2
fi
[ $VALGRIND = 0 ] || command -v valgrind >/dev/null || { echo "soak.sh: valgrind missing (apt-get install valgrind)" >&2; exit 1; }

OUT=${SOAK_OUT:-/tmp/densityd-soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/densityd-soak.XXXXXX)
KNOBS=(run pages_to_scan sleep_millisecs)
declare -A WAS
for k in "${KNOBS[@]}"; do WAS[$k]=$(cat "$KSM/$k" 2>/dev/null || echo); done
cleanup() {
	stop_daemon
	"$TB" down >/dev/null 2>&1 || true
	for k in "${KNOBS[@]}"; do [ -z "${WAS[$k]}" ] || echo "${WAS[$k]}" >"$KSM/$k" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

"$TB" down >/dev/null 2>&1 || true
"$TB" up 3 >&2
write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=auto
[Balloon]
Enable=yes
[Shed]
Enable=yes
[Numa]
Enable=yes
SingleNode=yes
EOT

if [ $VALGRIND = 1 ]; then
	# start_daemon, under memcheck (slower: more time to come up).
	valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --track-fds=no --error-exitcode=99 \
		--log-file="$OUT/valgrind.log" "$DENSITYD" --config "$WORK/policy.conf" >"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 120 ctl "$WORK" status || { echo "soak.sh: densityd under valgrind did not come up" >&2; cat "$WORK/daemon.log" >&2; exit 1; }
else
	start_daemon "$WORK"
fi

sees() { # sees NAME yes|no
	local n
	n=$(ctl "$WORK" status --json | jq --arg n "$1" '[.guests[] | select(.name == $n and .class != null)] | length')
	[ "$n" -eq $([ "$2" = yes ] && echo 1 || echo 0) ]
}
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status"; }
fds() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
row() { echo "$1,$(rss_kib),$(fds),$(ctl "$WORK" status --json | jq '.daemon.ticks')" >>"$OUT/soak.csv"; }

wait_for 60 sees dtest-3 yes || { echo "soak.sh: densityd does not see dtest-3" >&2; exit 1; }
echo "cycle,rss_kib,fds,ticks" >"$OUT/soak.csv"
row 0
printf '%8s %10s %6s\n' cycle "RSS KiB" fds
printf '%8s %10s %6s\n' 0 "$(rss_kib)" "$(fds)"
step=$((CYCLES / 10))
late=0
for c in $(seq 1 "$CYCLES"); do
	"${VIRSH[@]}" destroy dtest-3 >/dev/null
	wait_for 60 sees dtest-3 no || late=$((late + 1))
	"${VIRSH[@]}" start dtest-3 >/dev/null
	wait_for 60 sees dtest-3 yes || late=$((late + 1))
	if [ $((c % step)) -eq 0 ]; then
		row "$c"
		printf '%8s %10s %6s\n' "$c" "$(rss_kib)" "$(fds)"
	fi
done
kill -0 "$DAEMON_PID" || { echo "soak.sh: densityd died; its log:" >&2; cat "$WORK/daemon.log" >&2; exit 1; }

first=$(awk -F, -v s="$step" '$1 == s { print $2 }' "$OUT/soak.csv")
last=$(tail -n 1 "$OUT/soak.csv" | cut -d, -f2)
fd0=$(awk -F, 'NR == 2 { print $3 }' "$OUT/soak.csv")
fd1=$(tail -n 1 "$OUT/soak.csv" | cut -d, -f3)
mid=$(awk -F, -v m=$((CYCLES / 2 / step * step)) '$1 == m { print $2 }' "$OUT/soak.csv")
echo "soak: $CYCLES start/destroy cycles$([ $VALGRIND = 1 ] && echo ' under valgrind memcheck'): RSS $first KiB after $step cycles, $mid KiB at the middle, $last KiB at the end ($((last - first)) KiB); fds $fd0 at the start, $fd1 at the end; $late waits timed out"
rc=0
# Under memcheck the RSS is valgrind's too: its queue of freed blocks (20 MB
# by default) and its shadow memory grow in a process that leaks nothing.
# There, valgrind's leak check is the judge.
if [ $VALGRIND = 0 ]; then
	[ $((last - first)) -le $RSS_SLACK_KIB ] || { echo "soak: RSS grew by more than $RSS_SLACK_KIB KiB" >&2; rc=1; }
fi
[ "$fd1" -le "$fd0" ] || { echo "soak: fds grew ($fd0 -> $fd1)" >&2; rc=1; }
[ $late -eq 0 ] || { echo "soak: densityd was late to see $late changes" >&2; rc=1; }

if [ $VALGRIND = 1 ]; then
	kill "$DAEMON_PID"
	vrc=0
	wait "$DAEMON_PID" || vrc=$?
	DAEMON_PID=
	errors=$(grep -o "ERROR SUMMARY: [0-9]*" "$OUT/valgrind.log" | tail -n 1 || true)
	echo "valgrind: exit $vrc; ${errors:-no error summary (quiet run: no errors)}; log $OUT/valgrind.log"
	grep -E "definitely lost|indirectly lost|Invalid (read|write|free)|uninitialised" "$OUT/valgrind.log" | head -n 20 || true
	[ $vrc -eq 0 ] || { echo "soak: valgrind found errors (exit $vrc)" >&2; rc=1; }
fi
echo "soak: CSV in $OUT/soak.csv"
exit $rc
