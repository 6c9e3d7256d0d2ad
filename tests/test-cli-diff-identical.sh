#!/usr/bin/env bash
# s3cow diff of two states with the same content prints nothing (a disk
# and its snapshot, a disk and a fork of it, a disk and itself) and exits
# 0, text and --json (no ranges).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 3 * 65536, pattern("a", 65536))'
s3cow snapshot d s
s3cow fork d f
for pair in "d@s d" "d f" "d d" "f d@s"; do
  # shellcheck disable=SC2086 # two operands
  s3cow diff $pair >"$tmpdir/out" || fail "diff $pair failed"
  [ ! -s "$tmpdir/out" ] || fail "diff $pair printed: $(cat "$tmpdir/out")"
  # shellcheck disable=SC2086
  s3cow diff $pair --json | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
if j["ranges"] != [] or j["changed_bytes"] != 0:
    sys.exit("ranges: %r" % j["ranges"])' || fail "diff $pair --json"
done
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
