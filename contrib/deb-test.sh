#!/usr/bin/env bash
# The Debian package end to end, as root, on this machine: builds the .deb
# (dpkg-buildpackage -us -uc -b) in a copy of the tree, so the checkout stays
# as it is; lintian must report no error and no warning; installs it with
# apt-get, checks its files, the conffile and the enabled unit; runs the
# installed densityd (with systemctl where systemd is PID 1, else directly
# against a temporary policy) and asks `densityctl status`; reinstalls over
# an edited policy.conf and checks the edit is kept; stops it, purges the
# package and checks that nothing of it is left. The daemon runs with
# --dry-run (started directly: without libvirtd too): it changes nothing
# on the host.
# TAP output (ok / not ok, 1..N at the end); exits non-zero on a failure.
# Whatever happens, the package is purged and the daemon stopped on exit.
#
# Usage: contrib/deb-test.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
src=$PWD

if [ "$(id -u)" -ne 0 ]; then
	echo "deb-test.sh: run as root (it installs and purges the package)" >&2
	exit 1
fi
# "" or "unknown ok not-installed": dpkg has no trace of the package.
not_known() {
	case $(dpkg-query -W -f='${Status}' densityd 2>/dev/null) in
	"" | *" not-installed") return 0 ;;
	*) return 1 ;;
	esac
}
if ! not_known; then
	echo "Bail out! densityd is installed here (or its conffiles are); deb-test.sh purges what it installs, so it does not run over it"
	exit 1
fi
contrib/deps.sh build deb || { echo "Bail out! contrib/deps.sh build deb failed"; exit 1; }

work=$(mktemp -d /tmp/densityd-deb.XXXXXX)
installed=0
daemon_pid=
dropin=/run/systemd/system/densityd.service.d/deb-test.conf
systemd=0
[ -d /run/systemd/system ] && systemd=1

cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill "$daemon_pid"
		wait "$daemon_pid" 2>/dev/null
	fi
	if [ "$systemd" = 1 ]; then
		systemctl stop densityd.service >/dev/null 2>&1
		rm -f "$dropin"
		rmdir "${dropin%/*}" 2>/dev/null
		systemctl daemon-reload >/dev/null 2>&1
	fi
	if [ "$installed" = 1 ]; then
		echo "# cleanup: purging densityd"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q densityd >/dev/null 2>&1 ||
			dpkg --purge densityd >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0
failed=0
ok() { # ok WHAT: one passed line
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() { # not_ok WHAT [LOG]: one failed line, LOG's tail as comments
	n=$((n + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && [ -f "$2" ] && tail -n 30 "$2" | sed 's/^/# /'
	failed=1
}
check() { # check WHAT COMMAND...: ok when COMMAND succeeds
	local what=$1
	shift
	if "$@" >"$work/out" 2>&1; then
		ok "$what"
	else
		not_ok "$what" "$work/out"
	fi
}
absent() { # absent PATH...: none exists
	local p bad=0
	for p in "$@"; do
		[ -e "$p" ] || [ -L "$p" ] || continue
		echo "left behind: $p"
		bad=1
	done
	return $bad
}
done_testing() {
	echo "1..$n"
	exit $failed
}

# Build in a copy: the files git knows or would add (uncommitted edits
# included, build directories and ignored files not).
state_before=$(git status --porcelain 2>/dev/null)
mkdir "$work/densityd"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar -c --null -T - | tar -x -C "$work/densityd"
if (cd "$work/densityd" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b in a copy of the tree"
else
	not_ok "dpkg-buildpackage -us -uc -b in a copy of the tree" "$work/build.log"
	done_testing
fi
deb=$(ls "$work"/densityd_*.deb)
echo "# built ${deb##*/}; its unit and fixtures suites: $(grep -E '^(Ok|Fail|Skipped):' "$work/build.log" | tr -s ' \n' ' ')"
check "the checkout is as it was" test "$(git status --porcelain 2>/dev/null)" = "$state_before"

lintian "$deb" >"$work/lintian.log" 2>&1
errors=$(grep -c '^E: ' "$work/lintian.log")
warnings=$(grep -c '^W: ' "$work/lintian.log")
if [ "$errors" -eq 0 ] && [ "$warnings" -eq 0 ]; then
	ok "lintian: $errors errors, $warnings warnings"
else
	not_ok "lintian: $errors errors, $warnings warnings" "$work/lintian.log"
fi

# Where systemd runs, the packaged unit starts on install: with --dry-run.
if [ "$systemd" = 1 ]; then
	mkdir -p "${dropin%/*}"
	printf '[Service]\nExecStart=\nExecStart=/usr/sbin/densityd --dry-run\n' >"$dropin"
fi
installed=1
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" >"$work/install.log" 2>&1; then
	ok "apt-get install ${deb##*/}"
else
	not_ok "apt-get install ${deb##*/}" "$work/install.log"
	done_testing
fi

installed_files() {
	local f
	for f in /usr/sbin/densityd /usr/bin/densityctl /lib/systemd/system/densityd.service \
		/etc/densityd/policy.conf /usr/share/densityd/policies/default.conf \
		/usr/share/man/man8/densityd.8.gz /usr/share/man/man8/densityctl.8.gz \
		/usr/share/man/man5/densityd-policy.5.gz \
		/usr/share/bash-completion/completions/densityd \
		/usr/share/bash-completion/completions/densityctl; do
		[ -e "$f" ] || { echo "missing: $f"; return 1; }
	done
	for f in "$src"/policies/*.conf; do
		cmp "$f" "/usr/share/densityd/policies/${f##*/}" || return 1
	done
}
check "the binaries, unit, policies, man pages and completions are installed" installed_files
check "/etc/densityd/policy.conf is a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}\n' densityd | grep -q '^ /etc/densityd/policy.conf '"
check "the unit is enabled (multi-user.target.wants)" \
	test -L /etc/systemd/system/multi-user.target.wants/densityd.service
check "densityd --check-config on the installed policy: configuration OK" \
	sh -c '/usr/sbin/densityd --check-config | grep -qx "configuration OK"'
check "densityd --version" sh -c '/usr/sbin/densityd --version | grep -q "^densityd "'

# Run it, ask it, stop it.
if [ "$systemd" = 1 ]; then
	echo "# systemd is PID 1: systemctl start densityd (--dry-run, $dropin)"
	systemctl daemon-reload
	check "systemctl start densityd" systemctl start densityd.service
	check "systemctl is-active densityd" systemctl is-active densityd.service
	sock=/run/densityd/densityd.sock
else
	echo "# systemctl unusable here (no systemd as PID 1): starting /usr/sbin/densityd directly"
	mkdir -p "$work/run/prom"
	cat >"$work/policy.conf" <<EOF
[Daemon]
Interval=1s
ControlSocket=$work/run/densityd.sock
TextfileDirectory=$work/run/prom
StateDirectory=$work/run/state
DryRun=yes
# No libvirtd: the host's (perhaps a shared testbed's) is left alone.
LibvirtURI=qemu+unix:///system?socket=$work/run/no-libvirt.sock
EOF
	sock=$work/run/densityd.sock
	/usr/sbin/densityd --dry-run --config "$work/policy.conf" >"$work/daemon.log" 2>&1 &
	daemon_pid=$!
	ok "/usr/sbin/densityd started (pid $daemon_pid)"
fi
status_answers() {
	local _
	for _ in $(seq 1 100); do
		densityctl --socket "$sock" status >"$work/status" 2>&1 && return 0
		[ -z "$daemon_pid" ] || kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.2
	done
	cat "$work/status" "$work/daemon.log" 2>/dev/null
	return 1
}
check "densityctl status answers" status_answers
check "densityctl status --json is the status document" \
	sh -c 'densityctl --socket "$1" status --json | python3 -c "import json, sys; d = json.load(sys.stdin); assert \"guests\" in d, d"' \
	sh "$sock"
if [ -n "$daemon_pid" ]; then
	kill "$daemon_pid"
	wait "$daemon_pid"
	rc=$?
	daemon_pid=
	check "densityd stops on SIGTERM (exit status $rc)" test "$rc" -eq 0
else
	check "systemctl stop densityd" systemctl stop densityd.service
fi

# The operator's edit survives the package installed again.
echo "Interval=7s # edited by deb-test" >>/etc/densityd/policy.conf
cp /etc/densityd/policy.conf "$work/edited.conf"
check "dpkg -i again over an edited policy.conf" \
	env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$deb"
check "the edited /etc/densityd/policy.conf is kept" cmp "$work/edited.conf" /etc/densityd/policy.conf

# Purge: nothing of it left, state included (made here as systemd's
# StateDirectory= would).
mkdir -p /var/lib/densityd
touch /var/lib/densityd/shed.state
check "apt-get purge densityd" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q densityd
installed=0
check "dpkg knows densityd no more" not_known
check "nothing is left behind" absent /etc/densityd /usr/share/densityd /usr/sbin/densityd \
	/usr/bin/densityctl /lib/systemd/system/densityd.service /var/lib/densityd \
	/etc/systemd/system/multi-user.target.wants/densityd.service \
	/usr/share/bash-completion/completions/densityd \
	/usr/share/bash-completion/completions/densityctl \
	/usr/share/man/man8/densityd.8.gz /usr/share/doc/densityd

done_testing
