#!/usr/bin/env bash
# s3cow diff reads the chunk maps only, never a chunk: with every chunk
# object deleted from the bucket it still prints the right ranges.  Two
# disks with different chunk sizes are refused, saying so.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

CS=65536
s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("base", 1024 * 1024))'
s3cow snapshot d s
nbd_py 'w("d", 7 * 65536, pattern("new", 65536))'
s3cow create big 1M --chunk-size 128K
stop_nbdkit || fail "nbdkit exited with status $?"

n=0
while read -r key _; do
  obj_delete "$key"
  n=$((n + 1))
done < <(obj_list chunks/)
[ "$n" -ge 16 ] || fail "expected at least 16 chunk objects, found $n"

s3cow diff d@s d >"$tmpdir/out" || fail "diff failed without chunk objects"
[ "$(cat "$tmpdir/out")" = "$((7 * CS)) $CS" ] ||
  fail "diff without chunk objects: $(cat "$tmpdir/out")"

status=0
s3cow diff d big 2>"$tmpdir/err" || status=$?
[ "$status" = 1 ] || fail "diff of different chunk sizes: status $status"
grep -q "chunks of 65536 bytes, big of 131072" "$tmpdir/err" ||
  fail "diff of different chunk sizes said: $(cat "$tmpdir/err")"
echo "$0: PASS"
