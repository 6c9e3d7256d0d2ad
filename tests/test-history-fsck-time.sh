#!/usr/bin/env bash
# s3cow fsck DISK@TIME checks the one state at that time: sound, it
# checks that state's chunks only; with a chunk of that state missing
# (overwritten since), it names the chunk and DISK@TIME and fails.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("A", 65536))'
t="$(last_commit_time d)"
nbd_py 'w("d", 65536, pattern("B", 2 * 65536))'
nbd_py 'w("d", 0, pattern("C", 65536))'

s3cow fsck "d@$t" >"$tmpdir/ok" || { cat "$tmpdir/ok"; fail "fsck d@$t failed"; }
cat "$tmpdir/ok"
grep -q "^fsck: 1 disks and snapshots, 1 chunks (65536 bytes) checked: no problems$" \
  "$tmpdir/ok" || fail "fsck d@$t did not check its 1 chunk only"

old="chunks/$(nbd_py 'sys.stdout.write(hashlib.sha256(pattern("A", 65536)).hexdigest())')"
obj_delete "$old"
if s3cow fsck "d@$t" >"$tmpdir/out"; then
  cat "$tmpdir/out"
  fail "fsck d@$t passed with its chunk missing"
fi
cat "$tmpdir/out"
grep -q "^missing chunk $old (disk d@$t chunk 0)$" "$tmpdir/out" ||
  fail "fsck d@$t does not name the missing chunk"
