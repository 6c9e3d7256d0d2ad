#!/usr/bin/env bash
# A failed commit of a full map must not forget the chunks that became
# zero.  A full map (a base, written when the deltas pile up: 32 maps)
# lists only the non-zero chunks; a chunk zeroed since the last commit is
# in it by its absence.  When that commit fails, its entries are marked
# changed again for the next commit; if that next one is a delta (it is
# when chunks must be uploaded again first, see "gc-grace" in disk_commit.c),
# the zeroed chunk must be in it too, else the disk keeps the old data:
#  - a server (export=d; gc-grace=10, retry-time=1, timeout=2,
#    commit-interval=0) commits 32 deltas (chunk 1 written and flushed 32
#    times), so the next commit is a full map;
#  - chunk 0 (written in the first commit) is zeroed, chunk 2 written,
#    and the flush fails (every head PUT gets 500: faultproxy.py);
#  - the head PUTs work again; 4 s later (more than gc-grace/4, so the
#    next commit is a delta that uploads chunk 2 again) a flush succeeds;
#  - a new server reads chunk 0: zeros, not the old data.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3
requires nbdkit nbdsh s3cow
use_store s3

s3cow create d 1M --chunk-size 64K
start_proxy
start_nbdkit "$sock" "${store_proxy[@]}" export=d gc-grace=10 retry-time=1 \
  timeout=2 commit-interval=0 -v -D s3cow.commit=1 2>"$tmpdir/log"

CTL="$proxy_ctl_port" nbd_py '
import time
CS = 65536
h = _conn("d")
sys.path.insert(0, os.environ["srcdir"])
import faultproxy
ctl = faultproxy.Control(int(os.environ["CTL"]))
h.pwrite(pattern("old0", CS), 0)
for i in range(32):
    h.pwrite(pattern("c1-%d" % i, CS), CS)
    h.flush()
h.zero(CS, 0)
h.pwrite(pattern("c2", CS), 2 * CS)
ctl.set(**{"500": 1, "match": "^PUT .*/disks/d/head$"})
try:
    h.flush()
    sys.exit("flush succeeded although every head PUT fails")
except nbd.Error as e:
    print("flush with head PUTs failing: %s" % e)
ctl.clear()
time.sleep(4)
h.flush()
h.shutdown()
' || fail "writes and flushes (above)"
stop_nbdkit || fail "nbdkit exited with status $?"
grep -q "uploading them again" "$tmpdir/log" ||
  fail "the commit after the failed one did not upload chunk 2 again"

serve
nbd_py '
CS = 65536
got = r("d", 0, CS)
if got != bytes(CS):
    sys.exit("chunk 0 was zeroed and flushed, but reads %r... (the old "
             "data: %s)" % (got[:8], got == pattern("old0", CS)))
if r("d", CS, CS) != pattern("c1-31", CS):
    sys.exit("chunk 1 is not the last data written")
if r("d", 2 * CS, CS) != pattern("c2", CS):
    sys.exit("chunk 2 is not the data written")
' || {
  grep "committed generation\|commit of\|uploading them again" "$tmpdir/log" |
    tail -n 8
  fail "the zeroed chunk came back after a failed full commit"
}
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
