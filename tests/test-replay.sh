#!/usr/bin/env bash
# The replay on fixtures, without root or libvirtd: densityd-test --builtin
# (densityd's own controllers, the fake hypervisor, a copy of the v2 host
# fixture) records its ticks with Record= while the VMs' cgroup runs over
# HostTarget= (balloons shrink), then past CgroupUsageAbove= (a guest is
# saved), then back down (it is restored). Then:
#   - the recording holds every tick, and what it says densityd planned is
#     what densityctl log shows it did, under the same action ids;
#   - densityctl simulate with the same policy over the recording plans the
#     same actions on every tick (controller, action, guest, bytes), the
#     balloon and shed memory freed is that of the actions;
#   - the default recording is StateDirectory= of the policy;
#   - another policy (balloons off) plans otherwise, and says so;
#   - a bad line is named FILE:LINE, a bad policy FILE:LINE.
# Output: TAP.
# Usage: test-replay.sh DENSITYD_TEST DENSITYCTL FIXTURES_DIR
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

WORK=$(mktemp -d /tmp/densityd-replay.XXXXXX)
PID=
cleanup() {
	[ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	rm -rf "$WORK"
}
trap cleanup EXIT
# A cross build: the programs run under meson's exe_wrapper (qemu-user).
exe_wrap TESTD "$WORK"
exe_wrap CTL "$WORK"

RUN=$WORK/run
CG=$RUN/root/cgroup/machine.slice
mkdir -p "$RUN/prom" # densityd makes StateDirectory=
cp -a "$FIX/host-v2" "$RUN/root"
echo 1001 >"$RUN/root/run/libvirt/qemu/d.pid"
# set_file FILE VALUE: replaced at once (the sampler never reads half of it).
set_file() { echo "$2" >"$1.new" && mv "$1.new" "$1"; }
set_file "$CG/memory.max" 7516192768    # 7 GiB: the 6 GiB in use are 86%, over HostTarget=80%
cat >"$RUN/policy.conf" <<EOT
[Daemon]
Interval=200ms
StaleAfter=60s
ControlSocket=$RUN/sock
TextfileDirectory=$RUN/prom
StateDirectory=$RUN/state
ActionTimeout=30s
Record=4M
[Shed]
Cooldown=1s
RestoreHold=1s
EOT
ctl() { "$CTL" --socket "$RUN/sock" "$@"; }

"$TESTD" --builtin -c "$RUN/policy.conf" --proc-root "$RUN/root/proc" --sys-root "$RUN/root/sys" \
	--cgroup-root "$RUN/root/cgroup" --libvirt-run-dir "$RUN/root/run/libvirt/qemu" 2>"$RUN/daemon.log" &
PID=$!
wait_for 10 ctl status >/dev/null 2>&1 || {
	echo "Bail out! densityd-test did not start:"
	sed 's/^/# /' "$RUN/daemon.log"
	exit 1
}
planned() { # planned KIND: densityd has planned such an action (in its recording)
	grep -q "\"kind\":\"$1\"" "$RUN/state/record.jsonl" 2>/dev/null
}
wait_for 10 planned balloon || diag "no balloon action after 10 s"
set_file "$CG/memory.current" 7200000000 # 96% of the limit: shed
wait_for 10 planned save || diag "no save after 10 s"
set_file "$CG/memory.current" 4500000000 # 60%: room to restore
wait_for 10 planned restore || diag "no restore after 10 s"
sleep 1
ctl log --json -n 1000 >"$RUN/log.json"
ticks=$(ctl status --json | jq '.daemon.ticks')
kill "$PID" && wait "$PID"
PID=

REC=$RUN/state/record.jsonl
lines=$(wc -l <"$REC")
check "the recording holds a line per tick ($lines lines, $ticks ticks when last asked)" \
	test "$lines" -ge "$ticks" -a "$ticks" -ge 10
check "each line is a tick, in order, from 1" \
	test "$(jq -s '[.[].tick] == [range(1; length + 1)]' "$REC")" = true
# What the recording says densityd planned is what it journaled, under the
# same ids.
jq -r '.actions[] | [.id, .controller, .kind, (.guest // ""), .reason] | @tsv' "$REC" | sort -n >"$WORK/recorded.tsv"
jq -r '.entries[] | [.id, .controller, .action, (.guest // ""), .reason] | @tsv' "$RUN/log.json" | sort -n >"$WORK/journal.tsv"
check "the recorded actions are those densityctl log shows, with their ids ($(wc -l <"$WORK/recorded.tsv") actions)" \
	diff -u "$WORK/recorded.tsv" "$WORK/journal.tsv" || diff -u "$WORK/recorded.tsv" "$WORK/journal.tsv" | head -n 20 | sed 's/^/# /'
for k in balloon save restore; do
	check "densityd planned a $k action in the recording" planned $k
done

# The same policy, offline, over the recording.
"$CTL" simulate --policy "$RUN/policy.conf" --recording "$REC" --guest-size 256 --json >"$WORK/sim.json" 2>"$WORK/sim.err"
check "densityctl simulate --json runs (exit 0)" test $? -eq 0 || sed 's/^/# /' "$WORK/sim.err"
key='"\(.tick) \(.controller) \(.action) \(.guest) \(.bytes)"'
jq -r ".tick as \$t | .actions[] | \"\(\$t) \(.controller) \(.kind) \(.guest // \"\") \(.bytes // 0)\"" "$REC" >"$WORK/live.txt"
jq -r ".actions[] | $key" "$WORK/sim.json" >"$WORK/simulated.txt"
check "the simulated actions equal densityd's on every tick ($(wc -l <"$WORK/live.txt") actions over $lines ticks: controller, action, guest, bytes)" \
	diff -u "$WORK/live.txt" "$WORK/simulated.txt" || diff -u "$WORK/live.txt" "$WORK/simulated.txt" | head -n 20 | sed 's/^/# /'
check "simulate says no tick differs, with the reasons compared too" \
	jqe '.ticks_differing == 0 and .recorded_actions == (.actions | length)' "$WORK/sim.json"
freed_matches() {
	local shrink shed
	# What each balloon shrink took: the guest's balloon on that tick less the target.
	shrink=$(jq -s '[.[] | .snapshot.guests as $g | .actions[] | select(.kind == "balloon") | .uuid as $u | .bytes as $b
		| ($g[] | select(.uuid == $u) | .balloon_actual_bytes) - $b | select(. > 0)] | add // 0' "$REC")
	shed=$(jq '.freed.shed.bytes' "$WORK/sim.json")
	diag "freed: balloon $(jq '.freed.balloon.bytes' "$WORK/sim.json") (the recording's shrinks: $shrink), shed $shed, ksm $(jq '.freed.ksm.bytes' "$WORK/sim.json")"
	jqe --argjson s "$shrink" '.freed.balloon.bytes == $s and $s > 0 and .freed.shed.bytes > 0 and .freed.shed.actions == 1' \
		"$WORK/sim.json"
}
check "the memory freed is that of the recorded shrinks and the one save" freed_matches
check "the headroom and the guests that fit are given" \
	jqe '.headroom.min_bytes >= 0 and .guests_fit == (.headroom.min_bytes / 268435456 | floor)' "$WORK/sim.json"

"$CTL" simulate --policy "$RUN/policy.conf" >"$WORK/sim.txt" 2>&1
check "without --recording, StateDirectory=/record.jsonl of the policy" grep -q "recording $REC$" "$WORK/sim.txt"
check "the text shows the actions as the journal words them" \
	grep -Eq "^[0-9-]+ [0-9:]+ balloon +would +balloon [a-d] to [0-9]+ MiB: " "$WORK/sim.txt"
diag "$(sed -n '1,4p;/^Memory freed/,$p' "$WORK/sim.txt")"

# Another policy: what if balloons were off?
sed 's/^\[Shed\]/[Balloon]\nEnable=no\n[Shed]/' "$RUN/policy.conf" >"$WORK/no-balloon.conf"
"$CTL" simulate --policy "$WORK/no-balloon.conf" --recording "$REC" --json >"$WORK/what-if.json"
check "with balloons off no balloon action, and the ticks that differ are counted" \
	jqe '([.actions[] | select(.controller == "balloon")] | length) == 0 and .ticks_differing > 0' "$WORK/what-if.json"

# Errors name the place.
sed '3s/"tick":3/"tick":"three"/' "$REC" >"$WORK/bad.jsonl"
"$CTL" simulate --policy "$RUN/policy.conf" --recording "$WORK/bad.jsonl" >/dev/null 2>"$WORK/err"
rc=$?
failed_with() { [ $rc -eq 1 ] && grep -q "$1" "$WORK/err"; } # failed_with PATTERN: exit 1, and stderr says it
check "a bad line: exit 1 and FILE:3: named" failed_with "^densityctl: $WORK/bad.jsonl:3: tick: not a number" ||
	sed 's/^/# /' "$WORK/err"
printf '[Daemon]\nRecord=lots\n' >"$WORK/bad.conf"
"$CTL" simulate --policy "$WORK/bad.conf" --recording "$REC" >/dev/null 2>"$WORK/err"
rc=$?
check "a bad policy: exit 1 and FILE:LINE: named" failed_with "^$WORK/bad.conf:2: Record=lots: not a size or no" ||
	sed 's/^/# /' "$WORK/err"
"$CTL" simulate --recording "$REC" >/dev/null 2>"$WORK/err"
check "simulate without --policy: usage error (exit 2)" test $? -eq 2

echo "1..$n"
[ $failed -eq 0 ]
