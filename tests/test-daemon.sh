#!/usr/bin/env bash
# Daemon-level test of the control plane, without root or libvirtd:
# densityd-test (densityd with the fake hypervisor, fixture roots and a test
# planner that emits one action of each kind) applies every action through
# the fake and the fixture /sys, shows each in `densityctl log`, the status
# and density_actions_total; a dry run (--dry-run, and DryRun=yes) applies
# none; slow fake actions (2 s each) do not delay the tick; an action
# planned while a slow bulk stats round (10 s) is in progress starts within
# 100 ms. Output: TAP.
# Usage: test-daemon.sh DENSITYD_TEST DENSITYCTL FIXTURES_DIR
set -uo pipefail

TESTD=$1
CTL=$2
FIX=$3
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(dirname "$CTL")
. "$SRC/tests/system/lib.sh"
for t in jq; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-daemon.XXXXXX)
PID=
cleanup() {
	[ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	rm -rf "$WORK"
}
trap cleanup EXIT

# A cross build: the programs run under meson's exe_wrapper (qemu-user).
exe_wrap TESTD "$WORK"
exe_wrap CTL "$WORK"


# start RUN_DIR EXTRA_POLICY DAEMON_ARGS...: a fresh copy of the v2 host
# fixture (the daemon writes its KSM knob there), guest d sharing a's process.
start() {
	local dir=$1 extra=$2
	shift 2
	mkdir -p "$dir/prom"
	cp -a "$FIX/host-v2" "$dir/root"
	echo 1001 >"$dir/root/run/libvirt/qemu/d.pid"
	printf '[Daemon]\nInterval=200ms\nStaleAfter=60s\nControlSocket=%s/sock\nTextfileDirectory=%s/prom\nStateDirectory=%s/state\nActionTimeout=30s\n%s\n' \
		"$dir" "$dir" "$dir" "$extra" >"$dir/policy.conf"
	"$TESTD" -c "$dir/policy.conf" --proc-root "$dir/root/proc" --sys-root "$dir/root/sys" \
		--cgroup-root "$dir/root/cgroup" --libvirt-run-dir "$dir/root/run/libvirt/qemu" --roles a,b,c,d \
		"$@" 2>"$dir/daemon.log" &
	PID=$!
	wait_for 10 "$CTL" --socket "$dir/sock" status >/dev/null 2>&1 || {
		echo "Bail out! densityd-test did not start:"
		sed 's/^/# /' "$dir/daemon.log"
		exit 1
	}
}
stop() {
	kill "$PID" && wait "$PID"
	PID=
}
ctl() { "$CTL" --socket "$RUN/sock" "$@"; }
final_count() { # final_count RESULT: entries of the test controller with that result
	ctl log --json -n 1000 >"$RUN/log.json" 2>/dev/null &&
		jq --arg r "$1" '[.entries[] | select(.result == $r)] | length' "$RUN/log.json"
}
count_is() { [ "$(final_count "$1")" = "$2" ]; }

# ---------------------------------------------------------------- applied
RUN=$WORK/apply
start "$RUN" "" --slow-after 8 --slow-seconds 10 --action-delay-ms 2000

# The tick goes on while the slow actions run (a's four take 8 s in a row).
# A tick that waited for one would show a gap of 2 s or more; the bound is
# half that, so a loaded machine's scheduling noise does not fail the test.
: >"$RUN/ticks"
t_end=$(($(now) + 6000000))
while [ "$(now)" -lt $t_end ]; do
	ctl status --json 2>/dev/null | jq -r '"\(.timestamp) \(.daemon.ticks) \(.daemon.actions_in_flight)"' >>"$RUN/ticks"
	sleep 0.1
done
read -r max_gap samples busy < <(awk '$3 > 0 { busy++ } $1 != last && last != "" && $3 > 0 { g = $1 - last; if (g > max) max = g }
	{ if ($1 != last) last = $1 } END { printf "%.3f %d %d\n", max, NR, busy }' "$RUN/ticks")
diag "tick timestamps while actions ran (sample time, ticks, in flight):"
awk '$3 > 0' "$RUN/ticks" | head -n 40 | sed 's/^/#   /'
if [ "$busy" -ge 10 ] && awk -v g="$max_gap" 'BEGIN { exit !(g > 0 && g < 1.0) }'; then
	ok "slow actions (2 s each) do not delay the tick: largest gap between ticks $max_gap s at Interval=200ms ($busy samples with actions in flight)"
else
	not_ok "the tick stalled while actions ran: largest gap $max_gap s, $busy samples with actions in flight"
fi

check "all 9 actions are done within 20 s" wait_for 20 count_is done 9
ctl log | sed "s/^/# /"
each_kind_done() {
	local k bad=0
	for k in ksm-knob balloon pin-vcpu pin-emulator pin-memory save restore destroy; do
		[ "$(jq --arg k "$k" '[.entries[] | select(.action == $k and .result == "done")] | length' "$RUN/log.json")" -ge 1 ] ||
			{ diag "no done $k"; bad=1; }
	done
	return $bad
}
check "densityctl log shows each kind of action done" each_kind_done
check "the KSM knob was written below the /sys root" [ "$(cat "$RUN/root/sys/kernel/mm/ksm/pages_to_scan")" = 1234 ]

# Phase 2: planned while the slow bulk round ran, started within 100 ms.
urgent() {
	jq -e '.entries[] | select(.guest == "d" and .result == "done") |
		select((.started - .time) <= 0.1 and (.reason | test("bulk round has run for")))' "$RUN/log.json" >/dev/null
}
if urgent; then
	ok "an action planned during a 10 s bulk round started $(jq '.entries[] | select(.guest == "d") | ((.started - .time) * 1000 | floor)' "$RUN/log.json") ms after it was planned (limit 100 ms): $(jq -r '.entries[] | select(.guest == "d") | .reason' "$RUN/log.json")"
else
	not_ok "the action planned during the slow round did not start within 100 ms: $(jq -c '.entries[] | select(.guest == "d")' "$RUN/log.json")"
fi
round_still_running() {
	local r
	r=$(ctl status --json | jq '.daemon.hypervisor.round_running_seconds')
	diag "bulk round running for $r s when d's action was already done"
	awk -v r="$r" 'BEGIN { exit !(r > 0) }'
}
check "that action was done before the slow bulk round ended" round_still_running

filters() {
	[ "$(ctl log --json --guest a | jq '.entries | length')" = 4 ] &&
		[ "$(ctl log --json --controller test -n 2 | jq '.entries | length')" = 2 ] &&
		[ "$(ctl log --json --controller nope | jq '.entries | length')" = 0 ] &&
		ctl log --guest a | grep -q "done  *pin vCPU 0 of a to CPUs 0-1: test: pin vCPU 0" &&
		ctl log --guest nobody | grep -q "no decisions yet that match"
}
check "densityctl log filters by guest and controller, and -n" filters

counters() {
	local f=$RUN/prom/density.prom
	grep -q '^density_actions_total{controller="test",action="balloon",result="done"} 2$' "$f" &&
		grep -q '^density_actions_total{controller="test",action="save",result="done"} 1$' "$f" &&
		grep -q '^density_actions_total{controller="test",action="ksm-knob",result="done"} 1$' "$f"
}
if wait_for 2 counters; then
	ok "density_actions_total counts them: $(grep -c '^density_actions_total' "$RUN/prom/density.prom") series"
else
	not_ok "density_actions_total: $(grep '^density_actions_total' "$RUN/prom/density.prom" | tr '\n' ' ')"
fi
if command -v promtool >/dev/null; then
	check "promtool accepts the textfile with the action counters" \
		bash -c "[ -z \"\$(promtool check metrics <'$RUN/prom/density.prom' 2>&1)\" ]"
fi

status_shows() {
	ctl status >"$RUN/status.txt" && grep -q "Recent decisions" "$RUN/status.txt" &&
		[ "$(ctl status --json | jq '.decisions.entries | length')" = 5 ]
}
check "status shows the last 5 decisions" status_shows

# What the log says is what the daemon's log stream (stderr here, journald
# under systemd) said: every entry's latest result, with its id.
ctl log --json -n 1000 >"$RUN/log.json"
check "densityctl log and the daemon's log stream show the same decisions" \
	log_matches_stream "$RUN/log.json" "$RUN/daemon.log" densityd-test
stop
diag "$(grep 'fake hypervisor' "$RUN/daemon.log")"
check "the fake hypervisor saw the 8 hypervisor actions" grep -q "fake hypervisor: 8 write calls" "$RUN/daemon.log"

# ---------------------------------------------------------------- dry run
for how in flag policy; do
	RUN=$WORK/dry-$how
	if [ $how = flag ]; then start "$RUN" "" --dry-run; else start "$RUN" "DryRun=yes"; fi
	if wait_for 5 count_is would 8; then
		ok "dry run ($how): the 8 actions are journaled as would"
	else
		not_ok "dry run ($how): $(ctl log 2>&1 | tail -n 3)"
	fi
	check "dry run ($how): status says so" bash -c "'$CTL' --socket '$RUN/sock' status --json | jq -e '.daemon.dry_run' >/dev/null"
	check "dry run ($how): the KSM knob is untouched" [ "$(cat "$RUN/root/sys/kernel/mm/ksm/pages_to_scan")" = "$(cat "$FIX/host-v2/sys/kernel/mm/ksm/pages_to_scan")" ]
	stop
	check "dry run ($how): the fake hypervisor saw no write" grep -q "fake hypervisor: 0 write calls" "$RUN/daemon.log"
done

echo "1..$n"
[ $failed -eq 0 ]
