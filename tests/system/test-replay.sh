#!/usr/bin/env bash
# System test of the replay on the testbed (real libvirtd, real TCG guests,
# a real VMs' cgroup budget): densityd records its ticks (Record=) while
# idle guests over HostTarget= of a budget give memory back through their
# balloons and KSM merges their identical pages (the shedder off: nothing
# is saved on a shared testbed); then, offline:
#   1. densityctl simulate with the same policy over the recording plans
#      the same actions on every tick (controller, action, guest, bytes,
#      and the reasons too) as densityd did;
#   2. the recording reads back whole (each line a tick, in order) and
#      every line parses (the simulation read them all);
#   3. densityctl simulate with the shipped dense policy (policies/dense.conf,
#      or policies/default.conf where there is none) over the same
#      recording: its actions, memory freed and the guests that would have
#      fit, shown in the TAP comments.
# Balloons, budget, KSM's run and guests are put back as found when the
# test ends, also on failure (densityd puts the other KSM knobs back itself,
# RestoreOnExit=yes). Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
GUESTS=3
INTERVAL=2
PRELOAD_MIB=100
export TESTBED_FREE_PAGE_REPORTING=off
export TESTBED_MEM_MIB=${TESTBED_MEM_MIB:-320}
KSM=/sys/kernel/mm/ksm

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, the VMs' cgroup)"
	exit 77
fi
for t in jq virsh; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-replay.XXXXXX)
KSM_RUN=
[ -w "$KSM/run" ] && KSM_RUN=$(cat "$KSM/run")
vsh() { virsh -q -c qemu:///system "$@"; }
cleanup() {
	stop_daemon
	local g
	for g in $(seq 1 $GUESTS); do
		vsh setmem dtest-$g "${TESTBED_MEM_MIB}M" --live >/dev/null 2>&1 || true
	done
	"$TB" budget off >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || true
	[ -z "$KSM_RUN" ] || echo "$KSM_RUN" >"$KSM/run"
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

testbed_idle $GUESTS $PRELOAD_MIB "$WORK/testbed.log" || exit 1
budget_at 88 "$WORK/testbed.log" || exit 1 # 88% of it in use: over HostTarget=80%, under the shed threshold
diag "$GUESTS idle guests of $TESTBED_MEM_MIB MiB use $base MiB of the VMs' cgroup: budget $budget MiB"

write_policy "$WORK" ${INTERVAL}s 10s
cat >>"$WORK/policy.conf" <<EOT
Record=16M
[Ksm]
Mode=auto
[Shed]
Enable=no
[Balloon]
Enable=yes
HostTarget=80%
GuestFreeTarget=20%
EOT
start_daemon "$WORK" || exit 1
REC=$WORK/state/record.jsonl
count() { grep -o "$1" "$REC" 2>/dev/null | wc -l; } # count PATTERN: in the recording
balloons_moved() { [ "$(count '"kind":"balloon"')" -ge $GUESTS ]; }
# KSM merged: a tick whose pages_sharing is not 0.
ksm_merged() { jqe -s 'any(.[].snapshot.host.ksm.values[]?; .name == "pages_sharing" and (.value // 0) > 0)' "$REC"; }
wait_for 90 balloons_moved || diag "fewer than $GUESTS balloon actions after 90 s"
wait_for 60 ksm_merged || diag "KSM merged nothing in 60 s"
sleep $((INTERVAL * 3)) # a few quiet ticks after
ticks=$(ctl "$WORK" status --json | jq '.daemon.ticks')
stop_daemon
cp "$REC" "$WORK/record.jsonl.copy"
"$TB" budget off >/dev/null 2>&1

lines=$(wc -l <"$REC")
check "the recording holds a line per tick ($lines lines for $ticks ticks, $(wc -c <"$REC") bytes)" \
	test "$lines" -ge "$ticks" -a "$ticks" -ge 5
check "each line is a tick, in order, from 1" test "$(jq -s '[.[].tick] == [range(1; length + 1)]' "$REC")" = true
check "densityd moved balloons ($(count '"kind":"balloon"') balloon actions recorded)" balloons_moved
check "and started KSM, which merged pages ($(count '"kind":"ksm-knob"') knob writes recorded)" ksm_merged

# 1. The same policy, offline.
"$DENSITYCTL" simulate --policy "$WORK/policy.conf" --recording "$REC" --json >"$WORK/sim.json" 2>"$WORK/sim.err"
check "densityctl simulate --json reads the whole recording (exit 0)" test $? -eq 0 || sed 's/^/# /' "$WORK/sim.err"
jq -r '.tick as $t | .actions[] | "\($t) \(.controller) \(.kind) \(.guest // "") \(.bytes // 0)"' "$REC" >"$WORK/live.txt"
jq -r '.actions[] | "\(.tick) \(.controller) \(.action) \(.guest) \(.bytes)"' "$WORK/sim.json" >"$WORK/simulated.txt"
check "the simulated actions equal densityd's on every tick ($(wc -l <"$WORK/live.txt") actions over $lines ticks: controller, action, guest, bytes)" \
	diff -u "$WORK/live.txt" "$WORK/simulated.txt" || diff -u "$WORK/live.txt" "$WORK/simulated.txt" | head -n 20 | sed 's/^/# /'
check "and with their reasons: no tick differs" jqe '.ticks_differing == 0 and .ticks > 0' "$WORK/sim.json" ||
	diag "$(jq -c '{ticks, ticks_differing, first_differing_tick}' "$WORK/sim.json")"
diag "densityd's own policy over its recording:"
diag "$("$DENSITYCTL" simulate --policy "$WORK/policy.conf" --recording "$REC" | sed -n '1,3p;/^Memory freed/,$p')"

# 3. The shipped dense policy over the same recording.
shipped=$SRC/policies/dense.conf
[ -f "$shipped" ] || shipped=$SRC/policies/default.conf
"$DENSITYCTL" simulate --policy "$shipped" --recording "$REC" >"$WORK/shipped.txt" 2>&1
check "densityctl simulate --policy ${shipped#"$SRC"/} over the testbed recording (exit 0)" test $? -eq 0
diag "$(cat "$WORK/shipped.txt")"

echo "1..$n"
[ $failed -eq 0 ]
