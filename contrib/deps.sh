#!/usr/bin/env bash
# Installs the Debian packages a densityd task needs, only those missing.
# Usage: contrib/deps.sh GROUP...   (groups: build runtime testbed test sanitize bench deb)
set -euo pipefail

declare -A GROUP=(
  [build]="meson ninja-build pkg-config gcc libvirt-dev libsystemd-dev libproc2-dev libjson-c-dev libinih-dev libxml2-dev"
  [runtime]="libvirt-daemon-system libvirt-clients qemu-system-x86"
  [testbed]="libvirt-daemon-system libvirt-clients qemu-system-x86 busybox-static socat cpio gzip kmod"
  [test]="prometheus prometheus-node-exporter curl jq file tmux"
  [sanitize]="clang libclang-rt-14-dev"
  [bench]="gnuplot-nox jq"
  [deb]="debhelper dpkg-dev fakeroot lintian bash-completion"
)

want=()
for g in "$@"; do
  [ -n "${GROUP[$g]+x}" ] || { echo "deps.sh: unknown group '$g' (known: ${!GROUP[*]})" >&2; exit 2; }
  for p in ${GROUP[$g]}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
  done
done
[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages (${want[*]}); run as root to install them" >&2
  exit 1
fi
echo "deps.sh: installing ${want[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q "${want[@]}" >/dev/null
