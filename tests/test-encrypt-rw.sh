#!/usr/bin/env bash
# Encrypted disks round-trip, and keep their key domain across forks and
# snapshots:
#  - s3cow create --encryption-key-file, then a server with
#    encryption-key=+FILE (later -FD) writes chunks (some identical: dedup holds
#    within the key domain) and reads them back after a restart;
#  - s3cow snapshot and fork with the key: the snapshot and the fork read
#    the source's data with the same key, and the fork's writes stay its
#    own;
#  - ls, info and gc work without the key, and gc keeps what the disks
#    use; fsck with the key checks every chunk and finds no problem.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
openssl rand -hex 32 >"$tmpdir/key"
key=(encryption-key=+"$tmpdir/key")

s3cow create d 4M --chunk-size 64K --encryption-key-file "$tmpdir/key"
serve "${key[@]}"
nbd_py '
CS = 65536
for c in range(6):
    w("d", c * CS, pattern("d/%d" % c, CS))
w("d", 10 * CS, pattern("d/0", CS))   # the same as chunk 0
'
stop_nbdkit || fail "nbdkit exited with status $?"

# Six distinct chunks: one object each, chunk 10 shares chunk 0's.
n="$(obj_list chunks/ | wc -l)"
[ "$n" -eq 6 ] || fail "chunks/ holds $n objects, expected 6 (dedup)"

s3cow snapshot d s1 --encryption-key-file "$tmpdir/key"
s3cow fork d f --encryption-key-file "$tmpdir/key"

serve encryption-key=-3 3<"$tmpdir/key"   # nbdkit's -FD form
nbd_py '
CS = 65536
w("f", 2 * CS, pattern("f/2", CS))
for name in ("d", "d@s1", "f"):
    for c in range(6):
        want = pattern(("f/2" if name == "f" and c == 2 else "d/%d" % c), CS)
        assert r(name, c * CS, CS) == want, (name, c)
    assert r(name, 10 * CS, CS) == pattern("d/0", CS), name
    assert r(name, 20 * CS, CS) == bytes(CS), name
' || fail "reading the encrypted disk, its snapshot or its fork failed"
stop_nbdkit || fail "nbdkit exited with status $?"

# Without the key: ls, info, gc (which keeps everything in use).
s3cow ls >"$tmpdir/ls" || fail "ls without the key failed"
grep -q '^f ' "$tmpdir/ls" || fail "ls does not show the fork: $(cat "$tmpdir/ls")"
s3cow info d >/dev/null || fail "info without the key failed"
s3cow gc --grace 0 --force || fail "gc without the key failed"
n="$(obj_list chunks/ | wc -l)"
[ "$n" -eq 7 ] || fail "gc left $n chunk objects, expected 7"

s3cow fsck --encryption-key-file "$tmpdir/key" >"$tmpdir/fsck" ||
  fail "fsck with the key found problems: $(cat "$tmpdir/fsck")"
grep -q "no problems" "$tmpdir/fsck" || fail "fsck: $(cat "$tmpdir/fsck")"

serve "${key[@]}"
nbd_py '
CS = 65536
assert r("f", 2 * CS, CS) == pattern("f/2", CS)
assert r("d", 0, CS) == pattern("d/0", CS)
' || fail "reading after gc failed"
stop_nbdkit || fail "nbdkit exited with status $?"
