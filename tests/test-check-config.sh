#!/bin/sh
# test-check-config: what an operator sees from `densityd --check-config FILE`.
#   - every file under policies/ prints "configuration OK" (exit status 0);
#   - data/one-mistake-each.conf (one mistake of each value type, each marked
#     with " ; mistake: TEXT") gives exactly one "FILE:LINE: message" per
#     mistake, on the marked lines, in order, each containing its TEXT, then
#     "FILE: N errors" (exit status 1).
# Every failed check is printed; the test fails if any did.
#
# Usage: test-check-config.sh DENSITYD POLICIES_DIR
set -u

if [ $# -ne 2 ]; then
        echo "usage: $0 DENSITYD POLICIES_DIR" >&2
        exit 2
fi
densityd=$1
# A cross build: meson names the exe_wrapper (qemu-user) here; empty natively.
run=${MESON_EXE_WRAPPER:-}
policies=$2
data="$(dirname "$0")/data/one-mistake-each.conf"
expected_mistakes=7 # size, percent, integer range, boolean, enum, duration, size or no

failed=0
fail() {
        echo "FAIL: $*" >&2
        failed=1
}
show() { # label file
        echo "--- $1:" >&2
        sed 's/^/    /' "$2" >&2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-config.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Every shipped policy is valid.
n=0
for f in "$policies"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        $run "$densityd" --check-config "$f" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ] || [ -s "$tmp/err" ]; then
                fail "$f: exit status $rc, expected 0 and \"configuration OK\" alone"
                show stdout "$tmp/out"
                show stderr "$tmp/err"
        else
                echo "ok: $f: configuration OK"
        fi
done
[ $n -ge 1 ] || fail "no policy files in $policies"

# One mistake of each kind: the markers say where and what.
[ -f "$data" ] || { fail "$data is missing"; exit 1; }
grep -n ' ; mistake: ' "$data" | sed 's/^\([0-9]*\):.* ; mistake: /\1 /' >"$tmp/expected"
n_expected=$(wc -l <"$tmp/expected")
[ "$n_expected" -eq $expected_mistakes ] ||
        fail "$data marks $n_expected mistakes, expected $expected_mistakes"

$run "$densityd" --check-config "$data" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "$data: exit status $rc, expected 1"
[ -s "$tmp/out" ] && { fail "$data: something on standard output"; show stdout "$tmp/out"; }

# All lines but the last are the errors, "FILE:LINE: message".
n_lines=$(wc -l <"$tmp/err")
head -n $((n_lines - 1)) "$tmp/err" >"$tmp/errors"
n_errors=$(wc -l <"$tmp/errors")
[ "$n_errors" -eq "$n_expected" ] || fail "$data: $n_errors errors reported, expected $n_expected"

i=0
while read -r line text; do
        i=$((i + 1))
        got=$(sed -n "${i}p" "$tmp/errors")
        case "$got" in
        "$data:$line: "*"$text"*) echo "ok: line $line: ${got#"$data:$line: "}" ;;
        *) fail "error $i: expected \"$data:$line: ...$text...\", got \"$got\"" ;;
        esac
done <"$tmp/expected"

# Nothing but errors of the form FILE:LINE: (an unexpected one is shown).
while IFS= read -r got; do
        case "$got" in
        "$data:"[0-9]*": "*) ;;
        *) fail "not a \"file:line: message\" error: \"$got\"" ;;
        esac
done <"$tmp/errors"

last=$(tail -n 1 "$tmp/err")
[ "$last" = "$data: $n_expected errors" ] || fail "last line \"$last\", expected \"$data: $n_expected errors\""

if [ $failed -ne 0 ]; then
        show "densityd --check-config $data, stderr" "$tmp/err"
        exit 1
fi
echo "ok: $data: $n_expected errors, one per mistake"
exit 0
