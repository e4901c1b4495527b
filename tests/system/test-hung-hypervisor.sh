#!/usr/bin/env bash
# System test: a libvirtd that accepts connections but never answers (hung),
# then a real libvirtd answering on the same socket path. densityd must keep
# ticking and answering while the connect hangs, report the hypervisor as
# not connected, recover by itself within two ticks of the real libvirtd
# answering (the hung connect is abandoned, not waited on), and still stop
# promptly on SIGTERM. The hung "libvirtd" is socat reading and never
# writing; the socket path densityd uses is a symlink, first to socat, then
# to the real libvirtd's socket. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

INTERVAL=2 # seconds; "two ticks" is 2 * INTERVAL
SLACK=1

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (the real libvirtd's socket)"
	exit 77
fi
for t in jq socat setsid; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test testbed"; exit 1; }
done
"$TB" libvirtd 2>/dev/null || { echo "Bail out! libvirtd does not answer (testbed.sh libvirtd)"; exit 1; }
REAL_SOCK=/run/libvirt/libvirt-sock
[ -S "$REAL_SOCK" ] || REAL_SOCK=/run/libvirt/virtqemud-sock
[ -S "$REAL_SOCK" ] || { echo "Bail out! no libvirt socket under /run/libvirt"; exit 1; }

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
ln -s "$WORK/hung.sock" "$WORK/libvirt.sock"

write_policy "$WORK" "${INTERVAL}s" 3s
echo "LibvirtURI=qemu+unix:///system?socket=$WORK/libvirt.sock" >>"$WORK/policy.conf"
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
sleep 5
ctl "$WORK" status --json >"$WORK/status.json"
ticks2=$(jq '.daemon.ticks' "$WORK/status.json")
if [ "$ticks2" -ge $((ticks1 + 2)) ]; then
	ok "the tick goes on while the connect hangs ($ticks1 -> $ticks2 in 5 s at Interval=${INTERVAL}s)"
else
	not_ok "the tick stalled ($ticks1 -> $ticks2 in 5 s)"
fi
stuck=$(find "/proc/$DAEMON_PID/task" -maxdepth 2 -name comm -exec cat {} + 2>/dev/null | grep -c density-connect)
diag "connect attempts stuck on the hung peer so far: $stuck (abandoned, each waits for its peer)"

# The real libvirtd now answers on the path densityd connects to. The hung
# socat keeps running: the connect stuck on it never returns.
ln -sfn "$REAL_SOCK" "$WORK/libvirt.sock"
start=$(now)
recovered() {
	ctl "$WORK" status --json >"$WORK/status.json" 2>/dev/null &&
		[ "$(jq '.daemon.hypervisor.connected' "$WORK/status.json")" = true ] &&
		[ "$(jq '.guests | length' "$WORK/status.json")" = "$(virsh -c qemu:///system list --name --state-running | grep -c .)" ]
}
if wait_for $((2 * INTERVAL + SLACK)) recovered; then
	ok "recovered by itself $(elapsed "$start") s after the real libvirtd answered on the socket (limit $((2 * INTERVAL)) s + ${SLACK} s polling): $(jq '.guests | length' "$WORK/status.json") guests"
else
	not_ok "no recovery within $((2 * INTERVAL + SLACK)) s of the real libvirtd answering: $(jq -c '.daemon.hypervisor' "$WORK/status.json")"
fi
grep -q "connected to qemu+unix" "$WORK/daemon.log" && diag "$(grep "connected to qemu+unix" "$WORK/daemon.log" | tail -n 1)"

start=$(now)
kill "$DAEMON_PID"
if wait_for 10 eval '! kill -0 "$DAEMON_PID" 2>/dev/null'; then
	wait "$DAEMON_PID"
	ok "SIGTERM stops densityd in $(elapsed "$start") s although connect attempts hang (limit 10 s)"
	DAEMON_PID=
else
	not_ok "densityd still running 10 s after SIGTERM"
	kill -9 "$DAEMON_PID"
fi
sed 's/^/#   /' "$WORK/daemon.log"
echo "1..$n"
[ $failed -eq 0 ]
