#!/usr/bin/env bash
# System test of the NUMA controller on the testbed (a single node here, so
# placement is forced with SingleNode=yes and MemoryMode=strict):
#   1. dtest-2 is pinned by hand first (vCPU to CPU 0, emulator to CPU 0);
#   2. densityd places dtest-1 and dtest-3: their pins show in `virsh
#      vcpupin` and `virsh emulatorpin` (the node's CPUs) and `virsh
#      numatune --config` (strict on node 0: libvirt changes no running
#      guest's mode, so from its next start); dtest-2 is left exactly as it
#      was, its definition too;
#   3. densityd restarted (its book in StateDirectory=) plans nothing more:
#      no new pin action, the pins unchanged.
# Guests are torn down when the test ends, also on failure. Output: TAP.
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
NODES=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
if [ "$NODES" -lt 1 ]; then
	echo "1..0 # SKIP this kernel shows no NUMA node (/sys/devices/system/node)"
	exit 77
fi

WORK=$(mktemp -d /tmp/densityd-numa.XXXXXX)
cleanup() {
	stop_daemon
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

vsh() { virsh -q -c qemu:///system "$@"; }
# pins NAME: vcpupin, emulatorpin and numatune of the running guest, one line.
pins() {
	echo "vcpu[$(vsh vcpupin "$1" --live | awk '{ printf "%s%s", s, $0; s = ";" }')]" \
		"emulator[$(vsh emulatorpin "$1" --live | awk '{ printf "%s%s", s, $0; s = ";" }')]" \
		"numatune[$(vsh numatune "$1" --live | awk '{ printf "%s%s", s, $0; s = ";" }')]"
}
node0_cpus=$(cat /sys/devices/system/node/node0/cpulist)

"$TB" up 3 2>"$WORK/testbed.log" || {
	echo "Bail out! testbed up 3 failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
}
# 1. By hand, before densityd: in the live definition as an operator would.
vsh vcpupin dtest-2 0 0 --live >/dev/null && vsh emulatorpin dtest-2 0 --live >/dev/null ||
	{ echo "Bail out! cannot pin dtest-2 by hand"; exit 1; }
# densityd reads the XML when it connects: the hand pins are in it.
before2=$(pins dtest-2)
xml2=$(vsh dumpxml dtest-2 --inactive | md5sum)
before1=$(pins dtest-1)
diag "node 0: CPUs $node0_cpus; dtest-2 by hand: $before2"
diag "dtest-1 before: $before1"

write_policy "$WORK" 1s
cat >>"$WORK/policy.conf" <<EOT
[Ksm]
Mode=off
[Balloon]
Enable=no
[Shed]
Enable=no
[Numa]
SingleNode=yes
MemoryMode=strict
EOT
start_daemon "$WORK" || exit 1

placed() { ctl "$WORK" status --json | jqe '[.guests[] | select(.numa.node == 0)] | length == 2'; }
check "densityd placed the two guests not pinned by hand on node 0" wait_for 30 placed ||
	diag "$(ctl "$WORK" status --json | jq -c '.controllers[] | select(.name == "numa")')"
pins_ended() { ctl "$WORK" log --controller numa --json | jqe '[.entries[] | select(.result == "queued" or .result == "running")] | length == 0'; }
wait_for 30 pins_ended
ctl "$WORK" log --controller numa --json >"$WORK/log1.json"
check "every pin action done" jqe '(.entries | length) > 0 and all(.entries[]; .result == "done")' "$WORK/log1.json" ||
	diag "$(jq -c '.entries[] | select(.result != "done") | {what, result, message}' "$WORK/log1.json" | head -n 5)"
check "the memory binding is journalled as set from the next start (libvirt changes no running guest's mode)" \
	jqe '[.entries[] | select(.action == "pin-memory" and (.message | test("next start")))] | length == 2' \
	"$WORK/log1.json"
for g in dtest-1 dtest-3; do
	p=$(pins $g)
	check "$g: virsh vcpupin shows vCPU 0 on node 0's CPUs ($node0_cpus)" \
		test "$(vsh vcpupin $g --live | awk '$1 == "0" { print $2 }')" = "$node0_cpus" || diag "$p"
	check "$g: virsh emulatorpin shows node 0's CPUs" \
		test "$(vsh emulatorpin $g --live | awk '{ print $NF }' | tail -n 1)" = "$node0_cpus" || diag "$p"
	# libvirt cannot change a running guest's numatune mode: densityd binds
	# the persistent definition (from the guest's next start).
	check "$g: virsh numatune --config shows strict on node 0" \
		sh -c "virsh -q -c qemu:///system numatune $g --config | grep -q 'numa_mode *: strict' &&
			virsh -q -c qemu:///system numatune $g --config | grep -q 'numa_nodeset *: 0$'" ||
		diag "$(vsh numatune $g --config | tr '\n' ' ')"
done
after2=$(pins dtest-2)
check "dtest-2, pinned by hand, is exactly as it was" \
	test "$after2|$(vsh dumpxml dtest-2 --inactive | md5sum)" = "$before2|$xml2" || diag "before $before2; after $after2"
check "status says dtest-2 was left alone" \
	jqe '.guests[] | select(.name == "dtest-2") | .numa == null' <(ctl "$WORK" status --json)
n1=$(jq '.entries | length' "$WORK/log1.json")
diag "numa actions: $n1; $(ctl "$WORK" status --json | jq -r '.controllers[] | select(.name == "numa") | "\(.state): \(.reason)"')"

# 3. Again: a restarted densityd (its book kept) changes nothing.
p1=$(pins dtest-1) p3=$(pins dtest-3)
stop_daemon
start_daemon "$WORK" || exit 1
sleep 8 # several ticks
check "restarted: no pin planned again" \
	test "$(ctl "$WORK" log --controller numa --json | jq '.entries | length')" -eq 0 ||
	diag "$(ctl "$WORK" log --controller numa | head -n 5)"
check "restarted: the pins are unchanged, the hand pins too" \
	test "$(pins dtest-1)|$(pins dtest-3)|$(pins dtest-2)" = "$p1|$p3|$before2"
check "restarted: it still counts dtest-1 and dtest-3 as its own" placed

echo "1..$n"
[ $failed -eq 0 ]
