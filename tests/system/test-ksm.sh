#!/usr/bin/env bash
# System test of the KSM controller on the testbed (real libvirtd, real TCG
# guests, real KSM sysfs): with Mode=auto, 4 identical guests booted from an
# unmerged state get at least 200 MiB merged within 60 s; then the scan rate
# falls (or ksmd stops) once merging stops paying; status, density.prom and
# the journal say so; a clean stop puts the knobs back as found; guests of
# two trust domains keep ksmd stopped and status names them. Every KSM knob
# is put back as found when the test ends, also on failure. Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"
KSM=/sys/kernel/mm/ksm
GUESTS=4
WANT_MIB=200
WITHIN=60

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system, KSM sysfs)"
	exit 77
fi
if [ ! -w "$KSM/run" ]; then
	echo "1..0 # SKIP this kernel has no writable KSM ($KSM/run)"
	exit 77
fi
for t in jq; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-ksm.XXXXXX)
KNOBS="pages_to_scan sleep_millisecs advisor_mode use_zero_pages run"
declare -A FOUND=()
for k in $KNOBS; do
	[ -r "$KSM/$k" ] && FOUND[$k]=$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$k")
done
restore_knobs() {
	local k
	for k in $KNOBS; do
		[ -n "${FOUND[$k]+x}" ] && [ "$k" != run ] && echo "${FOUND[$k]}" >"$KSM/$k" 2>/dev/null
	done
	echo "${FOUND[run]}" >"$KSM/run"
}
cleanup() {
	stop_daemon
	"$TB" down >/dev/null 2>&1 || true
	restore_knobs
	rm -rf "$WORK"
}
trap cleanup EXIT

ksm() { sed 's/.*\[\(.*\)\].*/\1/' "$KSM/$1"; }
page=$(getconf PAGESIZE)
saved_mib() { # (pages_sharing + ksm_zero_pages) in MiB
	local zero=0
	[ -r "$KSM/ksm_zero_pages" ] && zero=$(cat "$KSM/ksm_zero_pages")
	echo $((($(ksm pages_sharing) + zero) * page / 1048576))
}
rate() { [ "$(ksm run)" = 1 ] && echo $(($(ksm pages_to_scan) * 1000 / $(ksm sleep_millisecs))) || echo 0; }

# Unmerged and stopped before the guests boot, so nothing merges before
# densityd runs.
echo 2 >"$KSM/run"
wait_for 120 ksm_unmerged || { echo "Bail out! KSM did not unmerge"; exit 1; }
echo 0 >"$KSM/run"
[ -w "$KSM/advisor_mode" ] && echo none >"$KSM/advisor_mode"
echo 100 >"$KSM/pages_to_scan"
echo 20 >"$KSM/sleep_millisecs"

if ! "$TB" up $GUESTS 2>"$WORK/testbed.log"; then
	echo "Bail out! testbed up $GUESTS failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
fi
diag "$GUESTS guests up; saved $(saved_mib) MiB, KSM run=$(ksm run) before densityd"

# The shipped [Ksm] policy, but wanted at any commitment: this host has far
# more memory than 4 tiny guests commit.
write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=auto
StartAt=0%
StopAt=0%
EOT
start_daemon "$WORK" || exit 1
t0=$(now)

# 1. Boost: 200 MiB within 60 s.
merged() { [ "$(saved_mib)" -ge $WANT_MIB ]; }
if wait_for $WITHIN merged; then
	ok "$(saved_mib) MiB saved $(elapsed "$t0") s after densityd started (want >= $WANT_MIB MiB within $WITHIN s)"
else
	not_ok "only $(saved_mib) MiB saved after $WITHIN s (want >= $WANT_MIB MiB)"
fi
t_merged=$(elapsed "$t0")
ctl "$WORK" status --json >"$WORK/boost.json"
diag "while merging: $(jq -c '.controllers[] | select(.name == "ksm")' "$WORK/boost.json")"

# 2. Merging stops paying: the rate falls (or ksmd stops).
max_rate=500000
settled() {
	ctl "$WORK" status --json >"$WORK/settled.json" 2>/dev/null || return 1
	local st
	st=$(jq -r '.controllers[] | select(.name == "ksm") | .state' "$WORK/settled.json")
	# The status shows the knobs as sampled at the tick, before that tick's
	# writes: wait for the tick after the state changed.
	{ [ "$st" = idle ] || [ "$st" = stopped ]; } &&
		jqe '.host.ksm.scan_rate_pages_per_second < '$max_rate "$WORK/settled.json"
}
if wait_for 90 settled && [ "$(rate)" -lt $max_rate ]; then
	ok "merging settled: state $(jq -r '.controllers[0].state' "$WORK/settled.json"), rate $(rate) pages/s (boost $max_rate), saved $(saved_mib) MiB"
else
	not_ok "the rate did not fall: state $(jq -r '.controllers[0].state' "$WORK/settled.json" 2>/dev/null), rate $(rate) pages/s"
fi
diag "reason: $(jq -r '.controllers[0].reason' "$WORK/settled.json")"
cpu=$(jq -r '.host.ksm.ksmd_cpu_percent' "$WORK/settled.json")
check "status: ksmd CPU ($cpu % of a core) and its CPU time" \
	jqe '.host.ksm.ksmd_cpu_seconds > 0 and (.host.ksm.ksmd_cpu_percent | type) == "number"' "$WORK/settled.json"
check "status: the scan rate in force and the memory saved" \
	jqe '.host.ksm.scan_rate_pages_per_second > 0 and .host.ksm.scan_rate_pages_per_second < '$max_rate'
		and .host.ksm.saved_bytes >= '$((WANT_MIB * 1048576)) "$WORK/settled.json" ||
	diag "$(jq -c '.host.ksm | {scan_rate_pages_per_second, saved_bytes, run: .files.run}' "$WORK/settled.json")"
check "status: the controller's name and mode" \
	jqe '.controllers[0].name == "ksm" and .controllers[0].mode == "auto"' "$WORK/settled.json"
check "status: every guest mergeable, with memory merged" \
	jqe '(.guests | length) as $n | $n >= '$GUESTS' and
		([.guests[] | select(.ksm_mergeable == true and .ksm_merging_bytes > 0)] | length) == $n' \
	"$WORK/settled.json" ||
	diag "$(jq -c '[.guests[] | {name, ksm_mergeable, ksm_merging_bytes}]' "$WORK/settled.json")"
ctl "$WORK" status >"$WORK/table.txt"
check "the status table shows the KSM controller and ksmd's CPU" \
	grep -q "^Controllers ksm auto: \(idle\|stopped\)" "$WORK/table.txt"
grep -q "ksmd [0-9.]*% of a core" "$WORK/table.txt" || diag "$(cat "$WORK/table.txt")"
prom=$WORK/prom/density.prom
check "density.prom: ksmd CPU, scan rate, the controller's state" \
	grep -q '^density_controller_state{controller="ksm",mode="auto",state="\(idle\|stopped\)"} 1' "$prom"
grep -q '^density_ksmd_cpu_seconds_total ' "$prom" && grep -q '^density_ksm_scan_rate_pages_per_second ' "$prom" ||
	not_ok "density.prom lacks ksmd CPU or the scan rate"
ctl "$WORK" log --json >"$WORK/log.json"
check "the journal has the knob writes, done, with reasons" \
	jqe '[.entries[] | select(.action == "ksm-knob" and .result == "done" and (.reason | length) > 0)] | length >= 4' \
	"$WORK/log.json"

# 3. A clean stop puts back what densityd found (run=0, 100 pages / 20 ms).
stop_daemon
check "clean stop: knobs back as found (run=$(ksm run), pages_to_scan=$(ksm pages_to_scan), sleep=$(ksm sleep_millisecs))" \
	test "$(ksm run)" = 0 -a "$(ksm pages_to_scan)" = 100 -a "$(ksm sleep_millisecs)" = 20
check "the merged pages stay merged after the stop ($(saved_mib) MiB)" test "$(saved_mib)" -ge $WANT_MIB
grep -q "putting back" "$WORK/daemon.log" || diag "$(tail -5 "$WORK/daemon.log")"

# 4. Two trust domains: ksmd stays stopped and status says which guests.
echo 1 >"$KSM/run"
write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
StartAt=0%
StopAt=0%
[Class tenant-b]
Match=dtest-4
KsmTrustDomain=b
EOT
start_daemon "$WORK" || exit 1
refused() {
	ctl "$WORK" status --json >"$WORK/refused.json" 2>/dev/null &&
		jq -e '.controllers[0].state == "stopped"' "$WORK/refused.json" >/dev/null && [ "$(ksm run)" = 0 ]
}
if wait_for 30 refused; then
	ok "two trust domains: ksmd stopped (run=0)"
else
	not_ok "two trust domains: run=$(ksm run), state $(jq -r '.controllers[0].state' "$WORK/refused.json")"
fi
reason=$(jq -r '.controllers[0].reason' "$WORK/refused.json")
diag "reason: $reason"
# Either domain may come first: guests are listed largest RSS first.
check "status names the trust domains and their guests" \
	grep -Eq "trust domains (default \([^)]*dtest-1[^)]*\) and b \(dtest-4\)|b \(dtest-4\) and default \([^)]*dtest-1[^)]*\))" \
	<<<"$reason"
stop_daemon
check "RestoreOnExit: run=1 as found, after the refusal" test "$(ksm run)" = 1

echo "1..$n"
[ $failed -eq 0 ]
