#!/usr/bin/env bash
# A kept copy (history) that fails is not lost: the flush that committed
# the head returns without waiting for its copy; the failure is logged;
# the next commit writes the copy first and fails with EIO while it
# cannot; once it can, the copy is there and every commit is kept.
# tests/faultproxy.py answers 503 to every PUT of a kept head meanwhile.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3 nbdkit s3cow
use_store s3

s3cow create d 1M --chunk-size 64K --history 1h
start_proxy
start_nbdkit "$sock" "${store_proxy[@]}" export=d commit-interval=0 \
  timeout=1 retry-time=10 2>"$tmpdir/log"
nbd_py 'w("d", 0, pattern("A", 65536))'
# Generation 0 is created, 1 the claim of the open, 2 the commit of A.
wait_for 30 "is_kept d 2"

proxy_ctl set 503=1 match='^PUT .*/disks/d/history/'
nbd_py '
import time
t = time.monotonic()
w("d", 65536, pattern("B", 65536))
took = time.monotonic() - t
print("the flush of B took %.2f s" % took)
if took > 6:
    sys.exit("the flush waited for the kept copy of its head")
' || fail "write and flush of B (above)"
wait_for 30 "grep -q 'cannot keep the head of generation 3' '$tmpdir/log'"
is_kept d 3 && fail "the kept copy of generation 3 was written through the faults"
nbd_py '
h = _conn("d")
h.pwrite(pattern("C", 65536), 2 * 65536)
try:
    h.flush()
    sys.exit("a commit replaced a head whose kept copy is missing")
except nbd.Error as e:
    print("the flush failed as it must: %s" % e)
h.shutdown()
' || fail "flush of C while the kept copy cannot be written (above)"
grep -q "the history needs the kept copy of generation 3 first" "$tmpdir/log" ||
  fail "no log line says why the commit failed"

proxy_ctl clear
nbd_py 'w("d", 3 * 65536, pattern("D", 65536))' || fail "flush of D failed"
is_kept d 3 || fail "the kept copy of generation 3 is still missing"
stop_nbdkit || fail "nbdkit exited with status $?"

serve export=d
nbd_py '
for i, tag in enumerate("ABCD"):
    assert r("d", i * 65536, 65536) == pattern(tag, 65536), tag
' || fail "the data is not what was written"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow log d --json | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["commits"]
gens = [x["generation"] for x in c]
assert gens == list(range(0, len(c))) and len(c) >= 5, gens
assert all(x["kept"] for x in c), c
' || fail "s3cow log does not show every commit kept (above)"
echo "$0: PASS"
