#!/usr/bin/env bash
# System test of the aarch64 build on the real testbed: the cross-built
# densityd and densityctl, run under qemu-user, sample real guests through
# the real libvirtd socket beside the native (x86-64) build, and both report
# the same. Each daemon has its own policy, socket and state, with nothing
# that acts ([Ksm] Mode=off, [Shed] and [Balloon] Enable=no, DryRun=yes):
# no KSM knob changes, nothing is journaled as applied, every guest keeps
# running. Compared per guest: name, UUID, id, PID, balloon actual and
# maximum, facts, class, balloon state and floor equal; RSS and NUMA bytes
# within 8 MiB; the guest's balloon stats equal when both read the same
# stats update. Host: MemTotal, page size, swap, NUMA nodes, the VMs'
# cgroup, the KSM files, the controllers' states equal. Then every guest
# paused, so nothing moves: every figure equal to the byte, in status
# --json, the status table and density.prom. densityctl of either build
# talks to densityd of either build. Output: TAP.
# Usage: test-aarch64.sh [DENSITYD DENSITYCTL]   (the aarch64 build's;
# default: build-aarch64/). The native build: DENSITY_NATIVE_BUILD
# (default: build/). The aarch64 programs run under MESON_EXE_WRAPPER
# (meson sets it from the cross file), else qemu-aarch64.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_NATIVE_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
ARM_D=${1:-$SRC/build-aarch64/densityd}
ARM_CTL=${2:-$SRC/build-aarch64/densityctl}
WRAPPER=${MESON_EXE_WRAPPER:-qemu-aarch64}

N=${SYSTEM_GUESTS:-3}
INTERVAL=2 # seconds
RSS_SLACK=$((8 * 1048576))     # bytes: running guests, sampled moments apart
BALLOON_SLACK=$((16 * 1048576)) # bytes: two different balloon stats updates

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, the testbed's guests)"
	exit 77
fi
for t in jq file; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done
for f in "$DENSITYD" "$DENSITYCTL"; do
	[ -x "$f" ] || { echo "Bail out! no native build ($f): meson setup build && meson compile -C build, or set DENSITY_NATIVE_BUILD"; exit 1; }
done
for f in "$ARM_D" "$ARM_CTL"; do
	[ -x "$f" ] || { echo "Bail out! no aarch64 build ($f): contrib/cross-test.sh"; exit 1; }
done
command -v "${WRAPPER%% *}" >/dev/null ||
	{ echo "Bail out! ${WRAPPER%% *} missing: contrib/cross-test.sh installs qemu-user"; exit 1; }

WORK=$(mktemp -d /tmp/densityd-aarch64.XXXXXX)
chmod 755 "$WORK" # nobody's densityctl must reach the sockets
declare -A PID=()
KSM=/sys/kernel/mm/ksm
cleanup() {
	local k
	for k in "${!PID[@]}"; do
		kill "${PID[$k]}" 2>/dev/null && wait "${PID[$k]}" 2>/dev/null
	done
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
t_start=$(now)

# Each program through a script that execs it (so $! is the program's own
# process): the aarch64 ones under the wrapper, the daemons with -v.
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
ARM_D=$(abs "$ARM_D")
ARM_CTL=$(abs "$ARM_CTL")
X86_D=$(abs "$DENSITYD")
X86_CTL=$(abs "$DENSITYCTL")
runner() { # runner NAME COMMAND...: $WORK/NAME execs COMMAND with its arguments
	local f=$WORK/$1
	shift
	printf '#!/bin/sh\nexec %s "$@"\n' "$*" >"$f"
	chmod 755 "$f"
}
runner x86-densityd "$X86_D" -v
runner aarch64-densityd "$WRAPPER" "$ARM_D" -v
runner aarch64-densityctl "$WRAPPER" "$ARM_CTL"

# 1. The binaries are what they claim: a test that ran two native builds
# would prove nothing.
arch_of() { file -bL "$1" | grep -o "ELF 64-bit LSB [a-z ]*executable, [^,]*" || echo "not a 64-bit ELF executable"; }
binaries() {
	local f aarch64=0 native=0
	for f in "$ARM_D" "$ARM_CTL" "$X86_D" "$X86_CTL"; do diag "$f: $(arch_of "$f")"; done
	for f in "$ARM_D" "$ARM_CTL"; do arch_of "$f" | grep -q ", ARM aarch64$" && aarch64=$((aarch64 + 1)); done
	for f in "$X86_D" "$X86_CTL"; do
		arch_of "$f" | grep -q "^ELF" && ! arch_of "$f" | grep -q aarch64 && native=$((native + 1))
	done
	[ $aarch64 -eq 2 ] && [ $native -eq 2 ]
}
check "file: the cross-built densityd and densityctl are ARM aarch64 executables, the native ones are not" binaries

# The KSM knobs as found: neither daemon may change one.
ksm_knobs() {
	local f
	for f in "$KSM"/*; do
		[ -f "$f" ] && [ -w "$f" ] && [ -r "$f" ] && echo "$(basename "$f")=$(cat "$f")"
	done
}
ksm_knobs >"$WORK/ksm-before"

if ! "$TB" up "$N" 2>"$WORK/testbed.log"; then
	echo "Bail out! testbed up $N failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
fi
diag "$(tail -n 1 "$WORK/testbed.log")"
virsh -c qemu:///system list --name --state-running | grep -v '^$' | sort >"$WORK/running"

# start NAME DENSITYD DENSITYCTL: densityd -v with a policy that changes
# nothing, in $WORK/NAME; its PID in PID[NAME].
start() {
	local dir=$WORK/$1
	write_policy "$dir" "${INTERVAL}s" 30s
	cat >>"$dir/policy.conf" <<EOT
DryRun=yes
[Ksm]
Mode=off
[Shed]
Enable=no
[Balloon]
Enable=no
EOT
	DENSITYD=$2 DENSITYCTL=$3 start_daemon "$dir" || return 1
	PID[$1]=$DAEMON_PID
	DAEMON_PID=
}
ctl_x86() { DENSITYCTL=$X86_CTL ctl "$@"; }
ctl_aarch64() { DENSITYCTL=$WORK/aarch64-densityctl ctl "$@"; }
start x86 "$WORK/x86-densityd" "$X86_CTL" || { echo "Bail out! the native densityd did not start"; exit 1; }
start aarch64 "$WORK/aarch64-densityd" "$WORK/aarch64-densityctl" ||
	{ echo "Bail out! the aarch64 densityd did not start under $WRAPPER"; exit 1; }

# 2. The aarch64 daemon runs under qemu-user, the x86 one natively, and each
# is the one answering its socket.
runs_under_wrapper() {
	local exe want
	exe=$(readlink "/proc/${PID[aarch64]}/exe")
	want=$(readlink -f "$(command -v "${WRAPPER%% *}")")
	diag "aarch64 densityd: pid ${PID[aarch64]}, /proc/PID/exe $exe, cmdline $(tr '\0' ' ' <"/proc/${PID[aarch64]}/cmdline")"
	[ "$exe" = "$want" ] && [ "$(readlink "/proc/${PID[x86]}/exe")" = "$(readlink -f "$X86_D")" ] && tr '\0' '\n' <"/proc/${PID[aarch64]}/cmdline" | grep -qx "$ARM_D" &&
		[ "$(ctl_aarch64 "$WORK/aarch64" status --json | jq .daemon.pid)" = "${PID[aarch64]}" ] &&
		[ "$(ctl_x86 "$WORK/x86" status --json | jq .daemon.pid)" = "${PID[x86]}" ]
}
check "the aarch64 densityd runs under qemu-user ($WRAPPER), the x86 one natively; each answers its socket" runs_under_wrapper

# 3. Both list every running guest, with balloon figures.
snap() { # snap NAME: status --json of daemon NAME by its own build's densityctl
	"ctl_$1" "$WORK/$1" status --json >"$WORK/$1.json.tmp" 2>>"$WORK/ctl.err" &&
		mv "$WORK/$1.json.tmp" "$WORK/$1.json"
}
lists_every_guest() { # lists_every_guest NAME
	snap "$1" || return 1
	[ "$(jq -r '[.guests[] | select(.balloon_actual_bytes != null and .usable_bytes != null
		and .rss_bytes != null and .stale == false) | .name] | sort | .[]' "$WORK/$1.json")" = "$(cat "$WORK/running")" ]
}
for d in x86 aarch64; do
	start_wait=$(now)
	if wait_for 60 lists_every_guest $d; then
		ok "$d densityd lists all $N running guests with balloon figures and RSS ($(elapsed "$start_wait") s)"
	else
		not_ok "$d densityd does not list every running guest with balloon figures within 60 s"
		diag "$(jq -c '[.guests[] | {name, rss_bytes, balloon_actual_bytes, usable_bytes, stale, sample_error}]' "$WORK/$d.json" 2>&1)"
	fi
done

# compare MODE: the differences between x86.json and aarch64.json, one a line
# (none: they agree). MODE running: RSS, NUMA and KSM bytes within
# RSS_SLACK; balloon stats equal when both read the same stats update, else
# within BALLOON_SLACK. MODE paused: every figure equal.
compare() {
	jq -nr --arg mode "$1" --argjson rs "$RSS_SLACK" --argjson bs "$BALLOON_SLACK" \
		--slurpfile x "$WORK/x86.json" --slurpfile a "$WORK/aarch64.json" '
	def byname: .guests | map({key: .name, value: .}) | from_entries;
	def diff($w; $k; $u; $v): if $u != $v then "\($w): \($k) x86 \($u | tojson), aarch64 \($v | tojson)" else empty end;
	def near($w; $k; $u; $v; $slack):
		if ($u | type) != "number" or ($v | type) != "number" then diff($w; $k; $u; $v)
		elif (($u - $v) | fabs) > $slack then "\($w): \($k) x86 \($u), aarch64 \($v) (differ by \($u - $v), more than \($slack))"
		else empty end;
	($mode == "paused") as $exact
	| $x[0] as $X | $a[0] as $A
	| ($X | byname) as $XG | ($A | byname) as $AG
	| (["mem_total_bytes", "page_size_bytes", "swap_total_bytes"][] as $k
		| diff("host"; $k; $X.host[$k]; $A.host[$k])),
	  near("host"; "mem_available_bytes"; $X.host.mem_available_bytes; $A.host.mem_available_bytes;
		$X.host.mem_total_bytes / 20),
	  diff("host"; "numa"; [$X.host.numa[] | del(.mem_free_bytes)]; [$A.host.numa[] | del(.mem_free_bytes)]),
	  diff("host"; "cgroup"; $X.host.cgroup | del(.usage_bytes); $A.host.cgroup | del(.usage_bytes)),
	  diff("host"; "ksm.present"; $X.host.ksm.present; $A.host.ksm.present),
	  diff("host"; "ksm.files"; $X.host.ksm.files | keys; $A.host.ksm.files | keys),
	  diff("controllers"; "name, mode, state"; [$X.controllers[] | {name, mode, state}];
		[$A.controllers[] | {name, mode, state}]),
	  diff("balloon"; "inflated, deflated"; $X.balloon | {inflated_bytes_total, deflated_bytes_total};
		$A.balloon | {inflated_bytes_total, deflated_bytes_total}),
	  diff("guests"; "names"; $XG | keys; $AG | keys),
	  ($XG | keys[] as $n | select($AG[$n]) | $XG[$n] as $g | $AG[$n] as $h
		| (["uuid", "id", "pid", "balloon_actual_bytes", "balloon_maximum_bytes", "class", "class_source",
		    "ksm_mergeable", "facts", "sample_error", "stale", "actions_in_flight"][] as $k
			| diff($n; $k; $g[$k]; $h[$k])),
		  diff($n; "numa nodes"; [$g.numa_nodes[].node]; [$h.numa_nodes[].node]),
		  (if $exact then
			(["rss_bytes", "unused_bytes", "available_bytes", "usable_bytes", "disk_caches_bytes",
			  "swap_in_bytes", "major_faults", "balloon_last_update", "ksm_merging_bytes", "ksm_profit_bytes",
			  "numa_nodes", "balloon"][] as $k
				| diff($n; $k; $g[$k]; $h[$k]))
		   else
			(["rss_bytes", "ksm_merging_bytes", "ksm_profit_bytes"][] as $k
				| near($n; $k; $g[$k]; $h[$k]; $rs)),
			([$g.numa_nodes, $h.numa_nodes] | transpose[] | select(.[0] and .[1])
				| near($n; "numa node \(.[0].node) bytes"; .[0].bytes; .[1].bytes; $rs)),
			(["unused_bytes", "available_bytes", "usable_bytes", "disk_caches_bytes"][] as $k
				| if $g.balloon_last_update == $h.balloon_last_update then diff($n; $k; $g[$k]; $h[$k])
				  else near($n; $k; $g[$k]; $h[$k]; $bs) end),
			(["swap_in_bytes", "major_faults"][] as $k | select($g.balloon_last_update == $h.balloon_last_update)
				| diff($n; $k; $g[$k]; $h[$k])),
			diff($n; "balloon state and floor"; $g.balloon | {state, floor_bytes}; $h.balloon | {state, floor_bytes})
		   end))'
}
# agree MODE: one fresh snapshot of each, and no difference.
agree() {
	snap x86 && snap aarch64 || return 1
	compare "$1" >"$WORK/diff" || return 1
	[ ! -s "$WORK/diff" ]
}
# figures NAME: a guest's figures, one line each, for the log.
figures() {
	jq -r '.guests[] | "\(.name) \(.uuid) pid \(.pid): rss \(.rss_bytes), balloon \(.balloon_actual_bytes)/\(.balloon_maximum_bytes), usable \(.usable_bytes), available \(.available_bytes), unused \(.unused_bytes), disk caches \(.disk_caches_bytes), update \(.balloon_last_update), numa \([.numa_nodes[] | "\(.node):\(.bytes)"] | join(",")), class \(.class), stale \(.stale)"' "$WORK/$1.json"
}
show_figures() {
	local d
	for d in x86 aarch64; do
		diag "$d densityd: host MemTotal $(jq .host.mem_total_bytes "$WORK/$d.json"), page size $(jq .host.page_size_bytes "$WORK/$d.json")"
		figures $d | sed 's/^/#   /'
	done
}

# 4. Running guests: the same guests and facts, figures within a stats update.
if wait_for 20 agree running; then
	ok "running guests: the aarch64 and x86 densityd agree (RSS within $((RSS_SLACK / 1048576)) MiB, balloon stats of the same update equal)"
else
	not_ok "running guests: the aarch64 and x86 densityd disagree"
	diag "$(cat "$WORK/diff")"
fi
show_figures

# 5. densityctl of either build with densityd of either build.
crossed() {
	local bad=0 a b
	ctl_aarch64 "$WORK/x86" status --json >"$WORK/aarch64-ctl-x86d.json" &&
		ctl_x86 "$WORK/aarch64" status --json >"$WORK/x86-ctl-aarch64d.json" || return 1
	for f in aarch64-ctl-x86d x86-ctl-aarch64d; do
		a=$(jq -r '[.guests[].name] | sort | .[]' "$WORK/$f.json")
		[ "$a" = "$(cat "$WORK/running")" ] || { diag "$f: guests $(tr '\n' ' ' <<<"$a")"; bad=1; }
	done
	a=$(jq .daemon.pid "$WORK/aarch64-ctl-x86d.json")
	b=$(jq .daemon.pid "$WORK/x86-ctl-aarch64d.json")
	if [ "$a" != "${PID[x86]}" ] || [ "$b" != "${PID[aarch64]}" ]; then
		diag "answered by pids $a and $b, not ${PID[x86]} and ${PID[aarch64]}"
		bad=1
	fi
	ctl_aarch64 "$WORK/aarch64" status >"$WORK/aarch64.txt" || return 1
	local name
	while read -r name; do
		grep -q "^$name " "$WORK/aarch64.txt" || { diag "aarch64 table lacks $name"; bad=1; }
	done <"$WORK/running"
	return $bad
}
check "the aarch64 densityctl reads the x86 densityd and the x86 densityctl the aarch64 one; the aarch64 table lists every guest" crossed

# SO_PEERCRED through qemu-user: status for everyone, reload for root only.
peercred() {
	local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups) out
	"${nobody[@]}" "$WORK/aarch64-densityctl" --socket "$WORK/aarch64/densityd.sock" status >/dev/null ||
		{ diag "status refused to nobody"; return 1; }
	out=$("${nobody[@]}" "$WORK/aarch64-densityctl" --socket "$WORK/aarch64/densityd.sock" reload 2>&1) &&
		{ diag "reload allowed to nobody"; return 1; }
	grep -q "root only" <<<"$out" || { diag "$out"; return 1; }
	ctl_aarch64 "$WORK/aarch64" reload >/dev/null && wait_for 5 grep -q "reloaded" "$WORK/aarch64/daemon.log"
}
check "aarch64 densityd and densityctl: status for nobody, reload refused to nobody and done for root" peercred

# 6. Paused guests: nothing moves, so every figure is equal to the byte.
# Two ticks of each daemon after the pause, so both sampled the still state.
while read -r name; do virsh -c qemu:///system suspend "$name" >/dev/null; done <"$WORK/running"
ticks_after() { # ticks_after NAME TICKS: daemon NAME has ticked TICKS times since the pause
	snap "$1" && [ "$(jq .daemon.ticks "$WORK/$1.json")" -ge $(($2 + 2)) ]
}
snap x86 && snap aarch64
tx=$(jq .daemon.ticks "$WORK/x86.json")
ta=$(jq .daemon.ticks "$WORK/aarch64.json")
if ! wait_for $((4 * INTERVAL + 2)) ticks_after x86 "$tx" || ! wait_for $((4 * INTERVAL + 2)) ticks_after aarch64 "$ta"; then
	diag "the daemons did not tick twice after the pause (x86 $tx, aarch64 $ta)"
fi
if wait_for 10 agree paused; then
	ok "paused guests: every figure the aarch64 densityd reports equals the x86 one (RSS, balloon stats, NUMA, KSM)"
else
	not_ok "paused guests: the aarch64 and x86 densityd disagree"
	diag "$(cat "$WORK/diff")"
fi
show_figures

# The same still state through the status table and density.prom. Polled:
# what differs goes to $WORK/why, shown only when the last try failed.
why() { cat >"$WORK/why"; }
tables_equal() {
	if ! ctl_x86 "$WORK/x86" status >"$WORK/x86.txt" || ! ctl_aarch64 "$WORK/aarch64" status >"$WORK/aarch64.txt" ||
		! ctl_x86 "$WORK/aarch64" status >"$WORK/x86-ctl-aarch64d.txt"; then
		echo "densityctl status failed" | why
		return 1
	fi
	local a b c
	a=$(grep "^dtest-" "$WORK/x86.txt")
	b=$(grep "^dtest-" "$WORK/aarch64.txt")
	c=$(grep "^dtest-" "$WORK/x86-ctl-aarch64d.txt")
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ] && return 0
	printf 'x86:\n%s\naarch64:\n%s\nx86 densityctl, aarch64 densityd:\n%s\n' "$a" "$b" "$c" | why
	return 1
}
check "paused guests: the status table's guest rows are the same from both builds" wait_for 10 tables_equal ||
	diag "$(cat "$WORK/why")"
grep -E "^(NAME|dtest-)" "$WORK/aarch64.txt" | while read -r l; do diag "aarch64: $l"; done
prom_guests() { grep '^density_guest_' "$1" | grep -v '^density_guest_stats_age_seconds' | sort; }
prom_names() { grep -v '^#' "$1" | sed 's/[{ ].*//' | sort -u; }
proms_equal() {
	local x=$WORK/x86/prom/density.prom a=$WORK/aarch64/prom/density.prom
	if [ ! -s "$x" ] || [ ! -s "$a" ]; then
		echo "a density.prom is missing or empty" | why
		return 1
	fi
	if [ "$(prom_names "$x")" != "$(prom_names "$a")" ]; then
		diff <(prom_names "$x") <(prom_names "$a") | why
		return 1
	fi
	if [ "$(prom_guests "$x")" != "$(prom_guests "$a")" ]; then
		diff <(prom_guests "$x") <(prom_guests "$a") | why
		return 1
	fi
}
check "paused guests: density.prom has the same metrics, and the same guest series and values, from both builds" \
	wait_for 10 proms_equal || diag "$(cat "$WORK/why")"
diag "aarch64 density.prom: $(prom_guests "$WORK/aarch64/prom/density.prom" | wc -l) guest series, $(prom_names "$WORK/aarch64/prom/density.prom" | wc -l) metrics"
while read -r name; do virsh -c qemu:///system resume "$name" >/dev/null; done <"$WORK/running"

# 7. Nothing changed: no action applied, no knob written, every guest runs.
nothing_applied() {
	local d n
	for d in x86 aarch64; do
		"ctl_$d" "$WORK/$d" log --json -n 1000 >"$WORK/$d-log.json" || return 1
		n=$(jq '[.entries[] | select(.dry_run == false or .result != "would")] | length' "$WORK/$d-log.json")
		diag "$d densityd: $(jq '.entries | length' "$WORK/$d-log.json") journal entries, $n not a dry run"
		[ "$n" = 0 ] || return 1
	done
}
check "neither daemon applied an action (journals: dry runs only)" nothing_applied
knobs_as_found() {
	ksm_knobs >"$WORK/ksm-after"
	cmp -s "$WORK/ksm-before" "$WORK/ksm-after" && return 0
	diag "$(diff "$WORK/ksm-before" "$WORK/ksm-after")"
	return 1
}
check "the KSM knobs are as found ($(wc -l <"$WORK/ksm-before") writable files compared)" knobs_as_found
still_running() {
	[ "$(virsh -c qemu:///system list --name --state-running | grep -v '^$' | sort)" = "$(cat "$WORK/running")" ]
}
check "every guest still runs" still_running

# 8. The PSI trigger (epoll on /proc/pressure/memory) armed under qemu-user
# too, where this kernel has one; no warning or error from either.
if [ -r /proc/pressure/memory ]; then
	armed() {
		grep -q "memory pressure trigger armed" "$WORK/x86/daemon.log" &&
			grep -q "memory pressure trigger armed" "$WORK/aarch64/daemon.log"
	}
	check "both daemons armed the memory pressure trigger" armed
fi
quiet_logs() {
	local d bad=0
	for d in x86 aarch64; do
		if grep -E "^densityd: (warning|error|crit|alert|emerg):" "$WORK/$d/daemon.log" >"$WORK/$d-bad.log"; then
			diag "$d densityd:"
			diag "$(cat "$WORK/$d-bad.log")"
			bad=1
		fi
	done
	return $bad
}
check "no warning or error in either daemon's log" quiet_logs

# 9. SIGTERM: both stop, exit status 0.
stopped() { # stopped NAME
	local p=${PID[$1]} rc t0
	t0=$(now)
	kill "$p"
	wait "$p"
	rc=$?
	unset "PID[$1]"
	diag "$1 densityd: exit status $rc $(elapsed "$t0") s after SIGTERM"
	[ $rc -eq 0 ] && grep -q "stopping" "$WORK/$1/daemon.log"
}
check "SIGTERM: the x86 densityd stops, exit status 0" stopped x86
check "SIGTERM: the aarch64 densityd stops under qemu-user, exit status 0" stopped aarch64

diag "$(elapsed "$t_start") s in all"
diag "aarch64 densityd log:"
grep -v "^densityd: debug:" "$WORK/aarch64/daemon.log" | sed 's/^/#   /'
echo "1..$n"
[ $failed -eq 0 ]
