#!/usr/bin/env bash
# contrib/testbed/testbed.sh: real, tiny libvirt guests (dtest-1..N) for densityd's system tests.
# Run `testbed.sh --help` for the commands. Progress and errors go to stderr; only the
# commands that answer something (readmark, list, ping) print to stdout.
set -euo pipefail

PROG=testbed.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPS=$HERE/../deps.sh
GUEST_INIT=$HERE/guest-init.sh

URI=${TESTBED_URI:-qemu:///system}
CACHE=${TESTBED_CACHE:-/var/cache/densityd-testbed}
IMGDIR=/var/lib/libvirt/images/densityd-testbed
QEMU_DIR=/var/lib/libvirt/qemu
CONSOLE_LOG_DIR=/var/log/libvirt/qemu
CGROUP_ROOT=${TESTBED_CGROUP_ROOT:-/sys/fs/cgroup}
PREFIX=dtest-
MEM_MIB=${TESTBED_MEM_MIB:-256}
BOOT_TIMEOUT=${TESTBED_BOOT_TIMEOUT:-} # default: max(120, 15 s per guest)
LIBVIRTD_TIMEOUT=30
KVM_PROBE_TIMEOUT=20
IDENT_MIB=32 # identical (mergeable) data every guest holds
# Bump to force an image rebuild when something outside this file's build functions changes.
RECIPE=1
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon)

usage() {
	cat <<EOF
Usage: $PROG COMMAND [ARGS]

Tiny real guests (libvirt, direct kernel boot of Debian's kernel + a busybox initramfs)
named ${PREFIX}1..${PREFIX}N, ${MEM_MIB} MiB each, with a virtio balloon reporting stats every
2 s and ${IDENT_MIB} MiB of data identical in every guest (for KSM).

Commands:
  up N               make ${PREFIX}1..N exist and run (installs packages, starts libvirtd,
                     builds the cached image once); waits until every guest's balloon
                     reports stats and its control channel answers
  down               destroy and undefine every ${PREFIX}* guest (with managed-save images),
                     remove their control sockets and the memory budget; safe to repeat
  list               one line per ${PREFIX}* guest: NAME<TAB>STATE<TAB>saved|-
  load NAME MIB      make guest NAME hold exactly MIB of unique (unmergeable) memory;
                     0 releases it
  mark NAME TEXT     keep TEXT in guest NAME's RAM (survives managed save + start)
  readmark NAME      print the marker TEXT of guest NAME (empty line if none)
  ping NAME          print "pong" if guest NAME's control channel answers
  budget MIB|off     set / remove a memory limit on the cgroup all guests run in
  libvirtd           make sure libvirtd answers on $URI (start it, as up does); no guests
  help               this text

Environment:
  TESTBED_URI=$URI   TESTBED_VIRT_TYPE=kvm|qemu (default: cached probe)
  TESTBED_MEM_MIB=$MEM_MIB   TESTBED_BOOT_TIMEOUT=s (default: 120, or 15 per guest if more)
  TESTBED_CTL_TIMEOUT=s (default 5 s, plus 1 s per 10 MiB for load)
  TESTBED_CACHE=$CACHE   TESTBED_CGROUP_ROOT=$CGROUP_ROOT
  TESTBED_FREE_PAGE_REPORTING=on   new guests get <memballoon freePageReporting='on'>
                     (freed guest pages go back to the host, so qemu RSS follows load)

Guest control protocol (one line each way on unix socket $QEMU_DIR/NAME.ctl):
  ping -> pong;  load MIB -> ok load MIB | err load ...;  mark TEXT -> ok mark;
  readmark -> TEXT
Console log of a guest: $CONSOLE_LOG_DIR/NAME-console.log
EOF
}

log() { echo "testbed: $*" >&2; }
die() {
	echo "testbed: error: $*" >&2
	exit 1
}
vsh() { virsh -q -c "$URI" "$@"; }

now_us() { echo "${EPOCHREALTIME/./}"; }
# secs_since START_US -> "12.3"
secs_since() {
	local d=$(($(now_us) - $1))
	printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

need_root() { [ "$(id -u)" -eq 0 ] || die "$PROG $1 must run as root"; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# pid_alive PIDFILE COMM: the process in PIDFILE runs and is COMM (not a reused PID).
pid_alive() {
	local pid
	pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
}

# ---------------------------------------------------------------- libvirtd

libvirt_answers() { command -v virsh >/dev/null && virsh -c "$URI" version >/dev/null 2>&1; }

ensure_libvirtd() {
	libvirt_answers && return 0
	[ "$URI" = qemu:///system ] || die "libvirt does not answer on $URI (only qemu:///system is started by $PROG)"
	need_root "to start libvirtd"
	mkdir -p /var/log/libvirt /var/lib/libvirt/qemu /var/cache/libvirt /run/libvirt
	if ! pid_alive /run/virtlogd.pid virtlogd; then
		log "starting virtlogd"
		virtlogd -d 9>&-
	fi
	if ! pid_alive /run/libvirtd.pid libvirtd; then
		log "starting libvirtd"
		libvirtd -d 9>&-
	fi
	local i
	for ((i = 0; i < LIBVIRTD_TIMEOUT * 2; i++)); do
		libvirt_answers && return 0
		sleep 0.5
	done
	die "libvirtd does not answer on $URI after ${LIBVIRTD_TIMEOUT} s (see /var/log/libvirt/)"
}

# ---------------------------------------------------------------- image

# Debian's current kernel package (linux-image-6.1.0-NN-amd64), resolved via the meta package.
kernel_pkg() {
	local p
	p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ && !p { p = $2 } END { print p }')
	if [ -z "$p" ]; then
		apt-get update -q >/dev/null
		p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ && !p { p = $2 } END { print p }')
	fi
	[ -n "$p" ] || die "cannot resolve the kernel package behind linux-image-amd64 (apt-cache depends)"
	echo "$p"
}

# decompress_ko SRC DST: copy a kernel module, decompressing .xz/.zst/.gz on the host
# (busybox insmod in the guest takes plain .ko only).
decompress_ko() {
	case "$1" in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else busybox unxz -c "$1" >"$2"; fi ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*.ko.zst)
		command -v zstd >/dev/null || die "need zstd to decompress $1 (apt-get install zstd)"
		zstd -qdc "$1" >"$2"
		;;
	*) die "unknown module format: $1" ;;
	esac
}

# kernel_dir PKG: where fetch_kernel puts PKG (keyed by how it is unpacked, too).
kernel_dir() {
	echo "$CACHE/kernels/$1-$({
		declare -f fetch_kernel decompress_ko
		echo "${MODULES[*]}"
	} | sha256sum | cut -c1-8)"
}

# fetch_kernel PKG: unpack the kernel and its virtio modules into $(kernel_dir PKG)
# (vmlinuz, kver, modules/*.ko, order). No /boot or /lib/modules is touched.
fetch_kernel() {
	local pkg=$1 kdir tmp vmlinuz kver moddir m f
	kdir=$(kernel_dir "$pkg")
	[ -f "$kdir/.done" ] && return 0
	log "downloading $pkg"
	tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
	# apt-get download drops privileges to _apt: let it write there.
	chown _apt "$tmp" 2>/dev/null || true
	if ! (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/apt.err"); then
		cat "$tmp/apt.err" >&2
		rm -rf "$tmp"
		die "apt-get download $pkg failed"
	fi
	dpkg -x "$tmp"/*.deb "$tmp/x"
	vmlinuz=$(find "$tmp/x/boot" -name 'vmlinuz-*' -print -quit)
	[ -n "$vmlinuz" ] || die "no boot/vmlinuz-* in $pkg"
	kver=${vmlinuz##*/vmlinuz-}
	moddir=$(find "$tmp/x" -type d -path "*/lib/modules/$kver" -print -quit)
	[ -n "$moddir" ] || die "no lib/modules/$kver in $pkg"
	rm -rf "$kdir"
	mkdir -p "$kdir/modules"
	cp "$vmlinuz" "$kdir/vmlinuz"
	echo "$kver" >"$kdir/kver"
	: >"$kdir/order"
	for m in "${MODULES[@]}"; do
		f=$(find "$moddir/kernel/drivers/virtio" -name "$m.ko*" -print -quit 2>/dev/null)
		if [ -n "$f" ]; then
			decompress_ko "$f" "$kdir/modules/$m.ko"
			echo "$m" >>"$kdir/order"
		elif grep -q "/$m\.ko" "$moddir/modules.builtin" 2>/dev/null; then
			log "$m is built into $kver"
		else
			die "module $m not found in $pkg (neither .ko nor built in)"
		fi
	done
	rm -rf "$tmp"
	touch "$kdir/.done"
	for f in "$CACHE"/kernels/*; do
		[ "$f" = "$kdir" ] || rm -rf "$f"
	done
}

# The cache key: everything that decides the image's content.
recipe_key() {
	{
		echo "recipe $RECIPE ident $IDENT_MIB modules ${MODULES[*]}"
		dpkg-query -W -f='busybox ${Version}\n' busybox-static 2>/dev/null || true
		declare -f decompress_ko kernel_dir fetch_kernel build_image
		cat "$GUEST_INIT"
	} | sha256sum | cut -c1-16
}

# build_image KEY: $CACHE/images/KEY/{vmlinuz,initrd.img} (kernel + initramfs).
build_image() {
	local key=$1 img=$CACHE/images/$1 t0 pkg kdir tmp a m seed=$CACHE/identical-${IDENT_MIB}MiB.bin
	[ -f "$img/.done" ] && return 0
	[ -f "$GUEST_INIT" ] || die "missing $GUEST_INIT"
	t0=$(now_us)
	log "building guest image $key (once; cached in $CACHE)"
	pkg=$(kernel_pkg)
	fetch_kernel "$pkg"
	kdir=$(kernel_dir "$pkg")

	# Identical data: random bytes made once on this host, then the same in every guest.
	if [ ! -s "$seed" ]; then
		head -c $((IDENT_MIB * 1048576)) /dev/urandom >"$seed.tmp"
		mv "$seed.tmp" "$seed"
	fi

	tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
	mkdir -p "$tmp/root"/{bin,dev,proc,sys,load,lib/modules} "$tmp/data/data"
	cp /bin/busybox "$tmp/root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$tmp/root/bin/$a" ] || ln -s busybox "$tmp/root/bin/$a"
	done
	ln -s bin "$tmp/root/sbin"
	cp "$GUEST_INIT" "$tmp/root/init"
	chmod 0755 "$tmp/root/init"
	while read -r m; do
		cp "$kdir/modules/$m.ko" "$tmp/root/lib/modules/"
	done <"$kdir/order"
	cp "$kdir/order" "$tmp/root/lib/modules/order"
	ln "$seed" "$tmp/data/data/firmware.bin" 2>/dev/null || cp "$seed" "$tmp/data/data/firmware.bin"

	# initramfs = uncompressed cpio with the random data (incompressible; saves gzip time on
	# the host and in the guest) followed by a gzip'd cpio with busybox, modules and /init.
	# The kernel unpacks concatenated archives in order (like early microcode + initrd).
	(cd "$tmp/data" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp/initrd.img"
	(cd "$tmp/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >>"$tmp/initrd.img"
	cp "$kdir/vmlinuz" "$tmp/vmlinuz"

	rm -rf "$img"
	mkdir -p "$img"
	mv "$tmp/vmlinuz" "$tmp/initrd.img" "$img/"
	cp "$kdir/kver" "$img/kver"
	rm -rf "$tmp"
	touch "$img/.done"
	# Old images (other keys) are no use any more.
	for a in "$CACHE"/images/*; do
		[ "$a" = "$img" ] || rm -rf "$a"
	done
	log "image built in $(secs_since "$t0") s (kernel $(cat "$img/kver"), initrd $(($(stat -c %s "$img/initrd.img") / 1048576)) MiB)"
}

# install_image KEY: copy kernel+initrd where libvirt-qemu may read them; sets KERNEL, INITRD.
install_image() {
	local key=$1
	KERNEL=$IMGDIR/vmlinuz-$key
	INITRD=$IMGDIR/initrd-$key.img
	mkdir -p "$IMGDIR"
	chmod 0755 "$IMGDIR"
	if [ ! -f "$KERNEL" ] || [ ! -f "$INITRD" ]; then
		install -m 0644 "$CACHE/images/$key/vmlinuz" "$KERNEL"
		install -m 0644 "$CACHE/images/$key/initrd.img" "$INITRD"
	fi
}

# prune_images: remove installed images of other keys that no dtest guest refers to.
prune_images() {
	local f used=""
	for f in $(vsh list --all --name | grep "^$PREFIX" || true); do
		used+=" $(vsh dumpxml --inactive "$f" 2>/dev/null | sed -n 's:.*<\(kernel\|initrd\)>\(.*\)</.*:\2:p' | tr '\n' ' ')"
	done
	for f in "$IMGDIR"/*; do
		[ -f "$f" ] || continue
		[ "$f" = "$KERNEL" ] || [ "$f" = "$INITRD" ] && continue
		[[ " $used " == *" $f "* ]] && continue
		rm -f "$f"
	done
}

# ---------------------------------------------------------------- KVM probe

# virt_type KEY: "kvm" if a guest really boots with KVM here, else "qemu" (TCG). Cached.
virt_type() {
	local key=$1 f=$CACHE/virt-type v tmp pid i
	case "${TESTBED_VIRT_TYPE:-}" in
	kvm | qemu)
		echo "$TESTBED_VIRT_TYPE"
		return
		;;
	'') ;;
	*) die "TESTBED_VIRT_TYPE must be kvm or qemu, not '$TESTBED_VIRT_TYPE'" ;;
	esac
	if [ ! -c /dev/kvm ]; then
		echo qemu
		return
	fi
	if [ -s "$f" ]; then
		cat "$f"
		return
	fi
	log "probing whether KVM boots a guest here (up to ${KVM_PROBE_TIMEOUT} s, once)"
	tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
	timeout "$KVM_PROBE_TIMEOUT" qemu-system-x86_64 -accel kvm -m 256 -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$tmp/console.log" \
		-kernel "$CACHE/images/$key/vmlinuz" -initrd "$CACHE/images/$key/initrd.img" \
		-append "console=ttyS0 quiet densityd_testbed.probe=1" >"$tmp/qemu.log" 2>&1 9>&- &
	pid=$!
	v=qemu
	for ((i = 0; i < KVM_PROBE_TIMEOUT * 4 + 4; i++)); do
		if grep -q DENSITYD-TESTBED-PROBE-OK "$tmp/console.log" 2>/dev/null; then
			v=kvm
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	grep -q DENSITYD-TESTBED-PROBE-OK "$tmp/console.log" 2>/dev/null && v=kvm
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
	log "KVM probe: using domain type '$v' (cached in $f; override with TESTBED_VIRT_TYPE)"
	echo "$v" >"$f"
	echo "$v"
}

# ---------------------------------------------------------------- guests

domain_xml() {
	local name=$1 type=$2 kib=$((MEM_MIB * 1024)) fpr=""
	[ "${TESTBED_FREE_PAGE_REPORTING:-off}" = on ] && fpr=" freePageReporting='on'"
	cat <<EOF
<domain type='$type'>
  <name>$name</name>
  <description>densityd testbed guest (contrib/testbed/testbed.sh)</description>
  <memory unit='KiB'>$kib</memory>
  <currentMemory unit='KiB'>$kib</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$INITRD</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <serial type='pty'>
      <log file='$CONSOLE_LOG_DIR/$name-console.log' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <serial type='unix'>
      <source mode='bind' path='$QEMU_DIR/$name.ctl'/>
      <target port='1'/>
    </serial>
    <memballoon model='virtio'$fpr>
      <stats period='2'/>
    </memballoon>
  </devices>
</domain>
EOF
}

define_guest() {
	local name=$1 type=$2 f
	f=$(mktemp)
	domain_xml "$name" "$type" >"$f"
	if ! vsh define "$f" >/dev/null; then
		rm -f "$f"
		die "virsh define $name failed"
	fi
	rm -f "$f"
}

dom_exists() { vsh dominfo "$1" >/dev/null 2>&1; }
dom_state() { vsh domstate "$1" 2>/dev/null || echo unknown; }
# (No `cmd | grep -q` here: with pipefail, grep quitting early can fail the pipe with SIGPIPE.)
has_managed_save() {
	local info
	info=$(vsh dominfo "$1" 2>/dev/null) || return 1
	[[ $info =~ (^|$'\n')Managed\ save:\ +yes ]]
}

guest_names() { vsh list --all --name 2>/dev/null | grep "^$PREFIX" | sort -V || true; }

# ready NAME: balloon stats are reported and the control loop answers.
guest_ready() {
	local stats
	stats=$(vsh dommemstat "$1" 2>/dev/null) || return 1
	[[ $stats =~ (^|$'\n')(usable|available)\  ]] || return 1
	(ctl_call "$1" 3 ping '^pong$') >/dev/null 2>&1
}

cmd_up() {
	[ $# -eq 1 ] && is_uint "$1" && [ "$1" -ge 1 ] || die "usage: $PROG up N (N >= 1)"
	local n=$((10#$1)) t0 key vt k name state pending left
	need_root up
	t0=$(now_us)
	"$DEPS" testbed
	lock
	ensure_libvirtd
	key=$(recipe_key)
	build_image "$key"
	vt=$(virt_type "$key")
	install_image "$key"

	for ((k = 1; k <= n; k++)); do
		name=$PREFIX$k
		if ! dom_exists "$name"; then
			define_guest "$name" "$vt"
		else
			state=$(dom_state "$name")
			# A stopped guest without a saved state gets the current image.
			if [ "$state" = "shut off" ] && ! has_managed_save "$name" &&
				[[ $(vsh dumpxml --inactive "$name") != *"<kernel>$KERNEL</kernel>"* ]]; then
				define_guest "$name" "$vt"
			fi
		fi
		state=$(dom_state "$name")
		case "$state" in
		running) ;;
		paused) vsh resume "$name" >/dev/null || die "virsh resume $name failed" ;;
		*) vsh start "$name" >/dev/null || die "virsh start $name failed (state was: $state)" ;;
		esac
	done
	prune_images

	pending=()
	for ((k = 1; k <= n; k++)); do pending+=("$PREFIX$k"); done
	local boot_timeout=${BOOT_TIMEOUT:-$((n * 15 > 120 ? n * 15 : 120))}
	log "waiting for $n guest(s) (type $vt) to boot"
	local t_boot
	t_boot=$(now_us)
	local deadline=$(($(now_us) + boot_timeout * 1000000))
	while [ ${#pending[@]} -gt 0 ]; do
		left=()
		for name in "${pending[@]}"; do
			state=$(dom_state "$name")
			[ "$state" = running ] || die "$name is '$state' while booting (console: $CONSOLE_LOG_DIR/$name-console.log)"
			guest_ready "$name" || left+=("$name")
		done
		pending=(${left[@]+"${left[@]}"})
		[ ${#pending[@]} -eq 0 ] && break
		if [ "$(now_us)" -gt "$deadline" ]; then
			die "not ready after ${boot_timeout} s: ${pending[*]} (console: $CONSOLE_LOG_DIR/NAME-console.log)"
		fi
		sleep 1
	done
	log "$n guest(s) up and ready in $(secs_since "$t0") s (boot wait $(secs_since "$t_boot") s)"
}

cmd_down() {
	[ $# -eq 0 ] || die "usage: $PROG down"
	need_root down
	local name leftovers=""
	if ! libvirt_answers; then
		# Start libvirtd only if it has something of ours to clean up.
		compgen -G "/etc/libvirt/qemu/$PREFIX*.xml" >/dev/null && leftovers=1
		compgen -G "/run/libvirt/qemu/$PREFIX*.pid" >/dev/null && leftovers=1
		compgen -G "$QEMU_DIR/save/$PREFIX*.save" >/dev/null && leftovers=1
		if [ -n "$leftovers" ] && [ "$URI" = qemu:///system ] && command -v libvirtd >/dev/null; then
			ensure_libvirtd
		fi
	fi
	if libvirt_answers; then
		for name in $(guest_names); do
			case "$(dom_state "$name")" in
			running | paused | "in shutdown" | pmsuspended | blocked)
				vsh destroy "$name" >/dev/null 2>&1 || true
				;;
			esac
			if dom_exists "$name"; then
				vsh undefine --managed-save "$name" >/dev/null 2>&1 ||
					vsh undefine "$name" >/dev/null 2>&1 || true
			fi
			if dom_exists "$name"; then
				log "could not remove $name"
			else
				log "removed $name"
			fi
		done
	fi
	rm -f "$QEMU_DIR/$PREFIX"*.ctl
	budget_off quiet
}

cmd_list() {
	[ $# -eq 0 ] || die "usage: $PROG list"
	libvirt_answers || return 0
	local name saved
	for name in $(guest_names); do
		saved=-
		has_managed_save "$name" && saved=saved
		printf '%s\t%s\t%s\n' "$name" "$(dom_state "$name")" "$saved"
	done
}

# ---------------------------------------------------------------- control channel

# ctl_call NAME TIMEOUT LINE EXPECT_ERE: sends LINE on NAME's control socket and prints the
# reply line. First syncs with a ping/pong so no stale line is taken for the reply.
ctl_call() {
	local name=$1 tmo=$2 line=$3 expect=$4 sock=$QEMU_DIR/$1.ctl reply rc start
	[ -S "$sock" ] || die "no control socket $sock (is $name running?)"
	# A write to a socat that already quit must fail, not kill this shell.
	trap '' PIPE
	coproc CTL { exec socat - "UNIX-CONNECT:$sock" 2>/dev/null 9>&-; }
	local cpid=$CTL_PID in=${CTL[0]} out=${CTL[1]}
	_ctl_close() {
		kill "$cpid" 2>/dev/null || true
		wait "$cpid" 2>/dev/null || true
		trap - PIPE
	}
	start=$(now_us)
	printf 'ping\n' >&"$out" || {
		_ctl_close
		die "cannot connect to $sock"
	}
	while :; do
		rc=0
		IFS= read -r -t 5 reply <&"$in" || rc=$?
		if [ $rc -gt 128 ]; then
			_ctl_close
			die "$name: no answer to ping on $sock within 5 s (guest not booted, or another client holds the socket?)"
		elif [ $rc -ne 0 ]; then
			_ctl_close
			die "$name: control socket $sock closed (guest stopped?)"
		fi
		[ "$reply" = pong ] && break
	done
	printf '%s\n' "$line" >&"$out"
	rc=0
	IFS= read -r -t "$tmo" reply <&"$in" || rc=$?
	_ctl_close
	if [ $rc -gt 128 ]; then
		die "$name: no reply to '$line' within $tmo s"
	elif [ $rc -ne 0 ]; then
		die "$name: control socket closed before the reply to '$line'"
	fi
	if [[ ! $reply =~ $expect ]]; then
		die "$name: '$line' failed: $reply"
	fi
	CTL_SECS=$(secs_since "$start")
	printf '%s\n' "$reply"
}

cmd_load() {
	[ $# -eq 2 ] && is_uint "$2" || die "usage: $PROG load NAME MIB"
	local mib=$((10#$2)) tmo
	tmo=${TESTBED_CTL_TIMEOUT:-$((5 + mib / 10))}
	ctl_call "$1" "$tmo" "load $mib" "^ok load $mib\$" >/dev/null
	log "$1 holds $mib MiB of load ($CTL_SECS s)"
}

cmd_mark() {
	[ $# -ge 2 ] || die "usage: $PROG mark NAME TEXT"
	local name=$1
	shift
	ctl_call "$name" "${TESTBED_CTL_TIMEOUT:-5}" "mark $*" '^ok mark$' >/dev/null
}

cmd_readmark() {
	[ $# -eq 1 ] || die "usage: $PROG readmark NAME"
	ctl_call "$1" "${TESTBED_CTL_TIMEOUT:-5}" readmark ''
}

cmd_ping() {
	[ $# -eq 1 ] || die "usage: $PROG ping NAME"
	ctl_call "$1" "${TESTBED_CTL_TIMEOUT:-5}" ping '^pong$'
}

# ---------------------------------------------------------------- budget

# budget_file: the limit file of the cgroup holding all guests (v1 or v2).
budget_file() {
	local f
	for f in "$CGROUP_ROOT/memory/machine/memory.limit_in_bytes" \
		"$CGROUP_ROOT/memory/machine.slice/memory.limit_in_bytes" \
		"$CGROUP_ROOT/machine.slice/memory.max" \
		"$CGROUP_ROOT/machine/memory.max"; do
		[ -f "$f" ] && {
			echo "$f"
			return 0
		}
	done
	return 1
}

budget_off() {
	local f quiet=${1:-}
	if ! f=$(budget_file); then
		[ -n "$quiet" ] || log "no machine cgroup, so no budget to remove"
		return 0
	fi
	case "$f" in
	*/memory.max) echo max >"$f" ;;
	*) echo -1 >"$f" ;;
	esac
	[ -n "$quiet" ] || log "budget removed ($f)"
}

cmd_budget() {
	[ $# -eq 1 ] || die "usage: $PROG budget MIB|off"
	need_root budget
	if [ "$1" = off ]; then
		budget_off
		return
	fi
	is_uint "$1" && [ "$1" -gt 0 ] || die "usage: $PROG budget MIB|off (MIB > 0)"
	local f mib=$((10#$1)) usage=""
	f=$(budget_file) || die "no machine cgroup under $CGROUP_ROOT (memory/machine/memory.limit_in_bytes for v1, machine.slice/memory.max for v2); it appears once a guest runs"
	if ! echo $((mib * 1048576)) 2>/dev/null >"$f"; then
		case "$f" in
		*/memory.max) usage=$(cat "${f%/*}/memory.current" 2>/dev/null || true) ;;
		*) usage=$(cat "${f%/*}/memory.usage_in_bytes" 2>/dev/null || true) ;;
		esac
		die "cannot set $mib MiB on $f${usage:+ (guests use $((usage / 1048576)) MiB now and cannot be squeezed below it)}"
	fi
	log "budget $mib MiB on $f"
}

# ---------------------------------------------------------------- main

[ $# -ge 1 ] || {
	usage >&2
	exit 2
}
cmd=$1
shift
case "$cmd" in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
list) cmd_list "$@" ;;
load) cmd_load "$@" ;;
mark) cmd_mark "$@" ;;
readmark) cmd_readmark "$@" ;;
ping) cmd_ping "$@" ;;
budget) cmd_budget "$@" ;;
libvirtd)
	[ $# -eq 0 ] || die "usage: $PROG libvirtd"
	"$DEPS" testbed
	ensure_libvirtd
	;;
help | -h | --help) usage ;;
*)
	echo "testbed: unknown command '$cmd'" >&2
	usage >&2
	exit 2
	;;
esac
