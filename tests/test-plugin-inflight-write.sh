#!/usr/bin/env bash
# Uploads follow the store's latency: with every S3 answer held 30 ms
# (faultproxy.py --delay), a flush of 16 MiB of dirty chunks keeps more
# uploads in flight than the 8 it starts with (s3cow_inflight_peak in
# stats=), never more than upload-threads-max, and the data reads back
# on a fresh server.  upload-threads=8 keeps it at 8.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store s3
start_proxy --delay 0.03
peak='s3cow_inflight_peak{op="upload"}'
s3cow create a 16M --chunk-size 64K
s3cow create b 16M --chunk-size 64K

# write_all DISK STATS [PARAM...]: a fresh server through the proxy,
# 16 MiB written and flushed.
write_all ()
{
  local disk="$1" stats="$2"
  shift 2
  start_nbdkit "$sock" "${store_proxy[@]}" stats="$stats" "$@"
  nbd_py "w('$disk', 0, pattern('$disk', 16 << 20))"
  stop_nbdkit || fail "nbdkit exited with status $?"
}

write_all a "$tmpdir/adaptive" upload-threads-max=16
n="$(stat_of "$tmpdir/adaptive" "$peak")"
echo "uploads in flight at most: $n"
[ "$n" -gt 8 ] && [ "$n" -le 16 ] ||
  fail "uploads in flight at most: $n, expected 9 to 16" \
    "($(grep inflight "$tmpdir/adaptive" | tr '\n' ' '))"

write_all b "$tmpdir/fixed" upload-threads=8
n="$(stat_of "$tmpdir/fixed" "$peak")"
[ "$n" -ge 1 ] && [ "$n" -le 8 ] ||
  fail "upload-threads=8: $n uploads in flight at most, expected 1 to 8"

serve
nbd_py "
assert r('a', 0, 16 << 20) == pattern('a', 16 << 20)
assert r('b', 0, 16 << 20) == pattern('b', 16 << 20)
"
stop_nbdkit || fail "nbdkit exited with status $?"
