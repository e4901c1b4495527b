#!/usr/bin/env bash
# Benchmark: how fast densityd's shed controller acts once memory runs
# short, and how long a save and a restore take, on the testbed.
# Usage: contrib/bench/shed-reaction.sh [TRIALS]   (default 20; root)
#
# Three testbed guests under a VMs' cgroup budget, KSM off; dtest-3 is the
# low-priority guest densityd sheds. Each trial: dtest-1 takes LOAD_MIB of
# memory, which pushes the cgroup's usage past CgroupUsageAbove=; the script
# watches the usage (every few ms) for the moment it crosses, and takes the
# start of densityd's save from its journal: reaction = save started -
# threshold crossed. Then the load goes, `densityctl restore` brings dtest-3
# back, and the next trial starts once it runs. Prints p50/p99/max of the
# reaction and of the save and restore times (journal: started to finished).
# Every guest, the budget and KSM's run are put back on exit.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

TRIALS=${1:-20}
LOAD_MIB=${LOAD_MIB:-150}
SPARE_MIB=${SPARE_MIB:-150}
THRESHOLD=90 # CgroupUsageAbove=, percent
KSM=/sys/kernel/mm/ksm
export TESTBED_FREE_PAGE_REPORTING=on
# A load grows the host's memory only past what the guest already holds: 320
# MiB guests hold about 230 MiB at rest and take a load of 150 MiB.
export TESTBED_MEM_MIB=${TESTBED_MEM_MIB:-320}

[ "$(id -u)" -eq 0 ] || { echo "shed-reaction.sh: run as root" >&2; exit 1; }
[ -x "$DENSITYD" ] || { echo "shed-reaction.sh: build first (meson setup build && ninja -C build)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/densityd-shed-bench.XXXXXX)
KSM_RUN=
[ -w "$KSM/run" ] && KSM_RUN=$(cat "$KSM/run")
cleanup() {
	stop_daemon
	"$TB" budget off >/dev/null 2>&1 || true
	[ "${BENCH_KEEP_TESTBED:-0}" = 1 ] || "$TB" down >/dev/null 2>&1 || true
	[ -z "$KSM_RUN" ] || echo "$KSM_RUN" >"$KSM/run"
	rm -rf "$WORK"
}
trap cleanup EXIT

cg=
for d in /sys/fs/cgroup/memory/machine /sys/fs/cgroup/machine.slice; do [ -d "$d" ] && cg=$d; done
usage_file() { [ -r "$cg/memory.usage_in_bytes" ] && echo "$cg/memory.usage_in_bytes" || echo "$cg/memory.current"; }

if [ -n "$KSM_RUN" ]; then
	echo 2 >"$KSM/run"
	for _ in $(seq 1 240); do [ "$(cat $KSM/pages_sharing)" -eq 0 ] && break; sleep 0.5; done
	echo 0 >"$KSM/run"
fi
"$TB" down >/dev/null 2>&1 || true # guests of another size are not redefined
"$TB" up 3
# A load of 0 has each guest free what it touched while booting (free page
# reporting hands it back to the host): the guests' figures at rest.
for g in 1 2 3; do "$TB" load dtest-$g 0 2>/dev/null || true; done
sleep 3
[ -n "$cg" ] || { echo "shed-reaction.sh: no VMs' cgroup" >&2; exit 1; }
uf=$(usage_file)
base=$(($(cat "$uf") / 1048576))
budget=$((base + SPARE_MIB))
"$TB" budget $budget
limit=$((budget * 1048576))
cross=$((limit * THRESHOLD / 100))
echo "3 guests use $base MiB: budget $budget MiB, shed above $THRESHOLD% ($((cross / 1048576)) MiB); load $LOAD_MIB MiB on dtest-1" >&2

write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=off
[Balloon]
Enable=no
[Shed]
CgroupUsageAbove=$THRESHOLD%
CgroupRestoreBelow=$((THRESHOLD - 1))%
Cooldown=1s
RestoreHold=1h
[Class low]
Match=dtest-3
Priority=10
EOT
start_daemon "$WORK"
sleep 3

: >"$WORK/results"
for t in $(seq 1 "$TRIALS"); do
	# Watch the usage in the background for the first crossing.
	(
		while :; do
			u=$(<"$uf")
			if [ "$u" -gt "$cross" ]; then echo "$EPOCHREALTIME" >"$WORK/crossed"; exit 0; fi
		done
	) &
	watcher=$!
	t_start=$EPOCHREALTIME
	"$TB" load dtest-1 "$LOAD_MIB" 2>/dev/null &
	loader=$!
	# This trial's save, done (its journal entry started after the trial did).
	save=null
	for _ in $(seq 1 300); do
		ctl "$WORK" log --json --guest dtest-3 -n 1000 >"$WORK/log.json" 2>/dev/null || true
		save=$(jq -c --argjson t "$t_start" \
			'[.entries[] | select(.action == "save" and .result == "done" and .started >= $t)] | last' \
			"$WORK/log.json" 2>/dev/null || echo null)
		[ "$save" != null ] && [ -n "$save" ] && break
		sleep 0.2
	done
	wait "$loader" || true
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	"$TB" load dtest-1 0 2>/dev/null || true
	sleep 2
	t_restore=$EPOCHREALTIME
	ctl "$WORK" restore dtest-3 >/dev/null 2>&1 || true
	restore=null
	for _ in $(seq 1 300); do
		ctl "$WORK" log --json --guest dtest-3 -n 1000 >"$WORK/log.json" 2>/dev/null || true
		restore=$(jq -c --argjson t "$t_restore" \
			'[.entries[] | select(.action == "restore" and .result == "done" and .started >= $t)] | last' \
			"$WORK/log.json" 2>/dev/null || echo null)
		[ "$restore" != null ] && [ -n "$restore" ] && break
		sleep 0.2
	done
	sleep 1
	crossed=$(cat "$WORK/crossed" 2>/dev/null || echo "")
	rm -f "$WORK/crossed"
	if [ "$save" = null ] || [ -z "$crossed" ]; then
		echo "trial $t: no save (or no crossing seen): skipped" >&2
		continue
	fi
	jq -n --argjson s "$save" --argjson r "$restore" --arg c "$crossed" \
		'[($s.started - ($c | tonumber)), ($s.finished - $s.started), (if $r then $r.finished - $r.started else null end)] | @tsv' -r \
		>>"$WORK/results"
	echo "trial $t: $(tail -n 1 "$WORK/results")" >&2
	sleep 3
done

n=$(wc -l <"$WORK/results")
[ "$n" -gt 0 ] || { echo "shed-reaction.sh: no trial completed" >&2; exit 1; }
stats() { # stats COLUMN: p50 p99 max of a column, in seconds
	cut -f "$1" "$WORK/results" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
		p50 = v[int((NR + 1) / 2)]; i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
		printf "p50 %.3f s, p99 %.3f s, max %.3f s (%d trials)", p50, v[i], v[NR], NR }'
}
echo "reaction (threshold crossed -> save started): $(stats 1)"
echo "managed save of a $(virsh -c qemu:///system dommemstat dtest-3 2>/dev/null | awk '$1 == "actual" { printf "%d MiB", $2 / 1024 }') guest: $(stats 2)"
echo "restore: $(stats 3)"
