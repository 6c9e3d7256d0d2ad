#!/usr/bin/env bash
# A server killed (SIGKILL) after a flush returned, before the kept copy
# (history) of the head it committed was written: the next writer, which
# takes the disk over, writes that copy before it replaces the head, so
# that s3cow log still shows every commit kept.  tests/faultproxy.py
# resets every PUT of a kept head of the first server after its first
# commit, so its copy cannot land before the kill.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3 nbdkit s3cow
use_store s3

lease=6
s3cow create d 1M --chunk-size 64K --history 1h
start_proxy
start_nbdkit "$sock" "${store_proxy[@]}" export=d lease=$lease \
  commit-interval=0 retry-time=30 2>"$tmpdir/a.log"
a=$nbdkit_pid
nbd_py 'w("d", 0, pattern("A", 65536))'
# Generation 0 is created, 1 the claim of the open, 2 the commit of A.
wait_for 30 "is_kept d 2"

proxy_ctl set reset_before=1 match='^PUT .*/disks/d/history/'
nbd_py '
import time
t = time.monotonic()
w("d", 65536, pattern("B", 65536))
took = time.monotonic() - t
print("the flush of B took %.2f s" % took)
if took > 10:
    sys.exit("the flush waited for the kept copy of its head")
' || fail "write and flush of B (above)"
kill -KILL "$a"
stop_nbdkit "$a" || true
is_kept d 3 && fail "the kept copy of generation 3 was written through the faults"

# The takeover: the claim keeps generation 3 before it writes generation 4.
serve export=d lease=$lease lease-wait=60 2>"$tmpdir/b.log"
nbd_py '
assert r("d", 0, 65536) == pattern("A", 65536)
assert r("d", 65536, 65536) == pattern("B", 65536)
' || fail "the takeover does not read what was flushed"
is_kept d 3 || fail "the takeover did not keep generation 3"
stop_nbdkit || fail "nbdkit exited with status $?"

s3cow log d --json | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["commits"]
gens = [x["generation"] for x in c]
assert gens == list(range(0, 5)), gens
assert all(x["kept"] for x in c), c
' || fail "s3cow log does not show every commit kept (above)"
echo "$0: PASS"
