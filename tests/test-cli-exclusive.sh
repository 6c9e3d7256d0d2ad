#!/usr/bin/env bash
# create, fork and snapshot are exclusive, not only idempotent: the same
# command run twice, back to back (within one second, so that both would
# write the same created time) or at the same time, succeeds once; the
# other run fails with "already exists".  A writer counts a 412 as its own
# lost answer only when the object holds its own operation id.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires s3cow
use_store

# expect_exists WHAT CMD...: CMD fails, saying WHAT already exists.
expect_exists ()
{
  local what="$1"
  shift
  if "$@" >"$tmpdir/out" 2>&1; then
    fail "a second '$*' succeeded too"
  fi
  grep -q "$what already exists" "$tmpdir/out" || {
    cat "$tmpdir/out"
    fail "'$*' failed without saying that $what already exists"
  }
}

for i in 1 2 3 4 5; do
  s3cow create "x$i" 1T
  expect_exists "disk x$i" s3cow create "x$i" 1T
done

s3cow fork x1 f1
expect_exists "disk f1" s3cow fork x1 f1
s3cow snapshot x1 s1
expect_exists "snapshot x1@s1" s3cow snapshot x1 s1
s3cow fork x1@s1 g1
expect_exists "disk g1" s3cow fork x1@s1 g1

# At the same time: exactly one of each pair succeeds.
for i in 1 2 3 4 5; do
  s3cow create "y$i" 1T >/dev/null 2>&1 & p1=$!
  s3cow create "y$i" 1T >/dev/null 2>&1 & p2=$!
  s1=0 s2=0
  wait "$p1" || s1=$?
  wait "$p2" || s2=$?
  [ $((s1 == 0)) -ne $((s2 == 0)) ] ||
    fail "two creates of y$i at once: exit statuses $s1 and $s2"
  s3cow snapshot "y$i" s >/dev/null 2>&1 & p1=$!
  s3cow snapshot "y$i" s >/dev/null 2>&1 & p2=$!
  s1=0 s2=0
  wait "$p1" || s1=$?
  wait "$p2" || s2=$?
  [ $((s1 == 0)) -ne $((s2 == 0)) ] ||
    fail "two snapshots y$i@s at once: exit statuses $s1 and $s2"
done
s3cow fsck >/dev/null || fail "fsck is not clean"
echo "$0: PASS"
