#!/usr/bin/env bash
# A flush returns while another connection keeps writing a chunk that the
# flush covers.  The uploader uploads a copy of a chunk; a write during
# the upload keeps the chunk dirty, but a flush that began before the copy
# was taken needs no more than that copy.  A flush that waited until the
# chunk was clean would wait as long as the writes went on (a client
# writing its journal would stall every fsync of every client).
#  - connection 1 writes 4 KiB pieces of chunk 0 (4 MiB chunks; out of
#    order, so that the uploader copies the chunk), without a pause, until
#    connection 2 is done (or 120 s, the sign of the bug), then flushes;
#  - connection 2, once the writer is busy, writes chunk 0 and chunk 1,
#    then flushes: that flush returns while the writer still writes;
#  - a new server has the writer's last data in chunk 0 (a chunk written
#    during its upload stays dirty for the flushes after the copy) and
#    connection 2's in chunk 1.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
s3cow create d 16M --chunk-size 4M
start_nbdkit "$sock" "${store[@]}" export=d commit-interval=0 \
  2>"$tmpdir/log"

TEST_DIR="$tmpdir" nbd_py '
import time
CS = 4 << 20
d = os.environ["TEST_DIR"]
h = _conn("d")
end = time.monotonic() + 120
i = 0
while not os.path.exists(d + "/stop") and time.monotonic() < end:
    h.pwrite(pattern("w%d" % i, 4096), (i * 7 % 16) * 4096)
    i += 1
    if i == 200:
        open(d + "/started", "w").close()
h.flush()
h.shutdown()
print("the writer wrote %d times" % i)
if not os.path.exists(d + "/stop"):
    sys.exit("the other flush never returned while this writer wrote")
' >"$tmpdir/writer.out" 2>&1 &
writer=$!
wait_for 120 '[ -e "$tmpdir/started" ] || ! kill -0 $writer 2>/dev/null'

nbd_py '
CS = 4 << 20
h = _conn("d")
h.pwrite(pattern("c1", CS), CS)
h.pwrite(pattern("c0", 4096), 0)
h.flush()
h.shutdown()
' || fail "flush during writes of the same chunk (above)"
touch "$tmpdir/stop"
wait "$writer" || {
  cat "$tmpdir/writer.out"
  fail "the writer failed"
}
cat "$tmpdir/writer.out"
stop_nbdkit || fail "nbdkit exited with status $?"

serve
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
