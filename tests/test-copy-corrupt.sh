#!/usr/bin/env bash
# s3cow copy checks every chunk it sends against its address: a source
# chunk damaged in the bucket makes the copy fail, naming the chunk, and
# leaves the destination without a disk head.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("d", 6 * 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

# Chunk 2's object gets other bytes of the same size.
nbd_py '
data = pattern("d", 6 * 65536)[2 * 65536:3 * 65536]
open(os.path.dirname(SOCK) + "/c2", "wb").write(data)
'
key="chunks/$(sha256_of "$tmpdir/c2")"
obj_list "$key" | grep -q . || fail "no object $key"
head -c 65536 /dev/urandom >"$tmpdir/bad"
obj_put "$key" "$tmpdir/bad"

mkdir -p "$tmpdir/dst/b2"
if s3cow copy d "file://$tmpdir/dst/b2/d" 2>"$tmpdir/err"; then
  fail "the copy of a disk with a corrupt chunk succeeded"
fi
cat "$tmpdir/err"
grep -q "chunk 2: $key is corrupt" "$tmpdir/err" ||
  fail "the error does not name the corrupt chunk"
[ ! -e "$tmpdir/dst/b2/disks/d/head" ] || fail "a destination head was written"
echo "$0: PASS"
