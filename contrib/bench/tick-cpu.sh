#!/usr/bin/env bash
# Benchmark: densityd's CPU time per tick on the testbed.
# Usage: contrib/bench/tick-cpu.sh [GUESTS] [SECONDS]   (defaults 8, 60; root)
#
# Starts GUESTS testbed guests, runs densityd with Interval=1s, and reads the
# CPU time of each of its threads from /proc/PID/task/TID/schedstat
# (nanoseconds on CPU) at the start and the end of the run, and the tick
# count from densityctl status. Prints the CPU per tick (whole process and
# the event-loop thread alone) and the ratio to the 20 ms budget.
# Set BENCH_KEEP_TESTBED=1 to keep the guests afterwards.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

GUESTS=${1:-8}
SECONDS_RUN=${2:-60}
BUDGET_MS=20

[ "$(id -u)" -eq 0 ] || { echo "tick-cpu.sh: run as root" >&2; exit 1; }
[ -x "$DENSITYD" ] || { echo "tick-cpu.sh: build first (meson setup build && ninja -C build)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/densityd-bench.XXXXXX)
cleanup() {
	stop_daemon
	[ "${BENCH_KEEP_TESTBED:-0}" = 1 ] || "$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

"$TB" up "$GUESTS"
write_policy "$WORK" 1s
start_daemon "$WORK"

# Wait until the daemon sees every guest with balloon figures.
for _ in $(seq 1 120); do
	seen=$(ctl "$WORK" status --json | jq '[.guests[] | select(.balloon_actual_bytes != null)] | length')
	[ "$seen" -ge "$GUESTS" ] && break
	sleep 0.5
done
[ "$seen" -ge "$GUESTS" ] || { echo "tick-cpu.sh: only $seen of $GUESTS guests seen" >&2; exit 1; }

# thread_cpu_ns TID: nanoseconds the thread has run.
thread_cpu_ns() { awk '{print $1}' "/proc/$DAEMON_PID/task/$1/schedstat"; }
snapshot() { # prints "TID COMM NS" per thread
	local t
	for t in /proc/"$DAEMON_PID"/task/*; do
		t=${t##*/}
		echo "$t $(cat "/proc/$DAEMON_PID/task/$t/comm") $(thread_cpu_ns "$t")"
	done
}
ticks() { ctl "$WORK" status --json | jq '.daemon.ticks'; }

t0=$(ticks)
snapshot >"$WORK/cpu0"
sleep "$SECONDS_RUN"
snapshot >"$WORK/cpu1"
t1=$(ticks)
ctl "$WORK" status --json >"$WORK/status.json"

ticks_run=$((t1 - t0))
main_tid=$DAEMON_PID
join "$WORK/cpu0" "$WORK/cpu1" >"$WORK/cpu" || true
total_ns=$(awk '{s += $5 - $3} END {print s}' "$WORK/cpu")
main_ns=$(awk -v m="$main_tid" '$1 == m {print $5 - $3}' "$WORK/cpu")
virt_ns=$(awk -v m="$main_tid" '$1 != m {s += $5 - $3} END {print s + 0}' "$WORK/cpu")

awk -v g="$GUESTS" -v s="$SECONDS_RUN" -v t="$ticks_run" -v tot="$total_ns" -v main="$main_ns" \
	-v virt="$virt_ns" -v b="$BUDGET_MS" \
	-v round="$(jq '.daemon.hypervisor.stats_round_seconds' "$WORK/status.json")" \
	-v sample="$(jq '.daemon.sample_seconds' "$WORK/status.json")" 'BEGIN {
	printf "guests                        %d\n", g
	printf "run                           %d s, %d ticks (Interval=1s)\n", s, t
	printf "CPU per tick, whole daemon    %.3f ms  (%.1f%% of the %d ms budget; budget/measured = %.0fx)\n", tot / t / 1e6, 100 * tot / t / 1e6 / b, b, b / (tot / t / 1e6)
	printf "  event-loop thread (tick)    %.3f ms\n", main / t / 1e6
	printf "  hypervisor thread (libvirt) %.3f ms\n", virt / t / 1e6
	printf "CPU per tick per guest        %.3f ms\n", tot / t / 1e6 / g
	printf "last tick sampling, wall      %.3f ms\n", sample * 1e3
	printf "last bulk stats call, wall    %.3f ms\n", round * 1e3
}'
