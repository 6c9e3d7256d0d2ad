#!/usr/bin/env bash
# s3cow resize grows a disk whose size is not a multiple of its chunk
# size: the next open serves the new size; the data before the old end is
# intact, the bytes past it (in the old last chunk too) read as zeros, and
# a write past the old end reads back, after a restart too.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

CS=65536
OLD=$((4 * CS + 1024))
s3cow create d "$OLD" --chunk-size 64K
nbd_py "w('d', 0, pattern('old', $OLD))"

wait_released d
s3cow resize d 1M >"$tmpdir/out"
grep -q "resized from" "$tmpdir/out" || fail "resize said: $(cat "$tmpdir/out")"

nbd_py "
OLD = $OLD
h = _conn('d')
if h.get_size() != 1024 * 1024:
    sys.exit('size after resize: %d, expected 1M' % h.get_size())
if h.pread(OLD, 0) != pattern('old', OLD):
    sys.exit('the data before the old end changed')
if h.pread(1024 * 1024 - OLD, OLD) != bytes(1024 * 1024 - OLD):
    sys.exit('the bytes past the old end are not zeros')
h.pwrite(pattern('new', 100000), OLD - 1000)
h.flush()
h.shutdown()
"
stop_nbdkit || fail "nbdkit exited with status $?"

serve
nbd_py "
OLD = $OLD
want = pattern('old', OLD)[:OLD - 1000] + pattern('new', 100000)
want += bytes(1024 * 1024 - len(want))
if r('d', 0, 1024 * 1024) != want:
    sys.exit('after a restart, the grown disk does not read back')
"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
