#!/usr/bin/env bash
# Benchmark: how fast, and at what ksmd CPU cost, KSM tuners merge N identical
# testbed guests. Run `ksm-converge.sh --help` for the options.
#
# Every contender gets the same protocol, one after the other: KSM unmerged
# (run=2 until nothing is shared), run=0 and the tuning knobs as found, then
# the contender starts and every second for the window the script samples the
# saved bytes ((pages_sharing + ksm_zero_pages) x page size), ksmd's CPU time
# since the start (/proc/PID/schedstat) and the knobs. A memory filler
# (tests/memhog) keeps the host short of memory, the same for every contender,
# so that ksmtuned (which only runs KSM below 20% "free") has a reason to act.
#
# Writes into the out dir: ksm-converge.csv (the samples), ksm-extra.csv (more
# KSM counters per sample), ksm-converge.png (saved MiB and ksmd CPU over
# time), report.txt (the table printed at the end) and the contenders' logs.
# Every KSM knob is put back as found on exit (also on failure or Ctrl-C),
# and the testbed is taken down unless BENCH_KEEP_TESTBED=1.
set -euo pipefail

PROG=ksm-converge.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-${DENSITY_BUILD:-$SRC/build}}
# shellcheck source=contrib/bench/lib.sh
. "$SRC/contrib/bench/lib.sh"
MEMHOG=$BUILD/tests/memhog
ALL_CONTENDERS="defaults,ksmtuned,ksmtuned-fixed,advisor,speed-limit,densityd"
PLATEAU_S=30

GUESTS=8
WINDOW=300
OUT=
CONTENDERS=$ALL_CONTENDERS
LEAVE=2048

usage() {
	cat <<EOF
Usage: $PROG [--guests N] [--window SECONDS] [--out DIR] [--contenders LIST] [--leave MIB]
       $PROG --replot DIR

Compares KSM tuners on N identical testbed guests (root only). Each contender
starts from an unmerged KSM and runs for the window while the script samples
the memory KSM saves and the CPU ksmd spends, every second.

  --guests N          testbed guests (default 8)
  --window SECONDS    how long each contender runs (default 300; the plateau is
                      the mean over the last $PLATEAU_S s)
  --out DIR           where the CSV, the PNG and the report go
                      (default /tmp/densityd-ksm-converge.DATE)
  --contenders LIST   comma-separated, run in this order (default all:
                      $ALL_CONTENDERS)
  --leave MIB         the memory filler holds memory until MemAvailable is down
                      to about MIB (default 2048)
  --replot DIR        only print the report and redraw the PNG of an earlier
                      run's out dir (no guests, no root)
  -h, --help          this text

Contenders:
  defaults        kernel defaults: pages_to_scan=100 sleep_millisecs=20 run=1
  ksmtuned        Debian's ksmtuned as packaged (downloaded, not installed)
  ksmtuned-fixed  the same with committed_memory() matching libvirt's qemu
                  (pgrep -f '$FIXED_PATTERN')
  advisor         advisor_mode=scan-time (other advisor knobs as found), run=1
  speed-limit     pages_to_scan=5000 sleep_millisecs=10 run=1
  densityd        \$BUILD/densityd with policies/default.conf (BUILD=$BUILD)

Environment: BUILD (or DENSITY_BUILD) = the meson build dir; BENCH_KEEP_TESTBED=1
keeps the guests afterwards; BENCH_CACHE=$CACHE (ksmtuned's .deb).
EOF
}

# ---------------------------------------------------------------- results

# results: the report (table, verdicts vs densityd, details) from CSV and EXTRA.
# Uses the variables of OUT/run.env.
results() {
	echo "KSM convergence: $GUESTS identical testbed guests, ${WINDOW} s per contender, page $PAGE B, kernel $KERNEL"
	echo "memory filler: $HOG_MIB MiB held; MemAvailable $MEMAVAIL_BEFORE MiB before, $MEMAVAIL_AFTER MiB after (target $LEAVE MiB)"
	[ -f "$OUT/ksmtuned-fixed.pattern" ] && cat "$OUT/ksmtuned-fixed.pattern"
	[ "$ADVISOR" = yes ] || echo "advisor: not present on this kernel"
	awk -F, -v W="$WINDOW" -v P="$PLATEAU_S" -v order="${RAN[*]}" '
	NR == 1 { next }
	{
		c = $1; t = $2 + 0
		saved[c, t] = $3 / 1048576; cpu[c, t] = $4; last[c] = t
		if (t > W - P) { sum[c] += $3 / 1048576; cnt[c]++ }
	}
	END {
		n = split(order, names, " ")
		for (i = 1; i <= n; i++) { c = names[i]; plat[c] = cnt[c] ? sum[c] / cnt[c] : 0 }
		ref = -1; refname = "speed-limit"
		if (("speed-limit", 0) in saved) ref = plat["speed-limit"]
		else for (i = 1; i <= n; i++) if (plat[names[i]] > ref) { ref = plat[names[i]]; refname = names[i] }
		for (i = 1; i <= n; i++) {
			c = names[i]; t90[c] = -1
			if (ref > 0) for (t = 0; t <= last[c]; t++) if (saved[c, t] >= 0.9 * ref) { t90[c] = t; break }
			cpus[c] = cpu[c, last[c]]
		}
		printf "T90 = first second with saved >= 90%% of %s'"'"'s plateau (%.1f MiB); plateau = mean of the last %d s\n\n", refname, ref, (P < W ? P : W)
		printf "%-15s %12s %8s %10s %10s %10s\n", "contender", "plateau_MiB", "T90_s", "ksmd_cpu_s", "T90/" substr(refname, 1, 5), "cpu/defau"
		for (i = 1; i <= n; i++) {
			c = names[i]
			tr = (t90[c] >= 0 && t90[refname] > 0) ? sprintf("%.2f", t90[c] / t90[refname]) : "-"
			cr = (("defaults", 0) in saved && cpus["defaults"] > 0) ? sprintf("%.2f", cpus[c] / cpus["defaults"]) : "-"
			# Still rising at the end: the mean of the last seconds is no plateau.
			end = saved[c, last[c]]; rising = (end > 1.05 * plat[c] && end - plat[c] > 1)
			if (rising) nrising++
			printf "%-15s %12s %8s %10.2f %10s %10s\n", c, sprintf("%.1f%s", plat[c], rising ? "*" : ""),
				(t90[c] >= 0 ? t90[c] : "never"), cpus[c], tr, cr
		}
		if (nrising)
			printf "* still rising at the end of the window (its last sample is over 5%% above that mean):\n  not a plateau yet; a longer --window tells where it ends\n"
		if (("densityd", 0) in saved) {
			print ""
			d = "densityd"
			for (i = 1; i <= n; i++) {
				c = names[i]
				if (c == d) continue
				printf "%s vs densityd: plateau %.1f vs %.1f MiB, T90 %s vs %s s, ksmd CPU %.2f vs %.2f s\n", c, plat[c], plat[d],
					(t90[c] >= 0 ? t90[c] : "never"), (t90[d] >= 0 ? t90[d] : "never"), cpus[c], cpus[d]
			}
		}
	}' "$CSV"
	echo
	# Details for tuning: ksmd CPU while merging and in the steady state, full scans,
	# scan rate, and every change of the knobs a contender made.
	echo "details (merging = from the start to T90, or the first 30 s if never; steady = last $PLATEAU_S s):"
	awk -F, -v W="$WINDOW" -v P="$PLATEAU_S" -v order="${RAN[*]}" -v csv="$CSV" '
	BEGIN {
		while ((getline line < csv) > 0) {
			split(line, f, ",")
			if (f[1] == "contender") continue
			c = f[1]; t = f[2] + 0
			saved[c, t] = f[3] / 1048576; cpu[c, t] = f[4]; knobs[c, t] = "run=" f[5] " pages_to_scan=" f[6] " sleep_ms=" f[7]
			last[c] = t
			if (t > W - P) { sum[c] += saved[c, t]; cnt[c]++ }
		}
	}
	NR == 1 { next }
	{ c = $1; t = $2 + 0; fs[c, t] = $6; ps[c, t] = $7 }
	END {
		n = split(order, names, " ")
		ref = -1
		if (("speed-limit", 0) in saved) ref = sum["speed-limit"] / cnt["speed-limit"]
		else for (i = 1; i <= n; i++) if (cnt[names[i]] && sum[names[i]] / cnt[names[i]] > ref) ref = sum[names[i]] / cnt[names[i]]
		for (i = 1; i <= n; i++) {
			c = names[i]; L = last[c]; t90 = -1
			if (ref > 0) for (t = 0; t <= L; t++) if (saved[c, t] >= 0.9 * ref) { t90 = t; break }
			m = t90 > 0 ? t90 : (L < 30 ? L : 30)
			s0 = L - P < 0 ? 0 : L - P
			printf "%s:\n", c
			printf "  ksmd CPU merging (0..%d s) %.1f%% of a core; steady (%d..%d s) %.1f%%\n", m, (m ? 100 * cpu[c, m] / m : 0),
				s0, L, (L > s0 ? 100 * (cpu[c, L] - cpu[c, s0]) / (L - s0) : 0)
			printf "  full_scans: %s at T90, %d in the window\n", (t90 >= 0 ? fs[c, t90] - fs[c, 0] : "-"), fs[c, L] - fs[c, 0]
			if (ps[c, 0] != "")
				printf "  pages_scanned/s: merging %.0f, steady %.0f\n", (m ? (ps[c, m] - ps[c, 0]) / m : 0),
					(L > s0 ? (ps[c, L] - ps[c, s0]) / (L - s0) : 0)
			prev = ""; nchg = 0; out = ""
			for (t = 0; t <= L; t++) {
				if (knobs[c, t] != prev) {
					nchg++
					if (nchg <= 12) out = out sprintf("    t=%d %s\n", t, knobs[c, t])
					prev = knobs[c, t]
				}
			}
			printf "  knobs over time (%d settings):\n%s", nchg, out
			if (nchg > 12) printf "    ... %d more\n", nchg - 12
		}
	}' "$EXTRA"
}

# plot: the PNG (saved MiB and ksmd CPU % of a core over time, per contender).
plot() {
	local dir term c colors="" rc=0
	# One colour per contender, the same in every run.
	for c in "${RAN[@]}"; do
		case "$c" in
		defaults) colors+=" #7b3294" ;;
		ksmtuned) colors+=" #1b9e77" ;;
		ksmtuned-fixed) colors+=" #2c7bb6" ;;
		advisor) colors+=" #e66101" ;;
		speed-limit) colors+=" #d7191c" ;;
		densityd) colors+=" #000000" ;;
		*) colors+=" #888888" ;;
		esac
	done
	dir=$(mktemp -d /tmp/densityd-ksm-plot.XXXXXX)
	awk -F, -v dir="$dir" 'NR > 1 {
	f = dir "/" $1 ".dat"
	pct = ($1 == pc && $2 > pt) ? 100 * ($4 - pcpu) / ($2 - pt) : 0
	printf "%d %.2f %.2f\n", $2, $3 / 1048576, pct > f
	pc = $1; pt = $2; pcpu = $4
}' "$CSV"
	term=$(plot_term 1200 900)
	rm -f "$PNG"
	gnuplot <<EOF || rc=$?
set terminal $term
set output '$PNG'
names = '${RAN[*]}'
colors = '${colors# }'
set multiplot layout 2,1 title 'KSM convergence: $GUESTS identical guests, ${WINDOW} s per contender (filler $HOG_MIB MiB)'
set grid
set key outside right top
set xrange [0:$WINDOW]
set title 'memory saved by KSM (pages_sharing + ksm_zero_pages)'
set xlabel 'seconds since the contender started'
set ylabel 'saved MiB'
set yrange [0:*]
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:2 with lines lw 2 lc rgb word(colors, i) title word(names, i)
set title 'ksmd CPU (per-second delta of /proc/PID/schedstat)'
set ylabel '% of one core'
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:3 with lines lw 1.5 lc rgb word(colors, i) title word(names, i)
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
	echo "more counters: $EXTRA"
	echo "plot: $PNG"
	echo "report: $REPORT"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--guests | --window | --out | --contenders | --leave)
		[ $# -ge 2 ] || die "$1 needs a value (see --help)"
		case "$1" in
		--guests) GUESTS=$2 ;;
		--window) WINDOW=$2 ;;
		--out) OUT=$2 ;;
		--contenders) CONTENDERS=$2 ;;
		--leave) LEAVE=$2 ;;
		esac
		shift 2
		;;
	--guests=* | --window=* | --out=* | --contenders=* | --leave=*)
		set -- "${1%%=*}" "${1#*=}" "${@:2}"
		;;
	--replot)
		[ $# -ge 2 ] || die "--replot needs the out dir of an earlier run"
		load_run "$2"
		CSV=$OUT/ksm-converge.csv EXTRA=$OUT/ksm-extra.csv PNG=$OUT/ksm-converge.png REPORT=$OUT/report.txt
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
need_uint --guests "$GUESTS" "a number" 1
need_uint --window "$WINDOW" "seconds" 5
need_uint --leave "$LEAVE" MiB
GUESTS=$((10#$GUESTS))
WINDOW=$((10#$WINDOW))
LEAVE=$((10#$LEAVE))
IFS=, read -r -a RUN_LIST <<<"$CONTENDERS"
[ ${#RUN_LIST[@]} -ge 1 ] || die "--contenders is empty"
for c in "${RUN_LIST[@]}"; do
	[[ ",$ALL_CONTENDERS," == *",$c,"* ]] || die "unknown contender '$c' (known: $ALL_CONTENDERS)"
done

[ "$(id -u)" -eq 0 ] || die "run as root"
[ -d "$KSM" ] || die "no $KSM: this kernel has no KSM"
[[ ",$CONTENDERS," != *",densityd,"* ]] || [ -x "$DENSITYD" ] ||
	die "no $DENSITYD: build first (meson setup build && ninja -C build)"
[ -x "$MEMHOG" ] || die "no $MEMHOG: build first (meson setup build && ninja -C build)"
"$SRC/contrib/deps.sh" bench testbed

OUT=${OUT:-/tmp/densityd-ksm-converge.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CSV=$OUT/ksm-converge.csv
EXTRA=$OUT/ksm-extra.csv
PNG=$OUT/ksm-converge.png
REPORT=$OUT/report.txt
WORK=$(mktemp -d /tmp/densityd-ksm-converge.XXXXXX)
PAGE=$(getconf PAGESIZE)
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- KSM knobs

# ---------------------------------------------------------------- ksmd

KSMD=
find_ksmd() {
	local d
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = ksmd ] && [ ! -s "$d/cmdline" ] && {
			KSMD=${d#/proc/}
			return 0
		}
	done
	die "no ksmd kernel thread found"
}
# ksmd_ns: nanoseconds ksmd has been on a CPU (schedstat, else utime+stime).
ksmd_ns() {
	local a stat
	if [ -r "/proc/$KSMD/schedstat" ] && read -r a _ <"/proc/$KSMD/schedstat" && [ -n "$a" ]; then
		echo "$a"
		return
	fi
	read -r stat <"/proc/$KSMD/stat"
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split on purpose: the fields after "(comm) "
	set -- $stat
	echo $(((${12} + ${13}) * 1000000000 / CLK_TCK))
}

# ---------------------------------------------------------------- contenders

HOG_PID=

start_densityd() {
	local d=$WORK/densityd
	mkdir -p "$d/prom" "$d/state"
	sed -e "s|^ControlSocket=.*|ControlSocket=$d/densityd.sock|" \
		-e "s|^TextfileDirectory=.*|TextfileDirectory=$d/prom|" \
		-e "s|^StateDirectory=.*|StateDirectory=$d/state|" \
		-e '/^\[Balloon\]/,/^\[Class/ s/^Enable=yes/Enable=no/' \
		"$SRC/policies/default.conf" >"$d/policy.conf"
	# KSM alone is measured here, as the peers do it: no balloons.
	if ! grep -q "^ControlSocket=$d/" "$d/policy.conf" || ! grep -q "^StateDirectory=$d/" "$d/policy.conf" ||
		[ "$(grep -c '^Enable=no' "$d/policy.conf")" -ne 1 ]; then
		die "could not point the policy copy at $d"
	fi
	start_daemon "$d" || die "densityd did not start (log: $d/daemon.log)"
}

stop_densityd() {
	local d=$WORK/densityd
	[ -n "$DAEMON_PID" ] || return 0
	stop_daemon || true
	[ -f "$d/daemon.log" ] && cp "$d/daemon.log" "$OUT/densityd.log"
	return 0
}

# start_contender NAME: returns 1 if it does not apply here (skipped).
start_contender() {
	case "$1" in
	defaults) ksm_fixed 100 20 ;;
	speed-limit) ksm_fixed 5000 10 ;;
	advisor)
		set_knob advisor_mode scan-time
		set_knob run 1
		;;
	ksmtuned) start_ksmtuned "$KSMTUNED_PKG_SCRIPT" ksmtuned ;;
	ksmtuned-fixed) start_ksmtuned "$WORK/ksmtuned-fixed" ksmtuned-fixed ;;
	densityd) start_densityd ;;
	esac
}

stop_contender() {
	case "$1" in
	ksmtuned | ksmtuned-fixed) stop_ksmtuned ;;
	densityd) stop_densityd ;;
	esac
}

# ---------------------------------------------------------------- memory filler

start_filler() {
	local i line
	MEMAVAIL_BEFORE=$(($(mem_available_kib) / 1024))
	"$MEMHOG" --leave-available "$LEAVE" >"$OUT/memhog.out" 2>&1 &
	HOG_PID=$!
	for ((i = 0; i < 600; i++)); do
		line=$(head -n 1 "$OUT/memhog.out")
		[[ $line == "memhog: holding "* ]] && break
		kill -0 "$HOG_PID" 2>/dev/null || {
			wait "$HOG_PID" 2>/dev/null || true
			HOG_PID=
			die "memory filler failed: $(cat "$OUT/memhog.out")"
		}
		sleep 0.2
	done
	[[ $line == "memhog: holding "* ]] || die "memory filler not done after 120 s"
	HOG_MIB=$(awk '{print $3}' <<<"$line")
	sleep 2 # let reclaim settle before reading MemAvailable
	MEMAVAIL_AFTER=$(($(mem_available_kib) / 1024))
	log "filler holds $HOG_MIB MiB; MemAvailable $MEMAVAIL_BEFORE -> $MEMAVAIL_AFTER MiB"
}

stop_filler() {
	[ -n "$HOG_PID" ] || return 0
	kill -TERM "$HOG_PID" 2>/dev/null || true
	wait "$HOG_PID" 2>/dev/null || true
	HOG_PID=
}

# ---------------------------------------------------------------- cleanup

CURRENT=
cleanup() {
	local rc=$?
	set +e
	# A second Ctrl-C must not cut the clean-up short (knobs left as a contender set them).
	trap '' INT TERM
	log "cleaning up (KSM knobs back as found$([ "${BENCH_KEEP_TESTBED:-0}" = 1 ] || echo ", testbed down"))"
	[ -n "$CURRENT" ] && stop_contender "$CURRENT"
	stop_ksmtuned
	stop_densityd
	stop_filler
	restore_knobs
	[ "${BENCH_KEEP_TESTBED:-0}" = 1 ] || "$TB" down >/dev/null 2>&1 || log "warning: testbed.sh down failed"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- run

record_knobs
log "KSM knobs found: $(found_knobs)"
find_ksmd
[[ ",$CONTENDERS," == *",ksmtuned"* ]] && fetch_ksmtuned

# Guests dtest-(N+1).. of an earlier run would merge along: start from none.
for name in $("$TB" list | cut -f1); do
	if is_uint "${name#dtest-}" && [ "${name#dtest-}" -gt "$GUESTS" ]; then
		log "removing the testbed's extra guests (more than $GUESTS)"
		"$TB" down >/dev/null
		break
	fi
done
"$TB" up "$GUESTS"
for ((k = 1; k <= GUESTS; k++)); do
	[ "$("$TB" ping "dtest-$k")" = pong ] || die "dtest-$k does not answer"
done
running=$("$TB" list | awk -F'\t' '$2 == "running"' | wc -l)
[ "$running" -eq "$GUESTS" ] || die "$running testbed guests run, not $GUESTS"
[[ ",$CONTENDERS," == *",ksmtuned-fixed,"* ]] && make_ksmtuned_fixed "$GUESTS" | tee "$OUT/ksmtuned-fixed.pattern"

# The filler is sized while nothing is merged, so an unmerge never makes the host shorter.
unmerge || die "KSM still shares $(merged_pages) pages after ${UNMERGE_TIMEOUT} s of run=2"
set_knob run 0
start_filler

echo "contender,t_s,saved_bytes,ksmd_cpu_s,run,pages_to_scan,sleep_ms" >"$CSV"
echo "contender,t_s,pages_sharing,pages_shared,ksm_zero_pages,full_scans,pages_scanned,advisor_mode,mem_available_kib" >"$EXTRA"
RAN=()
for c in "${RUN_LIST[@]}"; do
	if [ "$c" = advisor ] && ! has advisor_mode; then
		echo "advisor: not present on this kernel"
		continue
	fi
	log "$c: unmerging"
	unmerge || die "$c: KSM still shares $(merged_pages) pages (pages_sharing $(counter pages_sharing), pages_shared $(counter pages_shared), ksm_zero_pages $(counter ksm_zero_pages)) after ${UNMERGE_TIMEOUT} s of run=2"
	set_knob run 0
	tuning_as_found
	log "$c: running for $WINDOW s"
	ns0=$(ksmd_ns)
	t0=$(now)
	CURRENT=$c
	start_contender "$c"
	RAN+=("$c")
	for ((t = 0; t <= WINDOW; t++)); do
		# Sample at t0 + t seconds (absolute, so the loop does not drift).
		sleep_until $((t0 + t * 1000000))
		ns=$(ksmd_ns)
		sharing=$(counter pages_sharing)
		zero=$(counter ksm_zero_pages)
		printf '%s,%d,%d,%s,%s,%s,%s\n' "$c" "$t" $(((sharing + zero) * PAGE)) \
			"$(awk -v n=$((ns - ns0)) 'BEGIN {printf "%.3f", n / 1e9}')" \
			"$(knob run)" "$(knob pages_to_scan)" "$(knob sleep_millisecs)" >>"$CSV"
		printf '%s,%d,%s,%s,%s,%s,%s,%s,%s\n' "$c" "$t" "$sharing" "$(counter pages_shared)" "$zero" \
			"$(counter full_scans)" "$(counter pages_scanned)" \
			"$(has advisor_mode && knob advisor_mode || echo -)" "$(mem_available_kib)" >>"$EXTRA"
		if [ $((t % 30)) -eq 0 ] && [ "$t" -gt 0 ]; then
			log "$c: t=$t s saved $((sharing * PAGE / 1048576)) MiB"
		fi
	done
	stop_contender "$c"
	CURRENT=
done
[ ${#RAN[@]} -gt 0 ] || die "no contender ran"
{
	printf '%s=%q\n' GUESTS "$GUESTS" WINDOW "$WINDOW" PAGE "$PAGE" LEAVE "$LEAVE" HOG_MIB "$HOG_MIB" \
		MEMAVAIL_BEFORE "$MEMAVAIL_BEFORE" MEMAVAIL_AFTER "$MEMAVAIL_AFTER" KERNEL "$(uname -r)" \
		ADVISOR "$(has advisor_mode && echo yes || echo no)"
	printf 'RAN=(%s)\n' "${RAN[*]}"
} >"$OUT/run.env"
# shellcheck source=/dev/null
. "$OUT/run.env"
show_results
