#!/usr/bin/env bash
# System test: every VirtOps operation of the libvirt implementation, run one
# at a time by tests/virt-op against a real libvirtd and real testbed guests,
# each checked with virsh: domain facts (XML, metadata class, balloon,
# persistence), bulk stats with progress, balloon, vCPU and emulator pins,
# numatune, changed-domain events, managed save and restore (a marker in
# guest RAM survives), destroy, and the errors (-ENOENT, -EINVAL with
# libvirt's message). Output: TAP.
set -uo pipefail

SRC=${DENSITY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${DENSITY_BUILD:-$SRC/build}
. "$SRC/tests/system/lib.sh"

VIRT_OP="$BUILD/tests/virt-op"
URI=qemu:///system
NS=https://densityd.org/xmlns/1
MEM_MIB=${TESTBED_MEM_MIB:-256}
# Guests this test defines itself (dtest-*, so `testbed.sh down` removes them too).
META=dtest-meta           # densityd metadata (class batch), numatune restrictive 0
NOBALLOON=dtest-noballoon # <memballoon model='none'/>
TRANSIENT=dtest-transient # virsh create: not persistent
NOSUCH=00000000-0000-4000-8000-000000000000

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (libvirt qemu:///system)"
	exit 77
fi
[ -x "$VIRT_OP" ] || { echo "Bail out! $VIRT_OP missing: meson compile -C $BUILD"; exit 1; }

WORK=$(mktemp -d /tmp/densityd-virt-ops.XXXXXX)
CHANGED_PID=
vsh() { virsh -q -c "$URI" "$@"; }
remove_ours() {
	local g
	for g in $META $NOBALLOON $TRANSIENT; do
		vsh destroy "$g" >/dev/null 2>&1
		vsh undefine --managed-save "$g" >/dev/null 2>&1
	done
	rm -f /var/lib/libvirt/qemu/{$META,$NOBALLOON,$TRANSIENT}.ctl
}
cleanup() {
	trap '' INT TERM # a second signal must not cut the tidying short
	if [ -n "$CHANGED_PID" ]; then
		kill "$CHANGED_PID" 2>/dev/null
		wait "$CHANGED_PID" 2>/dev/null
	fi
	remove_ours
	"$TB" down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# op ARGS...: run virt-op; OUT (stdout), ERR (stderr) and RC (exit status) keep the result.
op() {
	OUT=$("$VIRT_OP" "$URI" "$@" 2>"$WORK/err")
	RC=$?
	ERR=$(cat "$WORK/err")
}
# op_ok DESCRIPTION ARGS...: the operation succeeds.
op_ok() {
	local d=$1
	shift
	op "$@"
	if [ $RC -eq 0 ]; then ok "$d"; else not_ok "$d (exit $RC: $ERR)"; fi
}
# op_fails DESCRIPTION ERRNO_NAME SUBSTRING ARGS...: the operation fails with
# that errno (exit status and name) and a message holding SUBSTRING.
op_fails() {
	local d=$1 want=$2 sub=$3
	shift 3
	op "$@"
	diag "$ERR"
	if [[ $ERR == *": $want: "* ]] && [ $RC -ne 0 ] && [[ $ERR == *"$sub"* ]]; then
		ok "$d"
	else
		not_ok "$d (exit $RC, wanted $want and '$sub')"
	fi
}
# facts_are UUID KEY=VALUE...: the facts virt-op prints include every pair.
facts_are() {
	local uuid=$1 kv bad=0
	shift
	op facts "$uuid"
	[ $RC -eq 0 ] || { diag "facts $uuid: exit $RC: $ERR"; return 1; }
	for kv in "$@"; do
		grep -qxF "$kv" <<<"$OUT" || { diag "facts $uuid: no '$kv' in: $(tr '\n' ' ' <<<"$OUT")"; bad=1; }
	done
	return $bad
}

# ---------------------------------------------------------------- guests

# Fresh guests: facts and pins below start from the testbed's definition,
# not from what an earlier run left in a running guest.
remove_ours
"$TB" down 2>"$WORK/testbed.log"
if ! "$TB" up 2 2>>"$WORK/testbed.log"; then
	echo "Bail out! testbed up 2 failed:"
	sed 's/^/# /' "$WORK/testbed.log"
	exit 1
fi
diag "$(tail -n 1 "$WORK/testbed.log")"

# guest_xml NAME [SED ARGS...]: dtest-1's definition under another name, UUID
# left to libvirt, console log and control socket of its own.
guest_xml() {
	local name=$1
	shift
	vsh dumpxml --inactive dtest-1 | sed -e '/<uuid>/d' \
		-e "s|<name>dtest-1</name>|<name>$name</name>|" \
		-e "s|/dtest-1-console\.log|/$name-console.log|g" \
		-e "s|/dtest-1\.ctl|/$name.ctl|g" "$@"
}
guest_xml $META \
	-e "s|</description>|</description>\n  <metadata>\n    <dd:guest xmlns:dd='$NS' class='batch'/>\n  </metadata>|" \
	-e "s|^\(  <vcpu.*\)$|\1\n  <numatune>\n    <memory mode='restrictive' nodeset='0'/>\n  </numatune>|" \
	>"$WORK/meta.xml"
guest_xml $NOBALLOON -e "/<memballoon/,/<\/memballoon>/c\    <memballoon model='none'/>" >"$WORK/noballoon.xml"
guest_xml $TRANSIENT >"$WORK/transient.xml"
for f in meta noballoon transient; do
	if grep -q 'dtest-1[^0-9]' "$WORK/$f.xml"; then
		echo "Bail out! $f.xml still refers to dtest-1"
		exit 1
	fi
done
if ! { vsh define "$WORK/meta.xml" && vsh start $META && vsh define "$WORK/noballoon.xml" &&
	vsh start $NOBALLOON && vsh create "$WORK/transient.xml"; } >"$WORK/define.log" 2>&1; then
	echo "Bail out! defining the test's own guests failed:"
	sed 's/^/# /' "$WORK/define.log"
	exit 1
fi
U1=$(vsh domuuid dtest-1)
U2=$(vsh domuuid dtest-2)
UM=$(vsh domuuid $META)
UN=$(vsh domuuid $NOBALLOON)
UT=$(vsh domuuid $TRANSIENT)
diag "dtest-1 $U1, dtest-2 $U2, $META $UM, $NOBALLOON $UN, $TRANSIENT $UT"

# ---------------------------------------------------------------- facts

check "facts of dtest-1: virtio balloon every 2 s, persistent, $MEM_MIB MiB, no class, nothing pinned" \
	facts_are "$U1" known=1 persistent=1 has_balloon=1 balloon_model=virtio balloon_period_sec=2 \
	max_memory_bytes=$((MEM_MIB * 1048576)) metadata_class= vcpu_pinned=0 emulator_pinned=0 numatune=0
check "facts of $META: class batch from the metadata (prefix dd:), numatune restrictive 0" \
	facts_are "$UM" persistent=1 metadata_class=batch numatune=1 numatune_mode=restrictive numatune_nodeset=0
check "facts of $NOBALLOON: model none, no balloon" \
	facts_are "$UN" persistent=1 has_balloon=0 balloon_model=none balloon_period_sec=0
check "facts of $TRANSIENT: not persistent" facts_are "$UT" persistent=0 has_balloon=1
op_fails "facts of an unknown UUID: ENOENT" ENOENT "Domain not found" facts $NOSUCH
op_fails "facts of a malformed UUID: EINVAL" EINVAL "virDomainLookupByUUIDString not-a-uuid" facts not-a-uuid

# ---------------------------------------------------------------- stats

stats_ok() {
	op stats
	[ $RC -eq 0 ] || { diag "stats: exit $RC: $ERR"; return 1; }
	local running n progress name bad=0
	running=$(vsh list --name --state-running | grep -c .)
	n=$(awk '$1 == "domains" { print $2 }' <<<"$OUT")
	progress=$(grep '^progress ' <<<"$OUT" | tail -n 1)
	diag "stats: $n domains, last progress line '$progress', $running running per virsh"
	[ "$n" = "$running" ] && [ "$progress" = "progress $running/$running" ] || bad=1
	for name in dtest-1 dtest-2 $META $NOBALLOON $TRANSIENT; do
		grep -q "^$name .* current_kib=" <<<"$OUT" || { diag "stats: no $name with current_kib"; bad=1; }
	done
	grep -q "^dtest-1 $U1 id=[0-9]* current_kib=[0-9]* maximum_kib=$((MEM_MIB * 1024)) usable_kib=" <<<"$OUT" ||
		{ diag "stats: dtest-1 lacks usable_kib: $(grep '^dtest-1 ' <<<"$OUT")"; bad=1; }
	return $bad
}
check "stats: every running guest with balloon figures, progress N/N" wait_for 30 stats_ok

# Batches: libvirt's test driver (in this process) with 150 domains.
{
	echo "<node>"
	for i in $(seq 1 150); do
		echo "<domain type='test'><name>t$i</name><memory>1024</memory><os><type>hvm</type></os></domain>"
	done
	echo "</node>"
} >"$WORK/many.xml"
batched() {
	OUT=$("$VIRT_OP" "test://$WORK/many.xml" stats 2>&1)
	local p
	p=$(grep '^progress ' <<<"$OUT" | tr '\n' ' ')
	diag "test driver, 150 domains: $p"
	[ "$p" = "progress 64/150 progress 128/150 progress 150/150 " ] && grep -qx "domains 150" <<<"$OUT"
}
check "stats in batches of 64 with a progress line each (test driver, 150 domains)" batched

# ---------------------------------------------------------------- balloon

actual_is() { [ "$(vsh dommemstat "$1" | awk '$1 == "actual" { print $2 }')" = "$2" ]; }
op_ok "balloon dtest-1 to 200000 KiB" balloon "$U1" 200000
check "virsh dommemstat dtest-1: actual 200000" wait_for 15 actual_is dtest-1 200000
op_ok "balloon dtest-1 back to $((MEM_MIB * 1024)) KiB" balloon "$U1" $((MEM_MIB * 1024))
check "virsh dommemstat dtest-1: actual $((MEM_MIB * 1024))" wait_for 15 actual_is dtest-1 $((MEM_MIB * 1024))
op_fails "balloon of $NOBALLOON: EINVAL with libvirt's message" EINVAL "virDomainSetMemoryFlags $NOBALLOON: " \
	balloon "$UN" 200000
op_fails "balloon to 0 KiB: EINVAL" EINVAL "0 KiB" balloon "$U1" 0
op_fails "balloon of an unknown UUID: ENOENT" ENOENT "Domain not found" balloon $NOSUCH 200000

# ---------------------------------------------------------------- pins

LAST_CPU=$(($(nproc --all) - 1))
ALL_CPUS=0-$LAST_CPU
[ "$LAST_CPU" -gt 0 ] || ALL_CPUS=0
vcpupin_is() { [ "$(vsh vcpupin "$1" | awk '$1 == "0" { print $2 }')" = "$2" ]; }
emulatorpin_is() { [ "$(vsh emulatorpin "$1" | awk 'NF { print $NF }')" = "$2" ]; } # "*: 0", or "0" with -q
op_ok "pin-vcpu dtest-1 vcpu 0 to CPU $LAST_CPU" pin-vcpu "$U1" 0 "$LAST_CPU"
check "virsh vcpupin dtest-1: 0 on $LAST_CPU" vcpupin_is dtest-1 "$LAST_CPU"
op_ok "pin-vcpu dtest-1 vcpu 0 to 0-$LAST_CPU (kernel list syntax)" pin-vcpu "$U1" 0 "0-$LAST_CPU"
check "virsh vcpupin dtest-1: 0 on $ALL_CPUS" vcpupin_is dtest-1 "$ALL_CPUS"
op_ok "pin-emulator dtest-1 to CPU 0" pin-emulator "$U1" 0
check "virsh emulatorpin dtest-1: 0" emulatorpin_is dtest-1 0
check "facts of dtest-1 now say vCPU and emulator pinned" facts_are "$U1" vcpu_pinned=1 emulator_pinned=1
op_fails "pin-vcpu with a bad cpulist: EINVAL" EINVAL "cpulist '0-x' is not a CPU list" pin-vcpu "$U1" 0 0-x
op_fails "pin-vcpu to a CPU the host lacks: EINVAL" EINVAL "names a CPU the host does not have" \
	pin-vcpu "$U1" 0 $((LAST_CPU + 1))
op_fails "pin-emulator with an empty cpulist: EINVAL" EINVAL "is empty" pin-emulator "$U1" ","
op_fails "pin-vcpu of a vCPU the guest lacks: EINVAL with libvirt's message" EINVAL \
	"virDomainPinVcpuFlags dtest-1: invalid argument" pin-vcpu "$U1" 7 0

# ---------------------------------------------------------------- numatune

numatune_is() { # numatune_is NAME MODE NODESET [--config]
	local t
	t=$(vsh numatune "$1" ${4:-})
	[ "$(awk '$1 == "numa_mode" { print $3 }' <<<"$t")" = "$2" ] &&
		[ "$(awk '$1 == "numa_nodeset" { print $3 }' <<<"$t")" = "$3" ]
}
op_ok "numatune $META restrictive 0 (live and persistent)" numatune "$UM" restrictive 0
numatune_both() { numatune_is "$@" && numatune_is "$@" --config; }
check "virsh numatune $META: restrictive, 0, live and in its definition" numatune_both $META restrictive 0
# A guest started without numatune cannot change it while it runs (libvirt
# changes no running guest's mode): its persistent definition takes it, from
# its next start, and the running guest keeps its binding.
op_ok "numatune dtest-1 strict 0: set in its definition (not while it runs)" numatune "$U1" strict 0
check "virsh numatune --config dtest-1: strict, 0" numatune_is dtest-1 strict 0 --config
# A transient guest has no definition to keep it: libvirt's refusal stands.
op_fails "numatune of the transient guest strict 0: EINVAL, libvirt's reason" EINVAL \
	"virDomainSetNumaParameters $TRANSIENT" numatune "$UT" strict 0
op_fails "numatune with an unknown mode: EINVAL" EINVAL "mode 'everywhere'" numatune "$UM" everywhere 0
op_fails "numatune with a bad nodeset: EINVAL" EINVAL "nodeset '0-' is not a node list" numatune "$UM" strict 0-

# ---------------------------------------------------------------- changed

op changed 0
check "changed right after connecting: nothing (events from before are not seen)" \
	[ "$RC $(grep '^changed' <<<"$OUT")" = "0 changed 0" ]
"$VIRT_OP" "$URI" changed 6 >"$WORK/changed.out" 2>&1 &
CHANGED_PID=$!
if wait_for 10 grep -q '^listening$' "$WORK/changed.out"; then
	vsh metadata $META --uri "$NS" --key densityd --set '<guest class="web"/>' --live --config >/dev/null
	vsh dumpxml --inactive $NOBALLOON >"$WORK/noballoon-defined.xml"
	vsh define "$WORK/noballoon-defined.xml" >/dev/null                     # DEFINED, updated
	vsh metadata dtest-1 --uri urn:not-densityd --key x --set '<x/>' --live >/dev/null # not ours
	vsh desc dtest-2 --live --title "not a fact" >/dev/null                   # not ours
fi
wait "$CHANGED_PID"
rc=$?
CHANGED_PID=
changed_ok() {
	diag "changed: $(tr '\n' ' ' <"$WORK/changed.out")"
	[ $rc -eq 0 ] && grep -qx "$UM" "$WORK/changed.out" && grep -qx "$UN" "$WORK/changed.out" &&
		! grep -qx "$U1" "$WORK/changed.out" && ! grep -qx "$U2" "$WORK/changed.out" &&
		[ "$(grep -cx "$UM" "$WORK/changed.out")" = 1 ]
}
check "changed: $META (densityd metadata) and $NOBALLOON (redefined) once each; not other namespaces or titles" \
	changed_ok
check "facts of $META after the change: class web" facts_are "$UM" metadata_class=web

# ---------------------------------------------------------------- managed save

MARK="virt-ops-$$-$RANDOM"
mark_is() { [ "$("$TB" readmark dtest-2 2>/dev/null)" = "$1" ]; }
# saved_listed: dtest-2 is among the guests with a managed save image, marked saved.
saved_listed() { [ "$(vsh list --all --with-managed-save --managed-save | awk '$2 == "dtest-2" { print $3 }')" = saved ]; }
not_saved() { ! saved_listed; }
"$TB" mark dtest-2 "$MARK" 2>>"$WORK/testbed.log"
check "marker written into dtest-2's RAM" mark_is "$MARK"
check "dtest-2 has no managed save image yet" not_saved
op_ok "save dtest-2 (managed save, bypassing the cache)" save "$U2"
check "virsh list --with-managed-save: dtest-2 saved" saved_listed
check "virsh domstate dtest-2: shut off" [ "$(vsh domstate dtest-2)" = "shut off" ]
op_fails "balloon of the saved (stopped) dtest-2: ENOENT" ENOENT "virDomainSetMemoryFlags dtest-2: " \
	balloon "$U2" 200000
op_fails "save of the stopped dtest-2: ENOENT" ENOENT "virDomainManagedSave dtest-2: " save "$U2"
op_ok "restore dtest-2" restore "$U2"
check "virsh domstate dtest-2: running" [ "$(vsh domstate dtest-2)" = running ]
check "dtest-2's managed save image is gone" not_saved
check "the marker survived save + restore" wait_for 20 mark_is "$MARK"
op_fails "restore of the running dtest-2 (no image): ENOENT" ENOENT "no managed save image" restore "$U2"
op_fails "save of the transient guest: EINVAL, not attempted" EINVAL \
	"virDomainManagedSave $TRANSIENT: not attempted: cannot do managed save for transient domain" save "$UT"
check "the transient guest still runs" [ "$(vsh domstate $TRANSIENT)" = running ]

# ---------------------------------------------------------------- destroy

op_ok "destroy the transient guest" destroy "$UT"
check "the transient guest is gone" bash -c "! virsh -q -c $URI domstate $TRANSIENT >/dev/null 2>&1"
op_fails "destroy it again: ENOENT" ENOENT "Domain not found" destroy "$UT"
op_ok "destroy $NOBALLOON" destroy "$UN"
check "$NOBALLOON is shut off and still defined" [ "$(vsh domstate $NOBALLOON)" = "shut off" ]
op_fails "destroy of the stopped $NOBALLOON: ENOENT" ENOENT "virDomainDestroy $NOBALLOON: " destroy "$UN"
op_fails "restore of $NOBALLOON (never saved): ENOENT" ENOENT "no managed save image" restore "$UN"

echo "1..$n"
[ $failed -eq 0 ]
