#!/usr/bin/env bash
# test-cli-rm-snapshots-force.sh: rm's two refusals are lifted by two
# options: a disk with snapshots needs --snapshots (--force alone does not
# remove them), and a disk whose lease a server holds needs --force
# (--snapshots alone does not take it from the server).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store

s3cow create a 1M
s3cow snapshot a s1
if s3cow rm a 2>"$tmpdir/err"; then fail "rm of a disk with a snapshot worked"; fi
grep -q "give --snapshots to remove it too" "$tmpdir/err" || {
  cat "$tmpdir/err"
  fail "rm a does not name --snapshots"
}
if s3cow rm --force a 2>"$tmpdir/err"; then
  fail "rm --force removed a disk with a snapshot"
fi
s3cow ls a | grep -q s1 || fail "rm --force removed the snapshot"
s3cow rm --snapshots a || fail "rm --snapshots a failed"
s3cow ls | grep -q '^a ' && fail "rm --snapshots left a"

s3cow create b 1M
serve export=b
nbd_py 'w("b", 0, pattern("b0", 4096))'
if s3cow rm --snapshots b 2>"$tmpdir/err"; then
  fail "rm --snapshots removed a disk a server holds"
fi
grep -q "stop that server first, or give --force" "$tmpdir/err" || {
  cat "$tmpdir/err"
  fail "rm b does not name --force"
}
s3cow rm --force b || fail "rm --force b failed"
s3cow ls | grep -q '^b ' && fail "rm --force left b"
stop_nbdkit || true
