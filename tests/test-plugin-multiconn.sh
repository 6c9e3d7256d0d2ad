#!/usr/bin/env bash
# test-plugin-multiconn.sh: two NBD connections at once to the same disk:
#  - the server advertises multi-conn (can_multi_conn true), on both;
#  - a write + flush on one connection is seen by a read on the other, in
#    both directions, many rounds, including chunks the reader has read
#    before (no stale copy), writes across chunk boundaries, a FUA write,
#    and zeroing;
#  - a client that stays connected while another connects and disconnects
#    keeps working (the disk stays open);
#  - after a restart, the last content of both writers is there;
#  - a flush on one connection makes the other's completed writes durable:
#    with commit-interval=0, write on one, flush on the other, SIGKILL the
#    server; a new one (lease-wait=, taking over the 3 s lease) has them,
#    and a FUA write and a FUA zero made just before the crash.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh nbdinfo
use_store
export TEST_URI="$uri" TEST_MODEL="$tmpdir/model"

serve export=mc size=8M chunk-size=64K \
  cache-size=2M

nbdinfo "$uri" >"$tmpdir/info" || fail "nbdinfo failed"
grep -q 'can_multi_conn: true' "$tmpdir/info" ||
  fail "nbdinfo: expected can_multi_conn: true, got: $(grep multi_conn "$tmpdir/info")"

nbdsh -n -c "$(cat <<'EOF'
import os, random, sys
CS = 64 * 1024
uri = os.environ["TEST_URI"]
a = nbd.NBD(); a.connect_uri(uri)
b = nbd.NBD(); b.connect_uri(uri)
for name, x in (("first", a), ("second", b)):
    if not x.can_multi_conn():
        sys.exit("%s connection: can_multi_conn false, expected true" % name)
SIZE = a.get_size()
model = bytearray(SIZE)
rng = random.Random(5)

def expect(x, name, off, n, what):
    got = x.pread(n, off)
    want = bytes(model[off:off + n])
    if got != want:
        i = next(i for i in range(n) if got[i] != want[i])
        sys.exit("round %s: %s connection reads byte %d at %d (chunk %d), "
                 "expected %d (written by the other, flushed)"
                 % (what, name, got[i], off + i, (off + i) // CS, want[i]))

for r in range(24):
    w, wn, rd, rn = (a, "first", b, "second") if r % 2 == 0 else \
                    (b, "second", a, "first")
    # Half the rounds rewrite a range the reader has read (and cached).
    off = rng.randrange(0, 32 * CS) if r % 4 < 2 else \
          rng.randrange(0, SIZE - 3 * CS)
    n = rng.randint(1, 3 * CS)
    n = min(n, SIZE - off)
    expect(rd, rn, off, n, "%d (before)" % r)
    data = rng.randbytes(n)
    if r % 5 == 4:
        w.pwrite(data, off, nbd.CMD_FLAG_FUA)       # FUA instead of flush
    elif r % 7 == 6:
        w.zero(n, off)
        data = bytes(n)
        w.flush()
    else:
        w.pwrite(data, off)
        w.flush()
    model[off:off + n] = data
    expect(rd, rn, off, n, str(r))

# A third connection comes and goes; the first two keep working.
c = nbd.NBD(); c.connect_uri(uri)
c.pwrite(b"third", 12345); c.flush()
model[12345:12350] = b"third"
c.shutdown()
del c
expect(a, "first", 12340, 20, "after a third connection left")
b.pwrite(b"last", 999); b.flush()
model[999:1003] = b"last"
expect(a, "first", 0, SIZE, "final")
a.shutdown(); b.shutdown()
open(os.environ["TEST_MODEL"], "wb").write(model)
print("test-plugin-multiconn: 24 rounds: every flushed write was seen by "
      "the other connection")
EOF
)" || fail "two connections (phase 1) failed: see above"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
serve export=mc chunk-size=64K cache-size=2M
nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, sys
model = open(os.environ["TEST_MODEL"], "rb").read()
got = h.pread(len(model), 0)
if got != model:
    i = next(i for i in range(len(got)) if got[i] != model[i])
    sys.exit("after restart: byte %d at %d, expected %d" % (got[i], i, model[i]))
EOF
)" || fail "read back after restart failed: see above"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# A flush on one connection makes the writes completed on the other durable
# too (that is what multi-conn promises): with no background commits, write
# on the second connection, flush on the first, crash the server (SIGKILL),
# and a new server (taking over the dead one's 3 s lease) has the data.
serve export=mc chunk-size=64K cache-size=2M \
  commit-interval=0 lease=3
nbdsh -n -c "$(cat <<'EOF'
import os
uri = os.environ["TEST_URI"]
a = nbd.NBD(); a.connect_uri(uri)
b = nbd.NBD(); b.connect_uri(uri)
b.pwrite(b"written by b, flushed by a" * 5000, 3 * 65536 - 1000)
a.pwrite(b"written by a", 7 * 65536 - 5)
a.pwrite(b"data" * 16384, 10 * 65536)
a.flush()
b.pwrite(b"FUA by b", 12 * 65536 - 4, nbd.CMD_FLAG_FUA)
a.zero(65536, 10 * 65536, nbd.CMD_FLAG_FUA)
EOF
)" || fail "writes before the crash failed"
kill -KILL "$nbdkit_pid"
stop_nbdkit || true
serve export=mc chunk-size=64K cache-size=2M \
  lease-wait=30
nbdsh -u "$uri" -c "$(cat <<'EOF'
import sys
want = b"written by b, flushed by a" * 5000
got = h.pread(len(want), 3 * 65536 - 1000)
if got != want:
    sys.exit("after a crash: the write of the second connection, flushed by "
             "the first, is lost (%r...)" % bytes(got[:26]))
if h.pread(12, 7 * 65536 - 5) != b"written by a":
    sys.exit("after a crash: the first connection's flushed write is lost")
if h.pread(8, 12 * 65536 - 4) != b"FUA by b":
    sys.exit("after a crash: a FUA write is lost")
if h.pread(65536, 10 * 65536) != bytes(65536):
    sys.exit("after a crash: a FUA zero of a flushed chunk is lost")
print("test-plugin-multiconn: a flush on one connection made the other's "
      "writes durable")
EOF
)" || fail "durability across connections after a crash (see above)"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
