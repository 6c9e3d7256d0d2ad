#!/usr/bin/env bash
# Disks written by the previous release (f2843bc, whose chunk objects are
# all raw) keep working: its plugin, built from the git history, writes a
# disk on the directory store; this build reads it back right, writes
# compressed chunks into it (overwriting some old ones), reads the mix
# back right from a cold cache, and s3cow fsck finds it sound.  And the
# other way: the release refuses an encrypted disk (its head's flags 0x7,
# ids, history window and encryption, are unknown to it) instead of
# misreading it.  SKIPs outside a git checkout that has the release.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

release=f2843bc
src="${abs_top_srcdir:-$srcdir/..}"
requires git tar autoreconf make nbdkit s3cow openssl timeout
git -C "$src" cat-file -e "$release^{commit}" 2>/dev/null || {
  echo "$0: SKIP: $src is not a git checkout with $release" >&2
  exit 77
}
use_store

# Only the old plugin is built (its own configure and Makefile).
old="$tmpdir/old"
mkdir -p "$old/build"
git -C "$src" archive "$release" | tar -x -C "$old"
(
  cd "$old" && autoreconf -i && cd build &&
    ../configure --disable-fuzzing --disable-werror &&
    make -C plugin nbdkit-s3cow-plugin.la
) >"$tmpdir/old-build.log" 2>&1 || {
  show_tail "$tmpdir/old-build.log" 30
  fail "cannot build the $release plugin"
}
old_plugin="$old/build/plugin/.libs/nbdkit-s3cow-plugin.so"

prelude='
CS = 65536
def text(tag):
    return "".join("%s line %06d of a chunk that compresses\n" % (tag, i)
                   for i in range(CS // 40)).encode()[:CS].ljust(CS, b".")
old = {n: (pattern("old%d" % n, CS) if n % 3 == 0 else text("old%d" % n))
       for n in range(8)}
new = {n: text("new%d" % n) for n in (2, 8, 9, 10)}
want = dict(old)
want.update(new)
def check(d):
    for n in range(16):
        got = r("d", n * CS, CS)
        assert got == d.get(n, bytes(CS)), "chunk %d is wrong" % n
'

# The old release creates the disk and writes chunks 0-7.
S3COW_PLUGIN="$old_plugin" serve export=d size=1M chunk-size=64K
nbd_py "$prelude
for n, b in old.items():
    w('d', n * CS, b)
"
stop_nbdkit || fail "the $release nbdkit exited with status $?"
obj_list chunks/ >"$tmpdir/old-objects"
awk '$2 != 65536 { exit 1 }' "$tmpdir/old-objects" ||
  fail "the $release plugin wrote chunk objects that are not raw"

# This build reads them, then overwrites chunk 2 and writes 8-10.
serve export=d
nbd_py "$prelude
check(old)
for n, b in new.items():
    w('d', n * CS, b)
check(want)
"
stop_nbdkit || fail "nbdkit exited with status $?"
frames=$(obj_list chunks/ | awk '$2 < 65536' | wc -l)
[ "$frames" = 4 ] || fail "expected 4 compressed chunk objects, got $frames"

# A cold cache reads the mix; fsck checks it.
serve export=d
nbd_py "$prelude
check(want)
"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck d >"$tmpdir/fsck" || fail "fsck: $(cat "$tmpdir/fsck")"
cat "$tmpdir/fsck"

# An encrypted disk of this build, opened by the release: refused.
openssl rand -hex 32 >"$tmpdir/key"
s3cow create e 1M --chunk-size 64K --encryption-key-file "$tmpdir/key"
if timeout 60 nbdkit -U - "$old_plugin" "${store[@]}" export=e --run true \
  2>"$tmpdir/old.log"; then
  fail "the $release plugin served an encrypted disk"
fi
grep -q "head has unknown flags 0x7" "$tmpdir/old.log" ||
  fail "the $release plugin: $(cat "$tmpdir/old.log")"
echo "$0: PASS"
