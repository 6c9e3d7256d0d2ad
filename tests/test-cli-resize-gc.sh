#!/usr/bin/env bash
# gc after s3cow resize --shrink deletes the chunks the shrink dropped,
# except those a snapshot still names; once the snapshot is removed, gc
# deletes those too.  The chunks below the new end stay, and fsck is clean.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

CS=65536
# No history: kept heads would keep what the shrink dropped for the window.
s3cow create d 1M --chunk-size 64K --history 0
nbd_py '
CS = 65536
w("d", 0, pattern("c0", CS))
w("d", 2 * CS, pattern("c2", CS))
'
s3cow snapshot d s
nbd_py 'w("d", 3 * 65536, pattern("c3", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

chunk_key ()
{
  S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
print('chunks/' + hashlib.sha256(pattern('$1', 65536)).hexdigest())"
}
has ()
{
  obj_list "$1" | grep -q .
}
for c in c0 c2 c3; do has "$(chunk_key $c)" || fail "no chunk object for $c"; done

s3cow resize d $((2 * CS)) --shrink
s3cow gc --force --grace 0s >"$tmpdir/gc1"
has "$(chunk_key c3)" && fail "gc after the shrink kept the dropped chunk c3"
has "$(chunk_key c2)" || fail "gc deleted c2, which the snapshot names"
has "$(chunk_key c0)" || fail "gc deleted c0, below the new end"

s3cow rm d@s
s3cow gc --force --grace 0s >"$tmpdir/gc2"
has "$(chunk_key c2)" && fail "gc kept c2 after its snapshot was removed"
has "$(chunk_key c0)" || fail "gc deleted c0, below the new end"
s3cow fsck || fail "fsck is not clean after shrink and gc"
echo "$0: PASS"
