# Shared by the benchmarks in contrib/bench: messages, the host's figures
# (the VMs' cgroup, PSI, OOM kills), KSM's knobs recorded and put back,
# ksmtuned as a contender, killing what a script started, sleeping to an
# absolute time, and gnuplot's terminal. Source it after setting PROG, SRC
# and BUILD; it sources tests/system/lib.sh (the testbed, densityd, ctl).
# shellcheck shell=bash

# shellcheck source=tests/system/lib.sh
. "$SRC/tests/system/lib.sh"

KSM=${KSM_SYSFS:-/sys/kernel/mm/ksm}
CACHE=${BENCH_CACHE:-/var/cache/densityd-bench}
# ksmtuned-fixed: what committed_memory() greps for instead of '^qemu-system.*-enable-kvm'
# (libvirt starts qemu by its full path, and with -accel tcg or -accel kvm).
FIXED_PATTERN='^/usr/bin/qemu-system|^qemu-system'
UNMERGE_TIMEOUT=${UNMERGE_TIMEOUT:-120} # s

log() { echo "$PROG: $*" >&2; }
die() {
	echo "$PROG: error: $*" >&2
	exit 1
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
# need_uint OPTION VALUE WHAT [MIN]: an option's value is a whole number (of
# at least MIN), or the script dies saying "OPTION takes WHAT >= MIN".
need_uint() {
	if is_uint "$2" && { [ -z "${4:-}" ] || [ "$2" -ge "$4" ]; }; then return 0; fi
	die "$1 takes $3${4:+ >= $4}, not '$2'"
}

# sleep_until US: sleeps until now reaches US (microseconds, as now prints;
# absolute, so a sampling loop does not drift).
sleep_until() {
	local wait_us=$(($1 - $(now)))
	[ "$wait_us" -gt 0 ] && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
	return 0
}

# load_run DIR: OUT and the variables of an earlier run (DIR/run.env), for --replot.
load_run() {
	OUT=$(cd "$1" && pwd) || exit 1
	[ -f "$OUT/run.env" ] || die "no $OUT/run.env (not a $PROG out dir?)"
	# shellcheck source=/dev/null
	. "$OUT/run.env"
}

# plot_term WIDTH HEIGHT: gnuplot's terminal, pngcairo where it exists.
plot_term() {
	if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
		echo "pngcairo size $1,$2 noenhanced font ',10'"
	else
		echo "png size $1,$2 noenhanced"
	fi
}

# ---------------------------------------------------------------- host figures

# CG: the VMs' cgroup (cgroup_dir), set by the script once a guest runs.
CG=
# usage_bytes, limit_bytes: the VMs' cgroup (v1, else v2; "max" is 0).
usage_bytes() {
	if [ -r "$CG/memory.usage_in_bytes" ]; then cat "$CG/memory.usage_in_bytes"; else cat "$CG/memory.current"; fi
}
limit_bytes() {
	local v
	if [ -r "$CG/memory.limit_in_bytes" ]; then read -r v <"$CG/memory.limit_in_bytes"; else read -r v <"$CG/memory.max"; fi
	[ "$v" = max ] && v=0
	echo "$v"
}
usage_mib() { echo $(($(usage_bytes) / 1048576)); }
psi_full10() { awk '$1 == "full" { sub("avg10=", "", $2); print $2 }' /proc/pressure/memory 2>/dev/null || echo 0; }
oom_kills() { awk '$1 == "oom_kill" { print $2 }' /proc/vmstat; }
# meminfo KEY: a /proc/meminfo figure in KiB.
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
mem_available_kib() { awk '$1 == "MemAvailable:" {print $2}' /proc/meminfo; }

# ---------------------------------------------------------------- processes

# kill_tree PID: PID and every process under it (only what this script started).
kill_tree() {
	local pid=$1 kids c
	kill -0 "$pid" 2>/dev/null || return 0
	kill -STOP "$pid" 2>/dev/null || true
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
	for c in $kids; do kill_tree "$c"; done
	kill -TERM "$pid" 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true
}
# reap PID: waits up to 5 s for a child killed with kill_tree.
reap() {
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- KSM knobs

# The writable knobs, in the order they are put back (advisor_mode first: while
# an advisor runs, pages_to_scan cannot be written; max_page_sharing and
# merge_across_nodes only while nothing is merged, so they come separately).
TUNING_KNOBS=(advisor_mode advisor_max_cpu advisor_max_pages_to_scan advisor_min_pages_to_scan
	advisor_target_scan_time pages_to_scan sleep_millisecs smart_scan use_zero_pages
	stable_node_chains_prune_millisecs)
UNMERGED_KNOBS=(max_page_sharing merge_across_nodes)
declare -A FOUND=()

has() { [ -e "$KSM/$1" ]; }
# knob NAME: its value (advisor_mode: the selected one of "[none] scan-time").
knob() {
	local v
	read -r v <"$KSM/$1"
	[[ $v =~ \[([^]]+)\] ]] && v=${BASH_REMATCH[1]}
	printf '%s\n' "$v"
}
# counter NAME: a KSM counter, 0 if this kernel lacks it.
counter() {
	local v=0
	[ -e "$KSM/$1" ] && read -r v <"$KSM/$1"
	printf '%s\n' "$v"
}
set_knob() { printf '%s\n' "$2" >"$KSM/$1"; }

# record_knobs: every knob as found (into FOUND), for tuning_as_found and
# restore_knobs; fails if KSM lacks run, pages_to_scan or sleep_millisecs.
record_knobs() {
	local k
	for k in run "${TUNING_KNOBS[@]}" "${UNMERGED_KNOBS[@]}"; do
		has "$k" && FOUND[$k]=$(knob "$k")
	done
	for k in run pages_to_scan sleep_millisecs; do
		[ -n "${FOUND[$k]+x}" ] || die "KSM lacks $k"
	done
}
found_knobs() {
	local k
	for k in "${!FOUND[@]}"; do echo "$k=${FOUND[$k]}"; done | sort | tr '\n' ' '
}

merged_pages() { echo $(($(counter pages_sharing) + $(counter pages_shared) + $(counter ksm_zero_pages))); }

# unmerge: run=2 until nothing is shared (or fails after UNMERGE_TIMEOUT s).
unmerge() {
	local start
	set_knob run 2
	start=$(now)
	while [ "$(merged_pages)" -ne 0 ]; do
		[ $(($(now) - start)) -gt $((UNMERGE_TIMEOUT * 1000000)) ] &&
			return 1
		sleep 0.2
	done
	return 0
}

# tuning_as_found: pages_to_scan, sleep_millisecs and advisor_mode as found.
tuning_as_found() {
	has advisor_mode && set_knob advisor_mode none
	set_knob pages_to_scan "${FOUND[pages_to_scan]}"
	set_knob sleep_millisecs "${FOUND[sleep_millisecs]}"
	if has advisor_mode && [ "${FOUND[advisor_mode]}" != none ]; then
		set_knob advisor_mode "${FOUND[advisor_mode]}"
	fi
}

# ksm_fixed PAGES SLEEP_MS: KSM running at a fixed rate, no advisor.
ksm_fixed() {
	has advisor_mode && set_knob advisor_mode none
	set_knob pages_to_scan "$1"
	set_knob sleep_millisecs "$2"
	set_knob run 1
}

# restore_knobs: every knob back as found (cleanup; never fails).
restore_knobs() {
	local k
	[ ${#FOUND[@]} -gt 0 ] || return 0
	if [ "${FOUND[run]}" = 0 ] || [ "${FOUND[run]}" = 2 ]; then
		unmerge || log "warning: KSM still shares $(merged_pages) pages after ${UNMERGE_TIMEOUT} s of run=2"
	fi
	for k in "${UNMERGED_KNOBS[@]}"; do
		[ -n "${FOUND[$k]+x}" ] || continue
		[ "$(knob "$k")" = "${FOUND[$k]}" ] && continue
		[ "$(knob run)" = 2 ] || unmerge || true
		set_knob "$k" "${FOUND[$k]}" 2>/dev/null || log "warning: cannot put $k back to ${FOUND[$k]}"
	done
	has advisor_mode && { set_knob advisor_mode none 2>/dev/null || true; }
	for k in "${TUNING_KNOBS[@]}"; do
		if [ -z "${FOUND[$k]+x}" ] || [ "$k" = advisor_mode ]; then continue; fi
		set_knob "$k" "${FOUND[$k]}" 2>/dev/null || log "warning: cannot put $k back to ${FOUND[$k]}"
	done
	if [ -n "${FOUND[advisor_mode]+x}" ] && [ "${FOUND[advisor_mode]}" != none ]; then
		set_knob advisor_mode "${FOUND[advisor_mode]}" 2>/dev/null ||
			log "warning: cannot put advisor_mode back to ${FOUND[advisor_mode]}"
	fi
	set_knob run "${FOUND[run]}" 2>/dev/null || log "warning: cannot put run back to ${FOUND[run]}"
	for k in "${!FOUND[@]}"; do
		[ "$(knob "$k")" = "${FOUND[$k]}" ] || log "warning: $k is $(knob "$k"), found ${FOUND[$k]}"
	done
}

# ---------------------------------------------------------------- ksmtuned

KSMTUNED_PKG_SCRIPT=
KSMTUNED_PID=

# fetch_ksmtuned: Debian's ksmtuned script, unpacked (not installed) into CACHE.
fetch_ksmtuned() {
	local deb
	KSMTUNED_PKG_SCRIPT=$CACHE/ksmtuned/usr/sbin/ksmtuned
	[ -f "$KSMTUNED_PKG_SCRIPT" ] && return 0
	mkdir -p "$CACHE/deb"
	chown _apt "$CACHE/deb" 2>/dev/null || true
	deb=$(find "$CACHE/deb" -name 'ksmtuned_*.deb' -print -quit)
	if [ -z "$deb" ]; then
		log "downloading ksmtuned (apt-get download; not installed)"
		(cd "$CACHE/deb" && apt-get download -q ksmtuned >/dev/null 2>&1) || {
			apt-get update -q >/dev/null
			(cd "$CACHE/deb" && apt-get download -q ksmtuned >/dev/null)
		} || die "apt-get download ksmtuned failed"
		deb=$(find "$CACHE/deb" -name 'ksmtuned_*.deb' -print -quit)
	fi
	rm -rf "$CACHE/ksmtuned"
	dpkg-deb -x "$deb" "$CACHE/ksmtuned"
	[ -f "$KSMTUNED_PKG_SCRIPT" ] || die "no usr/sbin/ksmtuned in $deb"
}

# testbed_qemu_pids: the qemu PIDs of the running testbed guests.
testbed_qemu_pids() {
	local f
	for f in /run/libvirt/qemu/dtest-*.pid; do
		# (libvirt writes the PID without a newline)
		if [ -f "$f" ]; then echo "$(<"$f")"; fi
	done
	return 0
}

# make_ksmtuned_fixed GUESTS: a copy of ksmtuned (WORK/ksmtuned-fixed) whose
# committed_memory() sees libvirt's qemu; checks it matches the qemu of every
# one of the GUESTS running testbed guests, and says so.
make_ksmtuned_fixed() {
	local fixed=$WORK/ksmtuned-fixed p matched=0 packaged=0 all
	sed "s#pgrep -f -d ' ' '^qemu-system\.\*-enable-kvm'#pgrep -f -d ' ' '$FIXED_PATTERN'#" \
		"$KSMTUNED_PKG_SCRIPT" >"$fixed"
	grep -qF "pgrep -f -d ' ' '$FIXED_PATTERN'" "$fixed" ||
		die "could not patch committed_memory() in $KSMTUNED_PKG_SCRIPT (its pgrep line changed?)"
	all=$(testbed_qemu_pids | wc -l)
	for p in $(testbed_qemu_pids); do
		pgrep -f "$FIXED_PATTERN" | grep -qx "$p" && matched=$((matched + 1))
		pgrep -f '^qemu-system.*-enable-kvm' | grep -qx "$p" && packaged=$((packaged + 1))
	done
	echo "ksmtuned-fixed: committed_memory() uses pgrep -f '$FIXED_PATTERN'" \
		"(matches $matched of $all testbed qemu processes; the packaged '^qemu-system.*-enable-kvm' matches $packaged)"
	if [ "$all" -ne "$1" ] || [ "$matched" -ne "$all" ]; then
		die "the fixed pattern matches $matched of $all testbed qemu processes ($1 guests; ps -o args: $(ps -o args= -p "$(testbed_qemu_pids | head -1)" | cut -c1-80))"
	fi
}

# start_ksmtuned SCRIPT NAME: runs the script with bash (a clean environment,
# so no KSM_* variable leaks in); its loop's PID lands in the pid file. DEBUG
# only adds its log lines (to OUT/NAME.log), it decides the same.
start_ksmtuned() {
	local pidfile=$WORK/$2.pid
	rm -f "$pidfile"
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PIDFILE="$pidfile" DEBUG=1 LOGFILE="$OUT/$2.log" \
		bash "$1" </dev/null >>"$OUT/$2.log" 2>&1
	read -r KSMTUNED_PID <"$pidfile" || die "$2 wrote no pid file"
	kill -0 "$KSMTUNED_PID" 2>/dev/null || die "$2's loop (PID $KSMTUNED_PID) is not running"
}

# stop_ksmtuned: ends exactly the loop of the pid file and its children (the
# `sleep 60`, or an adjust in flight): stopped first, so none are added meanwhile.
stop_ksmtuned() {
	local pid=$KSMTUNED_PID kids="" i
	[ -n "$pid" ] || return 0
	KSMTUNED_PID=
	kill -0 "$pid" 2>/dev/null || return 0
	kill -STOP "$pid" 2>/dev/null || true
	kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
	kill -TERM "$pid" 2>/dev/null || true
	# shellcheck disable=SC2086 # a list of PIDs
	[ -z "$kids" ] || kill -TERM $kids 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "warning: ksmtuned loop $pid still runs after SIGTERM; SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}
