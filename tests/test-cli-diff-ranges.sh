#!/usr/bin/env bash
# s3cow diff between a snapshot and its disk after writes at known
# offsets prints exactly the chunks written, adjacent ones merged into one
# range; after the disk grew, the size change first, and a write past the
# old end as a range clipped to the new end; the reverse diff (a shrink)
# prints no range past the smaller end.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

CS=65536
s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("base", 1024 * 1024))'
s3cow snapshot d s
# Chunk 3 (partly), chunk 4 (whole): one range; chunk 10 (one byte).
nbd_py '
CS = 65536
w("d", 3 * CS + 10, pattern("a", 100))
w("d", 4 * CS, pattern("b", CS))
w("d", 10 * CS + 5, b"x")
'
s3cow diff d@s d >"$tmpdir/out"
printf '%s\n' "$((3 * CS)) $((2 * CS))" "$((10 * CS)) $CS" >"$tmpdir/want"
diff -u "$tmpdir/want" "$tmpdir/out" || fail "diff d@s d: wrong ranges"

# Grow to 1M + 100K (its last chunk partial), write past the old end.
wait_released d
s3cow resize d $((1024 * 1024 + 100 * 1024))
nbd_py 'w("d", 1024 * 1024 + 70000, b"y")'
s3cow diff d@s d >"$tmpdir/out"
{
  echo "size 1048576 $((1024 * 1024 + 100 * 1024))"
  cat "$tmpdir/want"
  echo "$((17 * CS)) $((1024 * 1024 + 100 * 1024 - 17 * CS))"
} >"$tmpdir/want2"
diff -u "$tmpdir/want2" "$tmpdir/out" || fail "diff after the grow: wrong"

s3cow diff d d@s >"$tmpdir/out"
{
  echo "size $((1024 * 1024 + 100 * 1024)) 1048576"
  cat "$tmpdir/want"
} >"$tmpdir/want3"
diff -u "$tmpdir/want3" "$tmpdir/out" || fail "diff d d@s: wrong"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
