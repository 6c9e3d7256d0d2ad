#!/usr/bin/env bash
# s3cow fsck checks a disk's kept heads too: a chunk that only a commit in
# the history window names (overwritten since) is reported when missing.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K --history 1h
nbd_py '
w("d", 0, pattern("A", 65536))
w("d", 0, pattern("B", 65536))
'
old="chunks/$(nbd_py 'sys.stdout.write(hashlib.sha256(pattern("A", 65536)).hexdigest())')"
s3cow fsck d >"$tmpdir/ok" || { cat "$tmpdir/ok"; fail "fsck of a sound disk failed"; }
obj_delete "$old"
if s3cow fsck d >"$tmpdir/out"; then
  cat "$tmpdir/out"
  fail "fsck passed with a chunk of the history missing"
fi
cat "$tmpdir/out"
grep -Eq "^missing chunk $old \(kept head disks/d/history/[0-9a-f]{16}-[0-9]{12} chunk 0\)$" "$tmpdir/out" ||
  fail "fsck does not name the missing chunk and its kept head"
