#!/usr/bin/env bash
# Durations take units everywhere, as s3cow gc --grace does: the plugin's
# timeout=, retry-time=, commit-interval=, gc-grace=, lease= and
# lease-wait=, and the command's --timeout and --retry-time; a bare
# number stays seconds.  A unit it does not know is refused, naming the
# forms it takes.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store dir
s3cow --timeout 10s --retry-time 1m create d 1M ||
  fail "s3cow --timeout 10s --retry-time 1m create failed"

nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=d timeout=10s \
  retry-time=2m commit-interval=500ms gc-grace=1h lease=30s \
  lease-wait=0.5s -v -D s3cow.lease=1 --run '
  nbdsh -u "$uri" -c "h.pwrite(b\"t\" * 512, 0); h.flush()"
' 2>"$tmpdir/log" || {
  tail -20 "$tmpdir/log"
  fail "the plugin refused durations with units"
}
# lease=30s is 30 seconds, gc-grace=1h 3600 (the gc grace record).
grep -q '30 s lease\|lease taken (30 s)' "$tmpdir/log" || {
  grep -i lease "$tmpdir/log" | head
  fail "lease=30s was not a 30 s lease"
}

status=0
nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=d lease=30x \
  --run 'echo SERVING' >"$tmpdir/out" 2>&1 || status=$?
[ "$status" != 0 ] && ! grep -q SERVING "$tmpdir/out" ||
  fail "lease=30x was taken"
grep -qF "lease=30x: expected a duration" "$tmpdir/out" || {
  cat "$tmpdir/out"
  fail "lease=30x: no message naming the forms"
}
status=0
s3cow --timeout 2w ls >/dev/null 2>"$tmpdir/err" || status=$?
[ "$status" = 2 ] || fail "s3cow --timeout 2w: exit $status, not 2"
echo "$0: PASS"
