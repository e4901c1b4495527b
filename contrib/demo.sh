#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine (run as root): installs what
# is missing, builds, starts a testbed of tiny real guests, runs densityd on
# it and shows `densityctl status` live, refreshed every tick, with the
# daemon's latest log lines, with KSM merging the guests' identical pages.
# Ctrl-C stops densityd and removes the guests.
#   DEMO_GUESTS=4      guests to start
#   DEMO_SECONDS=0     stop by itself after this many seconds (0: run until Ctrl-C)
#   DEMO_KEEP=1        keep the guests when it ends
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it installs packages and starts libvirtd and guests)" >&2
	exit 1
fi
GUESTS=${DEMO_GUESTS:-4}
DURATION=${DEMO_SECONDS:-0}

contrib/deps.sh build testbed
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
meson compile -C build >/dev/null

contrib/testbed/testbed.sh up "$GUESTS"
# A VMs' budget of 400 MiB a guest (each holds about 310 MiB under TCG), as
# on a packed host: the guests commit over 40% of it, so the shipped policy
# wants KSM, and the status shows ksmd boosting, then going quiet. densityd
# puts the KSM knobs back as found when it stops; `down` lifts the budget.
contrib/testbed/testbed.sh budget $((GUESTS * 400))

LOG=$(mktemp /tmp/densityd-demo.XXXXXX.log)
mkdir -p /var/lib/prometheus/node-exporter
build/densityd --config policies/default.conf >"$LOG" 2>&1 &
PID=$!
cleanup() {
	kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ "${DEMO_KEEP:-0}" = 1 ] || contrib/testbed/testbed.sh down
	echo "densityd log: $LOG"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

start=$SECONDS
while :; do
	sleep 1
	kill -0 "$PID" 2>/dev/null || { echo "densityd exited:"; cat "$LOG"; exit 1; }
	out=$(build/densityctl status 2>&1) || true
	[ -t 1 ] && clear
	echo "densityd on $GUESTS testbed guests ($(date +%T)); Ctrl-C stops"
	echo
	echo "$out"
	echo
	echo "-- log --"
	tail -n 5 "$LOG"
	echo "-- Prometheus textfile: /var/lib/prometheus/node-exporter/density.prom ($(grep -c '^density_' /var/lib/prometheus/node-exporter/density.prom 2>/dev/null || echo 0) samples)"
	[ "$DURATION" -gt 0 ] && [ $((SECONDS - start)) -ge "$DURATION" ] && break
	sleep 4
done
