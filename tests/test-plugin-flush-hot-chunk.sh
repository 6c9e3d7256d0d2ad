#!/usr/bin/env bash
# A flush returns while another connection keeps writing a chunk that the
# flush covers.  The uploader uploads a copy of a chunk; a write during
# the upload keeps the chunk dirty, but a flush that began before the copy
# was taken needs no more than that copy.  A flush that waited until the
# chunk was clean waited as long as the writes went on (here 18 s: a
# client writing its journal would stall every fsync of every client).
#  - connection 1 writes 4 KiB pieces of chunk 0 (4 MiB chunks, long to
#    upload; out of order, so that the uploader copies the chunk), without
#    a pause, for 20 s, then flushes;
#  - connection 2 writes chunk 0 and chunk 1, then flushes: within 8 s;
#  - a new server has the writer's last data in chunk 0 (a chunk written
#    during its upload stays dirty for the flushes after the copy) and
#    connection 2's in chunk 1.
source "${srcdir:-.}/functions.sh"
source "${srcdir:-.}/cli-functions.sh"
set -euo pipefail

cli_setup
s3cow create d 16M --chunk-size 4M
start_nbdkit "$sock" "${s3args[@]}" export=d commit-interval=0 \
  2>"$tmpdir/log"

nbd_py '
import time
CS = 4 << 20
h = _conn("d")
end = time.time() + 20
i = 0
while time.time() < end:
    h.pwrite(pattern("w%d" % i, 4096), (i * 7 % 16) * 4096)
    i += 1
h.flush()
h.shutdown()
print("the writer wrote %d times" % i)
' >"$tmpdir/writer.out" 2>&1 &
writer=$!
sleep 2

nbd_py '
import time
CS = 4 << 20
h = _conn("d")
h.pwrite(pattern("c1", CS), CS)
h.pwrite(pattern("c0", 4096), 0)
t = time.time()
h.flush()
took = time.time() - t
h.shutdown()
print("the flush took %.1f s" % took)
if took > 8:
    sys.exit("the flush took %.1f s: it waited for the other writer to stop"
             % took)
' || fail "flush during writes of the same chunk (above)"
wait "$writer" || {
  cat "$tmpdir/writer.out"
  fail "the writer failed"
}
cat "$tmpdir/writer.out"
stop_nbdkit || fail "nbdkit exited with status $?"

cli_serve
N="$(sed -n 's/^the writer wrote \([0-9]*\) times$/\1/p' "$tmpdir/writer.out")" \
  nbd_py '
CS = 4 << 20
n = int(os.environ["N"])
if r("d", CS, CS) != pattern("c1", CS):
    sys.exit("chunk 1: the data flushed is not there")
bad = 0
for j in range(n - 16, n):
    got = r("d", (j * 7 % 16) * 4096, 4096)
    if got != pattern("w%d" % j, 4096):
        bad += 1
        print("chunk 0: write %d of %d is not there" % (j, n))
if bad:
    sys.exit("chunk 0: %d writes lost" % bad)
' || fail "data after the restart"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
