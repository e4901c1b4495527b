# Shared by the system tests, the daemon-level test and benchmarks: start
# and stop densityd on the testbed, query it, TAP output, polling. Source it;
# set SRC and BUILD first.
# shellcheck shell=bash

TB="$SRC/contrib/testbed/testbed.sh"
DENSITYD="$BUILD/densityd"
DENSITYCTL="$BUILD/densityctl"
DAEMON_PID=

# write_policy DIR INTERVAL [STALEAFTER]: a policy whose socket and textfile
# live in DIR.
write_policy() {
	mkdir -p "$1/prom"
	cat >"$1/policy.conf" <<EOT
[Daemon]
Interval=$2
StaleAfter=${3:-30s}
ControlSocket=$1/densityd.sock
TextfileDirectory=$1/prom
StateDirectory=$1/state
EOT
}

# start_daemon DIR: densityd in the background, log in DIR/daemon.log;
# waits until its status answers. One at a time: one still running (a test
# that skipped its stop) is stopped first, never left behind.
start_daemon() {
	stop_daemon
	"$DENSITYD" --config "$1/policy.conf" >"$1/daemon.log" 2>&1 &
	DAEMON_PID=$!
	local i
	for i in $(seq 1 100); do
		ctl "$1" status >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "densityd did not come up; its log:" >&2
	cat "$1/daemon.log" >&2
	return 1
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# exe_wrap VAR DIR: in a cross build (aarch64 under qemu-user) meson names
# its exe_wrapper in MESON_EXE_WRAPPER; $VAR becomes a script in DIR that
# execs the program under it, so $! is still the program's process. Natively
# (no wrapper) $VAR is left as it is.
exe_wrap() {
	[ -n "${MESON_EXE_WRAPPER:-}" ] || return 0
	local p=${!1} w="$2/run-${1,,}"
	p="$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$MESON_EXE_WRAPPER" "$p" >"$w"
	chmod +x "$w"
	printf -v "$1" '%s' "$w"
}

ctl() {
	local dir=$1
	shift
	"$DENSITYCTL" --socket "$dir/densityd.sock" "$@"
}

jqe() { jq -e "$@" >/dev/null; } # jq as a test: its exit status only
# KSM has no page merged (after run=2), for wait_for: a command, not a
# value taken once.
ksm_unmerged() { [ "$(cat /sys/kernel/mm/ksm/pages_sharing)" -eq 0 ]; }

# The VMs' cgroup (v1 or v2) and its usage in MiB.
cgroup_dir() {
	local d
	for d in /sys/fs/cgroup/memory/machine /sys/fs/cgroup/machine.slice; do
		[ -d "$d" ] && { echo "$d"; return 0; }
	done
	return 1
}
usage_mib() {
	local d
	d=$(cgroup_dir) || return 1
	if [ -r "$d/memory.usage_in_bytes" ]; then echo $(($(cat "$d/memory.usage_in_bytes") / 1048576))
	else echo $(($(cat "$d/memory.current") / 1048576)); fi
}

# testbed_idle N MIB LOG: N fresh testbed guests (dtest-1..N) that have
# each used MIB of memory and freed it again (the freed pages stay in qemu,
# as without free page reporting); testbed.sh's messages go to LOG. On
# failure says why as a TAP "Bail out!". Guests of another size from an
# earlier test would not be redefined: the testbed is taken down first.
testbed_idle() {
	"$TB" down >/dev/null 2>&1 || true
	"$TB" up "$1" 2>"$3" || {
		echo "Bail out! testbed up $1 failed:"
		sed 's/^/# /' "$3"
		return 1
	}
	local g
	for g in $(seq 1 "$1"); do
		"$TB" load dtest-$g "$2" 2>>"$3" && "$TB" load dtest-$g 0 2>>"$3" ||
			{ echo "Bail out! preload of dtest-$g failed"; return 1; }
	done
	sleep 3
}

# budget_at PERCENT LOG: a VMs' budget of which the guests' use now is
# PERCENT; sets base (the use) and budget, in MiB.
budget_at() {
	base=$(usage_mib) || { echo "Bail out! no VMs' cgroup found"; return 1; }
	budget=$((base * 100 / $1))
	"$TB" budget $budget 2>>"$2" || { echo "Bail out! budget $budget failed"; return 1; }
}

# libvirtd_pid: the running libvirtd's PID (from its pid file), or nothing.
libvirtd_pid() {
	local p
	p=$(cat /run/libvirtd.pid 2>/dev/null) || return 0
	kill -0 "$p" 2>/dev/null && echo "$p"
}

libvirtd_answers() { timeout 5 virsh -c qemu:///system version >/dev/null 2>&1; }

# TAP output: ok/not_ok/check count the tests, diag comments; the plan
# ("1..$n") comes last.
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...: ok or not ok; returns 1 on not ok (for a diag)
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; return 1; fi
}
diag() { printf "%s\n" "$*" | sed "s/^/# /"; } # every line a TAP comment

now() { echo "${EPOCHREALTIME/./}"; } # microseconds
elapsed() { # seconds since START (from now), two decimals
	local d=$(($(now) - $1))
	printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local limit=$(($1 * 1000000)) start
	shift
	start=$(now)
	while ! "$@"; do
		[ $(($(now) - start)) -gt $limit ] && return 1
		sleep 0.2
	done
}

# log_matches_stream LOG_JSON DAEMON_LOG IDENT: every entry of a densityctl
# log --json document appears, with its id and latest result, in the lines
# the daemon wrote to its log stream (stderr when not under journald).
log_matches_stream() {
	local id result bad=0 seen=0
	while read -r id result; do
		seen=$((seen + 1))
		grep -q "^$3: [a-z]*: action $id: .*: $result" "$2" ||
			{ diag "action $id ($result) is not in the daemon's log"; bad=1; }
	done < <(jq -r '.entries[] | "\(.id) \(.result)"' "$1")
	[ $seen -gt 0 ] || { diag "$1 holds no entries"; bad=1; }
	return $bad
}
