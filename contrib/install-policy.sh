#!/bin/sh
# meson install script: installs SRC as the operator's policy file DEST
# (mode 0644) only where DEST does not exist yet, so that installing again
# never overwrites an edited policy. Honours DESTDIR (meson makes it
# absolute) and --quiet (meson shows the output only with a failure).
#
# Usage: install-policy.sh SRC DEST   (DEST absolute, without DESTDIR)
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 SRC DEST" >&2
	exit 2
fi
src=$1
dest=${DESTDIR:-}$2

say() {
	[ -n "${MESON_INSTALL_QUIET:-}" ] || echo "$@"
}

if [ -e "$dest" ] || [ -L "$dest" ]; then
	say "Keeping existing $dest"
	exit 0
fi
say "Installing $src to $dest"
mkdir -p "$(dirname "$dest")"
# Via a temporary file: an interrupted install leaves no half-written policy.
cp "$src" "$dest.tmp.$$"
chmod 0644 "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
