#!/usr/bin/env bash
# test-lease-slow-open.sh: an open that takes longer than the lease keeps
# the lease.  The disk has no lease object yet, so the open rewrites the
# head after taking the lease; tests/faultproxy.py answers every head PUT
# with 503 for the first 10 s (lease=12: valid 8 s from its PUT).  The
# lease must be renewed while the open waits, so that the writes and the
# flush right after the connection succeed.  (They failed with EIO, "lease
# not renewed in time", when renewals started only after the open.)
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3 nbdkit s3cow
use_store s3

s3cow create d 4M --chunk-size 64K
start_proxy
proxy_ctl set 503=1 match='^PUT .*/disks/d/head$'
start_nbdkit "$sock" "${store_proxy[@]}" export=d lease=12 retry-time=40 \
  timeout=2 2>"$tmpdir/log"
(
  sleep 10
  proxy_ctl clear
) &
clearer=$!
stop_clearer () { kill "$1" 2>/dev/null || true; }
cleanup_fn stop_clearer "$clearer"

nbd_py '
import time
t = time.monotonic()
h = _conn("d")
took = time.monotonic() - t
print("the connection took %.1f s" % took)
if took < 8:
    sys.exit("the open took %.1f s: the head PUTs were not held back" % took)
for i in range(4):
    h.pwrite(pattern("s%d" % i, 65536), i * 65536)
h.flush()
for i in range(4):
    assert h.pread(65536, i * 65536) == pattern("s%d" % i, 65536), i
h.shutdown()
' || {
  show_tail "$tmpdir/log" 20
  fail "I/O right after a slow open (above)"
}
if grep "not renewed in time" "$tmpdir/log"; then
  fail "the lease ran out during the open"
fi
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
