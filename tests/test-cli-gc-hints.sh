#!/usr/bin/env bash
# s3cow gc and working-set hints: the hint of a live snapshot is kept; the
# hint of a snapshot that no longer exists is deleted, like any garbage
# older than the grace; fsck does not complain about hints.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
golden_forks f1
s3cow snapshot gold v2
s3cow fork gold@v2 f2

for f in f1 f2; do
  serve export=$f
  boot $f 3 6
  stop_nbdkit || fail "nbdkit exited with status $?"
done
obj_cat disks/gold/hints/v1 >/dev/null || fail "no hint of gold@v1"
obj_cat disks/gold/hints/v2 >/dev/null || fail "no hint of gold@v2"

s3cow rm gold@v2
sleep 1.1
s3cow gc --force --grace 1s >"$tmpdir/gc.out" 2>&1 ||
  fail "gc failed: $(cat "$tmpdir/gc.out")"
hints="$(obj_list disks/gold/hints/ | cut -d' ' -f1 | tr '\n' ' ')"
[ "$hints" = "disks/gold/hints/v1 " ] ||
  fail "after gc, hints are [$hints], not only that of the live gold@v1"
s3cow fsck >"$tmpdir/fsck.out" 2>&1 ||
  fail "fsck failed with a hint: $(cat "$tmpdir/fsck.out")"
