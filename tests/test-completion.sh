#!/usr/bin/env bash
# test-completion: the bash completions (contrib/bash-completion) as bash
# runs them, with bash-completion's helpers loaded: COMP_WORDS/COMP_CWORD
# as bash sets them for a command line, then COMPREPLY inspected.
#   - every long option and command that --help of the built densityd and
#     densityctl lists is offered, and nothing --help does not list;
#   - prefixes complete to what they should (commands, options, controller
#     names, files, directories, guests from a stand-in virsh).
# TAP output.
#
# Usage: test-completion.sh COMPLETION_DIR DENSITYD DENSITYCTL
set -u
export LC_ALL=C

if [ $# -ne 3 ]; then
	echo "usage: $0 COMPLETION_DIR DENSITYD DENSITYCTL" >&2
	exit 2
fi
dir=$1
# A cross build: meson names the exe_wrapper (qemu-user) here; empty natively.
run=${MESON_EXE_WRAPPER:-}
densityd=$2
densityctl=$3

datadir=$(pkg-config --variable=datadir bash-completion 2>/dev/null || echo /usr/share)
helpers=${datadir:-/usr/share}/bash-completion/bash_completion
if [ ! -r "$helpers" ]; then
	echo "1..0 # SKIP bash-completion is not installed (contrib/deps.sh deb)"
	exit 77
fi
# bash_completion reads BASH_COMPLETION_USER_DIR etc.; keep it off $HOME.
export XDG_DATA_HOME=/nonexistent BASH_COMPLETION_USER_FILE=/dev/null
shopt -s extglob progcomp
# shellcheck disable=SC1090
. "$helpers" || { echo "Bail out! cannot source $helpers"; exit 1; }
. "$dir/densityd" || { echo "Bail out! cannot source $dir/densityd"; exit 1; }
. "$dir/densityctl" || { echo "Bail out! cannot source $dir/densityctl"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/policies" "$work/proc"
touch "$work/policy.conf" "$work/pong"
# A stand-in virsh: two running guests and one shut off (shed).
mkdir "$work/bin"
cat >"$work/bin/virsh" <<'EOT'
#!/bin/sh
case "$*" in
*--all*) printf 'dtest-1\ndtest-2\ndb-3\n' ;;
*) printf 'dtest-1\ndtest-2\n' ;;
esac
EOT
chmod +x "$work/bin/virsh"
PATH=$work/bin:$PATH

n=0
failed=0
# complete WORD...: COMPREPLY for the command line WORD... (the last word is
# the one being completed), sorted, one line.
complete_line() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	# As typed: bash splits "--opt=VALUE" into three words (COMP_WORDBREAKS).
	COMP_LINE="$*"
	COMP_LINE=${COMP_LINE// = /=}
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	local fn
	fn=$(complete -p "$1" 2>/dev/null | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	[ -n "$fn" ] || { echo "(no completion for $1)"; return; }
	"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# same WHAT GOT WANT: one TAP line.
same() {
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1 -> '$3'"
	else
		echo "not ok $n - $1: got '$2', want '$3'"
		failed=1
	fi
}
# expect "WANT" WORD...: the completions of WORD... are exactly WANT (sorted,
# spaced).
expect() {
	local want=$1
	shift
	same "'$*'" "$(complete_line "$@")" "$want"
}
# The long options in --help output (read from stdin), sorted.
help_longopts() {
	grep -o -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# Every option and command --help lists, nothing more.
want=$($run "$densityd" --help | help_longopts)
got=$(complete_line densityd -- | tr ' ' '\n' | sed 's/=$//' | sort -u | tr '\n' ' ' | sed 's/ $//')
same "densityd's long options as --help lists them" "$got" "$want"
want=$($run "$densityctl" --help | sed -n '/^Options:/,/^$/p' | help_longopts)
# Over the commands that take options of their own (log's, top's, simulate's).
got=$({ complete_line densityctl log --; echo; complete_line densityctl top --; echo; complete_line densityctl simulate --; } | tr ' ' '\n' | grep . | sort -u | tr '\n' ' ' | sed 's/ $//')
same "densityctl's long options as --help lists them (log's, top's and simulate's)" "$got" "$want"
expect "--interval --iterations" densityctl top --i
expect "rss" densityctl top --sort r
expect "--policy" densityctl simulate --p
want=$($run "$densityctl" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
same "densityctl's commands as --help lists them" "$(complete_line densityctl "")" "$want"

# densityctl: commands, per-command options, option arguments.
expect "status" densityctl st
expect "reload restore" densityctl re
expect "status" densityctl -s "$work/pong" st
expect "--json" densityctl status --j
expect "--json" densityctl --socket "$work/pong" status --j
expect "--controller" densityctl log --c
expect "balloon" densityctl log --controller b
expect "ksm" densityctl log -C k
expect "shed" densityctl log --controller=s
expect "dtest-1 dtest-2" densityctl shed dt
expect "db-3 dtest-1 dtest-2" densityctl restore ""
expect "" densityctl shed dtest-1 ""
expect "db-3" densityctl log --guest d -n 5 --guest db
expect "$work/pong" densityctl -s "$work/pon"
# densityd: options, files and directories.
expect "--cgroup-root --check-config --check-config= --config" densityd --c
expect "--dry-run" densityd --d
expect "$work/policies $work/policy.conf" densityd --config "$work/pol"
expect "$work/policies $work/policy.conf" densityd -c "$work/pol"
expect "$work/policies $work/policy.conf" densityd --check-config = "$work/pol"
expect "$work/policies $work/proc" densityd --proc-root "$work/p"
expect "$work/policies" densityd --textfile-dir "$work/pol"

echo "1..$n"
exit $failed
