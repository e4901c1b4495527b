#!/usr/bin/env bash
# System test of the shed controller on the testbed (real libvirtd, real TCG
# guests, a real VMs' cgroup budget), KSM off so that shedding itself is
# what saves the host:
#   1. baseline, no densityd: 6 guests under a budget with about 150 MiB to
#      spare; two guests grow by 150 MiB each; the kernel's OOM killer fires
#      (/proc/vmstat oom_kill) or the host thrashes (PSI memory full avg10
#      over 20%): the scenario is real, and the test says which;
#   2. the same with densityd: no OOM kill, PSI full avg10 under 10%, the
#      lowest-priority guest (dtest-6) managed-saved, every other guest
#      answering; densityd restarted while it is shed; the loads released;
#      the restarted densityd restores it, and the marker it kept in its RAM
#      before the shed is still there.
# Guests, the budget and KSM's knobs are put back when the test ends, also
# on failure. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
KSM=/sys/kernel/mm/ksm
GUESTS=6
SPARE_MIB=150
LOAD_MIB=150
VICTIM=dtest-6
VICTIM_MIB=60      # what the victim holds besides what every guest does
BASELINE_WAIT=90   # seconds for the baseline to show a kill or thrash
export TESTBED_FREE_PAGE_REPORTING=on # released guest memory goes back to the host
# A 256 MiB guest takes a load of at most about 141 MiB: 320 MiB guests take 150.
export TESTBED_MEM_MIB=${TESTBED_MEM_MIB:-320}

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, the VMs' cgroup)"
	exit 77
fi
if [ ! -r /proc/pressure/memory ]; then
	echo "1..0 # SKIP this kernel has no PSI (/proc/pressure/memory)"
	exit 77
fi
for t in jq virsh; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-shed.XXXXXX)
KSM_RUN=
[ -w "$KSM/run" ] && KSM_RUN=$(cat "$KSM/run")
LOADERS=()
cleanup() {
	local p
	for p in "${LOADERS[@]}"; do kill "$p" 2>/dev/null; done
	stop_daemon
	"$TB" budget off >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || true
	[ -z "$KSM_RUN" ] || echo "$KSM_RUN" >"$KSM/run"
	rm -rf "$WORK"
}
trap cleanup EXIT

oom_kills() { awk '$1 == "oom_kill" { print $2 }' /proc/vmstat; }
psi_full10() { awk '$1 == "full" { sub("avg10=", "", $2); print $2 }' /proc/pressure/memory; }
saved() { virsh -c qemu:///system list --all --with-managed-save --name 2>/dev/null | grep -qx "$1"; }
running() { [ "$(virsh -c qemu:///system domstate "$1" 2>/dev/null)" = running ]; }

# KSM off and unmerged: merged pages would hide the guests' real size.
if [ -n "$KSM_RUN" ]; then
	echo 2 >"$KSM/run"
	wait_for 120 ksm_unmerged || { echo "Bail out! KSM did not unmerge"; exit 1; }
	echo 0 >"$KSM/run"
fi

# up_guests: all six running, loads released, no budget.
up_guests() {
	"$TB" budget off >/dev/null 2>&1 || true
	"$TB" up $GUESTS 2>"$WORK/testbed.log" || {
		echo "Bail out! testbed up $GUESTS failed:"
		sed 's/^/# /' "$WORK/testbed.log"
		exit 1
	}
	local g
	for g in $(seq 1 $GUESTS); do "$TB" load dtest-$g 0 2>/dev/null || true; done
	# The least important guest also holds the most: setting it aside is
	# then enough (one shed frees more than the loads overcommit).
	"$TB" load $VICTIM $VICTIM_MIB 2>>"$WORK/testbed.log" || {
		echo "Bail out! load $VICTIM $VICTIM_MIB failed"
		exit 1
	}
	sleep 3
}

# load_in_background NAME MIB: returns at once; the exit status lands in WORK/load.NAME.
load_in_background() {
	("$TB" load "$1" "$2" 2>"$WORK/load.$1.err"; echo $? >"$WORK/load.$1") &
	LOADERS+=($!)
}

# watch SECONDS: the highest PSI full avg10 seen, polled every second, and
# whether oom_kill moved; stops early on a kill or when PSI passes STOP.
watch_memory() {
	local secs=$1 stop=$2 oom0=$3 t max=0 v
	for t in $(seq 1 "$secs"); do
		v=$(psi_full10)
		awk -v a="$v" -v b="$max" 'BEGIN { exit !(a > b) }' && max=$v
		[ "$(oom_kills)" -gt "$oom0" ] && break
		awk -v a="$max" -v s="$stop" 'BEGIN { exit !(a > s) }' && break
		sleep 1
	done
	echo "$max"
}

# Guests of another size from an earlier test would not be redefined.
"$TB" down >/dev/null 2>&1 || true
up_guests
base=$(usage_mib) || { echo "Bail out! no VMs' cgroup found"; exit 1; }
budget=$((base + SPARE_MIB))
diag "6 guests use $base MiB of the VMs' cgroup: budget $budget MiB (spare $SPARE_MIB MiB); loads of $LOAD_MIB MiB on dtest-1 and dtest-2"

# ---------------------------------------------------------------- 1. baseline
"$TB" budget $budget 2>>"$WORK/testbed.log" || { echo "Bail out! budget $budget failed"; exit 1; }
oom0=$(oom_kills)
load_in_background dtest-1 $LOAD_MIB
load_in_background dtest-2 $LOAD_MIB
max=$(watch_memory $BASELINE_WAIT 20 "$oom0")
oom1=$(oom_kills)
diag "baseline loads: exit status $(cat "$WORK/load.dtest-1" 2>/dev/null || echo running) and $(cat "$WORK/load.dtest-2" 2>/dev/null || echo running); $(cat "$WORK"/load.*.err 2>/dev/null | head -n 2)"
if [ "$oom1" -gt "$oom0" ]; then
	ok "baseline without densityd: the kernel's OOM killer fired ($((oom1 - oom0)) kill(s); PSI full avg10 peaked at $max%)"
elif awk -v a="$max" 'BEGIN { exit !(a > 20) }'; then
	ok "baseline without densityd: the host thrashes (PSI memory full avg10 $max% > 20%), no OOM kill"
else
	not_ok "baseline without densityd: neither an OOM kill nor thrash within $BASELINE_WAIT s (PSI full avg10 peaked at $max%): the scenario is not real"
fi
# Recover: lift the budget, stop the loaders, bring every guest back.
"$TB" budget off >/dev/null 2>&1
for p in "${LOADERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
LOADERS=()
up_guests
wait_for 60 awk -v m="$(psi_full10)" 'BEGIN { exit !(m < 1) }'

# ---------------------------------------------------------------- 2. densityd
base=$(usage_mib)
budget=$((base + SPARE_MIB))
"$TB" budget $budget 2>>"$WORK/testbed.log" || { echo "Bail out! budget $budget failed"; exit 1; }
marker="shed-test-$$-$RANDOM"
"$TB" mark $VICTIM "$marker" 2>>"$WORK/testbed.log"
write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=off
[Balloon]
# The shed ladder itself is under test: balloons would take the pressure off.
Enable=no
[Shed]
# 6 guests at rest fill about 90% of this budget: shed soon after the loads
# start (a save takes seconds while they grow), and bring the guest back
# once they are gone (5 guests and it: about 90%).
CgroupUsageAbove=93%
CgroupRestoreBelow=92%
Cooldown=5s
RestoreHold=10s
[Class low]
Match=$VICTIM
Priority=10
EOT
diag "with densityd: budget $budget MiB ($base MiB used)"
start_daemon "$WORK" || exit 1
oom0=$(oom_kills)
load_in_background dtest-1 $LOAD_MIB
load_in_background dtest-2 $LOAD_MIB
max=$(watch_memory 60 100 "$oom0")
wait_for 60 test -s "$WORK/load.dtest-2"
wait_for 60 test -s "$WORK/load.dtest-1"
check "both loads done (exit 0)" test "$(cat "$WORK/load.dtest-1" 2>/dev/null)$(cat "$WORK/load.dtest-2" 2>/dev/null)" = 00 ||
	diag "load errors: $(cat "$WORK"/load.*.err 2>/dev/null)"
check "no OOM kill with densityd (oom_kill $oom0 -> $(oom_kills))" test "$(oom_kills)" -eq "$oom0"
check "PSI memory full avg10 stayed under 10% (peak $max%)" awk -v a="$max" 'BEGIN { exit !(a < 10) }'
check "the lowest-priority guest ($VICTIM) was managed-saved" wait_for 30 saved $VICTIM ||
	diag "$(virsh -c qemu:///system list --all --with-managed-save 2>&1)"
pongs=0
for g in $(seq 1 $((GUESTS - 1))); do
	[ "$("$TB" ping dtest-$g 2>/dev/null)" = pong ] && pongs=$((pongs + 1))
done
check "every other guest answers ($pongs of $((GUESTS - 1)))" test $pongs -eq $((GUESTS - 1))
ctl "$WORK" status --json >"$WORK/status.json"
check "status lists $VICTIM as shed, with why" \
	jqe --arg v $VICTIM '[.shed[] | select(.name == $v and .stage == "shed" and (.reason | length) > 0)] | length == 1' \
	"$WORK/status.json" || diag "$(jq -c .shed "$WORK/status.json")"

# Restart densityd while the guest is shed, then release the loads.
stop_daemon
start_daemon "$WORK" || exit 1
"$TB" load dtest-1 0 2>>"$WORK/testbed.log"
"$TB" load dtest-2 0 2>>"$WORK/testbed.log"
check "the restarted densityd restored $VICTIM once the loads were released" wait_for 120 running $VICTIM ||
	diag "usage $(usage_mib) of $budget MiB; $(ctl "$WORK" status --json | jq -c '.controllers[] | select(.name == "shed")')"
check "its marker survived the save and the restore" test "$("$TB" readmark $VICTIM 2>/dev/null)" = "$marker"
diag "journal: $(ctl "$WORK" log --controller shed | tail -n 4)"

echo "1..$n"
[ $failed -eq 0 ]
