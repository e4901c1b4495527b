#!/usr/bin/env bash
# System test: faults in the middle of densityd's actions, on the testbed
# (real libvirtd, real TCG guests, real KSM sysfs, real mounts). Nothing
# may be lost, nothing done twice, and the daemon never stops:
#   1. KSM sysfs read-only (a read-only bind mount over /sys/kernel/mm/ksm):
#      the write fails, is logged once, retried, and takes once writable;
#   2. StateDirectory= read-only, then full (tmpfs): the daemon runs on,
#      says so once, sheds nothing it could not record; it sheds once the
#      directory is writable again;
#   3. the save directory too small (a 64 MiB tmpfs over libvirt's): the
#      shedder passes the guest over before its save and says why;
#   4. ... and a save that fails for want of room (densityd's room check
#      looks elsewhere): the guest keeps running, the journal says why,
#      the next step of the ladder (a Shed=destroy guest) is taken;
#   5. densityd SIGKILLed in the middle of a managed save, then restarted:
#      the guest is saved (or still running), restored once by hand, its
#      marker intact, never restored twice;
#   6. libvirtd stopped, then killed and restarted, with a save queued: the
#      save is reported failed, not retried, the guest runs, saved never;
#   7. a guest without its balloon driver (module_blacklist): noticed in
#      status, never given a balloon target, while the others are;
#   8. 1000 connections from an unprivileged user while a guest is shed:
#      root's status still answers within 200 ms, the tick is not delayed.
# Mounts, guests and KSM's knobs are put back when the test ends, also on
# failure. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
KSM=/sys/kernel/mm/ksm
SAVE_DIR=/var/lib/libvirt/qemu/save
CONNFLOOD="$BUILD/tests/connflood"
VIRSH=(virsh -q -c qemu:///system)

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, mounts, KSM sysfs)"
	exit 77
fi
if [ ! -w "$KSM/run" ]; then
	echo "1..0 # SKIP this kernel has no writable KSM ($KSM/run)"
	exit 77
fi
for t in jq virsh setpriv; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done
probe=$(mktemp -d /tmp/densityd-faults-probe.XXXXXX)
if ! mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
	rmdir "$probe"
	echo "1..0 # SKIP cannot mount a tmpfs here (no CAP_SYS_ADMIN): the faults are made with mounts"
	exit 77
fi
umount "$probe"
rmdir "$probe"

WORK=$(mktemp -d /tmp/densityd-faults.XXXXXX)
chmod 711 "$WORK" # 8.: nobody reaches the socket
KSM_KNOBS=(run pages_to_scan sleep_millisecs)
declare -A KSM_WAS
for k in "${KSM_KNOBS[@]}"; do KSM_WAS[$k]=$(cat "$KSM/$k"); done
MOUNTS=()
FLOODER=
cleanup() {
	[ -z "$FLOODER" ] || kill "$FLOODER" 2>/dev/null
	stop_daemon
	local m
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	# A stopped libvirtd (6.) is let go on.
	[ -z "$(libvirtd_pid)" ] || kill -CONT "$(libvirtd_pid)" 2>/dev/null
	"$TB" down >/dev/null 2>&1 || true
	for k in "${KSM_KNOBS[@]}"; do echo "${KSM_WAS[$k]}" >"$KSM/$k" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# mount_tmpfs DIR OPTIONS: a tmpfs over DIR, unmounted when the test ends.
mount_tmpfs() {
	mount -t tmpfs -o "$2" tmpfs "$1" && MOUNTS+=("$1")
}
unmount() { umount "$1" && MOUNTS=("${MOUNTS[@]/$1/}"); }

saved() { "${VIRSH[@]}" list --all --with-managed-save --name 2>/dev/null | grep -qx "$1"; }
running() { [ "$("${VIRSH[@]}" domstate "$1" 2>/dev/null)" = running ]; }
shut_off() { [ "$("${VIRSH[@]}" domstate "$1" 2>/dev/null)" = "shut off" ]; }
job_active() { "${VIRSH[@]}" domjobinfo "$1" 2>/dev/null | grep -q "^Job type: *Unbounded"; }
# log_json [ARGS]: the decision journal as JSON, in WORK/log.json.
log_json() { ctl "$WORK" log -n 1000 --json "$@" >"$WORK/log.json"; }
# count_entries JQ_FILTER: journal entries matching a filter.
count_entries() { log_json && jq "[.entries[] | select($1)] | length" "$WORK/log.json"; }
entries_at_least() { [ "$(count_entries "$1")" -ge "$2" ]; }
status_json() { ctl "$WORK" status --json >"$WORK/status.json"; }
# sees NAME: the daemon lists the guest, its facts read (it may be shed by hand).
sees() { status_json && jqe --arg n "$1" '.guests[] | select(.name == $n and .class != null)' "$WORK/status.json"; }
shed_state() { status_json && jq -r '.controllers[] | select(.name == "shed") | "\(.state): \(.reason)"' "$WORK/status.json"; }
shed_state_is() { shed_state | grep -q "^$1:"; }
# log_lines PATTERN: lines of the daemon's log stream matching PATTERN.
log_lines() { grep -c -- "$1" "$WORK/daemon.log"; }

# policy EXTRA: a 1 s policy, KSM and balloons off, shedding only by hand,
# then EXTRA; an empty StateDirectory= (no shed book from an earlier step).
policy() {
	rm -rf "$WORK/state"
	write_policy "$WORK" 1s 600s
	cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=off
[Balloon]
Enable=no
[Shed]
Cooldown=2s
$1
EOT
}
# A host always short of memory: MemAvailable is below 99% of MemTotal.
ALWAYS_SHORT="MemAvailableBelow=99%
RestoreAbove=100%"

"$TB" down >/dev/null 2>&1 || true
"$TB" up 3 2>"$WORK/testbed.log" || {
	echo "Bail out! testbed up 3 failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
}
marker="faults-$$-$RANDOM"
"$TB" mark dtest-3 "$marker" 2>>"$WORK/testbed.log"

# ------------------------------------------------- 1. KSM sysfs read-only
echo 0 >"$KSM/run"
mount --bind "$KSM" "$KSM" && MOUNTS+=("$KSM") && mount -o remount,bind,ro "$KSM" ||
	{ echo "Bail out! cannot bind-mount $KSM read-only"; exit 1; }
policy ""
sed -i 's/^Mode=off$/Mode=fixed\nPagesToScan=1234\nStartAt=0%\nStopAt=0%/' "$WORK/policy.conf"
start_daemon "$WORK" || exit 1
ksm_failed() { entries_at_least '.action == "ksm-knob" and .result == "failed"' "$1"; }
check "KSM read-only: the knob writes fail, and the journal says why" wait_for 15 ksm_failed 1 &&
	diag "$(jq -r '[.entries[] | select(.result == "failed")][0] | "\(.what): \(.message)"' "$WORK/log.json")"
first=$(count_entries '.action == "ksm-knob" and .result == "failed"')
check "KSM read-only: each knob tried again (after 30 s), still failing" wait_for 45 ksm_failed $((first + 1))
warned=$(log_lines "warning: action [0-9]*: ksm .*: failed")
knobs=$(jq '[.entries[] | select(.action == "ksm-knob" and .result == "failed") | .what] | unique | length' "$WORK/log.json")
check "KSM read-only: logged once per knob ($warned warnings for $knobs knobs, $(count_entries '.result == "failed"') failures)" \
	test "$warned" -le "$knobs"
check "KSM read-only: the daemon runs on" kill -0 "$DAEMON_PID"
unmount "$KSM"
check "KSM writable again: the retry takes (pages_to_scan 1234, run 1)" \
	wait_for 70 eval '[ "$(cat $KSM/pages_to_scan)" = 1234 ] && [ "$(cat $KSM/run)" = 1 ]'
stop_daemon
for k in "${KSM_KNOBS[@]}"; do echo "${KSM_WAS[$k]}" >"$KSM/$k"; done

# ------------------------------------------- 2. StateDirectory unwritable
policy "$ALWAYS_SHORT
[Class low]
Match=dtest-3
Priority=10"
mkdir -p "$WORK/state"
mount_tmpfs "$WORK/state" ro,size=1m || { echo "Bail out! cannot mount a read-only tmpfs"; exit 1; }
start_daemon "$WORK" || exit 1
held_unwritable() { shed_state | grep -q "^held: cannot write .*shed.json: Read-only file system"; }
check "state read-only: the shedder holds, and says why" wait_for 15 held_unwritable &&
	diag "$(shed_state)"
sleep 3
check "state read-only: no save planned, dtest-3 runs" \
	eval '[ "$(count_entries ".action == \"save\"")" -eq 0 ] && running dtest-3'
check "state read-only: said once in the log ($(log_lines "cannot write\|cannot create") lines)" \
	test "$(log_lines "cannot write\|cannot create")" -eq 1
check "state read-only: the daemon runs on" kill -0 "$DAEMON_PID"
# Now full: writable, but no room.
mount -o remount,rw,size=4k "$WORK/state" && head -c 4096 /dev/zero >"$WORK/state/filler" 2>/dev/null
sleep 3
check "state full: still no save, dtest-3 runs" \
	eval '[ "$(count_entries ".action == \"save\"")" -eq 0 ] && running dtest-3 && kill -0 $DAEMON_PID'
diag "daemon log: $(grep -i "state\|cannot" "$WORK/daemon.log" | tail -n 3)"
rm -f "$WORK/state/filler"
mount -o remount,size=1m "$WORK/state"
check "state writable again: dtest-3 is shed (and booked)" wait_for 30 saved dtest-3 &&
	diag "$(jq -c '.guests[] | {name, stage}' "$WORK/state/shed.json" 2>/dev/null)"
stop_daemon
"${VIRSH[@]}" start dtest-3 >/dev/null
check "dtest-3 back, its marker intact" eval '[ "$("$TB" readmark dtest-3 2>/dev/null)" = "$marker" ]'
unmount "$WORK/state"
rm -rf "$WORK/state"

# ---------------------------------------------- 3. save directory too small
mkdir -p "$SAVE_DIR"
mount_tmpfs "$SAVE_DIR" size=64m,mode=0711 || { echo "Bail out! cannot mount a tmpfs over $SAVE_DIR"; exit 1; }
CLASSES="[Class low]
Match=dtest-3
Priority=10
[Class scratch]
Match=dtest-2
Priority=20
Shed=destroy
[Class keep]
Match=dtest-1
Shed=never"
policy "$ALWAYS_SHORT
$CLASSES"
sed -i "s/^StaleAfter=.*/StaleAfter=600s/" "$WORK/policy.conf"
# dtest-2 (Shed=destroy) stays out of this step: only saves are tried.
sed -i 's/^Shed=destroy$/Shed=never/' "$WORK/policy.conf"
start_daemon "$WORK" || exit 1
check "save room short: the shedder is stuck, and says why" wait_for 10 shed_state_is stuck && diag "$(shed_state)"
check "save room short: the journal says dtest-3's save does not fit" \
	wait_for 5 grep -q "dtest-3.*does not fit" "$WORK/daemon.log"
check "save room short: no save tried, every guest runs" \
	eval '[ "$(count_entries ".action == \"save\"")" -eq 0 ] && running dtest-1 && running dtest-2 && running dtest-3'
stop_daemon

# ------------------------------------------------ 4. a save that runs out of room
policy "$ALWAYS_SHORT
SaveDirectory=/var/tmp
$CLASSES"
start_daemon "$WORK" || exit 1
save_failed() { entries_at_least '.action == "save" and .guest == "dtest-3" and .result == "failed"' 1; }
check "save out of room: dtest-3's save failed, and the journal says why" wait_for 60 save_failed &&
	diag "$(jq -r '[.entries[] | select(.action == "save" and .result == "failed")][0].message' "$WORK/log.json")"
check "save out of room: dtest-3 runs on, no image left" eval 'wait_for 10 running dtest-3 && ! saved dtest-3'
check "save out of room: the next step of the ladder: dtest-2 destroyed (Shed=destroy)" \
	eval 'wait_for 30 entries_at_least ".action == \"destroy\" and .guest == \"dtest-2\" and .result == \"done\"" 1 && shut_off dtest-2'
check "save out of room: dtest-1 (Shed=never) untouched, the daemon runs on" \
	eval 'running dtest-1 && kill -0 $DAEMON_PID && [ "$(count_entries ".guest == \"dtest-1\"")" -eq 0 ]'
stop_daemon
unmount "$SAVE_DIR"
"$TB" up 3 2>>"$WORK/testbed.log" || { echo "Bail out! testbed up 3 failed (after 4)"; exit 1; }

# ------------------------------------------------ 5. SIGKILL during a save
policy ""
start_daemon "$WORK" || exit 1
wait_for 30 sees dtest-3 || diag "dtest-3 not seen: $(jq -c '[.guests[] | {name, class}]' "$WORK/status.json")"
ctl "$WORK" shed dtest-3 >/dev/null || not_ok "densityctl shed dtest-3 refused"
if wait_for 30 job_active dtest-3; then
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	ok "densityd SIGKILLed while dtest-3's managed save ran"
else
	not_ok "dtest-3's managed save was never seen running"
	stop_daemon
fi
diag "book after the kill: $(jq -c '[.guests[] | {name, stage}]' "$WORK/state/shed.json" 2>/dev/null)"
check "after the kill: dtest-3 is saved or still running, never lost" \
	wait_for 60 eval '! job_active dtest-3 && { saved dtest-3 || running dtest-3; }' ||
	diag "dtest-3: $("${VIRSH[@]}" domstate dtest-3 2>&1); $("${VIRSH[@]}" domjobinfo dtest-3 2>&1 | head -n 3)"
start_daemon "$WORK" || exit 1
restored_once() {
	[ "$(count_entries '.action == "restore" and .guest == "dtest-3" and (.result == "done" or .result == "started" or .result == "queued")')" -le 1 ]
}
if saved dtest-3; then
	check "restarted: the book says dtest-3 is shed" \
		wait_for 10 eval 'status_json && jqe ".shed[] | select(.name == \"dtest-3\" and .stage == \"shed\")" "$WORK/status.json"'
	check "restarted: nothing restored without being asked (by hand)" eval 'sleep 3; ! running dtest-3'
	ctl "$WORK" restore dtest-3 >/dev/null || not_ok "densityctl restore dtest-3 refused"
fi
check "dtest-3 runs again, its marker intact" \
	eval 'wait_for 60 running dtest-3 && wait_for 30 eval "[ \"\$(\"$TB\" readmark dtest-3 2>/dev/null)\" = $marker ]"'
sleep 5
check "dtest-3 restored once, and the book is empty" \
	eval 'restored_once && status_json && jqe "(.shed | length) == 0" "$WORK/status.json"'
diag "journal: $(ctl "$WORK" log --controller shed | tail -n 3)"

# ---------------------------------------- 6. libvirtd gone with a save queued
# The same densityd: its restore left a connection for actions open, so
# the save below is sent and waits in libvirtd when libvirtd is killed.
lpid=$(libvirtd_pid)
if [ -z "$lpid" ]; then
	not_ok "libvirtd's pid is unknown (/run/libvirtd.pid): cannot stop it"
else
	wait_for 30 sees dtest-3 || diag "dtest-3 not seen: $(jq -c '[.guests[] | {name, class}]' "$WORK/status.json")"
	kill -STOP "$lpid"
	ctl "$WORK" shed dtest-3 >/dev/null || not_ok "densityctl shed dtest-3 refused"
	check "libvirtd stopped: the save is started (sent to libvirtd)" \
		wait_for 10 entries_at_least '.action == "save" and .guest == "dtest-3" and .result == "started"' 1
	sleep 1
	kill -9 "$lpid"
	kill -CONT "$lpid" 2>/dev/null
	wait_for 10 eval '! kill -0 '"$lpid"' 2>/dev/null'
	libvirtd -d 9>&-
	wait_for 30 libvirtd_answers || echo "Bail out! libvirtd did not come back"
	save_over() { entries_at_least '.action == "save" and .guest == "dtest-3" and (.result == "failed" or .result == "timeout" or .result == "done")' 1; }
	check "libvirtd restarted: the save is reported failed, with why" \
		eval 'wait_for 60 save_over && [ "$(count_entries ".action == \"save\" and (.result == \"failed\" or .result == \"timeout\")")" -ge 1 ]' &&
		diag "$(jq -r '[.entries[] | select(.action == "save")] | last | "\(.result): \(.message)"' "$WORK/log.json")"
	check "reconnected, dtest-3 runs, it was never saved" \
		wait_for 30 eval 'status_json && jqe ".daemon.hypervisor.connected" "$WORK/status.json" && running dtest-3 && ! saved dtest-3'
	sleep 5
	check "the save was not retried (one save action, and no shed entry left)" \
		eval '[ "$(count_entries ".action == \"save\" and .result != \"queued\" and .result != \"started\"")" -eq 1 ] && status_json && jqe "(.shed | length) == 0" "$WORK/status.json"' ||
		diag "$(jq -c '[.entries[] | {id, action, guest, result}]' "$WORK/log.json"); shed: $(jq -c .shed "$WORK/status.json")"
fi
stop_daemon

# -------------------------------------------- 7. a guest without its balloon driver
"${VIRSH[@]}" dumpxml --inactive dtest-1 |
	sed -e 's/dtest-1/dtest-4/g' -e '/<uuid>/d' -e '/<mac /d' \
		-e 's|<cmdline>\(.*\)</cmdline>|<cmdline>\1 module_blacklist=virtio_balloon</cmdline>|' >"$WORK/dtest-4.xml"
if "${VIRSH[@]}" define "$WORK/dtest-4.xml" >/dev/null && "${VIRSH[@]}" start dtest-4 >/dev/null; then
	wait_for 60 eval '[ "$("$TB" ping dtest-4 2>/dev/null)" = pong ]' || diag "dtest-4 does not answer ping"
	# A budget twice what the guests use: above HostTarget=10%, so every
	# guest with balloon stats is asked to give.
	"$TB" budget $(($(usage_mib) * 2)) 2>>"$WORK/testbed.log"
	policy ""
	sed -i 's/^Enable=no$/Enable=yes\nHostTarget=10%\nGuestFreeTarget=5%/' "$WORK/policy.conf"
	start_daemon "$WORK" || exit 1
	check "the other guests' balloons are moved" \
		wait_for 30 entries_at_least '.action == "balloon" and .guest != "dtest-4"' 1 ||
		diag "$(status_json; jq -c '.controllers[] | select(.name == "balloon")' "$WORK/status.json"; jq -c '.guests[] | {name, b: .balloon}' "$WORK/status.json")"
	sleep 10
	status_json
	check "dtest-4 (no balloon driver): no balloon target in $(jq '.daemon.ticks' "$WORK/status.json") ticks" \
		test "$(count_entries '.guest == "dtest-4"')" -eq 0
	check "dtest-4: status says why it is left alone" \
		jqe '.guests[] | select(.name == "dtest-4") | .balloon.reason | test("stat|balloon")' "$WORK/status.json" &&
		diag "$(jq -c '.guests[] | select(.name == "dtest-4") | .balloon | {state, reason}' "$WORK/status.json")"
	stop_daemon
	"$TB" budget off 2>>"$WORK/testbed.log"
else
	not_ok "cannot define and start dtest-4 without its balloon driver"
fi

# ------------------------------------------------ 8. a flood while shedding
policy ""
start_daemon "$WORK" || exit 1
setpriv --reuid=65534 --regid=65534 --clear-groups "$CONNFLOOD" "$WORK/densityd.sock" 1000 >"$WORK/flood.out" 2>&1 &
FLOODER=$!
wait_for 20 test -s "$WORK/flood.out"
check "nobody's flood is in: $(cat "$WORK/flood.out")" grep -q "^1000 connected" "$WORK/flood.out"
status_json
t0=$(jq '.daemon.ticks' "$WORK/status.json")
wait_for 30 sees dtest-3 || diag "dtest-3 not seen: $(jq -c '[.guests[] | {name, class}]' "$WORK/status.json")"
ctl "$WORK" shed dtest-3 >/dev/null || not_ok "densityctl shed dtest-3 refused"
worst=0
for _ in $(seq 1 10); do
	s=$(now)
	ctl "$WORK" status --json >"$WORK/status.json" || worst=999999999
	d=$(($(now) - s))
	[ $d -gt $worst ] && worst=$d
	sleep 0.5
done
t1=$(jq '.daemon.ticks' "$WORK/status.json")
check "1000 connections from nobody while shedding: root's status answered, slowest $((worst / 1000)) ms (limit 200)" \
	test $worst -le 200000
check "the tick was not delayed: $((t1 - t0)) ticks of 1 s in about 5 s" test $((t1 - t0)) -ge 4
check "dtest-3 shed meanwhile" wait_for 30 saved dtest-3
kill "$FLOODER" 2>/dev/null
wait "$FLOODER" 2>/dev/null
FLOODER=
ctl "$WORK" restore dtest-3 >/dev/null
check "and restored by hand, its marker intact" \
	eval 'wait_for 60 running dtest-3 && wait_for 30 eval "[ \"\$(\"$TB\" readmark dtest-3 2>/dev/null)\" = $marker ]"'
stop_daemon

echo "1..$n"
[ $failed -eq 0 ]
