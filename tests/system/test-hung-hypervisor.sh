#!/usr/bin/env bash
# System test: a libvirtd that accepts connections but never answers (hung).
# densityd must keep ticking and answering, report the hypervisor as not
# connected once the bulk call has hung longer than StaleAfter=, and still
# stop promptly on SIGTERM. The "libvirtd" here is socat reading and never
# writing. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

for t in jq socat setsid; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test testbed"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-hung.XXXXXX)
HUNG_PGID=
cleanup() {
	stop_daemon
	[ -z "$HUNG_PGID" ] || kill -- -"$HUNG_PGID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# Its own process group, so that cleanup ends socat and its children.
setsid socat UNIX-LISTEN:"$WORK/hung.sock",fork SYSTEM:'cat >/dev/null' &
HUNG_PGID=$!
wait_for 5 test -S "$WORK/hung.sock"

write_policy "$WORK" 1s 3s
echo "LibvirtURI=qemu+unix:///system?socket=$WORK/hung.sock" >>"$WORK/policy.conf"
start_daemon "$WORK" || { echo "Bail out! densityd did not start"; exit 1; }

hung_reported() {
	ctl "$WORK" status --json >"$WORK/status.json" 2>/dev/null &&
		[ "$(jq '.daemon.hypervisor.connected' "$WORK/status.json")" = false ] &&
		jq -r '.daemon.hypervisor.error' "$WORK/status.json" | grep -q "no answer"
}
if wait_for 12 hung_reported && grep -q "unreachable.*no answer" "$WORK/daemon.log"; then
	ok "hung hypervisor reported as not connected, once in the log: $(jq -r '.daemon.hypervisor.error' "$WORK/status.json")"
else
	not_ok "hung hypervisor not reported within 12 s"
fi

ticks1=$(jq '.daemon.ticks' "$WORK/status.json")
sleep 2.5
ctl "$WORK" status --json >"$WORK/status.json"
ticks2=$(jq '.daemon.ticks' "$WORK/status.json")
if [ "$ticks2" -ge $((ticks1 + 2)) ]; then
	ok "the tick goes on while the hypervisor hangs ($ticks1 -> $ticks2 in 2.5 s)"
else
	not_ok "the tick stalled ($ticks1 -> $ticks2 in 2.5 s)"
fi

start=$(now)
kill "$DAEMON_PID"
if wait_for 10 eval '! kill -0 "$DAEMON_PID" 2>/dev/null'; then
	wait "$DAEMON_PID"
	ok "SIGTERM stops densityd in $(elapsed "$start") s although a hypervisor call hangs (limit 10 s)"
	DAEMON_PID=
else
	not_ok "densityd still running 10 s after SIGTERM"
	kill -9 "$DAEMON_PID"
fi
sed 's/^/#   /' "$WORK/daemon.log"
echo "1..$n"
[ $failed -eq 0 ]
