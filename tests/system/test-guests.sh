#!/usr/bin/env bash
# System test: densityd against a real libvirtd and real testbed guests.
# Every running guest is seen with RSS and balloon stats that agree with
# virsh; the Prometheus textfile passes promtool; a destroyed guest leaves
# status and the textfile within two ticks; libvirtd killed and restarted
# is found again within two ticks; SIGHUP with a bad policy keeps the good
# one. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

N=${SYSTEM_GUESTS:-3}
INTERVAL=2  # seconds; the test's "two ticks" are 2 * INTERVAL
STALE=8     # seconds: StaleAfter=
SLACK=1     # seconds for our own polling

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, cgroups, KSM sysfs)"
	exit 77
fi
for t in jq promtool; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-system.XXXXXX)
chmod 755 "$WORK" # an unprivileged densityctl must reach the socket
NOTIFY_PID=
cleanup() {
	stop_daemon
	[ -z "$NOTIFY_PID" ] || kill "$NOTIFY_PID" 2>/dev/null
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT


if ! "$TB" up "$N" 2>"$WORK/testbed.log"; then
	echo "Bail out! testbed up $N failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
fi
diag "$(tail -n 1 "$WORK/testbed.log")"

write_policy "$WORK" "${INTERVAL}s" "${STALE}s"
# Stand in for systemd's notify socket, with a 3 s watchdog.
socat -u UNIX-RECV:"$WORK/notify.sock" OPEN:"$WORK/notify.log",creat,append &
NOTIFY_PID=$!
wait_for 5 test -S "$WORK/notify.sock"
NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=3000000 start_daemon "$WORK" ||
	{ echo "Bail out! densityd did not start"; exit 1; }

status_json() { ctl "$WORK" status --json >"$WORK/status.json" 2>"$WORK/ctl.err"; }
guests_with_balloon() {
	status_json && [ "$(jq '[.guests[] | select(.balloon_actual_bytes != null and .usable_bytes != null and .stale == false)] | length' "$WORK/status.json")" -ge "$1" ]
}

# all guests seen, with balloon figures
check "all $N guests appear with balloon stats within 20 s" wait_for 20 guests_with_balloon "$N"

# sd_notify: READY=1 after the first complete sample, STATUS=, WATCHDOG=1
notified() {
	grep -q "READY=1" "$WORK/notify.log" && grep -q "STATUS=[0-9]* guests" "$WORK/notify.log" &&
		[ "$(grep -o "WATCHDOG=1" "$WORK/notify.log" | wc -l)" -ge 2 ]
}
check "sd_notify: READY=1, STATUS= and WATCHDOG=1 pings reach the notify socket" wait_for 5 notified
diag "$(tr '\n' ' ' <"$WORK/notify.log" | cut -c1-300)"

# every running guest, RSS > 0
every_guest_has_rss() {
	status_json || return 1
	local name bad=0
	for name in $(virsh -c qemu:///system list --name --state-running); do
		local rss
		rss=$(jq --arg n "$name" '.guests[] | select(.name == $n) | .rss_bytes' "$WORK/status.json")
		if [ -z "$rss" ] || [ "$rss" -le 0 ]; then
			diag "$name: rss_bytes '$rss'"
			bad=1
		fi
	done
	return $bad
}
check "every running guest is listed with rss_bytes > 0" every_guest_has_rss

# agrees with virsh dommemstat within one stats period
agrees_with_virsh() {
	local name bad=0
	for name in $(virsh -c qemu:///system list --name --state-running); do
		local vs act usable rss
		vs=$(virsh -c qemu:///system dommemstat "$name")
		status_json || return 1
		act=$(awk '$1 == "actual" {print $2 * 1024}' <<<"$vs")
		usable=$(awk '$1 == "usable" {print $2 * 1024}' <<<"$vs")
		rss=$(awk '$1 == "rss" {print $2 * 1024}' <<<"$vs")
		local j
		j=$(jq -c --arg n "$name" '.guests[] | select(.name == $n)' "$WORK/status.json")
		local jact jusable jrss
		jact=$(jq '.balloon_actual_bytes' <<<"$j")
		jusable=$(jq '.usable_bytes' <<<"$j")
		jrss=$(jq '.rss_bytes' <<<"$j")
		diag "$name: virsh actual=$act usable=$usable rss=$rss; densityd actual=$jact usable=$jusable rss=$jrss"
		[ "$act" = "$jact" ] || { diag "$name: balloon actual differs"; bad=1; }
		# The guest's figures move a little between two stats periods.
		local d=$((usable - jusable))
		[ "${d#-}" -le $((16 * 1024 * 1024)) ] || { diag "$name: usable differs by $d bytes"; bad=1; }
		d=$((rss - jrss))
		[ "${d#-}" -le $((16 * 1024 * 1024)) ] || { diag "$name: rss differs by $d bytes"; bad=1; }
	done
	return $bad
}
check "status --json agrees with virsh dommemstat (actual equal, usable and rss within 16 MiB)" agrees_with_virsh

# the table lists every guest
table_lists_all() {
	ctl "$WORK" status >"$WORK/status.txt" || return 1
	local name
	for name in $(virsh -c qemu:///system list --name --state-running); do
		grep -q "^$name " "$WORK/status.txt" || return 1
	done
}
check "densityctl status table lists every running guest" table_lists_all
sed 's/^/# /' "$WORK/status.txt"

# promtool
promtool_clean() {
	local out
	out=$(promtool check metrics <"$WORK/prom/density.prom" 2>&1) || { diag "$out"; return 1; }
	[ -z "$out" ] || { diag "$out"; return 1; }
	grep -q '^density_guest_rss_bytes{domain="dtest-1"} ' "$WORK/prom/density.prom"
}
check "promtool check metrics < density.prom prints nothing; guests labelled domain=" promtool_clean

# every KSM sysfs file that exists and is readable shows in status
ksm_files_match() {
	status_json || return 1
	local want got
	want=$(for f in /sys/kernel/mm/ksm/*; do [ -r "$f" ] && [ -s "$f" ] && basename "$f"; done | sort)
	got=$(jq -r '.host.ksm.files | keys[]' "$WORK/status.json" | sort)
	[ "$want" = "$got" ] || { diag "sysfs: $(echo $want)"; diag "status: $(echo $got)"; return 1; }
	[ "$(jq '.host.ksm.files.pages_to_scan' "$WORK/status.json")" = "$(cat /sys/kernel/mm/ksm/pages_to_scan)" ]
}
check "status shows exactly the KSM sysfs files this kernel has" ksm_files_match

# the VMs' cgroup budget, set and removed for real
budget_seen() { # budget_seen MIB|null
	status_json || return 1
	local lim
	lim=$(jq '.host.cgroup.limit_bytes' "$WORK/status.json")
	if [ "$1" = null ]; then [ "$lim" = null ]; else [ "$lim" = $(($1 * 1024 * 1024)) ]; fi
}
if "$TB" budget 8000 2>"$WORK/budget.log"; then
	if wait_for $((2 * INTERVAL + SLACK)) budget_seen 8000; then
		"$TB" budget off 2>>"$WORK/budget.log"
		check "a cgroup budget set and removed shows in status (8000 MiB, then none)" wait_for $((2 * INTERVAL + SLACK)) budget_seen null
	else
		"$TB" budget off 2>>"$WORK/budget.log"
		not_ok "budget of 8000 MiB not shown: $(jq -c .host.cgroup "$WORK/status.json")"
	fi
else
	not_ok "testbed budget failed: $(cat "$WORK/budget.log")"
fi

# changing commands are for root only; status is for everyone
unprivileged() {
	local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	"${nobody[@]}" "$DENSITYCTL" --socket "$WORK/densityd.sock" status >/dev/null || { diag "status refused to nobody"; return 1; }
	local out
	out=$("${nobody[@]}" "$DENSITYCTL" --socket "$WORK/densityd.sock" reload 2>&1) && { diag "reload allowed to nobody"; return 1; }
	diag "$out"
	grep -q "root only" <<<"$out" && ctl "$WORK" reload >/dev/null
}
check "status works for nobody; reload is refused to nobody and works for root" unprivileged

# an unprivileged flood of idle connections: 4 kept, root still served
flood() {
	local pids=() i alive=0
	for i in $(seq 1 10); do
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			socat -u UNIX-CONNECT:"$WORK/densityd.sock" /dev/null 2>/dev/null &
		pids+=($!)
	done
	sleep 0.5
	for i in "${pids[@]}"; do kill -0 "$i" 2>/dev/null && alive=$((alive + 1)); done
	local rc=0
	ctl "$WORK" status >/dev/null || rc=1
	ctl "$WORK" reload >/dev/null || rc=1
	for i in "${pids[@]}"; do kill "$i" 2>/dev/null; wait "$i" 2>/dev/null; done
	diag "nobody's idle connections kept open: $alive of 10; root status and reload exit $rc"
	[ "$alive" -eq 4 ] && [ $rc -eq 0 ]
}
check "10 idle connections from nobody: 4 kept, root is still served" flood

# a paused guest's balloon stats stop moving: stale, and fresh again on resume
stale_is() { # stale_is NAME true|false
	status_json && [ "$(jq --arg n "$1" '.guests[] | select(.name == $n) | .stale' "$WORK/status.json")" = "$2" ]
}
virsh -c qemu:///system suspend dtest-1 >/dev/null
start=$(now)
if wait_for $((STALE + 2 * INTERVAL + SLACK)) stale_is dtest-1 true; then
	ok "paused dtest-1 marked stale after $(elapsed "$start") s (StaleAfter=${STALE}s)"
else
	not_ok "paused dtest-1 not marked stale within $((STALE + 2 * INTERVAL + SLACK)) s"
fi
virsh -c qemu:///system resume dtest-1 >/dev/null
check "resumed dtest-1 is fresh again" wait_for $((4 * INTERVAL + SLACK)) stale_is dtest-1 false

# a destroyed guest leaves status and the textfile within two ticks
victim="dtest-$N"
errors_before=$(grep -ci error "$WORK/daemon.log")
virsh -c qemu:///system destroy "$victim" >/dev/null
start=$(now)
gone() {
	status_json && ! jq -e --arg n "$victim" '.guests[] | select(.name == $n)' "$WORK/status.json" >/dev/null &&
		! grep -q "domain=\"$victim\"" "$WORK/prom/density.prom"
}
if wait_for $((2 * INTERVAL + SLACK)) gone; then
	ok "destroyed $victim left status and density.prom after $(elapsed "$start") s (limit $((2 * INTERVAL)) s + ${SLACK} s polling)"
else
	not_ok "destroyed $victim still listed after $((2 * INTERVAL + SLACK)) s"
fi
sleep $((2 * INTERVAL))
errors_after=$(grep -ci error "$WORK/daemon.log")
check "no error storm after the destroy ($((errors_after - errors_before)) new error lines)" \
	[ $((errors_after - errors_before)) -le 1 ]

# libvirtd killed and restarted
disconnected() { status_json && [ "$(jq '.daemon.hypervisor.connected' "$WORK/status.json")" = false ]; }
reconnected() {
	status_json && [ "$(jq '.daemon.hypervisor.connected' "$WORK/status.json")" = true ] &&
		[ "$(jq '[.guests[] | select(.stale == false)] | length' "$WORK/status.json")" -ge $((N - 1)) ]
}
old=$(libvirtd_pid)
if [ -z "$old" ]; then
	not_ok "libvirtd pid unknown (no /run/libvirtd.pid): cannot test the restart"
	not_ok "reconnect (skipped with the above)"
else
	kill "$old"
	while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
	check "daemon notices libvirtd is gone and keeps answering" wait_for $((2 * INTERVAL + SLACK)) disconnected
	libvirtd -d
	wait_for 30 libvirtd_answers
	start=$(now)
	if wait_for $((2 * INTERVAL + SLACK)) reconnected; then
		ok "reconnected to the restarted libvirtd after $(elapsed "$start") s (limit $((2 * INTERVAL)) s + ${SLACK} s polling)"
	else
		not_ok "no reconnect within $((2 * INTERVAL + SLACK)) s of libvirtd answering"
		sed 's/^/# /' "$WORK/daemon.log" | tail -n 20
	fi
fi

# SIGHUP with a bad policy keeps the good one and says why
cp "$WORK/policy.conf" "$WORK/policy.good"
printf '[Daemon]\nInterval=soon\n' >"$WORK/policy.conf"
kill -HUP "$DAEMON_PID"
sleep 1
bad_reload_kept() {
	grep -q "policy.conf:2: Interval=soon" "$WORK/daemon.log" && grep -q "keeping the policy in force" "$WORK/daemon.log" &&
		status_json && [ "$(jq '.daemon.interval_seconds' "$WORK/status.json")" = "$INTERVAL" ]
}
check "SIGHUP with a bad policy logs file:line and keeps the last good policy" bad_reload_kept
cp "$WORK/policy.good" "$WORK/policy.conf"

# status when the daemon is not running
stop_daemon
notrunning() {
	local out rc
	out=$(ctl "$WORK" status 2>&1)
	rc=$?
	diag "$out (exit $rc)"
	[ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "not running" <<<"$out"
}
check "densityctl status without a daemon: one line, non-zero exit" notrunning

# textfile removed on stop (stale metrics would look current)
check "density.prom removed when densityd stops" [ ! -e "$WORK/prom/density.prom" ]

diag "daemon log:"
sed 's/^/#   /' "$WORK/daemon.log"
echo "1..$n"
[ $failed -eq 0 ]
