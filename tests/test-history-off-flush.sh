#!/usr/bin/env bash
# The kept copies of history are off the flush path: a flush waits for
# three PUTs in a row at most (the chunk, the map, the head), also the
# first commit of a server, which keeps the head it replaces too.
# tests/faultproxy.py holds back the answer to every PUT of a chunk, a
# map, a head or a kept head by $slow seconds, so the time of a flush
# counts the PUTs it waited for one after the other.  The kept copies
# appear all the same, and after a clean stop s3cow log shows every
# commit kept, the last one included.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3 nbdkit s3cow
use_store s3

slow=3
s3cow create d 1M --chunk-size 64K --history 1h
# A first server commits once and releases the lease: the next one does
# not claim the head, and its first commit keeps the head it replaces.
serve export=d
nbd_py 'w("d", 0, pattern("a", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"
gen="$(s3cow log d --json | /usr/bin/python3 -c '
import json, sys
print(json.load(sys.stdin)["commits"][-1]["generation"])')"

start_proxy
proxy_ctl set slow=1 slow_seconds=$slow \
  match='^PUT .*/(chunks/|disks/d/(head|maps/|history/))'
start_nbdkit "$sock" "${store_proxy[@]}" export=d commit-interval=0 \
  timeout=20 2>"$tmpdir/log"
SLOW=$slow nbd_py '
import time
slow = float(os.environ["SLOW"])
h = _conn("d")
h.pread(4096, 65536)
for i in range(2):
    t = time.monotonic()
    h.pwrite(pattern("b%d" % i, 4096), 65536 + i * 4096)
    h.flush()
    took = time.monotonic() - t
    print("flush %d: %.2f s, %.1f PUTs of %.1f s in a row"
          % (i, took, took / slow, slow))
    if took < 3 * slow:
        sys.exit("the PUTs were not held back")
    if took > 3.6 * slow:
        sys.exit("the flush waited for more than three PUTs in a row")
h.shutdown()
' || {
  show_tail "$tmpdir/log" 20
  fail "a flush waited for a kept copy (above)"
}
# The kept copy of the last commit is written after its flush returned.
wait_for 30 "is_kept d $((gen + 2))"
stop_nbdkit || fail "nbdkit exited with status $?"

s3cow log d --json | GEN="$gen" /usr/bin/python3 -c '
import json, os, sys
c = json.load(sys.stdin)["commits"]
gens = [x["generation"] for x in c]
last = int(os.environ["GEN"]) + 2
assert gens == list(range(0, last + 1)), gens
assert all(x["kept"] for x in c), c
' || fail "s3cow log does not show every commit kept (above)"
echo "$0: PASS"
