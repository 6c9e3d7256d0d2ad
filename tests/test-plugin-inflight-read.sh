#!/usr/bin/env bash
# Read-ahead follows the store's latency: with every S3 answer held 30 ms
# (faultproxy.py --delay), a cold sequential read keeps more chunk loads
# in flight than the 4 it starts with (s3cow_inflight_peak in stats=),
# never more than read-ahead-threads-max, and reads back what was
# written.  read-ahead-threads=4 keeps it at 4.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store s3
start_proxy --delay 0.03
peak='s3cow_inflight_peak{op="readahead"}'

serve
s3cow create d 16M --chunk-size 64K
nbd_py "w('d', 0, pattern('d', 16 << 20))"
stop_nbdkit || fail "nbdkit exited with status $?"

# read_all STATS [PARAM...]: a fresh server through the proxy, one
# sequential pass in 256 KiB reads, checked.
read_all ()
{
  local stats="$1"
  shift
  start_nbdkit "$sock" "${store_proxy[@]}" stats="$stats" "$@"
  nbd_py "
h = _conn('d')
want = pattern('d', 16 << 20)
for off in range(0, 16 << 20, 256 << 10):
    assert h.pread(256 << 10, off) == want[off:off + (256 << 10)], off
h.shutdown()
"
  stop_nbdkit || fail "nbdkit exited with status $?"
}

read_all "$tmpdir/adaptive" read-ahead-threads-max=12
n="$(stat_of "$tmpdir/adaptive" "$peak")"
echo "read-ahead loads in flight at most: $n"
[ "$n" -gt 4 ] && [ "$n" -le 12 ] ||
  fail "read-ahead loads in flight at most: $n, expected 5 to 12" \
    "($(grep inflight "$tmpdir/adaptive" | tr '\n' ' '))"

read_all "$tmpdir/fixed" read-ahead-threads=4
n="$(stat_of "$tmpdir/fixed" "$peak")"
[ "$n" -ge 1 ] && [ "$n" -le 4 ] ||
  fail "read-ahead-threads=4: $n loads in flight at most, expected 1 to 4"
