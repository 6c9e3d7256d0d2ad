#!/usr/bin/env bash
# s3cow resize --shrink, then a grow back: the bytes below the new end
# keep their data; every byte past it reads as zeros after the grow,
# never the old data: in the dropped chunks and in the part of the new
# last chunk (cut in the middle) that lay past the new end.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

CS=65536
SIZE=$((16 * CS))
CUT=$((5 * CS + 1024))
s3cow create d "$SIZE" --chunk-size 64K
nbd_py "w('d', 0, pattern('all', $SIZE))"

wait_released d
s3cow resize d "$CUT" --shrink >"$tmpdir/out"
grep -q "resized from" "$tmpdir/out" || fail "resize said: $(cat "$tmpdir/out")"
nbd_py "
h = _conn('d')
if h.get_size() != $CUT:
    sys.exit('size after the shrink: %d, expected $CUT' % h.get_size())
if h.pread($CUT, 0) != pattern('all', $SIZE)[:$CUT]:
    sys.exit('the data below the new end changed')
h.shutdown()
"

wait_released d
s3cow resize d "$SIZE"
nbd_py "
got = r('d', 0, $SIZE)
want = pattern('all', $SIZE)[:$CUT] + bytes($SIZE - $CUT)
if got != want:
    i = next(i for i in range($SIZE) if got[i] != want[i])
    sys.exit('after shrink and grow: byte %d (chunk %d) is %d, expected %d'
             % (i, i // $CS, got[i], want[i]))
"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
