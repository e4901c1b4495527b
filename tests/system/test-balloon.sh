#!/usr/bin/env bash
# System test of the balloon controller on the testbed (real libvirtd, real
# TCG guests, a real VMs' cgroup budget), KSM and the shedder off so that
# balloons alone move memory:
#   1. 4 guests that once used memory and now idle (load 100, load 0: their
#      freed pages stay in qemu, as without free page reporting) under a
#      budget their use exceeds 85% of: within 6 ticks every idle guest's
#      balloon inflates and the VMs' cgroup usage drops;
#   2. dtest-1's load grows as a workload grows (16 MiB every 2 s up to
#      120 MiB, each step's exit status checked): its balloon grows back
#      within 6 ticks of its usable memory falling below its free target,
#      while the others stay reduced;
#   3. all along, `virsh dommemstat` of every guest about every second: no
#      guest ever below its class floor; every guest still answers at the
#      end; every move is in the journal, done, with its reason.
# Balloons are put back to their maximum, and guests, budget and KSM as
# found, when the test ends, also on failure. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
KSM=/sys/kernel/mm/ksm
GUESTS=4
INTERVAL=2
PRELOAD_MIB=100
LOAD_TO_MIB=120
export TESTBED_FREE_PAGE_REPORTING=off
# 320 MiB guests: the load of 120 MiB fits with room to spare inside.
export TESTBED_MEM_MIB=${TESTBED_MEM_MIB:-320}
FLOOR_MIB=$((TESTBED_MEM_MIB / 2)) # [Class default] Floor=50%
FREE_TARGET_MIB=$((TESTBED_MEM_MIB / 5)) # GuestFreeTarget=20%

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, the VMs' cgroup)"
	exit 77
fi
for t in jq virsh; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-balloon.XXXXXX)
KSM_RUN=
[ -w "$KSM/run" ] && KSM_RUN=$(cat "$KSM/run")
WATCHER=
LOADER=
vsh() { virsh -q -c qemu:///system "$@"; }
cleanup() {
	[ -z "$LOADER" ] || kill "$LOADER" 2>/dev/null
	[ -z "$WATCHER" ] || kill "$WATCHER" 2>/dev/null
	stop_daemon
	local g
	for g in $(seq 1 $GUESTS); do
		vsh setmem dtest-$g "${TESTBED_MEM_MIB}M" --live >/dev/null 2>&1 || true
	done
	"$TB" budget off >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || true
	[ -z "$KSM_RUN" ] || echo "$KSM_RUN" >"$KSM/run"
	rm -rf "$WORK"
}
trap cleanup EXIT

# memstat NAME KEY: one figure of virsh dommemstat, in MiB.
memstat() { vsh dommemstat "$1" 2>/dev/null | awk -v k="$2" '$1 == k { print int($2 / 1024) }'; }
actual_mib() { memstat "$1" actual; }
status() { ctl "$WORK" status --json 2>/dev/null; }
ticks() { status | jq -r '.daemon.ticks // 0'; }

# KSM off and unmerged: merged pages would hide what the balloons free.
if [ -n "$KSM_RUN" ]; then
	echo 2 >"$KSM/run"
	wait_for 120 ksm_unmerged || { echo "Bail out! KSM did not unmerge"; exit 1; }
	echo 0 >"$KSM/run"
fi

testbed_idle $GUESTS $PRELOAD_MIB "$WORK/testbed.log" || exit 1
budget_at 88 "$WORK/testbed.log" || exit 1 # the guests use 88% of it: over HostTarget=80%, under the limit
diag "4 idle guests of $TESTBED_MEM_MIB MiB use $base MiB of the VMs' cgroup: budget $budget MiB ($((base * 100 / budget))%)"

# 3. The watcher: every guest's balloon every second, all test long.
(
	while :; do
		t=$(date +%s)
		for g in $(seq 1 $GUESTS); do
			vsh dommemstat dtest-$g 2>/dev/null |
				awk -v t="$t" -v g=dtest-$g '$1 == "actual" { a = int($2 / 1024) } $1 == "usable" { u = int($2 / 1024) }
					END { if (a != "") print t, g, a, u }'
		done
		sleep 1
	done
) >"$WORK/watch" 2>/dev/null &
WATCHER=$!

write_policy "$WORK" ${INTERVAL}s 10s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=off
[Shed]
Enable=no
[Balloon]
Enable=yes
HostTarget=80%
GuestFreeTarget=20%
EOT
start_daemon "$WORK" || exit 1

# 1. The idle guests give memory back.
reduced_all() {
	local g
	for g in $(seq 1 $GUESTS); do
		[ "$(actual_mib dtest-$g)" -lt "$TESTBED_MEM_MIB" ] || return 1
	done
	[ "$(usage_mib)" -le $((base - 64)) ]
}
wait_for 60 reduced_all
t1=$(ticks)
check "within 6 ticks every idle guest's balloon inflated and the VMs' usage dropped by 64 MiB or more (tick $t1; usage $base -> $(usage_mib) MiB)" \
	test "$t1" -le 7 ||
	diag "$(status | jq -c '[.guests[] | {name, balloon_actual_bytes, usable_bytes, b: .balloon.state, r: .balloon.reason}]')"
balloon_steady() { status | jqe '.controllers[] | select(.name == "balloon") | .state == "steady"'; }
wait_for 30 balloon_steady || diag "not steady after 30 s: $(status | jq -c '.controllers[] | select(.name == "balloon")')"
status >"$WORK/status1.json"
declare -A reduced
for g in $(seq 2 $GUESTS); do reduced[dtest-$g]=$(actual_mib dtest-$g); done
d1=$(actual_mib dtest-1)
diag "settled: usage $(usage_mib) of $budget MiB; balloons: $(for g in $(seq 1 $GUESTS); do printf '%s ' "dtest-$g=$(actual_mib dtest-$g)"; done)"
check "status shows every guest's balloon state, lower bound and reason" \
	jqe '[.guests[] | .balloon | select(.state != null and .lower_bytes > 0 and (.reason | length) > 0)] | length == 4' \
	"$WORK/status1.json" || diag "$(jq -c '[.guests[] | .balloon]' "$WORK/status1.json")"

# 2. dtest-1's load grows; its balloon follows; the others stay reduced.
(
	rc=0
	for m in $(seq 16 16 $LOAD_TO_MIB) $LOAD_TO_MIB; do
		"$TB" load dtest-1 "$m" 2>>"$WORK/load.err" || { rc=1; echo "load $m failed" >>"$WORK/load.err"; }
		sleep 2
	done
	echo $rc >"$WORK/load.rc"
) &
LOADER=$!
# When did the test first see its usable memory below the free target, and
# its balloon above where it was?
below_tick=
grew_tick=
for i in $(seq 1 120); do
	s=$(status) || { sleep 1; continue; }
	tk=$(jq -r '.daemon.ticks' <<<"$s")
	usable=$(jq -r '.guests[] | select(.name == "dtest-1") | (.usable_bytes // 0) / 1048576 | floor' <<<"$s")
	act=$(jq -r '.guests[] | select(.name == "dtest-1") | .balloon_actual_bytes / 1048576 | floor' <<<"$s")
	[ -z "$below_tick" ] && [ "$usable" -lt "$FREE_TARGET_MIB" ] && below_tick=$tk
	[ -n "$below_tick" ] && [ -z "$grew_tick" ] && [ "$act" -gt "$d1" ] && grew_tick=$tk
	[ -n "$grew_tick" ] && [ -s "$WORK/load.rc" ] && break
	sleep 1
done
wait_for 60 test -s "$WORK/load.rc"
LOADER=
check "dtest-1's load grew to $LOAD_TO_MIB MiB, 16 MiB every 2 s (every step exit 0)" test "$(cat "$WORK/load.rc" 2>/dev/null)" = 0 ||
	diag "$(cat "$WORK/load.err" 2>/dev/null)"
grew_in_time() { [ -n "$below_tick" ] && [ -n "$grew_tick" ] && [ $((grew_tick - below_tick)) -le 6 ]; }
check "dtest-1's balloon grew back within 6 ticks of its usable memory falling below its free target (below at tick ${below_tick:-never}, grew at tick ${grew_tick:-never}; $d1 -> $(actual_mib dtest-1) MiB)" \
	grew_in_time ||
	diag "$(ctl "$WORK" log --controller balloon | tail -n 6)"
others_reduced=1
for g in $(seq 2 $GUESTS); do
	a=$(actual_mib dtest-$g)
	[ "$a" -le "${reduced[dtest-$g]}" ] || { others_reduced=0; diag "dtest-$g grew: ${reduced[dtest-$g]} -> $a MiB"; }
done
check "the others stayed reduced" test $others_reduced -eq 1

# 3. The watcher's record, and the end state.
kill "$WATCHER" 2>/dev/null
wait "$WATCHER" 2>/dev/null
WATCHER=
samples=$(wc -l <"$WORK/watch")
span=$(awk 'NR == 1 { a = $1 } { b = $1 } END { print b - a }' "$WORK/watch")
below=$(awk -v f=$FLOOR_MIB '$3 < f' "$WORK/watch" | head -n 3)
# At least one sample of each guest every 2 s on average.
check "no guest below its floor ($FLOOR_MIB MiB) in $samples samples of virsh dommemstat over $span s" \
	test -z "$below" -a "$samples" -ge $((span * GUESTS / 2)) -a "$span" -ge 20 || diag "$below"
lowest=$(awk '$3 != "" && (m == "" || $3 < m) { m = $3 } END { print m }' "$WORK/watch")
diag "lowest balloon seen: $lowest MiB"
pongs=0
for g in $(seq 1 $GUESTS); do
	[ "$("$TB" ping dtest-$g 2>/dev/null)" = pong ] && pongs=$((pongs + 1))
done
check "every guest answers ($pongs of $GUESTS)" test $pongs -eq $GUESTS
ctl "$WORK" log --controller balloon --json >"$WORK/log.json" 2>/dev/null
check "every balloon move is journalled done, with its reason" \
	jqe '(.entries | length) > 0 and all(.entries[]; .result == "done" and (.reason | length) > 20)' "$WORK/log.json" ||
	diag "$(jq -c '.entries[] | select(.result != "done") | {what, result, message}' "$WORK/log.json" | head -n 5)"
diag "journal: $(ctl "$WORK" log --controller balloon | tail -n 4)"
check "the metrics show what the balloons took and gave" \
	grep -Eq '^density_balloon_inflated_bytes_total [1-9]' "$WORK/prom/density.prom"

echo "1..$n"
[ $failed -eq 0 ]
