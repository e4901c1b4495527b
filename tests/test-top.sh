#!/usr/bin/env bash
# densityctl top in a terminal of 80x24: a detached tmux session on a tmux
# server of its own, against densityd-test (the fake hypervisor, fixture
# roots). Started before the daemon, top says densityd is not running and
# keeps trying; then its screen has the host's memory, the fake guests by
# RSS and the decisions, no line wider than 80 columns and 24 rows at most;
# sort keys change the guests' order; a smaller terminal gets a smaller
# screen; q and ^C each leave the alternate screen and give the shell back
# with the terminal as it was. Not on a terminal, top prints one screen.
# Output: TAP lines; exit 0, 1 on a failure, 77 when tmux is missing.
# Usage: test-top.sh DENSITYD_TEST DENSITYCTL FIXTURES_DIR
set -uo pipefail

TESTD=$1
CTL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
FIX=$3
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(dirname "$CTL")
. "$SRC/tests/system/lib.sh"
command -v tmux >/dev/null || { echo "tmux missing: run contrib/deps.sh test"; exit 77; }
command -v jq >/dev/null || { echo "Bail out! jq missing: run contrib/deps.sh test"; exit 1; }

export LC_ALL=C.UTF-8 # top draws "…"; bash's ${#line} counts characters
WORK=$(mktemp -d /tmp/densityd-top.XXXXXX)
TM=(tmux -L "densityd-top-$$" -f /dev/null -u)
PID=
cleanup() {
	"${TM[@]}" kill-server 2>/dev/null
	[ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
	rm -rf "$WORK"
}
trap cleanup EXIT

# In a cross build, the programs run under meson's exe wrapper.
RUN_CTL="${MESON_EXE_WRAPPER:+$MESON_EXE_WRAPPER }$CTL"
ctl() { $RUN_CTL --socket "$WORK/sock" "$@"; }

# The pane's text; taken again until two takes agree, so a screen caught
# while top redraws it is not the one checked.
screen() {
	local a b i
	a=$("${TM[@]}" capture-pane -p -t top)
	for i in 1 2 3 4 5; do
		b=$("${TM[@]}" capture-pane -p -t top)
		[ "$a" = "$b" ] && break
		a=$b
	done
	printf '%s\n' "$b"
}
pane() { "${TM[@]}" display -p -t top "$1"; }
# (grep -q on a here-string: in a pipe it could end before screen's
# printf has written, and pipefail would count that printf's SIGPIPE.)
screen_has() { grep -q -- "$1" <<<"$(screen)"; }
# The guests' names, in the order of the screen's rows.
screen_guests() { screen | sed -n '/^NAME /,/^$/p' | sed '1d;/^$/d;/^… /d' | awk '{ print $1 }' | tr '\n' ' '; }
# fits COLUMNS ROWS: the screen (the pane, whose size is that of the
# terminal) has no line wider, and no more rows, than that.
fits() {
	local line rows=0 wide=0
	while IFS= read -r line; do
		rows=$((rows + 1))
		[ ${#line} -le "$1" ] || { diag "${#line} columns: $line"; wide=1; }
	done < <(screen)
	[ $wide -eq 0 ] && [ $rows -le "$2" ]
}
shell_back() { [ "$(pane '#{pane_current_command}')" = sh ] && [ "$(pane '#{alternate_on}')" = 0 ]; }
show() { screen | sed 's/^/#   |/'; }

# A shell in an 80x24 terminal. A detached session takes its size from
# -x/-y; window-size manual keeps it so (tmux 3.3 would follow a client's).
"${TM[@]}" new-session -d -x 80 -y 24 -s top "env PS1='top-test\$ ' sh" &&
	"${TM[@]}" set-option -g window-size manual &&
	"${TM[@]}" resize-window -t top -x 80 -y 24 || { echo "Bail out! tmux did not start a session"; exit 1; }
check "the tmux pane is 80x24" [ "$(pane '#{pane_width}x#{pane_height}')" = 80x24 ]

# --------------------------------------------------------- no daemon yet
"${TM[@]}" send-keys -t top "$RUN_CTL --socket $WORK/sock top --interval 0.5" Enter
if wait_for 10 screen_has "densityd is not running"; then
	ok "without a daemon, top says so: $(screen | head -n 1)"
else
	not_ok "without a daemon: no screen that says so"
	show
fi

mkdir -p "$WORK/prom"
cp -a "$FIX/host-v2" "$WORK/root"
echo 1001 >"$WORK/root/run/libvirt/qemu/d.pid"
printf '[Daemon]\nInterval=200ms\nStaleAfter=60s\nControlSocket=%s/sock\nTextfileDirectory=%s/prom\nStateDirectory=%s/state\n' \
	"$WORK" "$WORK" "$WORK" >"$WORK/policy.conf"
${MESON_EXE_WRAPPER:-} "$TESTD" -c "$WORK/policy.conf" --proc-root "$WORK/root/proc" --sys-root "$WORK/root/sys" \
	--cgroup-root "$WORK/root/cgroup" --libvirt-run-dir "$WORK/root/run/libvirt/qemu" --roles a,b,c,d \
	2>"$WORK/daemon.log" &
PID=$!
# The test planner's 8 actions done, and c (destroyed) gone from the
# status: the guests stay as they are.
all_done() {
	[ "$(ctl log --json 2>/dev/null | jq '[.entries[] | select(.result == "done")] | length')" = 8 ] &&
		ctl status --json | jq -e '[.guests[].name] | index("c") == null' >/dev/null
}
wait_for 20 all_done || { echo "Bail out! densityd-test did not do its actions:"; sed 's/^/# /' "$WORK/daemon.log"; exit 1; }
by_rss=$(ctl status --json | jq -r '.guests | sort_by([-.rss_bytes, .name]) | .[].name' | tr '\n' ' ')
by_name=$(ctl status --json | jq -r '.guests[].name' | sort | tr '\n' ' ')
diag "the daemon's guests by RSS: $by_rss"

# ---------------------------------------------------------- the screen
guests_shown() { screen_has "by rss, largest first" && [ "$(screen_guests)" = "$by_rss" ]; }
if wait_for 10 guests_shown; then
	ok "top found the daemon when it came up and shows its guests by RSS: $(screen_guests)"
else
	not_ok "top did not show the daemon's guests ($by_rss) by RSS"
fi
diag "the 80x24 screen:"
show
# The pane's process is densityctl, or the wrapper running it (qemu-user
# in a cross build).
running=densityctl
[ -z "${MESON_EXE_WRAPPER:-}" ] || running=$(basename "${MESON_EXE_WRAPPER%% *}")
check "the process ($running) runs on the alternate screen, cursor hidden" \
	[ "$(pane '#{pane_current_command} #{alternate_on} #{cursor_flag}')" = "$running 1 0" ] ||
	diag "the pane: $(pane '#{pane_current_command} #{alternate_on} #{cursor_flag}')"
check "no line wider than 80 columns, 24 rows at most" fits 80 24
# The terminal clips what is wider; a line top cut itself ends in "…" in
# the last column.
cut() { grep -Eq '^.{79}…$' <<<"$(screen)" && grep -q '(strict): test: memory …$' <<<"$(screen)"; }
check "a decision wider than the screen is cut to 80 columns by top, ending in …" cut || show
header() {
	local s
	s=$(screen)
	grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2} densityd .*, pid [0-9]+, .*connected$' <<<"$s" &&
		grep -q '^Memory   15.6 GiB, available 8.6 GiB, anon 5.7 GiB, swap free 0 KiB, OOM kills 7$' <<<"$s" &&
		grep -q '^Budget   cgroup v2 machine.slice: usage 6.0 GiB, limit none, OOM kills 0$' <<<"$s" &&
		grep -q '^Pressure some 0.00% / 0.12%, full 0.00% / 0.00% (avg10 / avg60)$' <<<"$s" &&
		grep -q '^KSM      saved 19.7 MiB, running, 61700 pages/s, 7 full scans$' <<<"$s"
}
check "the header shows the daemon, host memory, the VMs' budget, PSI and KSM (the fixture's figures)" header
guest_rows() {
	local s
	s=$(screen)
	grep -Eq '^b +117 +256/256 +146 +4 default ' <<<"$s" && grep -Eq '^a +47 +240/256 +146 +1 default ' <<<"$s"
}
check "a guest row has its RSS, balloon, usable, KSM and class in MiB" guest_rows
decisions() {
	local s
	s=$(screen)
	grep -q '^Recent decisions$' <<<"$s" && [ "$(sed -n '/^Recent decisions$/,$p' <<<"$s" | grep -Ec '^[0-9:]{8} test +done ')" = 8 ] &&
		grep -q 'destroy c: test: destroy c$' <<<"$s"
}
check "the 8 decisions fill the rows below the guests (more than the status's 5: from the log)" decisions

# ------------------------------------------------------------ the keys
sorted() { # sorted KEY TITLE ORDER
	"${TM[@]}" send-keys -t top "$1"
	local t=$2 want=$3
	title_and_order() { screen_has "$t" && [ "$(screen_guests)" = "$want" ]; }
	if wait_for 5 title_and_order; then
		ok "key $1: guests $2: $(screen_guests)"
	else
		not_ok "key $1: wanted $2 ($want), the screen has $(screen | sed -n 7p): $(screen_guests)"
	fi
}
rev() { local w out=; for w in $1; do out="$w $out"; done; echo "$out"; }
[ "$by_rss" != "$by_name" ] || diag "(the fixture's order by RSS is that by name: the keys prove less)"
sorted 1 "by name, A to Z" "$by_name"
sorted r "by name, Z to A" "$(rev "$by_name")"
sorted s "by rss, largest first" "$by_rss"
sorted S "by name, A to Z" "$by_name"

# A smaller terminal: the screen follows (SIGWINCH), the guests truncated.
"${TM[@]}" resize-window -t top -x 60 -y 10
small() { screen_has "^… 2 more$" && fits 60 10; }
if wait_for 5 small; then
	ok "resized to 60x10: the screen fits, one guest row and \"… 2 more\""
else
	not_ok "resized to 60x10: the screen did not follow"
	show
fi
"${TM[@]}" resize-window -t top -x 80 -y 24

# ----------------------------------------------------------- the way out
"${TM[@]}" send-keys -t top q
check "q: densityctl exits, the alternate screen is left, the shell is back" wait_for 5 shell_back
screen | grep -v '^$' | tail -n 2 | sed 's/^/#   |/'
terminal_as_found() {
	"${TM[@]}" send-keys -t top "stty -a >$WORK/stty; echo \$? >$WORK/stty.rc" Enter
	wait_for 5 test -s "$WORK/stty.rc" && grep -Eq '(^| )icanon( |$)' "$WORK/stty" && grep -Eq '(^| )echo( |$)' "$WORK/stty" &&
		[ "$(pane '#{cursor_flag}')" = 1 ]
}
check "the terminal is as it was: icanon and echo on, the cursor shown" terminal_as_found

"${TM[@]}" send-keys -t top "clear; $RUN_CTL --socket $WORK/sock top" Enter
wait_for 10 screen_has "guests, MiB" || not_ok "top did not start a second time"
"${TM[@]}" send-keys -t top C-c
check "^C: densityctl exits, the alternate screen is left, the shell is back" wait_for 5 shell_back

# -------------------------------------------------------- not a terminal
(unset COLUMNS LINES; ctl top >"$WORK/plain" 2>&1)
rc=$?
plain() {
	local line
	while IFS= read -r line; do
		[ ${#line} -le 80 ] || { diag "${#line} columns: $line"; return 1; }
	done <"$WORK/plain"
	[ $rc = 0 ] && [ "$(wc -l <"$WORK/plain")" -le 24 ] && grep -q '^Memory   15.6 GiB' "$WORK/plain" &&
		grep -q '^Recent decisions$' "$WORK/plain" && ! grep -q $'\033' "$WORK/plain"
}
check "not on a terminal: one screen, 80x24 at most, no escape sequences, exit 0" plain
$RUN_CTL --socket "$WORK/nothing" top >"$WORK/plain" 2>&1
rc=$?
check "not on a terminal, no daemon: says so, exit 3" \
	bash -c "[ $rc = 3 ] && grep -q 'densityd is not running' '$WORK/plain'"

echo "1..$n"
[ $failed -eq 0 ]
