#!/usr/bin/env bash
# A damaged hint object (garbage, a cut one, one of another incarnation of
# the snapshot, one naming chunks past the end) is ignored with a debug
# line: the open works, reads are right, nothing is prefetched but chunks
# of the disk, and at close the hint is replaced by a good one.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
golden_forks f1
key=disks/gold/hints/v1

good="$(obj_cat disks/gold/snaps/v1 >/dev/null && echo yes)"
[ "$good" = yes ] || fail "no snapshot object"

n=0
for body in 'garbage' \
  $'s3cow-hints 1\nsnapshot 0011' \
  $'s3cow-hints 1\nsnapshot 00112233445566778899aabbccddeeff\nchunk-size 65536\nchunks 2\n1\n2\n' \
  $'s3cow-hints 1\nsnapshot zz\nchunk-size 65536\nchunks 1\n99999999999999999999999\n'; do
  n=$((n + 1))
  printf '%s' "$body" >"$tmpdir/bad"
  obj_put "$key" "$tmpdir/bad"
  NBDKIT_OPTS="-v -D s3cow.cache=1" serve export=f1 stats="$tmpdir/s$n" \
    2>"$tmpdir/log$n"
  boot f1 4 8
  sleep 1.5
  [ "$(stat_of "$tmpdir/s$n" s3cow_prefetch_loads_total)" = 0 ] ||
    fail "case $n: a damaged hint was prefetched"
  stop_nbdkit || fail "case $n: nbdkit exited with status $?"
  grep -q "hint $key: .*ignored" "$tmpdir/log$n" ||
    fail "case $n: no debug line for the damaged hint"
  if grep -q 'error' "$tmpdir/log$n"; then
    fail "case $n: a damaged hint logged an error: $(grep error "$tmpdir/log$n")"
  fi
  obj_cat "$key" >"$tmpdir/hint"
  [ "$(tail -n +5 "$tmpdir/hint" | tr '\n' ' ')" = "4 8 " ] ||
    fail "case $n: the hint was not replaced by a good one: $(cat "$tmpdir/hint")"
done
