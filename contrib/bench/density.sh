#!/usr/bin/env bash
# Benchmark: how many identical testbed guests fit in a fixed VMs' cgroup
# budget with each memory agent, and whether they are all still alive after
# a hold. Run `density.sh --help` for the options.
#
# Every contender gets the same protocol from a clean slate, one after the
# other: testbed down, KSM unmerged and off with its knobs as found;
# dtest-1 boots, the budget goes on the VMs' cgroup, dtest-1 takes 16 MiB of
# unique memory (`testbed.sh load`), the contender starts. Then one more
# guest every interval, each taking its 16 MiB once it answers, until one of:
# a guest does not start (ready) within 2 minutes, the kernel's OOM killer
# fires (/proc/vmstat oom_kill), the host thrashes (PSI memory full avg10
# above 20% for 30 s), densityd sheds a guest, or --max-guests run. A guest
# that failed to start, or whose start made the host thrash, is destroyed
# (what an operator would do); a shed guest stays shed. Then the hold: every
# running guest rewrites its 16 MiB, one after the other, for the hold's
# length; at its end the script counts the guests running and those that
# answer `testbed.sh ping`. Every second a sampler writes the guests
# running, the cgroup's usage, PSI and the OOM kills.
#
# Writes into the out dir: density.csv (every sample of every contender),
# runs.csv (one line per contender), density.png (guests running, usage and
# PSI over time, one line per contender), report.txt (the table) and the
# contenders' logs. KSM's knobs are put back as found, the budget removed
# and no guest left behind on exit (also on failure or Ctrl-C).
set -euo pipefail

PROG=density.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-${DENSITY_BUILD:-$SRC/build}}
# shellcheck source=contrib/bench/lib.sh
. "$SRC/contrib/bench/lib.sh"
URI=qemu:///system
ALL_CONTENDERS="none,defaults,speed-limit,ksmtuned-fixed,densityd"
UNIQUE_MIB=16        # each guest's unique (unmergeable) memory
BOOT_TIMEOUT=120     # s: a guest not ready by then "fails to start"
THRASH_PSI=20        # PSI memory full avg10 above this (%) ...
THRASH_S=30          # ... this many seconds in a row: the host thrashes
POLICY=${BENCH_POLICY:-$SRC/policies/dense.conf}

MAX_GUESTS=16
BUDGET=1536
HOLD=120
INTERVAL=20
OUT=
ONLY=$ALL_CONTENDERS

usage() {
	cat <<EOF
Usage: $PROG [--only LIST] [--max-guests N] [--budget MIB] [--hold SECONDS]
             [--interval SECONDS] [--out DIR]
       $PROG --replot DIR

How many identical testbed guests (256 MiB, $UNIQUE_MIB MiB of unique memory each)
fit in a VMs' cgroup budget with each contender (root only). Guests boot one
per interval until one does not start within $BOOT_TIMEOUT s, the kernel's OOM
killer fires, the host thrashes (PSI memory full avg10 above $THRASH_PSI% for
$THRASH_S s) or densityd sheds one; then every guest rewrites its unique memory
for the hold, and the script counts what still runs and answers.

  --only LIST         comma-separated contenders, run in this order (default
                      all: $ALL_CONTENDERS)
  --max-guests N      stop booting at N guests (default $MAX_GUESTS)
  --budget MIB        the VMs' cgroup limit (default $BUDGET)
  --hold SECONDS      the hold after the last guest (default $HOLD)
  --interval SECONDS  one more guest every this many seconds (default $INTERVAL)
  --out DIR           where the CSV, the PNG and the report go
                      (default /tmp/densityd-density.DATE)
  --replot DIR        only print the report and redraw the PNG of an earlier
                      run's out dir (no guests, no root)
  -h, --help          this text

Contenders (each from KSM unmerged and off, knobs as found):
  none            no agent: KSM off
  defaults        KSM at the kernel's defaults: pages_to_scan=100 sleep_millisecs=20
  speed-limit     KSM at 5000 pages / 10 ms, the most KSM alone does
  ksmtuned-fixed  Debian's ksmtuned (downloaded, not installed) with
                  committed_memory() matching libvirt's qemu
                  (pgrep -f '$FIXED_PATTERN')
  densityd        \$BUILD/densityd with policies/dense.conf (BUILD=$BUILD;
                  built first if missing)

Environment: BUILD (or DENSITY_BUILD) = the meson build dir; BENCH_CACHE=$CACHE
(ksmtuned's .deb); BENCH_POLICY = another policy for the densityd contender
(default policies/dense.conf).
EOF
}

vsh() { timeout 20 virsh -q -c "$URI" "$@"; }

# ---------------------------------------------------------------- results

# results: the table from RUNS_CSV, and densityd against the rest.
results() {
	echo "Density: identical testbed guests (256 MiB, $UNIQUE_MIB MiB unique each) in a $BUDGET MiB VMs' cgroup budget;"
	echo "one guest every $INTERVAL s up to $MAX_GUESTS, then a $HOLD s hold with every guest rewriting its unique memory; kernel $KERNEL"
	echo "stop = first of: start > $BOOT_TIMEOUT s, an OOM kill, PSI full avg10 > $THRASH_PSI% for $THRASH_S s, a shed, --max-guests"
	[ -f "$OUT/ksmtuned-fixed.pattern" ] && cat "$OUT/ksmtuned-fixed.pattern"
	echo
	awk -F, '
	NR == 1 { next }
	{
		n++; c[n] = $1; started[n] = $2; stop[n] = $3; hold[n] = $4; end[n] = $5; ping[n] = $6
		oom[n] = $7; thr[n] = $8; sheds[n] = $9; per[n] = $10; use[n] = $11
	}
	END {
		printf "%-15s %7s %-28s %6s %7s %8s %4s %8s %5s %9s %7s\n", "contender", "started", "stop", "hold@0", "running", "answering", "OOM", "thrash_s", "sheds", "MiB/guest", "use_MiB"
		for (i = 1; i <= n; i++)
			printf "%-15s %7d %-28s %6d %7d %8d %4d %8d %5d %9s %7s\n", c[i], started[i], stop[i], hold[i], end[i], ping[i], oom[i], thr[i], sheds[i], per[i], use[i]
		print "  (started = guests booted; hold@0 = guests running when the hold began; running, answering = at its end"
		print "   (answering `testbed.sh ping`); OOM = host oom_kill; thrash_s = seconds with PSI memory full avg10 above '"$THRASH_PSI"'%;"
		print "   MiB/guest = the VMs'\'' cgroup usage at the end / guests running)"
		d = 0; none = 0
		for (i = 1; i <= n; i++) { if (c[i] == "densityd") d = i; if (c[i] == "none") none = i }
		if (d) {
			print ""
			best = 0
			for (i = 1; i <= n; i++) if (i != d && (best == 0 || ping[i] > ping[best])) best = i
			if (none)
				printf "densityd vs none: %d vs %d guests answering (%.2fx)\n", ping[d], ping[none], ping[none] ? ping[d] / ping[none] : 0
			if (best)
				printf "densityd vs the best other (%s): %d vs %d guests answering\n", c[best], ping[d], ping[best]
			printf "densityd: %d OOM kills, %d thrash seconds, %d of %d running guests answering at the end\n", oom[d], thr[d], ping[d], end[d]
		}
	}' "$RUNS_CSV"
}

# plot: the PNG (guests running, the VMs' cgroup usage and PSI memory full
# over time, one line per contender).
plot() {
	local dir term c colors="" rc=0
	for c in "${RAN[@]}"; do
		case "$c" in
		none) colors+=" #888888" ;;
		defaults) colors+=" #7b3294" ;;
		speed-limit) colors+=" #d7191c" ;;
		ksmtuned-fixed) colors+=" #2c7bb6" ;;
		densityd) colors+=" #000000" ;;
		*) colors+=" #1b9e77" ;;
		esac
	done
	dir=$(mktemp -d /tmp/densityd-density-plot.XXXXXX)
	awk -F, -v dir="$dir" 'NR > 1 { printf "%d %d %.2f %s\n", $2, $5, $7 / 1048576, $9 > (dir "/" $1 ".dat") }' "$CSV"
	term=$(plot_term 1200 1200)
	rm -f "$PNG"
	gnuplot <<EOF || rc=$?
set terminal $term
set output '$PNG'
names = '${RAN[*]}'
colors = '${colors# }'
set multiplot layout 3,1 title 'Density: identical guests ($UNIQUE_MIB MiB unique each) in a $BUDGET MiB budget, one every $INTERVAL s, then a $HOLD s hold'
set grid
set key outside right top
set xlabel 'seconds since the contender started'
set title 'guests running'
set ylabel 'guests'
set yrange [0:*]
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:2 with steps lw 2 lc rgb word(colors, i) title word(names, i)
set title "VMs' cgroup usage (budget $BUDGET MiB)"
set ylabel 'MiB'
set arrow 1 from graph 0, first $BUDGET to graph 1, first $BUDGET nohead dt 3 lc rgb '#444444'
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:3 with lines lw 2 lc rgb word(colors, i) title word(names, i)
unset arrow 1
set title 'PSI memory full avg10 ($THRASH_PSI% marked)'
set yrange [0:100]
set ylabel '%'
set arrow 2 from graph 0, first $THRASH_PSI to graph 1, first $THRASH_PSI nohead dt 3 lc rgb '#444444'
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:4 with lines lw 2 lc rgb word(colors, i) title word(names, i)
unset multiplot
EOF
	rm -rf "$dir"
	if [ "$rc" -ne 0 ] || [ ! -s "$PNG" ]; then die "gnuplot failed to draw $PNG"; fi
}

show_results() {
	results | tee "$REPORT"
	plot
	echo
	echo "samples: $CSV"
	echo "runs: $RUNS_CSV"
	echo "plot: $PNG"
	echo "report: $REPORT"
}

set_paths() {
	CSV=$OUT/density.csv
	RUNS_CSV=$OUT/runs.csv
	PNG=$OUT/density.png
	REPORT=$OUT/report.txt
}

while [ $# -gt 0 ]; do
	case "$1" in
	--only | --max-guests | --budget | --hold | --interval | --out)
		[ $# -ge 2 ] || die "$1 needs a value (see --help)"
		case "$1" in
		--only) ONLY=$2 ;;
		--max-guests) MAX_GUESTS=$2 ;;
		--budget) BUDGET=$2 ;;
		--hold) HOLD=$2 ;;
		--interval) INTERVAL=$2 ;;
		--out) OUT=$2 ;;
		esac
		shift 2
		;;
	--only=* | --max-guests=* | --budget=* | --hold=* | --interval=* | --out=*)
		set -- "${1%%=*}" "${1#*=}" "${@:2}"
		;;
	--replot)
		[ $# -ge 2 ] || die "--replot needs the out dir of an earlier run"
		load_run "$2"
		set_paths
		show_results
		exit 0
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done
need_uint --max-guests "$MAX_GUESTS" "a number" 1
need_uint --budget "$BUDGET" "MiB" 256
need_uint --hold "$HOLD" "seconds" 10
need_uint --interval "$INTERVAL" "seconds" 1
MAX_GUESTS=$((10#$MAX_GUESTS))
BUDGET=$((10#$BUDGET))
HOLD=$((10#$HOLD))
INTERVAL=$((10#$INTERVAL))
IFS=, read -r -a RUN_LIST <<<"$ONLY"
[ ${#RUN_LIST[@]} -ge 1 ] || die "--only is empty"
for c in "${RUN_LIST[@]}"; do
	[[ ",$ALL_CONTENDERS," == *",$c,"* ]] || die "unknown contender '$c' (known: $ALL_CONTENDERS)"
done

[ "$(id -u)" -eq 0 ] || die "run as root"
[ -d "$KSM" ] || die "no $KSM: this kernel has no KSM"
[ -r /proc/pressure/memory ] || die "no /proc/pressure/memory: this kernel has no PSI"
"$SRC/contrib/deps.sh" bench testbed
if [[ ",$ONLY," == *",densityd,"* ]] && [ ! -x "$DENSITYD" ]; then
	[ "$BUILD" = "$SRC/build" ] || die "no $DENSITYD: build first (meson setup $BUILD && ninja -C $BUILD)"
	log "no $DENSITYD: building it (meson setup build && ninja -C build)"
	"$SRC/contrib/deps.sh" build
	[ -d "$BUILD" ] || meson setup "$BUILD" "$SRC" >&2
	ninja -C "$BUILD" >&2
	[ -x "$DENSITYD" ] || die "no $DENSITYD after the build"
fi

OUT=${OUT:-/tmp/densityd-density.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
set_paths
WORK=$(mktemp -d /tmp/densityd-density.XXXXXX)

# ---------------------------------------------------------------- densityd

DDIR=
start_densityd() {
	local d=$1
	DDIR=$d
	mkdir -p "$d/prom" "$d/state"
	# The shipped policy as it is, with its socket, textfile and state in d.
	sed -e "/^\[Daemon\]/a ControlSocket=$d/densityd.sock\nTextfileDirectory=$d/prom\nStateDirectory=$d/state" \
		-e '/^\(ControlSocket\|TextfileDirectory\|StateDirectory\)=/d' \
		"$POLICY" >"$d/policy.conf"
	if ! grep -q "^ControlSocket=$d/" "$d/policy.conf" || ! grep -q "^StateDirectory=$d/" "$d/policy.conf"; then
		die "could not point the policy copy $d/policy.conf at $d"
	fi
	"$DENSITYD" --check-config="$d/policy.conf" >/dev/null || die "densityd refuses $d/policy.conf"
	start_daemon "$d" || die "densityd did not start (log: $d/daemon.log)"
}

# densityd_sheds: the saves and destroys densityd's shed controller started.
densityd_sheds() {
	if [ -z "$DDIR" ] || [ ! -S "$DDIR/densityd.sock" ]; then
		echo 0
		return
	fi
	ctl "$DDIR" log --controller shed -n 1000 --json 2>/dev/null |
		jq '[.entries[] | select((.action == "save" or .action == "destroy") and .result != "skipped" and .result != "would")] | length' 2>/dev/null ||
		echo 0
}

# ---------------------------------------------------------------- contenders

start_contender() { # NAME DIR
	case "$1" in
	none) ;;
	defaults) ksm_fixed 100 20 ;;
	speed-limit) ksm_fixed 5000 10 ;;
	ksmtuned-fixed)
		make_ksmtuned_fixed 1 >"$OUT/ksmtuned-fixed.pattern"
		start_ksmtuned "$WORK/ksmtuned-fixed" ksmtuned-fixed
		;;
	densityd) start_densityd "$2/densityd" ;;
	esac
}

stop_contender() {
	stop_ksmtuned
	if [ -n "$DAEMON_PID" ]; then
		stop_daemon || true
		[ -f "$DDIR/daemon.log" ] && cp "$DDIR/daemon.log" "$OUT/densityd.log"
	fi
	DDIR=
}

# ---------------------------------------------------------------- guests

# running_guests: the names of the running testbed guests.
running_guests() { { vsh list --name --state-running 2>/dev/null || true; } | grep '^dtest-' | sort -V || true; }
saved_guests() { { vsh list --all --name --with-managed-save 2>/dev/null || true; } | grep -c '^dtest-' || true; }
guest_state() { vsh domstate "$1" 2>/dev/null || echo gone; }
answers() { [ "$(TESTBED_CTL_TIMEOUT=5 "$TB" ping "$1" 2>/dev/null)" = pong ]; }

# clean_slate: no guests, no budget, KSM unmerged and off with its knobs as found.
clean_slate() {
	"$TB" down >/dev/null 2>&1 || log "warning: testbed.sh down failed"
	"$TB" budget off >/dev/null 2>&1 || true
	unmerge || die "KSM still shares $(merged_pages) pages after ${UNMERGE_TIMEOUT} s of run=2"
	set_knob run 0
	tuning_as_found
}

# sampler CONTENDER: one CSV line a second from T0 (run in the background;
# reads the phase and the guests started from files the run writes):
# contender,t_s,phase,started,running,saved,usage_bytes,limit_bytes,
# psi_full_avg10,oom_kills,thrash_run_s
sampler() {
	local t=0 psi run_s=0 phase started
	while :; do
		sleep_until $((T0 + t * 1000000))
		psi=$(psi_full10)
		if awk -v p="$psi" -v l="$THRASH_PSI" 'BEGIN { exit !(p > l) }'; then run_s=$((run_s + 1)); else run_s=0; fi
		read -r phase <"$WORK/phase" || phase='?'
		read -r started <"$WORK/started" || started=0
		printf '%s,%d,%s,%d,%d,%d,%s,%s,%s,%d,%d\n' "$1" "$t" "$phase" "$started" "$(running_guests | wc -l)" \
			"$(saved_guests)" "$(usage_bytes)" "$(limit_bytes)" "$psi" $(($(oom_kills) - OOM0)) "$run_s" >>"$CSV"
		t=$((t + 1))
	done
}

# last_sample FIELD: a field of the contender's latest sample (see sampler).
last_sample() {
	local line
	line=$(grep "^$CUR," "$CSV" | tail -n 1)
	[ -n "$line" ] || {
		echo 0
		return
	}
	cut -d, -f"$1" <<<"$line"
}

# stop_reason: why booting must stop now (empty: it need not).
stop_reason() {
	local oom thr saved
	oom=$(last_sample 10)
	thr=$(last_sample 11)
	saved=$(last_sample 6)
	if [ "$oom" -gt 0 ]; then
		echo "OOM kill"
	elif [ "$thr" -ge "$THRASH_S" ]; then
		echo "thrash"
	elif [ "$saved" -gt 0 ] || [ "$(densityd_sheds)" -gt 0 ]; then
		echo "shed"
	fi
}

# hold_loader: every running guest rewrites its unique memory, one after the
# other, until killed; one line per load in OUT/CONTENDER.hold.txt.
hold_loader() {
	local name rc msg
	while :; do
		for name in $(running_guests); do
			rc=0
			msg=$(TESTBED_CTL_TIMEOUT=30 "$TB" load "$name" "$UNIQUE_MIB" 2>&1) || rc=$?
			printf '%s %s %d %s\n' "$(elapsed "$T0")" "$name" "$rc" "$(tail -n 1 <<<"$msg")" >>"$OUT/$CUR.hold.txt"
		done
		sleep 1
	done
}

SAMPLER_PID=
LOADER_PID=
BOOT_PID=
stop_bg() {
	local p
	for p in "$BOOT_PID" "$LOADER_PID" "$SAMPLER_PID"; do
		[ -n "$p" ] || continue
		kill_tree "$p"
		reap "$p"
	done
	BOOT_PID=''
	LOADER_PID=''
	SAMPLER_PID=''
}

# ---------------------------------------------------------------- cleanup

cleanup() {
	local rc=$?
	set +e
	trap '' INT TERM
	log "cleaning up (testbed down, budget off, KSM knobs back as found)"
	stop_bg
	stop_contender
	"$TB" down >/dev/null 2>&1 || log "warning: testbed.sh down failed"
	"$TB" budget off >/dev/null 2>&1 || true
	restore_knobs
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- run

record_knobs
log "KSM knobs found: $(found_knobs)"
[[ ",$ONLY," == *",ksmtuned-fixed,"* ]] && fetch_ksmtuned
"$TB" libvirtd

START_S=$(date +%s)
echo "contender,t_s,phase,started,running,saved,usage_bytes,limit_bytes,psi_full_avg10,oom_kills,thrash_run_s" >"$CSV"
echo "contender,started,stop,hold_running,end_running,end_answering,oom_kills,thrash_s,sheds,mib_per_guest,usage_mib" >"$RUNS_CSV"
RAN=()
for c in "${RUN_LIST[@]}"; do
	CUR=$c
	RUN_DIR=$WORK/runs/$c
	mkdir -p "$RUN_DIR"
	: >"$OUT/$c.hold.txt"
	: >"$OUT/$c.testbed.log"
	log "$c: clean slate (testbed down, no budget, KSM unmerged and off)"
	clean_slate
	echo boot >"$WORK/phase"
	echo 1 >"$WORK/started"
	TESTBED_BOOT_TIMEOUT=$BOOT_TIMEOUT "$TB" up 1 2>>"$OUT/$c.testbed.log" || die "$c: testbed.sh up 1 failed (see $OUT/$c.testbed.log)"
	CG=$(cgroup_dir) || die "no VMs' cgroup (memory/machine or machine.slice)"
	"$TB" budget "$BUDGET" 2>>"$OUT/$c.testbed.log" || die "$c: budget $BUDGET MiB failed"
	"$TB" load dtest-1 "$UNIQUE_MIB" 2>>"$OUT/$c.testbed.log" || die "$c: load dtest-1 $UNIQUE_MIB failed"
	OOM0=$(oom_kills)
	start_contender "$c" "$RUN_DIR"
	RAN+=("$c")
	T0=$(now)
	sampler "$c" &
	SAMPLER_PID=$!
	log "$c: started; one guest every $INTERVAL s up to $MAX_GUESTS"

	# Boot: guest k starts at T0 + (k - 1) x INTERVAL, or once k - 1 is up.
	stop=
	started=1
	for ((k = 2; k <= MAX_GUESTS; k++)); do
		while [ "$(now)" -lt $((T0 + (k - 1) * INTERVAL * 1000000)) ]; do
			stop=$(stop_reason)
			[ -z "$stop" ] || break
			sleep 0.5
		done
		[ -z "$stop" ] || break
		# testbed.sh up K starts every guest 1..K that does not run: one
		# that stopped (OOM-killed, shed) must not come back that way.
		for name in $(seq -f 'dtest-%g' 1 $((k - 1))); do
			state=$(guest_state "$name")
			[ "$state" = running ] || {
				stop="$name $state"
				break
			}
		done
		[ -z "$stop" ] || break
		started=$k
		echo "$k" >"$WORK/started"
		log "$c: t=$(elapsed "$T0") s dtest-$k starts (cgroup $(usage_mib) MiB)"
		TESTBED_BOOT_TIMEOUT=$BOOT_TIMEOUT "$TB" up "$k" 2>>"$OUT/$c.testbed.log" &
		BOOT_PID=$!
		while kill -0 "$BOOT_PID" 2>/dev/null; do
			stop=$(stop_reason)
			[ -z "$stop" ] || break
			sleep 0.5
		done
		if [ -n "$stop" ]; then
			kill_tree "$BOOT_PID"
			reap "$BOOT_PID"
			BOOT_PID=
			break
		fi
		rc=0
		wait "$BOOT_PID" || rc=$?
		BOOT_PID=
		if [ "$rc" -ne 0 ]; then
			stop=$(stop_reason)
			stop=${stop:-"dtest-$k did not start"}
			break
		fi
		if ! "$TB" load "dtest-$k" "$UNIQUE_MIB" 2>>"$OUT/$c.testbed.log"; then
			stop=$(stop_reason)
			stop=${stop:-"dtest-$k load failed"}
			break
		fi
	done
	stop=${stop:-"max-guests"}
	log "$c: t=$(elapsed "$T0") s stop after $started guests: $stop"
	# Back out the guest whose start failed or made the host thrash.
	last=dtest-$started
	if [ "$started" -gt 1 ]; then
		case "$stop" in
		thrash | "dtest-$started did not start" | "dtest-$started load failed")
			log "$c: destroying $last ($(guest_state "$last"))"
			vsh destroy "$last" >/dev/null 2>&1 || true
			;;
		"OOM kill")
			if [ "$(guest_state "$last")" != running ] || ! answers "$last"; then
				log "$c: destroying $last ($(guest_state "$last"))"
				vsh destroy "$last" >/dev/null 2>&1 || true
			fi
			;;
		esac
	fi
	hold_running=$(running_guests | wc -l)
	echo hold >"$WORK/phase"
	log "$c: hold for $HOLD s with $hold_running guests running"
	hold_end=$(($(now) + HOLD * 1000000))
	hold_loader &
	LOADER_PID=$!
	sleep_until "$hold_end"
	kill_tree "$LOADER_PID"
	reap "$LOADER_PID"
	LOADER_PID=

	end_running=0
	end_answering=0
	for name in $(running_guests); do
		end_running=$((end_running + 1))
		answers "$name" && end_answering=$((end_answering + 1))
	done
	usage=$(usage_mib)
	kill_tree "$SAMPLER_PID"
	reap "$SAMPLER_PID"
	SAMPLER_PID=
	thrash_s=$(awk -F, -v c="$c" -v l="$THRASH_PSI" '$1 == c && $9 > l' "$CSV" | wc -l)
	oom=$(($(oom_kills) - OOM0))
	sheds=0
	if [ "$c" = densityd ]; then
		sheds=$(densityd_sheds)
		ctl "$DDIR" log -n 1000 >"$OUT/densityd.journal.txt" 2>/dev/null || true
		ctl "$DDIR" status --json >"$OUT/densityd.status.json" 2>/dev/null || true
	fi
	per=-
	[ "$end_running" -gt 0 ] && per=$((usage / end_running))
	echo "$c,$started,$stop,$hold_running,$end_running,$end_answering,$oom,$thrash_s,$sheds,$per,$usage" >>"$RUNS_CSV"
	log "$c: done: $end_answering of $end_running guests answer; $oom OOM kills, $thrash_s s thrashing, $sheds sheds, $usage MiB"
	stop_contender
	CUR=
done
[ ${#RAN[@]} -gt 0 ] || die "no contender ran"
DURATION_S=$(($(date +%s) - START_S))
{
	printf '%s=%q\n' MAX_GUESTS "$MAX_GUESTS" BUDGET "$BUDGET" HOLD "$HOLD" INTERVAL "$INTERVAL" \
		UNIQUE_MIB "$UNIQUE_MIB" BOOT_TIMEOUT "$BOOT_TIMEOUT" THRASH_PSI "$THRASH_PSI" THRASH_S "$THRASH_S" \
		KERNEL "$(uname -r)" DURATION_S "$DURATION_S"
	printf 'RAN=(%s)\n' "${RAN[*]}"
} >"$OUT/run.env"
# shellcheck source=/dev/null
. "$OUT/run.env"
show_results
