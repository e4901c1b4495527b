#!/usr/bin/env bash
# Benchmark: densityd's cost per tick as the number of guests grows.
# Usage: contrib/bench/scale.sh [N ...]   (default 100 1000 5000 7000; root)
#
# Per N: tests/scale-world starts N simulated guests, each a real sleeping
# process holding a little memory (SCALE_GUEST_KIB, 256 KiB) with its pid
# file where densityd looks for libvirt's and, on a cgroup v1 memory
# hierarchy, in a cgroup of its own named as libvirt names them (below a
# scratch cgroup, removed afterwards); scale-world answers densityd's bulk
# stats and domain XML requests over a Unix socket as libvirtd would, in its
# own process. densityd-scale (densityd with that stand-in as hypervisor and
# the built-in controllers) runs with the shipped default policy at
# Interval=1s and DryRun=yes: nothing on the host is changed.
#
# Measured from outside: CPU per tick (all threads, /proc/PID/schedstat
# between two writes of density.prom, SCALE_TICKS ticks after SCALE_WARMUP),
# RSS (VmRSS, the largest seen), density.prom's size, `densityctl status
# --json` latency (SCALE_STATUS_RUNS runs, after the ticks are counted);
# from the daemon: sampling wall time and the textfile's write time
# (density_sample_duration_seconds, density_textfile_write_seconds).
#
# Runs of more than 1000 guests hold /tmp/densityd-testbed.lock (flock -o),
# so they never overlap the system tests. Prints a table; writes
# scale.csv and scale.png (gnuplot) to SCALE_OUT (default BUILD/scale).
# Builds first (meson setup when build/ is missing, then ninja); with
# DENSITY_BUILD set, uses that build as it is (if it has densityd-scale).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${DENSITY_BUILD:-$SRC/build}
OUT=${SCALE_OUT:-$BUILD/scale}
TICKS=${SCALE_TICKS:-30}
WARMUP=${SCALE_WARMUP:-5}
STATUS_RUNS=${SCALE_STATUS_RUNS:-10}
GUEST_KIB=${SCALE_GUEST_KIB:-256}
LOCK=/tmp/densityd-testbed.lock

[ "$(id -u)" -eq 0 ] || { echo "scale.sh: run as root (cgroups)" >&2; exit 1; }
for p in python3 jq; do
	command -v $p >/dev/null || { echo "scale.sh: needs $p" >&2; exit 1; }
done

# The KSM knobs densityd could write (it must not: the run is dry).
ksm_knobs() {
	local k
	for k in run pages_to_scan sleep_millisecs merge_across_nodes use_zero_pages smart_scan advisor_mode max_page_sharing; do
		[ -r /sys/kernel/mm/ksm/$k ] && echo "$k=$(cat /sys/kernel/mm/ksm/$k)"
	done
	return 0
}

# One N, in this process: "scale.sh --one N CSVFILE".
run_one() {
	local n=$1 csv=$2
	# Globals: the EXIT trap runs after this function returns.
	cg="" world_pid="" daemon_pid=""
	work=$(mktemp -d /tmp/densityd-scale.XXXXXX)
	stop_all() {
		[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
		[ -n "$world_pid" ] && kill "$world_pid" 2>/dev/null && wait "$world_pid" 2>/dev/null || true
		if [ -n "$cg" ] && [ -d "$cg" ]; then
			find "$cg" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
			rmdir "$cg" 2>/dev/null || echo "scale.sh: could not remove $cg" >&2
		fi
		rm -rf "$work"
	}
	trap stop_all EXIT
	trap 'exit 130' INT TERM

	ksm_before=$(ksm_knobs)
	if [ -w /sys/fs/cgroup/memory/cgroup.procs ]; then
		cg=/sys/fs/cgroup/memory/densityd-scale.$$
		mkdir "$cg"
	else
		echo "scale.sh: no writable cgroup v1 memory hierarchy: guests share their cgroup (no numa_stat read)" >&2
	fi
	mkdir -p "$work/run" "$work/prom"
	"$BUILD/tests/scale-world" "$n" "$work/run" "$work/world.sock" "$cg" "$GUEST_KIB" >"$work/world.out" &
	world_pid=$!
	for _ in $(seq 1 600); do
		grep -q ready "$work/world.out" 2>/dev/null && break
		kill -0 "$world_pid" 2>/dev/null || { echo "scale.sh: scale-world failed" >&2; return 1; }
		sleep 0.2
	done
	grep -q ready "$work/world.out" || { echo "scale.sh: scale-world not ready in 120 s" >&2; return 1; }

	sed -e "s|^Interval=.*|Interval=1s|" -e "s|^DryRun=.*|DryRun=yes|" \
		-e "s|^ControlSocket=.*|ControlSocket=$work/densityd.sock|" \
		-e "s|^TextfileDirectory=.*|TextfileDirectory=$work/prom|" \
		-e "s|^StateDirectory=.*|StateDirectory=$work/state|" \
		-e "s|^SaveDirectory=.*|SaveDirectory=$work/save|" \
		"$SRC/policies/default.conf" >"$work/policy.conf"
	mkdir -p "$work/state" "$work/save"
	"$BUILD/tests/densityd-scale" --world "$work/world.sock" --config "$work/policy.conf" \
		--libvirt-run-dir "$work/run" --dry-run >"$work/daemon.log" 2>&1 &
	daemon_pid=$!

	# Until densityd sees every guest (from its textfile, which costs it nothing).
	local prom=$work/prom/density.prom seen=0
	for _ in $(seq 1 300); do
		seen=$(awk '$1 == "density_guests" {print $2}' "$prom" 2>/dev/null || true)
		[ "${seen:-0}" -ge "$n" ] && break
		kill -0 "$daemon_pid" 2>/dev/null || { echo "scale.sh: densityd-scale died:" >&2; cat "$work/daemon.log" >&2; return 1; }
		sleep 0.5
	done
	[ "${seen:-0}" -ge "$n" ] || { echo "scale.sh: densityd saw ${seen:-0} of $n guests" >&2; return 1; }

	# Per tick: CPU between two writes of the textfile.
	python3 - "$daemon_pid" "$prom" "$WARMUP" "$TICKS" >"$work/ticks" <<'EOF'
import os, sys, time
pid, prom, warmup, ticks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def cpu_ns():
    t = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t
def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
def figure(name):
    with open(prom) as f:
        for line in f:
            if line.startswith(name + " "):
                return line.split()[1]
    return ""
last_m, last_cpu, seen = None, None, 0
deadline = time.monotonic() + 60 + 3 * (warmup + ticks)
while seen < warmup + ticks + 1 and time.monotonic() < deadline:
    try:
        m = os.stat(prom).st_mtime_ns
    except OSError:
        m = None
    if m is not None and m != last_m:
        c = cpu_ns()
        if last_cpu is not None and seen > warmup:
            print(f"{(c - last_cpu) / 1e6:.3f} {rss_kib()} {os.stat(prom).st_size} "
                  f"{figure('density_sample_duration_seconds') or 'nan'} {figure('density_textfile_write_seconds') or 'nan'}")
        last_m, last_cpu = m, c
        seen += 1
    time.sleep(0.005)
EOF
	local got
	got=$(wc -l <"$work/ticks")
	[ "$got" -ge "$TICKS" ] || echo "scale.sh: only $got ticks counted at N=$n" >&2

	# densityctl status --json, timed (the first after a tick renders it).
	: >"$work/status"
	for _ in $(seq 1 "$STATUS_RUNS"); do
		local t0 t1
		t0=$(date +%s%N)
		"$BUILD/densityctl" --socket "$work/densityd.sock" status --json >"$work/status.json"
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000)) >>"$work/status"
		sleep 1.1
	done
	local rss_end slow
	rss_end=$(awk '/^VmRSS:/ {print $2}' "/proc/$daemon_pid/status")
	slow=$(jq -r '.daemon.slow_reads_every_ticks // 1' "$work/status.json")

	python3 - "$n" "$work/ticks" "$work/status" "$rss_end" "$slow" >>"$csv" <<'EOF'
import math, sys
n, ticks, status, rss_end, slow = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rows = [l.split() for l in open(ticks) if l.strip()]
def pct(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1)]
cpu = [float(r[0]) for r in rows]
rss = max([int(r[1]) for r in rows] + [rss_end]) / 1024
prom = max(int(r[2]) for r in rows) / 1024
sample = [float(r[3]) * 1e3 for r in rows]
write = [float(r[4]) * 1e3 for r in rows if r[4] != "nan"]
st = [int(l) / 1e3 for l in open(status) if l.strip()]
p50 = pct(cpu, 50)
print(f"{n},{len(cpu)},{p50:.2f},{pct(cpu, 99):.2f},{p50 * 1e3 / n:.2f},{pct(sample, 50):.2f},{pct(sample, 99):.2f},"
      f"{rss:.1f},{prom:.0f},{pct(write, 50):.2f},{pct(write, 99):.2f},{pct(st, 50):.1f},{max(st):.1f},{slow}")
EOF
	ksm_after=$(ksm_knobs)
	# densityd-scale runs dry; another KSM user on the host may not.
	[ "$ksm_before" = "$ksm_after" ] ||
		echo "scale.sh: KSM settings changed during the run (not by densityd-scale, which runs dry):" \
			"$(diff <(echo "$ksm_before") <(echo "$ksm_after") | grep '^[<>]' | tr '\n' ' ')" >&2
}

if [ "${1:-}" = --one ]; then
	run_one "$2" "$3"
	exit
fi

if [ -z "${DENSITY_BUILD:-}" ] || [ ! -x "$BUILD/tests/densityd-scale" ]; then
	[ -d "$BUILD" ] || meson setup "$BUILD" "$SRC"
	ninja -C "$BUILD"
fi
mkdir -p "$OUT"
CSV=$OUT/scale.csv
echo "guests,ticks,cpu_p50_ms,cpu_p99_ms,cpu_per_guest_us,sample_p50_ms,sample_p99_ms,rss_mib,prom_kib,prom_write_p50_ms,prom_write_p99_ms,status_p50_ms,status_max_ms,slow_reads_every_ticks" >"$CSV"
for n in "${@:-100 1000 5000 7000}"; do
	for one in $n; do
		echo "scale.sh: $one guests" >&2
		if [ "$one" -gt 1000 ]; then
			flock -o "$LOCK" "$0" --one "$one" "$CSV"
		else
			"$0" --one "$one" "$CSV"
		fi
	done
done

column -s, -t <"$CSV"
if command -v gnuplot >/dev/null; then
	gnuplot <<EOF
set terminal png size 900,500
set output "$OUT/scale.png"
set datafile separator ","
set key autotitle columnhead left top
set title "densityd: CPU per tick (Interval=1s) against guests"
set xlabel "guests"
set ylabel "ms of CPU per tick"
set y2label "µs of CPU per guest per tick"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot "$CSV" using 1:3 with linespoints title "p50", \
     "$CSV" using 1:4 with linespoints title "p99", \
     "$CSV" using 1:5 axes x1y2 with linespoints title "per guest (p50)"
EOF
	echo "scale.sh: wrote $CSV and $OUT/scale.png" >&2
else
	echo "scale.sh: wrote $CSV (no gnuplot: no plot)" >&2
fi
