#!/usr/bin/env bash
# System test of the control plane on the testbed (real libvirtd, real TCG
# guests, real KSM sysfs):
#   densityd: a guest defined with the densityd metadata element shows its
#   class; a guest matched by Match= shows that class; a guest with
#   <memballoon model='none'/> shows "no balloon"; a transient guest shows
#   as not persistent; a live metadata change is picked up (domain events);
#   densityd-test (the test planner, real libvirt): one action of each kind
#   on real guests, with their effects checked with virsh and sysfs, and
#   `densityctl log` showing the same decisions as the daemon's log stream
#   (stderr here; journald under systemd). Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
TESTD=$BUILD/tests/densityd-test
INTERVAL=2
SLACK=1
NS=https://densityd.org/xmlns/1

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, KSM sysfs)"
	exit 77
fi
for t in jq; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done
vsh() { virsh -q -c qemu:///system "$@"; }

WORK=$(mktemp -d /tmp/densityd-control.XXXXXX)
KSM_SCAN=$(cat /sys/kernel/mm/ksm/pages_to_scan 2>/dev/null || true)
cleanup() {
	stop_daemon
	# Leave KSM as found, and no guest behind.
	[ -z "$KSM_SCAN" ] || echo "$KSM_SCAN" >/sys/kernel/mm/ksm/pages_to_scan
	vsh destroy dtest-5 >/dev/null 2>&1
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

if ! "$TB" up 2 2>"$WORK/testbed.log"; then
	echo "Bail out! testbed up 2 failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
fi

# Guests of our own, from dtest-1's definition: another name (its control
# socket and console log follow the name), no uuid (libvirt makes one).
guest_xml() { # guest_xml NAME: dtest-1's XML for NAME
	vsh dumpxml --inactive dtest-1 | sed -e "s/dtest-1\b/$1/g" -e '/<uuid>/d'
}
guest_xml dtest-3 | sed "s|</domain>|<metadata><densityd:guest xmlns:densityd='$NS' class='batch'/></metadata></domain>|" >"$WORK/dtest-3.xml"
guest_xml dtest-4 | sed -e '/<memballoon/,/<\/memballoon>/d' -e "s|</devices>|<memballoon model='none'/></devices>|" >"$WORK/dtest-4.xml"
guest_xml dtest-5 >"$WORK/dtest-5.xml"
for g in 3 4; do
	vsh define "$WORK/dtest-$g.xml" >/dev/null && vsh start "dtest-$g" >/dev/null ||
		{ echo "Bail out! cannot define and start dtest-$g"; exit 1; }
done
vsh create "$WORK/dtest-5.xml" >/dev/null || { echo "Bail out! cannot create the transient dtest-5"; exit 1; }
diag "guests: $(vsh list --name | tr '\n' ' ')"

write_policy "$WORK" "${INTERVAL}s" 8s
cat >>"$WORK/policy.conf" <<EOT

[Class web]
Match=dtest-1 dtest-2
Priority=70

[Class batch]
Priority=10
Shed=save
EOT
start_daemon "$WORK" || { echo "Bail out! densityd did not start"; exit 1; }

status_json() { ctl "$WORK" status --json >"$WORK/status.json" 2>"$WORK/ctl.err"; }
g() { jq -r --arg n "$1" ".guests[] | select(.name == \$n) | $2" "$WORK/status.json"; }
facts_known() { # facts_known N: every running guest is listed with its facts read
	status_json && [ "$(jq '[.guests[] | select(.facts.known)] | length' "$WORK/status.json")" -ge "$1" ]
}
check "all 5 guests are listed with their domain facts within 30 s" wait_for 30 facts_known 5
ctl "$WORK" status >"$WORK/status.txt"
sed 's/^/# /' "$WORK/status.txt"

check "dtest-3, defined with <densityd:guest class='batch'/>, shows class batch from its metadata" \
	eval '[ "$(g dtest-3 .class) $(g dtest-3 .class_source)" = "batch metadata" ]'
check "dtest-1 shows class web from Match=" eval '[ "$(g dtest-1 .class) $(g dtest-1 .class_source)" = "web match" ]'
check "dtest-4, with <memballoon model='none'/>, shows \"no balloon\"" \
	eval '[ "$(g dtest-4 .facts.balloon)" = false ] && grep -q "^dtest-4 .*no balloon" "$WORK/status.txt"'
check "dtest-5, started with virsh create, shows as not persistent (\"transient\")" \
	eval '[ "$(g dtest-5 .facts.persistent)" = false ] && grep -q "^dtest-5 .*transient" "$WORK/status.txt" && [ "$(g dtest-1 .facts.persistent)" = true ]'
check "the facts agree with the domain: dtest-1 maximum 256 MiB, balloon virtio with stats every 2 s" \
	eval '[ "$(g dtest-1 .facts.max_memory_bytes) $(g dtest-1 .facts.balloon_model) $(g dtest-1 .facts.balloon_stats_period_seconds)" = "268435456 virtio 2" ]'

# A live metadata change reaches densityd through libvirt's events.
vsh metadata dtest-2 --uri "$NS" --key densityd --set "<guest class='batch'/>" --live >/dev/null
start=$(now)
reclassed() { status_json && [ "$(g dtest-2 .class) $(g dtest-2 .class_source)" = "batch metadata" ]; }
if wait_for $((2 * INTERVAL + SLACK)) reclassed; then
	ok "dtest-2's live metadata change to class batch shows within $(elapsed "$start") s (limit $((2 * INTERVAL)) s + ${SLACK} s polling)"
else
	not_ok "dtest-2's metadata change not picked up: $(g dtest-2 '"\(.class) \(.class_source)"')"
fi
stop_daemon

# ---------------------------------------------------------------- actions
testbed_mark=$(date +%s%N)
"$TB" mark dtest-2 "$testbed_mark" 2>/dev/null
before=$(vsh dommemstat dtest-1 | awk '$1 == "actual" {print $2}')
"$TESTD" --libvirt --config "$WORK/policy.conf" --roles dtest-1,dtest-2,dtest-5 --cpus 0-1 \
	>"$WORK/testd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 ctl "$WORK" status >/dev/null || { echo "Bail out! densityd-test did not start"; sed 's/^/# /' "$WORK/testd.log"; exit 1; }
final() {
	ctl "$WORK" log --json -n 1000 >"$WORK/log.json" 2>/dev/null &&
		[ "$(jq '[.entries[] | select(.result != "queued" and .result != "started")] | length' "$WORK/log.json")" -ge 8 ]
}
check "the 8 planned actions reach a final result within 90 s" wait_for 90 final
ctl "$WORK" log >"$WORK/log.txt"
sed 's/^/# /' "$WORK/log.txt"
result_of() { jq -r --arg k "$1" '[.entries[] | select(.action == $k)] | last | .result' "$WORK/log.json"; }

target=$(jq '[.entries[] | select(.action == "balloon")] | last | .bytes' "$WORK/log.json")
balloon_applied() {
	local act
	act=$(vsh dommemstat dtest-1 | awk '$1 == "actual" {print $2}')
	diag "dtest-1 balloon actual: $before KiB before, $act KiB after, target $((target / 1024)) KiB"
	[ "$(result_of balloon)" = done ] && [ "$act" = $((target / 1024)) ]
}
check "balloon: done, and virsh dommemstat shows the new target" wait_for 10 balloon_applied
pins_applied() {
	vsh vcpupin dtest-1 | grep -Eq '^ *0 +0-1$' && vsh emulatorpin dtest-1 | grep -Eq '0-1$' &&
		[ "$(result_of pin-vcpu) $(result_of pin-emulator)" = "done done" ]
}
check "pin-vcpu and pin-emulator: done, and virsh vcpupin/emulatorpin show CPUs 0-1" pins_applied
diag "pin-memory: $(result_of pin-memory): $(jq -r '[.entries[] | select(.action == "pin-memory")] | last | .message // "-"' "$WORK/log.json")"
check "pin-memory: an outcome from libvirt (done, or failed with libvirt's message)" \
	eval '[ "$(result_of pin-memory)" = done ] || jq -e "[.entries[] | select(.action == \"pin-memory\")] | last | .message | test(\"virDomainSetNumaParameters\")" "$WORK/log.json" >/dev/null'
restored() {
	[ "$(result_of save) $(result_of restore)" = "done done" ] && [ "$(vsh domstate dtest-2)" = running ] &&
		[ "$("$TB" readmark dtest-2 2>/dev/null)" = "$testbed_mark" ]
}
check "save then restore of dtest-2: both done, running again with its memory (marker kept)" wait_for 30 restored
check "destroy of the transient dtest-5: done, and it is gone" \
	eval '[ "$(result_of destroy)" = done ] && ! vsh domstate dtest-5 >/dev/null 2>&1'
check "ksm-knob: done, /sys/kernel/mm/ksm/pages_to_scan is 1234 (put back at the end)" \
	eval '[ "$(result_of ksm-knob)" = done ] && [ "$(cat /sys/kernel/mm/ksm/pages_to_scan)" = 1234 ]'

ctl "$WORK" log --json -n 1000 >"$WORK/log.json"
check "densityctl log and the daemon's log stream show the same decisions" \
	log_matches_stream "$WORK/log.json" "$WORK/testd.log" densityd-test
# The textfile is written at the end of a tick: allow two.
save_counted() { grep -q '^density_actions_total{controller="test",action="save",result="done"} 1$' "$WORK/prom/density.prom"; }
if wait_for $((2 * INTERVAL + SLACK)) save_counted; then
	ok "density_actions_total counts the done actions"
else
	not_ok "density_actions_total counts the done actions: the textfile has"
	grep '^density_actions_total' "$WORK/prom/density.prom" | sed 's/^/#   /'
fi
stop_daemon
diag "densityd-test log:"
sed 's/^/#   /' "$WORK/testd.log"
echo "1..$n"
[ $failed -eq 0 ]
