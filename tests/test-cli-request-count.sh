#!/usr/bin/env bash
# A fork and a snapshot cost exactly 3 S3 requests each (GET the source
# head, PUT the new head with If-None-Match, GET the source head again),
# however much the disk holds: the source's maps are shared, not copied.
# (Every command starts with one more: the listing that checks the bucket
# and the credentials.)
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store s3
serve

s3cow create src 4M --chunk-size 64K
nbd_py '
for c in range(8):
    w("src", c * 65536, pattern("src/%d" % c, 65536))
'

# requests LOG: the number of S3 requests s3cow --debug=http logged.
requests ()
{
  grep -c -E 'debug: (GET|PUT|HEAD|DELETE|POST) ' "$1" || true
}

s3cow --debug=http snapshot src s1 2>"$tmpdir/snap.log"
n="$(requests "$tmpdir/snap.log")"
[ "$n" = 4 ] || {
  cat "$tmpdir/snap.log"
  fail "snapshot made $n S3 requests, expected 4"
}
s3cow --debug=http fork src c 2>"$tmpdir/fork.log"
n="$(requests "$tmpdir/fork.log")"
[ "$n" = 4 ] || {
  cat "$tmpdir/fork.log"
  fail "fork made $n S3 requests, expected 4"
}
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
