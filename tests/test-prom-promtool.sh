#!/bin/sh
# promtool check metrics on the textfile test-prom renders: exit 0 and no
# lint complaints at all.  Usage: test-prom-promtool.sh PROMTOOL TEST_PROM
set -u
promtool=$1
test_prom=$2
# A cross build: meson names the exe_wrapper (qemu-user) here; empty natively.
run=${MESON_EXE_WRAPPER:-}

text=$($run "$test_prom" --dump) || { echo "test-prom --dump failed"; exit 1; }
[ -n "$text" ] || { echo "test-prom --dump printed nothing"; exit 1; }
out=$(printf '%s\n' "$text" | "$promtool" check metrics 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
        echo "promtool check metrics: exit $rc"
        printf '%s\n' "$out"
        exit 1
fi
echo "promtool check metrics: OK ($(printf '%s\n' "$text" | grep -vc '^#') samples)"
