#!/usr/bin/env bash
# Benchmark: how much memory balloon controllers take back from idle guests
# whose use exceeds the VMs' cgroup budget, how fast, and whether the guests
# come through it. Run `balloon-reclaim.sh --help` for the options.
#
# Every run gets the same protocol from a clean slate, one after the other:
# KSM off and unmerged; testbed down, then `testbed.sh up 8` (256 MiB guests,
# free page reporting off, or on for the +fpr runs); every guest `load 100`
# then `load 0` (memory it once used and now idles: without free page
# reporting it stays in qemu); a budget on the VMs' cgroup that their usage
# is 92% of; then the contender starts and the script samples every second
# the cgroup's usage, every guest's balloon (actual) and usable memory, PSI
# memory full avg10 and the host's OOM kills. Phase 1 (0..W s): the guests
# idle. Phase 2 (W..2W s): dtest-1's load grows by 16 MiB, then 2 s pause,
# up to 120 MiB (each step's exit status kept: a failed step means the guest
# ran out of memory inside), then holds.
#
# Contenders: none; densityd (the daemon from the build); and the two peers
# issue 7 names, oVirt MOM and Proxmox's auto-ballooning, neither
# installable here, as small emulations below that follow their published
# algorithms step by step, driving `virsh setmem --live` from `virsh
# dommemstat`. Each peer runs as shipped (against the host's /proc/meminfo:
# on a big host it sees no pressure and does nothing, which is what
# operators get) and as "-budget" (the same algorithm given the VMs' cgroup
# limit as the total and its usage as the use: generous to it).
#
# Writes into the out dir: balloon-reclaim.csv (every sample of every run),
# runs.csv (one line per run), balloon-reclaim.png (usage, usage as a share
# of the budget, dtest-1's balloon and the lowest usable memory over time),
# report.txt (the tables and ratios printed at the end) and each run's logs
# (RUN.agent.log: every decision and setmem of a peer; RUN.densityd.log and
# RUN.balloon-log.txt; RUN.load.txt: dtest-1's load steps). Balloons go back
# to their maximum, the budget is removed, the testbed taken down between
# runs and on exit (also on failure or Ctrl-C), and KSM's run as found.
set -euo pipefail

PROG=balloon-reclaim.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-${DENSITY_BUILD:-$SRC/build}}
# shellcheck source=contrib/bench/lib.sh
. "$SRC/contrib/bench/lib.sh"
URI=qemu:///system
CONTENDERS="none mom mom-budget proxmox proxmox-budget densityd"
PEERS="mom mom-budget proxmox proxmox-budget"
ALL_RUNS="none,mom,mom-budget,proxmox,proxmox-budget,densityd,none+fpr,densityd+fpr"
GUESTS=8
MEM_MIB=256         # each guest's maximum
PRELOAD_MIB=100     # what each guest once used
USE_PCT=92          # the guests' usage is this percent of the budget
TARGET_PCT=80       # "reclaimed enough": usage under this percent of the budget
LOAD_STEP_MIB=16    # phase 2: dtest-1's load grows by this ...
LOAD_PAUSE_S=2      # ... then pauses this long ...
LOAD_TO_MIB=120     # ... up to this
PEER_PERIOD_S=10    # MOM's policy interval and pvestatd's loop, both 10 s

WINDOW=120
OUT=
RUNS=$ALL_RUNS

usage() {
	cat <<EOF
Usage: $PROG [--window SECONDS] [--out DIR] [--runs LIST]
       $PROG --replot DIR

Compares balloon controllers on $GUESTS idle testbed guests of $MEM_MIB MiB under a
VMs' cgroup budget their use is $USE_PCT% of (root only). Each run starts from a
clean testbed; phase 1 (0..W s) the guests idle, phase 2 (W..2W s) dtest-1's
load grows by $LOAD_STEP_MIB MiB every $LOAD_PAUSE_S s to $LOAD_TO_MIB MiB. Samples every second.

  --window SECONDS  phase length W (default $WINDOW: 2W = $((2 * WINDOW)) s per run; >= 30)
  --out DIR         where the CSV, the PNG and the report go
                    (default /tmp/densityd-balloon-reclaim.DATE)
  --runs LIST       comma-separated, run in this order (default all:
                    $ALL_RUNS)
  --replot DIR      only print the report and redraw the PNG of an earlier
                    run's out dir (no guests, no root)
  -h, --help        this text

A run is a contender, with "+fpr" appended for guests with free page
reporting on (<memballoon freePageReporting='on'>). Contenders:
  none            no agent
  mom             oVirt MOM's default balloon policy (every $PEER_PERIOD_S s), host memory
  mom-budget      the same with the VMs' cgroup limit and usage as the host
  proxmox         Proxmox's auto-ballooning (pvestatd, compute_alg1, every $PEER_PERIOD_S s),
                  host memory; balloon minimum 50% of each guest's maximum
  proxmox-budget  the same with the VMs' cgroup limit and usage as the host
  densityd        \$BUILD/densityd with policies/default.conf, [Ksm] Mode=off,
                  [Shed] Enable=no (BUILD=$BUILD)

Environment: BUILD (or DENSITY_BUILD) = the meson build dir.
EOF
}

vsh() { virsh -q -c "$URI" "$@"; }

# ---------------------------------------------------------------- results

# results: the report (tables, ratios, densityd's balloon log) from CSV and
# RUNS_CSV. Uses the variables of OUT/run.env.
results() {
	echo "Balloon reclaim: $GUESTS idle testbed guests of $MEM_MIB MiB (each loaded $PRELOAD_MIB MiB, then 0), budget = usage x 100 / $USE_PCT"
	echo "phase 1 0..$WINDOW s idle; phase 2 from $WINDOW s: dtest-1's load +$LOAD_STEP_MIB MiB, ${LOAD_PAUSE_S} s pause, to $LOAD_TO_MIB MiB; end $((2 * WINDOW)) s; kernel $KERNEL"
	echo "peers are emulations of their published algorithms (see the script); took $DURATION_S s for ${#RAN[@]} runs"
	echo
	awk -F, -v W="$WINDOW" -v P="$TARGET_PCT" -v G="$GUESTS" -v order="${RAN[*]}" -v peers=" $PEERS " -v runs_csv="$RUNS_CSV" '
	function mib(b) { return b / 1048576 }
	function base(r) { sub(/\+fpr$/, "", r); return r }
	function isfpr(r) { return r ~ /\+fpr$/ }
	function fmt_t(t) { return t < 0 ? "never" : t "" }
	function ratio(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
	function r0(x) { x = sprintf("%.0f", x); return x == "-0" ? "0" : x }
	BEGIN {
		while ((getline line < runs_csv) > 0) {
			split(line, f, ",")
			if (f[1] == "run") continue
			bud[f[1]] = f[3]; pings[f[1]] = f[5]; moves[f[1]] = f[7]; fails[f[1]] = f[8]
			nsteps[f[1]] = f[9]; failed[f[1]] = f[10]; movefail[f[1]] = f[11]
		}
	}
	NR == 1 {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^actual_kib_/) { na++; acol[na] = i; gname[na] = substr($i, 12) }
			if ($i ~ /^usable_kib_/) { nu++; ucol[nu] = i }
		}
		next
	}
	{
		r = $1; t = $2 + 0; u = mib($3); lim = mib($4)
		use[r, t] = u; last[r] = t
		if (!((r, "first") in seen)) { seen[r, "first"] = 1; t80[r] = -1; minu[r] = -1; psimax[r] = 0; peak[r] = 0 }
		if (t80[r] < 0 && lim > 0 && u < P / 100 * lim) t80[r] = t
		if ($5 + 0 > psimax[r]) psimax[r] = $5 + 0
		oom[r] = $6
		if (t >= W && lim > 0 && 100 * u / lim > peak[r]) peak[r] = 100 * u / lim
		for (g = 1; g <= nu; g++) {
			v = $(ucol[g])
			if (v != "" && (minu[r] < 0 || v / 1024 < minu[r])) { minu[r] = v / 1024; minug[r] = gname[g]; minut[r] = t }
		}
		for (g = 1; g <= na; g++) {
			v = $(acol[g])
			if (v != "" && (r, g) in prev) {
				d = (v - prev[r, g]) / 1024
				if (d < 0) infl[r] -= d; else defl[r] += d
			}
			if (v != "") prev[r, g] = v
		}
	}
	END {
		n = split(order, names, " ")
		for (i = 1; i <= n; i++) {
			r = names[i]
			recW[r] = use[r, 0] - use[r, W]; recE[r] = use[r, 0] - use[r, last[r]]
		}
		printf "%-16s %7s %7s %10s %10s %8s %8s %8s\n", "run", "budget", "use@0", "reclaim@" W, "reclaim@end", "t<" P "%_s", "peak%_2", "PSI_max"
		for (i = 1; i <= n; i++) {
			r = names[i]
			printf "%-16s %7d %7s %10s %10s %8s %8.1f %8.2f\n", r, bud[r], r0(use[r, 0]), r0(recW[r]), r0(recE[r]), fmt_t(t80[r]), peak[r], psimax[r]
		}
		print "  (MiB; reclaim = VMs'\'' cgroup usage at 0 s less at " W " s / at the end; t<" P "% = first second under " P "% of the budget;"
		print "   peak%_2 = highest usage in % of the budget in phase 2; PSI_max = memory full avg10, %)"
		print ""
		printf "%-16s %11s %22s %7s %7s %8s %8s %5s\n", "run", "load_fails", "lowest_usable_MiB", "pings", "moves", "infl_MiB", "defl_MiB", "OOM"
		for (i = 1; i <= n; i++) {
			r = names[i]
			lu = minu[r] < 0 ? "-" : sprintf("%.0f (%s, %ds)", minu[r], minug[r], minut[r])
			mv = moves[r] (movefail[r] > 0 ? "+" movefail[r] "F" : "")
			printf "%-16s %11s %22s %7s %7s %8.0f %8.0f %5d\n", r, fails[r] "/" nsteps[r], lu, pings[r] "/" G, mv, infl[r], defl[r], oom[r]
		}
		print "  (load_fails = dtest-1'\''s load steps that failed (failed MiB below); lowest_usable = the least usable memory any guest"
		print "   reported (under ~10 MiB is near a panic); pings = guests answering at the end; moves = balloon changes the agent made"
		print "   (setmem calls; densityd: journalled balloon actions; nF = failed); infl/defl = balloon MiB taken/given back, from the samples;"
		print "   OOM = host oom_kill during the run)"
		for (i = 1; i <= n; i++) if (failed[names[i]] != "-" && failed[names[i]] != "") printf "  %s: failed load steps (MiB): %s\n", names[i], failed[names[i]]
		# densityd against the best peer of the same setting, figure by figure.
		for (i = 1; i <= n; i++) {
			d = names[i]
			if (base(d) != "densityd") continue
			np = 0
			for (j = 1; j <= n; j++) {
				p = names[j]
				if (index(peers, " " base(p) " ") && isfpr(p) == isfpr(d)) pl[++np] = p
			}
			ref = ""
			for (j = 1; j <= n; j++) if (base(names[j]) == "none" && isfpr(names[j]) == isfpr(d)) ref = names[j]
			print ""
			if (np == 0) {
				printf "%s: no peer ran with free page reporting %s\n", d, isfpr(d) ? "on" : "off"
			} else {
				bW = pl[1]; bE = pl[1]; bT = ""; bF = pl[1]; bU = pl[1]
				for (j = 1; j <= np; j++) {
					p = pl[j]
					if (recW[p] > recW[bW]) bW = p
					if (recE[p] > recE[bE]) bE = p
					if (t80[p] >= 0 && (bT == "" || t80[p] < t80[bT])) bT = p
					if (fails[p] < fails[bF]) bF = p
					if (minu[p] > minu[bU]) bU = p
				}
				printf "%s vs the best peer for each figure (free page reporting %s):\n", d, isfpr(d) ? "on" : "off"
				printf "  reclaimed at %d s:   %6.0f vs %6.0f MiB (%s) = %s\n", W, recW[d], recW[bW], bW, ratio(recW[d], recW[bW])
				printf "  reclaimed at end:    %6.0f vs %6.0f MiB (%s) = %s\n", recE[d], recE[bE], bE, ratio(recE[d], recE[bE])
				if (bT == "")
					printf "  time under %d%%:      %s vs never (no peer got there)\n", P, fmt_t(t80[d]) (t80[d] >= 0 ? " s" : "")
				else
					printf "  time under %d%%:      %s vs %d s (%s) = %s\n", P, fmt_t(t80[d]) (t80[d] >= 0 ? " s" : ""), t80[bT], bT,
						(t80[d] > 0 ? sprintf("%.2fx faster", t80[bT] / t80[d]) : (t80[d] == 0 ? "at once" : "-"))
				printf "  failed load steps:   %d vs %d (%s)\n", fails[d], fails[bF], bF
				printf "  lowest usable:       %.0f vs %.0f MiB (%s) = %s\n", minu[d], minu[bU], bU, ratio(minu[d], minu[bU])
				# A peer that reclaims nothing is safe by doing nothing: the
				# safety figures again, among the peers that reclaimed memory.
				na = 0; aF = ""; aU = ""; al = ""
				for (j = 1; j <= np; j++) {
					p = pl[j]
					if (recW[p] < 10 && recE[p] < 10) continue
					na++; al = al " " p
					if (aF == "" || fails[p] < fails[aF]) aF = p
					if (aU == "" || minu[p] > minu[aU]) aU = p
				}
				if (na > 0) {
					printf "  among the peers that reclaimed memory (%s):\n", substr(al, 2)
					printf "    failed load steps: %d vs %d (%s)\n", fails[d], fails[aF], aF
					printf "    lowest usable:     %.0f vs %.0f MiB (%s) = %s\n", minu[d], minu[aU], aU, ratio(minu[d], minu[aU])
				}
			}
			if (ref != "")
				printf "%s vs %s: reclaimed at %d s %.0f vs %.0f MiB, at end %.0f vs %.0f MiB; failed load steps %d vs %d; lowest usable %.0f vs %.0f MiB\n",
					d, ref, W, recW[d], recW[ref], recE[d], recE[ref], fails[d], fails[ref], minu[d], minu[ref]
		}
	}' "$CSV"
	local r
	for r in "${RAN[@]}"; do
		[ -s "$OUT/$r.balloon-log.txt" ] || continue
		echo
		echo "$r: densityctl log --controller balloon | tail"
		sed 's/^/  /' "$OUT/$r.balloon-log.txt"
	done
}

# plot: the PNG (usage, usage in % of the budget, dtest-1's balloon, the
# lowest usable memory of any guest; one line per run, +fpr runs dashed).
plot() {
	local dir term r colors="" dashes="" rc=0
	for r in "${RAN[@]}"; do
		case "${r%+fpr}" in
		none) colors+=" #888888" ;;
		mom) colors+=" #1b9e77" ;;
		mom-budget) colors+=" #66c2a5" ;;
		proxmox) colors+=" #e66101" ;;
		proxmox-budget) colors+=" #d7191c" ;;
		densityd) colors+=" #000000" ;;
		*) colors+=" #7b3294" ;;
		esac
		if [[ $r == *+fpr ]]; then dashes+=" 2"; else dashes+=" 1"; fi
	done
	dir=$(mktemp -d /tmp/densityd-balloon-plot.XXXXXX)
	awk -F, -v dir="$dir" '
	NR == 1 {
		for (i = 1; i <= NF; i++) {
			if ($i == "actual_kib_dtest-1") a1 = i
			if ($i ~ /^usable_kib_/) { nu++; ucol[nu] = i }
		}
		next
	}
	{
		f = dir "/" $1 ".dat"
		lo = ""
		for (g = 1; g <= nu; g++) { v = $(ucol[g]); if (v != "" && (lo == "" || v + 0 < lo + 0)) lo = v }
		printf "%d %.2f %.2f %s %s\n", $2, $3 / 1048576, ($4 > 0 ? 100 * $3 / $4 : 0),
			($(a1) == "" ? "NaN" : sprintf("%.2f", $(a1) / 1024)), (lo == "" ? "NaN" : sprintf("%.2f", lo / 1024)) > f
	}' "$CSV"
	term=$(plot_term 1200 1400)
	rm -f "$PNG"
	gnuplot <<EOF || rc=$?
set terminal $term
set output '$PNG'
names = '${RAN[*]}'
colors = '${colors# }'
dashes = '${dashes# }'
set multiplot layout 4,1 title 'Balloon reclaim: $GUESTS idle guests of $MEM_MIB MiB, budget = usage / 0.$USE_PCT; dtest-1 loads to $LOAD_TO_MIB MiB from $WINDOW s (dashed: free page reporting on)'
set grid
set key outside right top
set xrange [0:$((2 * WINDOW))]
set xlabel 'seconds since the contender started'
set arrow 1 from $WINDOW, graph 0 to $WINDOW, graph 1 nohead dt 3 lc rgb '#444444'
set title "VMs' cgroup usage (memory.usage_in_bytes)"
set ylabel 'MiB'
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:2 with lines lw 2 lc rgb word(colors, i) dt int(word(dashes, i)) title word(names, i)
set title "VMs' cgroup usage in % of the run's budget ($TARGET_PCT% and $USE_PCT% marked)"
set ylabel '% of budget'
set arrow 2 from graph 0, first $TARGET_PCT to graph 1, first $TARGET_PCT nohead dt 3 lc rgb '#444444'
set arrow 3 from graph 0, first $USE_PCT to graph 1, first $USE_PCT nohead dt 3 lc rgb '#444444'
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:3 with lines lw 2 lc rgb word(colors, i) dt int(word(dashes, i)) title word(names, i)
unset arrow 2
unset arrow 3
set title "dtest-1's balloon (actual; its load grows from $WINDOW s)"
set ylabel 'MiB'
set yrange [0:$((MEM_MIB + 16))]
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:4 with lines lw 2 lc rgb word(colors, i) dt int(word(dashes, i)) title word(names, i)
set title 'lowest usable memory of any guest (balloon stats; under ~10 MiB is near a panic)'
set yrange [0:*]
plot for [i=1:words(names)] sprintf('$dir/%s.dat', word(names, i)) using 1:5 with lines lw 2 lc rgb word(colors, i) dt int(word(dashes, i)) title word(names, i)
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
	CSV=$OUT/balloon-reclaim.csv
	RUNS_CSV=$OUT/runs.csv
	PNG=$OUT/balloon-reclaim.png
	REPORT=$OUT/report.txt
}

while [ $# -gt 0 ]; do
	case "$1" in
	--window | --out | --runs)
		[ $# -ge 2 ] || die "$1 needs a value (see --help)"
		case "$1" in
		--window) WINDOW=$2 ;;
		--out) OUT=$2 ;;
		--runs) RUNS=$2 ;;
		esac
		shift 2
		;;
	--window=* | --out=* | --runs=*)
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
need_uint --window "$WINDOW" "seconds" 30
WINDOW=$((10#$WINDOW))
IFS=, read -r -a RUN_LIST <<<"$RUNS"
[ ${#RUN_LIST[@]} -ge 1 ] || die "--runs is empty"
for r in "${RUN_LIST[@]}"; do
	[[ " $CONTENDERS " == *" ${r%+fpr} "* ]] || die "unknown run '$r' (contenders: $CONTENDERS, each optionally +fpr)"
done

[ "$(id -u)" -eq 0 ] || die "run as root"
[[ ",$RUNS," != *",densityd"* ]] || [ -x "$DENSITYD" ] ||
	die "no $DENSITYD: build first (meson setup build && meson compile -C build)"
"$SRC/contrib/deps.sh" bench testbed

OUT=${OUT:-/tmp/densityd-balloon-reclaim.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
set_paths
WORK=$(mktemp -d /tmp/densityd-balloon-reclaim.XXXXXX)

# ---------------------------------------------------------------- KSM

KSM_RUN=
ksm_unmerged() {
	local i
	[ -w "$KSM/run" ] || return 0
	echo 2 >"$KSM/run"
	for ((i = 0; i < UNMERGE_TIMEOUT * 2; i++)); do
		[ "$(cat "$KSM/pages_sharing")" -eq 0 ] && [ "$(cat "$KSM/pages_shared")" -eq 0 ] && break
		sleep 0.5
	done
	echo 0 >"$KSM/run"
	[ "$(cat "$KSM/pages_sharing")" -eq 0 ] || die "KSM still shares $(cat "$KSM/pages_sharing") pages after ${UNMERGE_TIMEOUT} s of run=2"
}

# ---------------------------------------------------------------- guests

# guest_stats: one line per running testbed guest, from `virsh dommemstat`:
# NAME ACTUAL MAX UNUSED USABLE (KiB; "-" for a figure the guest has not
# reported). MAX comes from `virsh dominfo` once per guest.
declare -A MAX_KIB=()
guest_stats() {
	local name s
	for name in $(vsh list --name --state-running | grep "^dtest-" | sort -V); do
		if [ -z "${MAX_KIB[$name]:-}" ]; then
			MAX_KIB[$name]=$(vsh dominfo "$name" 2>/dev/null | awk '$1 == "Max" && $2 == "memory:" { print $3 }')
		fi
		[ -n "${MAX_KIB[$name]}" ] || continue
		s=$(vsh dommemstat "$name" 2>/dev/null) || continue
		awk -v n="$name" -v max="${MAX_KIB[$name]}" '
		$1 == "actual" { a = $2 } $1 == "unused" { u = $2 } $1 == "usable" { us = $2 }
		END { if (a != "") printf "%s %s %s %s %s\n", n, a, max, (u == "" ? "-" : u), (us == "" ? "-" : us) }' <<<"$s"
	done
}

# set_balloon NAME KIB WHY: `virsh setmem --live`, logged (the peers' moves).
set_balloon() {
	local err
	if err=$(vsh setmem "$1" "$2" --live 2>&1); then
		echo "$(peer_t) set $1 $2 KiB: $3"
	else
		echo "$(peer_t) set-failed $1 $2 KiB: $3: ${err//$'\n'/ }"
	fi
}

peer_t() { printf 't=%s' "$(elapsed "$T0")"; }

# ---------------------------------------------------------------- oVirt MOM

# mom_tick VARIANT: one run of MOM's default balloon policy (mom-balloon.policy,
# the "Auto-Balloon" part; MOM's policy engine runs it every 10 s), written
# after the published policy:
#   host_free_percent = Host.mem_free / Host.mem_available, where MOM's
#     HostMemory collector has mem_free = MemFree + Buffers + Cached and
#     mem_available = MemTotal; "-budget": (limit - usage) / limit;
#   below pressure_threshold 0.20, shrink_guest for every guest:
#     guest_free_percent = min_guest_free_percent 0.20 x host_free / 0.20,
#       or at host_free <= pressure_critical 0.05: host_free - 0.05 (negative:
#       forces the guest below what it uses);
#     guest_used_mem = balloon_cur - mem_unused (libvirt's "unused", the
#       guest's MemFree);
#     balloon_min = guest_used_mem + guest_free_percent x balloon_cur;
#     balloon_size = balloon_cur x (1 - max_balloon_change_percent 0.05),
#       not below balloon_min; set if <= balloon_cur and the change exceeds
#       min_balloon_change_percent 0.0025 of balloon_cur;
#   else grow_guest for every ballooned guest (balloon_cur < balloon_max):
#     balloon_size = balloon_cur x 1.05, at most balloon_max, at least
#     guest_used_mem + 0.20 x balloon_max; set if the change exceeds 0.25%.
# MOM feeds the policy StatAvg figures (the mean of its last samples); this
# takes the latest (refreshed every 2 s), which reacts sooner: generous to it.
# A guest whose stats are missing is skipped (MOM's collector fails for it).
mom_tick() {
	local total free line
	if [ "$1" = budget ]; then
		total=$(limit_bytes)
		free=$((total - $(usage_bytes)))
	else
		total=$(meminfo MemTotal)
		free=$(($(meminfo MemFree) + $(meminfo Buffers) + $(meminfo Cached)))
	fi
	[ "$total" -gt 0 ] || {
		echo "$(peer_t) no total memory (no budget?): nothing"
		return 0
	}
	guest_stats >"$PEER_STATS"
	awk -v total="$total" -v free="$free" '
	function abs(x) { return x < 0 ? -x : x }
	BEGIN {
		hf = free / total
		if (hf < 0.20) {
			mode = "shrink"
			gfp = hf <= 0.05 ? hf - 0.05 : 0.20 * hf / 0.20
			printf "# host_free_percent %.4f < 0.20: pressure%s, guest_free_percent %.4f: shrink_guest\n", hf, (hf <= 0.05 ? " (critical)" : ""), gfp
		} else {
			mode = "grow"
			printf "# host_free_percent %.4f >= 0.20: no pressure: grow_guest\n", hf
		}
	}
	$4 == "-" { printf "# %s: no stats, skipped\n", $1; next }
	{
		name = $1; cur = $2; max = $3; used = $2 - $4
		if (mode == "shrink") {
			bmin = used + gfp * cur
			size = cur * (1 - 0.05)
			if (size < bmin) size = bmin
			if (size <= cur && abs(size - cur) > 0.0025 * cur)
				printf "%s %d shrink_guest: cur %d used %d balloon_min %d\n", name, size, cur, used, bmin
		} else if (cur < max) {
			bmin = used + 0.20 * max
			size = cur * 1.05
			if (size > max) size = max
			if (size < bmin) size = bmin
			if (abs(size - cur) > 0.0025 * cur)
				printf "%s %d grow_guest: cur %d used %d balloon_min %d\n", name, size, cur, used, bmin
		}
	}' "$PEER_STATS" | while read -r line; do
		if [[ $line == "#"* ]]; then
			echo "$(peer_t) ${line#"# "}"
		else
			# shellcheck disable=SC2086 # NAME KIB WHY...
			set -- $line
			set_balloon "$1" "$2" "${*:3}"
		fi
	done
}

# ---------------------------------------------------------------- Proxmox

# proxmox_tick VARIANT: one run of Proxmox VE's auto-ballooning as pvestatd
# runs it every 10 s (auto_balloning() with PVE::AutoBalloon::compute_alg1),
# written after the published code:
#   goal = int(memtotal x 0.8 - memused), memused = MemTotal - MemAvailable
#     (read_meminfo; older releases used MemFree + Buffers + Cached);
#     "-budget": memtotal = the limit, memused = the usage;
#   every VM: balloon = its current size, balloon_min = the "balloon" config
#     (50% of its maximum here, the operator's usual setting), shares 1000,
#     freemem = the guest's free memory (libvirt's "unused"); VMs with
#     freemem > 0.25 x balloon_min and balloon >= balloon_min have "enough
#     free memory" (idlist2), the rest are under "pressure" (idlist1);
#   goal > 10 MiB: grow, first the pressure list, all VMs if it made no
#   progress; goal < -10 MiB: shrink, first the enough-free list, all VMs if
#   no progress; in between nothing;
#   change_func: repeatedly, the allocation above balloon_min plus the rest
#     of the goal is split in proportion to shares (desired = balloon_min +
#     share of it, bounded by balloon_min and maxmem), each VM moving at most
#     maxchange 100 MiB toward it, until the goal is used up or no progress;
#   every VM whose result differs from its balloon gets it (the "balloon"
#     monitor command; here virsh setmem --live).
proxmox_tick() {
	local total used line
	if [ "$1" = budget ]; then
		total=$(limit_bytes)
		used=$(usage_bytes)
	else
		total=$(($(meminfo MemTotal) * 1024))
		used=$((total - $(meminfo MemAvailable) * 1024))
	fi
	[ "$total" -gt 0 ] || {
		echo "$(peer_t) no total memory (no budget?): nothing"
		return 0
	}
	guest_stats >"$PEER_STATS"
	awk -v total="$total" -v used="$used" '
	function change(idl, n, bytes,    rest, repeat, progress, i, v, shares_total, alloc_old, alloc_new, changes, bal, desired, nw, diff, oldb, chg) {
		rest = bytes; repeat = 1; progress = 1
		split("", done)
		while (rest != 0 && repeat && progress) {
			repeat = 0; progress = 0; shares_total = 0; alloc_old = 0
			for (i = 1; i <= n; i++) {
				v = idl[i]
				if (v in done) continue
				bal = (v in res) ? res[v] : cur[v]
				alloc_old += bal - bmin[v]
				shares_total += shares[v]
			}
			changes = 0
			alloc_new = alloc_old + rest
			for (i = 1; i <= n; i++) {
				v = idl[i]
				if (v in done) continue
				desired = bmin[v] + int((alloc_new / shares_total) * shares[v])
				if (desired > max[v]) { desired = max[v]; repeat = 1 }
				else if (desired < bmin[v]) { desired = bmin[v]; repeat = 1 }
				if (bytes > 0 && desired - cur[v] > 0) {
					nw = cur[v] + maxchange; bal = nw > desired ? desired : nw
				} else if (desired - cur[v] < 0) {
					nw = cur[v] - maxchange; bal = nw > desired ? nw : desired
				} else {
					done[v] = 1
					continue
				}
				diff = bal - cur[v]
				if (diff != 0) {
					oldb = (v in res) ? res[v] : cur[v]
					res[v] = bal
					chg = bal - oldb
					if (chg != 0) { changes += chg; progress += diff > 0 ? diff : -diff; repeat = 1 }
				}
			}
			rest -= changes
		}
		return rest
	}
	BEGIN { maxchange = 100 * 1048576; MiB = 1048576 }
	{
		v = $1; cur[v] = $2 * 1024; max[v] = $3 * 1024
		free_[v] = $4 == "-" ? 0 : $4 * 1024
		bmin[v] = int(max[v] / 2); shares[v] = 1000
		if (!cur[v] || !bmin[v]) next
		all[++na] = v
		if (free_[v] && free_[v] > bmin[v] * 0.25 && cur[v] >= bmin[v]) enough[++ne] = v; else pressure[++np] = v
	}
	END {
		goal = int(total * 0.8 - used)
		printf "# host goal %.1f MiB (total %.1f, used %.1f MiB); pressure list:", goal / MiB, total / MiB, used / MiB
		for (i = 1; i <= np; i++) printf " %s", pressure[i]
		printf "\n"
		if (goal > 10 * MiB) {
			rest = change(pressure, np, goal)
			if (rest >= goal) rest = change(all, na, rest)
			printf "# grow request: rest %.1f MiB\n", rest / MiB
		} else if (goal < -10 * MiB) {
			rest = change(enough, ne, goal)
			if (rest <= goal) rest = change(all, na, rest)
			printf "# shrink request: rest %.1f MiB\n", rest / MiB
		} else {
			printf "# do nothing (|goal| <= 10 MiB)\n"
		}
		for (i = 1; i <= na; i++) {
			v = all[i]
			if (!res[v]) continue
			diff = int(res[v] - cur[v])
			if (diff != 0)
				printf "%s %.0f balloon %.1f -> %.1f MiB (%+.1f), balloon_min %.1f, freemem %.1f\n", v, res[v] / 1024,
					cur[v] / MiB, res[v] / MiB, diff / MiB, bmin[v] / MiB, free_[v] / MiB
		}
	}' "$PEER_STATS" | while read -r line; do
		if [[ $line == "#"* ]]; then
			echo "$(peer_t) ${line#"# "}"
		else
			# shellcheck disable=SC2086 # NAME KIB WHY...
			set -- $line
			set_balloon "$1" "$2" "${*:3}"
		fi
	done
}

# peer_loop NAME: the peer's tick every PEER_PERIOD_S s from T0 (run in the background).
peer_loop() {
	local tick variant=host k=0
	case "$1" in
	mom*) tick=mom_tick ;;
	proxmox*) tick=proxmox_tick ;;
	esac
	[[ $1 == *-budget ]] && variant=budget
	PEER_STATS=$RUN_DIR/guest-stats
	while :; do
		$tick "$variant" || echo "$(peer_t) tick failed"
		k=$((k + 1))
		sleep_until $((T0 + k * PEER_PERIOD_S * 1000000))
	done
}

# ---------------------------------------------------------------- densityd

DDIR=
start_densityd() {
	local d=$1
	DDIR=$d
	mkdir -p "$d/prom" "$d/state"
	# Balloons only: KSM and the shedder off (each key replaced inside its own
	# section: a key set twice is an error).
	sed -e "s|^ControlSocket=.*|ControlSocket=$d/densityd.sock|" \
		-e "s|^TextfileDirectory=.*|TextfileDirectory=$d/prom|" \
		-e "s|^StateDirectory=.*|StateDirectory=$d/state|" \
		-e '/^\[Ksm\]/,/^\[/ s/^Mode=.*/Mode=off/' \
		-e '/^\[Shed\]/,/^\[/ s/^Enable=.*/Enable=no/' \
		"$SRC/policies/default.conf" >"$d/policy.conf"
	if [ "$(awk -F= '/^\[/ { s = $0 } s == "[Ksm]" && $1 == "Mode" { print $2 }' "$d/policy.conf")" != off ] ||
		[ "$(awk -F= '/^\[/ { s = $0 } s == "[Shed]" && $1 == "Enable" { print $2 }' "$d/policy.conf")" != no ] ||
		[ "$(awk -F= '/^\[/ { s = $0 } s == "[Balloon]" && $1 == "Enable" { print $2 }' "$d/policy.conf")" != yes ] ||
		! grep -q "^ControlSocket=$d/" "$d/policy.conf" || ! grep -q "^StateDirectory=$d/" "$d/policy.conf"; then
		die "could not make the policy copy $d/policy.conf (KSM off, shedder off, balloons on, paths in $d)"
	fi
	"$DENSITYD" --check-config="$d/policy.conf" >/dev/null || die "densityd refuses $d/policy.conf"
	start_daemon "$d" || die "densityd did not start (log: $d/daemon.log)"
}

stop_densityd() {
	[ -n "$DAEMON_PID" ] || return 0
	stop_daemon || true
}

# ---------------------------------------------------------------- contenders

PEER_PID=
LOADER_PID=

start_contender() { # RUN DIR
	case "${1%+fpr}" in
	none) ;;
	densityd) start_densityd "$2/densityd" ;;
	*)
		peer_loop "${1%+fpr}" >>"$OUT/$1.agent.log" 2>&1 &
		PEER_PID=$!
		;;
	esac
}

stop_contender() {
	if [ -n "$PEER_PID" ]; then
		kill_tree "$PEER_PID"
		reap "$PEER_PID"
		PEER_PID=
	fi
	stop_densityd
}

# testbed_reset: balloons back to their maximum, no budget, no guests.
testbed_reset() {
	local name max
	if libvirtd_answers; then
		for name in $(vsh list --name --state-running 2>/dev/null | grep "^dtest-" || true); do
			max=$(vsh dominfo "$name" 2>/dev/null | awk '$1 == "Max" && $2 == "memory:" { print $3 }')
			[ -z "$max" ] || vsh setmem "$name" "$max" --live >/dev/null 2>&1 || true
		done
	fi
	"$TB" budget off >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || log "warning: testbed.sh down failed"
	MAX_KIB=()
}

# loader DIR: phase 2, dtest-1's load grows; one line per step in
# OUT/RUN.load.txt: seconds since T0, MiB, exit status, what testbed.sh said.
loader() {
	local m rc msg step_list=()
	for ((m = LOAD_STEP_MIB; m < LOAD_TO_MIB; m += LOAD_STEP_MIB)); do step_list+=("$m"); done
	step_list+=("$LOAD_TO_MIB")
	for m in "${step_list[@]}"; do
		echo "$m" >"$1/load_step"
		rc=0
		msg=$("$TB" load dtest-1 "$m" 2>&1) || rc=$?
		printf '%s %d %d %s\n' "$(elapsed "$T0")" "$m" "$rc" "$(tail -n 1 <<<"$msg")" >>"$CUR_LOAD_TXT"
		sleep "$LOAD_PAUSE_S"
	done
	: >"$1/load_done"
}

# ---------------------------------------------------------------- cleanup

cleanup() {
	local rc=$?
	set +e
	trap '' INT TERM
	log "cleaning up (balloons to maximum, budget off, testbed down, KSM run as found)"
	if [ -n "$LOADER_PID" ]; then
		kill_tree "$LOADER_PID"
		reap "$LOADER_PID"
	fi
	stop_contender
	testbed_reset
	[ -z "$KSM_RUN" ] || echo "$KSM_RUN" >"$KSM/run"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- run

# sample RUN T: one CSV line.
# A sample that cannot be taken (virsh busy for a moment) is a row of blanks,
# never the end of the run.
sample() {
	local step=0
	[ -f "$RUN_DIR/load_step" ] && read -r step <"$RUN_DIR/load_step"
	{ vsh domstats --balloon --list-active 2>/dev/null || true; } | awk -v pre="$1,$2,$(usage_bytes),$(limit_bytes),$(psi_full10),$(($(oom_kills) - OOM0)),$step" -v n="$GUESTS" '
	/^Domain: / { d = $2; gsub(/\047/, "", d); next }
	$1 ~ /^balloon\.current=/ { sub(/.*=/, "", $1); a[d] = $1 }
	$1 ~ /^balloon\.usable=/ { sub(/.*=/, "", $1); u[d] = $1 }
	END {
		line = pre
		for (k = 1; k <= n; k++) line = line "," a["dtest-" k]
		for (k = 1; k <= n; k++) line = line "," u["dtest-" k]
		print line
	}' >>"$CSV"
}

START_S=$(date +%s)
[ -w "$KSM/run" ] && KSM_RUN=$(cat "$KSM/run")
log "KSM run was ${KSM_RUN:-not writable}; off and unmerged for every run"
{
	printf 'run,t_s,usage_bytes,limit_bytes,psi_full_avg10,oom_kills,load_step_mib'
	for ((k = 1; k <= GUESTS; k++)); do printf ',actual_kib_dtest-%d' "$k"; done
	for ((k = 1; k <= GUESTS; k++)); do printf ',usable_kib_dtest-%d' "$k"; done
	echo
} >"$CSV"
echo "run,fpr,budget_mib,preload_usage_mib,pings,guests,moves,load_fails,load_steps,failed_steps,failed_moves" >"$RUNS_CSV"
RAN=()
for run in "${RUN_LIST[@]}"; do
	c=${run%+fpr}
	fpr=off
	[[ $run == *+fpr ]] && fpr=on
	RUN_DIR=$WORK/$run
	mkdir -p "$RUN_DIR"
	CUR_LOAD_TXT=$OUT/$run.load.txt
	: >"$CUR_LOAD_TXT"
	: >"$OUT/$run.agent.log"
	rm -f "$OUT/$run.balloon-log.txt"

	log "$run: clean slate (testbed down, KSM unmerged)"
	testbed_reset
	ksm_unmerged
	log "$run: testbed up $GUESTS ($MEM_MIB MiB, free page reporting $fpr)"
	TESTBED_MEM_MIB=$MEM_MIB TESTBED_FREE_PAGE_REPORTING=$fpr "$TB" up "$GUESTS" 2>>"$OUT/$run.testbed.log" ||
		die "$run: testbed.sh up $GUESTS failed (see $OUT/$run.testbed.log)"
	for ((k = 1; k <= GUESTS; k++)); do
		if ! "$TB" load "dtest-$k" "$PRELOAD_MIB" 2>>"$OUT/$run.testbed.log" ||
			! "$TB" load "dtest-$k" 0 2>>"$OUT/$run.testbed.log"; then
			die "$run: the preload of dtest-$k failed (see $OUT/$run.testbed.log)"
		fi
	done
	sleep 3
	CG=$(cgroup_dir) || die "no VMs' cgroup (memory/machine or machine.slice)"
	base=$(usage_mib)
	budget=$((base * 100 / USE_PCT))
	"$TB" budget "$budget" 2>>"$OUT/$run.testbed.log" || die "$run: budget $budget MiB failed"
	log "$run: $GUESTS idle guests use $base MiB: budget $budget MiB ($USE_PCT%); running $((2 * WINDOW)) s"

	OOM0=$(oom_kills)
	# Every contender starts at T0 (densityd's start-up counts as its time).
	T0=$(now)
	start_contender "$run" "$RUN_DIR"
	RAN+=("$run")
	for ((t = 0; t <= 2 * WINDOW; t++)); do
		# Sample at T0 + t seconds (absolute, so the loop does not drift).
		sleep_until $((T0 + t * 1000000))
		if [ "$t" -eq "$WINDOW" ]; then
			loader "$RUN_DIR" &
			LOADER_PID=$!
		fi
		sample "$run" "$t"
		if [ $((t % 30)) -eq 0 ] && [ "$t" -gt 0 ]; then
			log "$run: t=$t s usage $(usage_mib) of $budget MiB"
		fi
	done
	for ((i = 0; i < 600; i++)); do
		[ -f "$RUN_DIR/load_done" ] && break
		sleep 0.1
	done
	[ -f "$RUN_DIR/load_done" ] || log "warning: $run: dtest-1's load steps still run after the window; stopped"
	kill_tree "$LOADER_PID"
	reap "$LOADER_PID"
	LOADER_PID=

	pongs=0
	for ((k = 1; k <= GUESTS; k++)); do
		[ "$(TESTBED_CTL_TIMEOUT=5 "$TB" ping "dtest-$k" 2>/dev/null)" = pong ] && pongs=$((pongs + 1))
	done
	moves=0
	failed_moves=0
	case "$c" in
	densityd)
		ctl "$DDIR" log --controller balloon -n 1000 --json >"$OUT/$run.balloon-log.json" 2>/dev/null || true
		moves=$(jq '[.entries[] | select(.action == "balloon" and .result != "skipped" and .result != "would")] | length' "$OUT/$run.balloon-log.json" 2>/dev/null || echo 0)
		failed_moves=$(jq '[.entries[] | select(.action == "balloon" and (.result == "failed" or .result == "timeout"))] | length' "$OUT/$run.balloon-log.json" 2>/dev/null || echo 0)
		ctl "$DDIR" log --controller balloon -n 1000 2>/dev/null | tail -n 12 >"$OUT/$run.balloon-log.txt" || true
		ctl "$DDIR" status --json >"$OUT/$run.status.json" 2>/dev/null || true
		;;
	none) ;;
	*)
		moves=$(grep -c '^t=[0-9.]* set ' "$OUT/$run.agent.log" || true)
		failed_moves=$(grep -c '^t=[0-9.]* set-failed ' "$OUT/$run.agent.log" || true)
		;;
	esac
	stop_contender
	[ "$c" = densityd ] && cp "$DDIR/daemon.log" "$OUT/$run.densityd.log"
	nsteps=$(wc -l <"$CUR_LOAD_TXT")
	fails=$(awk '$3 != 0' "$CUR_LOAD_TXT" | wc -l)
	failed_steps=$(awk '$3 != 0 { printf "%s%s", sep, $2; sep = " " }' "$CUR_LOAD_TXT")
	echo "$run,$fpr,$budget,$base,$pongs,$GUESTS,$moves,$fails,$nsteps,${failed_steps:--},$failed_moves" >>"$RUNS_CSV"
	log "$run: done: usage $(usage_mib) MiB, $pongs of $GUESTS guests answer, $moves balloon moves, $fails of $nsteps load steps failed"
	testbed_reset
done
[ ${#RAN[@]} -gt 0 ] || die "no run ran"
DURATION_S=$(($(date +%s) - START_S))
{
	printf '%s=%q\n' GUESTS "$GUESTS" WINDOW "$WINDOW" MEM_MIB "$MEM_MIB" PRELOAD_MIB "$PRELOAD_MIB" USE_PCT "$USE_PCT" \
		TARGET_PCT "$TARGET_PCT" LOAD_STEP_MIB "$LOAD_STEP_MIB" LOAD_PAUSE_S "$LOAD_PAUSE_S" LOAD_TO_MIB "$LOAD_TO_MIB" \
		PEERS "$PEERS" KERNEL "$(uname -r)" DURATION_S "$DURATION_S"
	printf 'RAN=(%s)\n' "${RAN[*]}"
} >"$OUT/run.env"
# shellcheck source=/dev/null
. "$OUT/run.env"
show_results
