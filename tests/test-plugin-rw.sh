#!/usr/bin/env bash
# test-plugin-rw.sh: reads and writes through the plugin, checked
# against a Python model of the disk (a bytearray):
#  - ~150 writes of random content at unaligned offsets, many spanning one
#    or more chunk boundaries, plus the first and last bytes of the disk, with
#    a cache of just 32 chunks so that chunks are uploaded, evicted and
#    loaded again (partial writes to evicted chunks read-modify-write);
#  - concurrent writes from 4 connections, with aio commands in flight on
#    the same chunk at once: non-overlapping writes racing on one chunk must
#    all survive; overlapping writes inside one chunk must leave the content
#    of one order of those writes (never a mix inside a write);
#  - 6 threads write and zero interleaved 512-byte sectors of the same
#    chunks while flushes and reads run on other connections: no sector
#    loses its last write;
#  - flush: the whole disk reads back as the model (nbdcopy, which uses
#    several connections and requests in flight);
#  - stop the server (it must exit 0), start a new one without size= (the
#    disk exists) and with another chunk-size= (ignored: the disk keeps its
#    64K chunks, the preferred block size); the whole disk, and unaligned
#    reads across chunk boundaries, read back as the model.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh nbdcopy cmp
use_store
export TEST_URI="$uri" TEST_MODEL="$tmpdir/model"

serve export=rw size=64M chunk-size=64K \
  cache-size=2M

nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, random, sys, threading, itertools

CS = 64 * 1024
SIZE = h.get_size()
if SIZE != 64 << 20:
    sys.exit("size: %d, expected %d" % (SIZE, 64 << 20))
if not h.can_multi_conn():
    sys.exit("can_multi_conn: false, expected true")
model = bytearray(SIZE)
rng = random.Random(20240601)

def write(off, data, hh=None):
    (hh or h).pwrite(data, off)
    model[off:off + len(data)] = data

def check(off, n, what):
    got = h.pread(n, off)
    want = bytes(model[off:off + n])
    if got != want:
        i = next(i for i in range(n) if got[i] != want[i])
        sys.exit("%s: read of %d bytes at %d differs from the model at "
                 "offset %d (chunk %d): got byte %d, expected %d"
                 % (what, n, off, off + i, (off + i) // CS, got[i], want[i]))

# 1. Writes spanning chunk boundaries (start before a boundary, end after
#    one or more), then random unaligned writes, then the disk's edges.
for k in range(1, 60):
    b = rng.randrange(1, SIZE // CS) * CS
    off = b - rng.randint(1, 5000)
    n = min(rng.randint(5001, 3 * CS), SIZE - off)
    write(off, rng.randbytes(n))
for k in range(80):
    off = rng.randrange(0, SIZE - 1)
    n = min(rng.randint(1, 200 * 1024), SIZE - off)
    write(off, rng.randbytes(n))
write(0, b"\x01")
write(SIZE - 1, b"\xfe")
write(SIZE - CS - 17, rng.randbytes(CS + 16))
write(5 * CS + 3, rng.randbytes(CS * 16 + 5))   # one large write
for k in range(1, 8):                            # 1-byte writes at boundaries
    write(k * 7 * CS - 1, bytes([k]))
    write(k * 7 * CS, bytes([k + 100]))
check(0, 4 << 20, "after the random writes, first 4 MiB")
for k in range(20):
    off = rng.randrange(0, SIZE - 300000)
    check(off, rng.randint(1, 300000), "after the random writes")

# 2. Concurrent writes: 4 connections, each a thread that puts all its aio
#    writes in flight before waiting for any.
hs = [h]
for i in range(3):
    x = nbd.NBD()
    x.connect_uri(os.environ["TEST_URI"])
    hs.append(x)

def race(plan):
    """plan: list of (handle index, offset, data).  All in flight at once."""
    per = [[] for _ in hs]
    for i, off, data in plan:
        per[i].append((off, data))
    barrier = threading.Barrier(len(hs))
    errors = []
    def run(i):
        hh = hs[i]
        try:
            barrier.wait()
            cookies = [hh.aio_pwrite(nbd.Buffer.from_bytearray(bytearray(d)),
                                     off) for off, d in per[i]]
            while hh.aio_in_flight() > 0:
                hh.poll(-1)
            for c in cookies:
                hh.aio_command_completed(c)
        except Exception as e:
            errors.append("connection %d: %s" % (i, e))
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(hs))]
    for t in ts: t.start()
    for t in ts: t.join()
    if errors:
        sys.exit("concurrent writes failed: " + "; ".join(errors))

# 2a. Non-overlapping pieces racing on the same chunk: chunks with data
#     (likely evicted: partial writes must load them), and zero chunks.
busy = [c for c in range(SIZE // CS) if any(model[c * CS:(c + 1) * CS])]
chunks = rng.sample(busy, 6) + [c for c in range(SIZE // CS)
                                 if not any(model[c * CS:(c + 1) * CS])][:2]
plan = []
for c in chunks:
    cuts = sorted(rng.sample(range(1, CS), 15))
    bounds = [0] + cuts + [CS]
    for j in range(16):
        off = c * CS + bounds[j]
        plan.append((j % len(hs), off, rng.randbytes(bounds[j + 1] - bounds[j])))
race(plan)
for _, off, data in plan:
    model[off:off + len(data)] = data
for c in chunks:
    check(c * CS, CS, "non-overlapping concurrent writes to chunk %d "
          "(a piece was lost)" % c)

# 2b. Overlapping writes inside one chunk, each on its own connection: the
#     result must be one order of the three writes.
for c in rng.sample(busy, 6):
    base = c * CS
    ws = []
    for i in range(3):
        a = rng.randrange(0, CS // 2)
        n = rng.randint(CS // 4, CS - a)
        ws.append((i, base + a, rng.randbytes(n)))
    race(ws)
    got = h.pread(CS, base)
    ok = None
    for order in itertools.permutations(ws):
        m = bytearray(model[base:base + CS])
        for _, off, data in order:
            m[off - base:off - base + len(data)] = data
        if bytes(m) == got:
            ok = m
            break
    if ok is None:
        sys.exit("overlapping concurrent writes to chunk %d: the content is "
                 "no order of the 3 writes (%s)" % (c, ", ".join(
                     "%d bytes at +%d" % (len(d), o - base) for _, o, d in ws)))
    model[base:base + CS] = ok

# 2c. 6 threads on 4 connections write and zero interleaved 512-byte
#     sectors of the same 48 chunks (thread i owns the sectors s with
#     s % 6 == i), while flushes and reads run: every sector keeps the last
#     content its owner gave it.
T, AREA = 6, 48 * CS
area = rng.randrange(0, SIZE // CS - 48) * CS
stop, errors = [False], []
def worker(i):
    r = random.Random(1000 + i)
    hh = hs[i % len(hs)]
    try:
        for k in range(60):
            s = r.randrange(0, AREA // 512 // T) * T + i
            off = area + s * 512
            if r.random() < 0.8:
                d = r.randbytes(512)
                hh.pwrite(d, off)
            else:
                d = bytes(512)
                hh.zero(512, off)
            model[off:off + 512] = d
    except Exception as e:
        errors.append("writer %d: %s" % (i, e))
def background(what):
    try:
        while not stop[0]:
            if what == "flush":
                hs[3].flush()
            else:
                hs[2].pread(2 * CS, area + rng.randrange(0, AREA - 2 * CS))
    except Exception as e:
        errors.append("%s: %s" % (what, e))
ws = [threading.Thread(target=worker, args=(i,)) for i in range(T)]
bg = [threading.Thread(target=background, args=(w,)) for w in ("flush", "read")]
for t in ws + bg: t.start()
for t in ws: t.join()
stop[0] = True
for t in bg: t.join()
if errors:
    sys.exit("interleaved writes with flushes: " + "; ".join(errors))
check(area, AREA, "interleaved sector writes with concurrent flushes")

for x in hs[1:]:
    x.shutdown()
del hs, x

# 3. Flush; the shell compares the whole disk with the model.
h.flush()
with open(os.environ["TEST_MODEL"], "wb") as f:
    f.write(model)
print("test-plugin-rw: phase 1 done")
EOF
)" || fail "writes and reads (phase 1) failed: see above"

# compare_disk WHEN: nbdcopy (several connections and requests in flight)
# copies the whole disk out; it must equal the model.
compare_disk ()
{
  rm -f "$tmpdir/copy"
  nbdcopy -- "$uri" "$tmpdir/copy" || fail "$1: nbdcopy of the disk failed"
  cmp "$TEST_MODEL" "$tmpdir/copy" >"$tmpdir/cmp" 2>&1 ||
    fail "$1: the disk differs from the model: $(cat "$tmpdir/cmp")" \
      "(chunks of 64K: chunk = byte offset / 65536)"
}
compare_disk "after the flush"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# A new server: the disk exists, so no size=; a different chunk-size= is
# ignored (an existing disk keeps its own).
serve export=rw chunk-size=128K cache-size=4M

nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, random, sys
CS = 64 * 1024
model = open(os.environ["TEST_MODEL"], "rb").read()
SIZE = h.get_size()
if SIZE != len(model):
    sys.exit("after restart: size %d, expected %d" % (SIZE, len(model)))
pref = h.get_block_size(nbd.SIZE_PREFERRED)
if pref != CS:
    sys.exit("after restart with chunk-size=128K: preferred block size %d, "
             "expected the disk's own chunk size %d" % (pref, CS))

def check(off, n, what):
    got = h.pread(n, off)
    want = model[off:off + n]
    if got != want:
        i = next(i for i in range(n) if got[i] != want[i])
        sys.exit("%s: read of %d bytes at %d differs from the model at "
                 "offset %d (chunk %d): got byte %d, expected %d"
                 % (what, n, off, off + i, (off + i) // CS, got[i], want[i]))

rng = random.Random(7)
for k in range(30):
    b = rng.randrange(1, SIZE // CS) * CS
    off = b - rng.randint(1, 3000)
    check(off, rng.randint(3001, 2 * CS), "after restart, across a boundary")
check(SIZE - 1, 1, "after restart, the last byte")
print("test-plugin-rw: phase 2: size, block size and unaligned reads match")
EOF
)" || fail "read back after restart (phase 2) failed: see above"
compare_disk "after restart"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
