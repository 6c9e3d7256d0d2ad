#!/usr/bin/env bash
# s3cow resize of an encrypted disk needs its key:
#  - without it the resize is refused, saying so, and the disk is left as
#    it was;
#  - with it, a grow keeps the data and reads zeros past the old end;
#  - a shrink that cuts a chunk seals the new last chunk under the key
#    (its tail zeroed): after growing again, the cut chunk reads its
#    kept bytes and zeros, and fsck with the key finds no problem.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
log="$tmpdir/log"
openssl rand -hex 32 >"$tmpdir/key"
keyfile=(--encryption-key-file "$tmpdir/key")
CS=65536

s3cow create d 1M --chunk-size 64K "${keyfile[@]}"
serve "encryption-key=+$tmpdir/key"
nbd_py 'w("d", 0, pattern("data", 4 * 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

# No key: refused, nothing changed.
if s3cow resize d 2M 2>"$log"; then fail "resize without the key succeeded"; fi
grep -q "d is encrypted: resizing it needs its key" "$log" ||
  fail "resize without the key: $(cat "$log")"
s3cow info d --json | grep -q '"size": 1048576' || fail "the size changed"

# Grow.
s3cow resize d 2M "${keyfile[@]}" || fail "grow with the key failed"
serve "encryption-key=+$tmpdir/key"
nbd_py '
assert r("d", 0, 4 * 65536) == pattern("data", 4 * 65536), "old data"
assert r("d", 1 << 20, 1 << 20) == bytes(1 << 20), "the grown part"
' || fail "reading the grown disk failed"
stop_nbdkit || fail "nbdkit exited with status $?"

# Shrink into chunk 3 (8K of it stay), then grow again.
s3cow resize d $((3 * CS + 8192)) --shrink "${keyfile[@]}" ||
  fail "shrink with the key failed"
s3cow resize d 1M "${keyfile[@]}" || fail "grow after the shrink failed"
serve "encryption-key=+$tmpdir/key"
nbd_py '
CS = 65536
want = pattern("data", 4 * CS)[:3 * CS + 8192]
assert r("d", 0, 3 * CS + 8192) == want, "the kept data"
assert r("d", 3 * CS + 8192, CS - 8192) == bytes(CS - 8192), "the cut tail"
' || fail "reading after the shrink failed"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck d "${keyfile[@]}" >"$tmpdir/fsck" ||
  fail "fsck with the key: $(cat "$tmpdir/fsck")"
echo "$0: PASS"
