#!/bin/sh
# test-install: `meson install` of this build into a DESTDIR, as an operator
# gets it.
#   - the binaries, the systemd unit, the man pages, every shipped policy
#     (policies/*.conf) under datadir/densityd/policies, the bash
#     completions and sysconfdir/densityd/policy.conf (= default.conf,
#     mode 0644) are in place, where the prefix says;
#   - the installed densityd's default policy is that policy.conf, and it
#     passes --check-config;
#   - installing again keeps an edited policy.conf as it is (and still
#     refreshes the shipped copies); a removed one comes back.
# TAP output.
#
# Usage: test-install.sh MESON BUILD_DIR SOURCE_DIR DENSITYD
# (DENSITYD, the built one, only so that meson passes a cross build's
# exe_wrapper, which runs the installed one.)
set -u

if [ $# -ne 4 ]; then
	echo "usage: $0 MESON BUILD_DIR SOURCE_DIR DENSITYD" >&2
	exit 2
fi
meson=$1
build=$2
src=$3
# A cross build: meson names the exe_wrapper (qemu-user) here; empty natively.
run=${MESON_EXE_WRAPPER:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest

n=0
failed=0
check() { # check WHAT COMMAND...: one TAP line
	what=$1
	shift
	n=$((n + 1))
	if "$@" >"$work/out" 2>&1; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		sed 's/^/# /' "$work/out"
		failed=1
	fi
}
install_all() {
	"$meson" install -C "$build" --no-rebuild --destdir "$dest" >"$work/install.log" 2>&1 ||
		{ cat "$work/install.log"; return 1; }
}

# The layout this build was configured for.
"$meson" introspect "$build" --buildoptions >"$work/options.json" ||
	{ echo "Bail out! meson introspect failed"; exit 1; }
opt() {
	python3 -c 'import json, sys; print({o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}[sys.argv[2]])' \
		"$work/options.json" "$1"
}
abs() { # abs DIR: an option's directory, absolute (meson: relative to the prefix)
	case $1 in
	/*) echo "$1" ;;
	*) echo "$prefix/$1" ;;
	esac
}
prefix=$(opt prefix)
bindir=$(abs "$(opt bindir)")
sbindir=$(abs "$(opt sbindir)")
datadir=$(abs "$(opt datadir)")
mandir=$(abs "$(opt mandir)")
sysconfdir=$(abs "$(opt sysconfdir)")
if [ "$prefix" = /usr ] && pkg-config --exists systemd; then
	unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
else
	unitdir=$prefix/lib/systemd/system
fi
if [ "$prefix" = /usr ] && pkg-config --exists bash-completion; then
	completionsdir=$(pkg-config --variable=completionsdir bash-completion)
else
	completionsdir=$datadir/bash-completion/completions
fi
policy=$sysconfdir/densityd/policy.conf
echo "# prefix $prefix, policy $policy, units in $unitdir"

check "meson install into an empty DESTDIR" install_all
check "densityd in $sbindir" test -x "$dest$sbindir/densityd"
check "densityctl in $bindir" test -x "$dest$bindir/densityctl"
check "the unit in $unitdir, starting $sbindir/densityd" \
	grep -qx "ExecStart=$sbindir/densityd" "$dest$unitdir/densityd.service"
check "densityd(8), densityctl(8), densityd-policy(5)" \
	test -f "$dest$mandir/man8/densityd.8" -a -f "$dest$mandir/man8/densityctl.8" \
	-a -f "$dest$mandir/man5/densityd-policy.5"
for f in "$src"/policies/*.conf; do
	check "shipped policy $datadir/densityd/policies/${f##*/}" \
		cmp "$f" "$dest$datadir/densityd/policies/${f##*/}"
done
check "bash completions in $completionsdir" \
	test -f "$dest$completionsdir/densityd" -a -f "$dest$completionsdir/densityctl"
check "$policy is default.conf" cmp "$src/policies/default.conf" "$dest$policy"
check "$policy has mode 644" test "$(stat -c %a "$dest$policy")" = 644
default_policy_is() { # the installed densityd's --help names $1 as the default
	$run "$dest$sbindir/densityd" --help | grep -F "(default $1)"
}
check "the installed densityd reads $policy by default" default_policy_is "$policy"
check "the installed densityd finds $policy OK" \
	$run "$dest$sbindir/densityd" --check-config="$dest$policy"
check "nothing installed outside DESTDIR's prefix, $sysconfdir and $unitdir" sh -c '
	cd "$1" && find . ! -type d | sed "s|^\.||" | while read -r f; do
		case $f in "$2"/* | "$3"/* | "$4"/*) ;; *) echo "$f"; exit 1 ;; esac
	done' sh "$dest" "$prefix" "$sysconfdir" "$unitdir"

# An operator edits the policy, then installs again (an upgrade from source).
echo "Interval=7s # edited by the operator" >>"$dest$policy"
cp "$dest$policy" "$work/edited.conf"
echo "# stale" >>"$dest$datadir/densityd/policies/default.conf"
check "meson install over an edited policy" install_all
check "the edited $policy is kept as it is" cmp "$work/edited.conf" "$dest$policy"
check "the shipped copies are refreshed all the same" \
	cmp "$src/policies/default.conf" "$dest$datadir/densityd/policies/default.conf"
# Removed: installed again.
rm "$dest$policy"
check "meson install with the policy removed" install_all
check "$policy is back" cmp "$src/policies/default.conf" "$dest$policy"

echo "1..$n"
exit $failed
