#!/usr/bin/env bash
# System test of classes' OomScoreAdjust= on the testbed: densityd writes a
# class's score to its guests' real qemu processes; a score the kernel
# refuses (lowering needs CAP_SYS_RESOURCE) is journalled failed, logged
# once, and not tried again every tick. Guests are torn down when the test
# ends (their qemu, and so the scores, go with them). Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system)"
	exit 77
fi
for t in jq virsh; do
	command -v $t >/dev/null || { echo "Bail out! $t missing: run contrib/deps.sh test"; exit 1; }
done

WORK=$(mktemp -d /tmp/densityd-oom.XXXXXX)
cleanup() {
	stop_daemon
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

qemu_pid() { cat "/run/libvirt/qemu/$1.pid" 2>/dev/null; }
score() { cat "/proc/$(qemu_pid "$1")/oom_score_adj" 2>/dev/null; }
has_score() { [ "$(score "$1")" = "$2" ]; }
status_shows() { ctl "$WORK" status --json | jqe '.guests[] | select(.name == "dtest-1") | .oom_score_adj == 300'; }
oom_done() { # oom_done NAME: its oom-score-adj action has ended
	[ -n "$(ctl "$WORK" log --guest "$1" --json |
		jq -r '.entries[] | select(.action == "oom-score-adj" and .result != "queued" and .result != "running") | .id')" ]
}

"$TB" up 2 2>"$WORK/testbed.log" || {
	echo "Bail out! testbed up 2 failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
}
s1=$(score dtest-1) s2=$(score dtest-2)
diag "scores as found: dtest-1 $s1, dtest-2 $s2"

write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=off
[Balloon]
Enable=no
[Class batch]
Match=dtest-1
OomScoreAdjust=300
[Class db]
Match=dtest-2
OomScoreAdjust=-300
EOT
start_daemon "$WORK" || exit 1

check "dtest-1's qemu gets its class's OOM score (300)" wait_for 15 has_score dtest-1 300 ||
	diag "score $(score dtest-1); $(ctl "$WORK" log --guest dtest-1 | tail -n 3)"
check "status shows it" wait_for 10 status_shows

# Lowering: done where densityd may (CAP_SYS_RESOURCE), else refused once.
wait_for 15 oom_done dtest-2
sleep 10 # ten more ticks: a refused write must not be tried again in them
ctl "$WORK" log --guest dtest-2 --json >"$WORK/log2.json"
tries=$(jq '[.entries[] | select(.action == "oom-score-adj")] | length' "$WORK/log2.json")
if [ "$(score dtest-2)" = -300 ]; then
	check "dtest-2's qemu gets -300 (densityd may lower scores here), in one write" test "$tries" -eq 1
else
	check "dtest-2's lowered score is refused by the kernel, journalled failed with why" \
		jqe '[.entries[] | select(.action == "oom-score-adj" and .result == "failed" and (.message | test("CAP_SYS_RESOURCE")))] | length == 1' \
		"$WORK/log2.json" || diag "$(jq -c '.entries[]' "$WORK/log2.json")"
	check "... tried once in 10 s of 1-s ticks, not every tick ($tries)" test "$tries" -eq 1
	check "... and logged once" test "$(grep -c "dtest-2: its qemu's OOM score stays" "$WORK/daemon.log")" -eq 1 ||
		diag "$(grep -i oom "$WORK/daemon.log" | head -n 5)"
fi
check "dtest-1 was written once too" \
	test "$(ctl "$WORK" log --guest dtest-1 --json | jq '[.entries[] | select(.action == "oom-score-adj")] | length')" -eq 1

echo "1..$n"
[ $failed -eq 0 ]
