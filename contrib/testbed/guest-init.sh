#!/bin/sh
# /init of the densityd testbed guest (busybox ash, runs as PID 1 from the initramfs).
# Built into the initramfs by contrib/testbed/testbed.sh; changing this file changes
# the image cache key, so the next `testbed.sh up` rebuilds the image.
#
# Control protocol on /dev/ttyS1 (host side: unix socket /var/lib/libvirt/qemu/NAME.ctl),
# one line in, one line out:
#   ping          -> pong
#   load MIB      -> ok load MIB       (guest holds exactly MIB of unique random data; 0 frees it)
#                 -> err load MIB: ... (bad number, too big, write failed)
#   mark TEXT     -> ok mark           (TEXT kept in guest RAM, survives save/restore)
#   readmark      -> TEXT              (empty line when no marker was set)
#   anything else -> err unknown command: ...
PATH=/bin:/sbin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1

say() { echo "densityd-testbed: $*"; }

halt_forever() {
	say "$*"
	while :; do sleep 3600; done
}

# KVM probe mode: the host only wants to know whether this kernel boots at all.
case " $(cat /proc/cmdline) " in
*" densityd_testbed.probe=1 "*)
	echo "DENSITYD-TESTBED-PROBE-OK"
	poweroff -f
	halt_forever "poweroff failed"
	;;
esac

# Virtio modules, in dependency order (the list holds only those not built in).
while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done </lib/modules/order

# The identical data every guest holds (same firmware everywhere): the host put
# /data/firmware.bin into the initramfs; the initramfs rootfs lives in guest RAM and
# is never written back anywhere, so these pages stay resident and identical across guests.
if [ -f /data/firmware.bin ]; then
	say "identical data: $(($(stat -c %s /data/firmware.bin) / 1048576)) MiB in /data/firmware.bin"
else
	say "identical data missing"
fi

# Load data lives in its own tmpfs, sized to the whole guest RAM; `load` checks sizes.
mkdir -p /load
mount -t tmpfs -o size=100%,mode=0700 load /load
mem_mib=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))
# Keep room for the kernel, busybox and the identical data.
max_load=$((mem_mib - 64))
[ "$max_load" -gt 0 ] || max_load=0

do_load() {
	n=$1
	case "$n" in
	'' | *[!0-9]*) echo "err load $n: not a number of MiB"; return ;;
	esac
	n=${n#"${n%%[!0]*}"}
	[ -n "$n" ] || n=0
	if [ "$n" -gt "$max_load" ]; then
		echo "err load $n: too big (guest has $mem_mib MiB, max load $max_load)"
		return
	fi
	# Free the old data first so the guest never holds old + new at once.
	rm -f /load/blob
	if [ "$n" -eq 0 ]; then
		echo "ok load 0"
		return
	fi
	# Big blocks: every syscall is costly under TCG (head -c is 5x slower).
	if dd if=/dev/urandom of=/load/blob bs=1048576 count="$n" iflag=fullblock 2>/dev/null &&
		[ "$(stat -c %s /load/blob)" -eq $((n * 1048576)) ]; then
		echo "ok load $n"
	else
		rm -f /load/blob
		echo "err load $n: write failed"
	fi
}

if [ ! -c /dev/ttyS1 ]; then
	halt_forever "no /dev/ttyS1, no control channel"
fi
stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
say "ready"

while :; do
	while IFS= read -r line <&3; do
		line=${line%"$(printf '\r')"}
		cmd=${line%% *}
		if [ "$cmd" = "$line" ]; then arg=""; else arg=${line#* }; fi
		case "$cmd" in
		ping) reply="pong" ;;
		load) reply=$(do_load "$arg") ;;
		mark)
			printf '%s' "$arg" >/mark.txt
			reply="ok mark"
			;;
		readmark) reply=$(cat /mark.txt 2>/dev/null) ;;
		'') continue ;;
		*) reply="err unknown command: $cmd" ;;
		esac
		printf '%s\n' "$reply" >&3
	done
	# read failed (should not happen on a tty): reopen and go on.
	sleep 1
	exec 3<>/dev/ttyS1
done
