#!/usr/bin/env bash
# test-plugin-trim-zero.sh: trim and write-zeroes through the plugin, on a
# 16 MiB disk of 64K chunks filled with random data:
#  - zero whole chunks, part of a chunk, a range from the middle of one
#    chunk to the middle of another, the tail of the disk (with FUA), with
#    the fast-zero flag (whole chunks; part of a chunk may also say ENOTSUP,
#    and then must change nothing), trim whole and partial chunks, a chunk
#    zeroed in two halves, a chunk written with zero bytes, a zeroed chunk
#    written again;
#  - every byte reads back as the Python model (zeros where zeroed);
#  - block status (nbdsh) reports hole+zero for every chunk zeroed whole
#    and data (no flag) for every chunk that holds a non-zero byte, before
#    and after a restart; after the restart every all-zero chunk is a hole
#    (an all-zero chunk has no object);
#  - qemu-img map shows the zeroed chunks as holes (data: false) and the
#    other chunks as data;
#  - on a fresh server, fast zero of part of a chunk not in memory is
#    ENOTSUP and changes nothing; of part of a hole or of a chunk just read,
#    and of whole chunks, it zeroes.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh qemu-img
use_store
export TEST_MODEL="$tmpdir/model" TEST_HOLES="$tmpdir/holes"

# The checks shared by both phases: content, then block status.
cat >"$tmpdir/check.py" <<'EOF'
import os, sys
CS = 64 * 1024

def check_all(h, model, holes, strict, what):
    size = len(model)
    for off in range(0, size, 1 << 20):
        got = h.pread(1 << 20, off)
        want = bytes(model[off:off + (1 << 20)])
        if got != want:
            i = next(i for i in range(len(got)) if got[i] != want[i])
            sys.exit("%s: byte at %d (chunk %d) is %d, expected %d"
                     % (what, off + i, (off + i) // CS, got[i], want[i]))
    # Block status of every byte, as per-chunk flags.
    flags = {}
    off = 0
    while off < size:
        ext = []
        def cb(meta, o, entries, err):
            if meta == nbd.CONTEXT_BASE_ALLOCATION:
                ext.extend(entries)
        h.block_status(min(size - off, 1 << 30), off, cb)
        if not ext:
            sys.exit("%s: block status at %d returned no extent" % (what, off))
        for i in range(0, len(ext), 2):
            n, f = ext[i], ext[i + 1]
            for c in range(off // CS, (off + n + CS - 1) // CS):
                flags.setdefault(c, set()).add(f)
            off += n
    names = {0: "data", 1: "hole", 2: "zero", 3: "hole+zero"}
    for c in range(size // CS):
        chunk = model[c * CS:(c + 1) * CS]
        got = flags.get(c, set())
        if c in holes or (strict and not any(chunk)):
            want = nbd.STATE_HOLE | nbd.STATE_ZERO
        elif any(chunk):
            want = 0
        else:
            continue
        if got != {want}:
            sys.exit("%s: block status of chunk %d (%s): %s, expected %s"
                     % (what, c, "zeroed whole" if c in holes else
                        "all zero" if not any(chunk) else "has data",
                        "/".join(names.get(f, str(f)) for f in sorted(got)),
                        names[want]))
EOF

serve export=tz size=16M chunk-size=64K \
  cache-size=4M

nbdsh --base-allocation -u "$uri" -c "$(cat <<'EOF'
import os, random, sys, json
exec(open(os.path.join(os.path.dirname(os.environ["TEST_MODEL"]),
                       "check.py")).read())
SIZE = h.get_size()
NC = SIZE // CS
if not h.can_trim() or not h.can_zero() or not h.can_fast_zero():
    sys.exit("can_trim %s, can_zero %s, can_fast_zero %s: expected all true"
             % (h.can_trim(), h.can_zero(), h.can_fast_zero()))
rng = random.Random(99)
model = bytearray(rng.randbytes(SIZE))
for off in range(0, SIZE, 1 << 20):
    h.pwrite(bytes(model[off:off + (1 << 20)]), off)
h.flush()
holes = set()

def zero(off, n, flags=0, trim=False, whole=True):
    (h.trim if trim else h.zero)(n, off, flags)
    model[off:off + n] = bytes(n)
    if whole:
        holes.update(c for c in range(off // CS, (off + n) // CS)
                     if c * CS >= off and (c + 1) * CS <= off + n)

zero(2 * CS, 3 * CS)                                # whole chunks 2-4
zero(10 * CS + 100, 1000)                           # inside chunk 10
zero(20 * CS, CS, trim=True)                        # trim chunk 20
zero(21 * CS + CS - 5000, 5000, trim=True)          # trim end of chunk 21
zero(30 * CS, 2 * CS, nbd.CMD_FLAG_FAST_ZERO)       # fast zero 30-31
try:                                                # fast zero in chunk 33
    h.zero(19990, 33 * CS + 10, nbd.CMD_FLAG_FAST_ZERO)
    model[33 * CS + 10:33 * CS + 20000] = bytes(19990)
    print("fast zero of part of a chunk: done")
except nbd.Error as e:
    if e.errno != "ENOTSUP":
        raise
    print("fast zero of part of a chunk: ENOTSUP")
zero(40 * CS + 1234, 3 * CS)                        # mid 40 .. mid 43
zero(50 * CS, CS // 2, whole=False)                 # chunk 50 in halves
zero(50 * CS + CS // 2, CS // 2, whole=False)
h.pwrite(bytes(CS), 60 * CS)                        # zero bytes, written
model[60 * CS:61 * CS] = bytes(CS)
zero(NC * CS - 3 * CS, 3 * CS, nbd.CMD_FLAG_FUA)    # the tail, FUA
zero(3 * CS, CS)                                    # again: zeros
zero(20 * CS, CS, trim=True)
zero(70 * CS, CS)                                   # zero, then write
h.pwrite(b"back again", 70 * CS + 500)
model[70 * CS + 500:70 * CS + 510] = b"back again"
holes.discard(70)
zero(80 * CS - 1, 2 * CS + 2, trim=True)            # trim 80-81, edges

check_all(h, model, holes, False, "before the flush")
h.flush()
check_all(h, model, holes, False, "after the flush")
open(os.environ["TEST_MODEL"], "wb").write(model)
json.dump(sorted(holes), open(os.environ["TEST_HOLES"], "w"))
print("test-plugin-trim-zero: %d chunks zeroed whole: %s" % (len(holes),
      sorted(holes)))
EOF
)" || fail "trim/zero (phase 1) failed: see above"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
serve export=tz chunk-size=64K cache-size=4M

nbdsh --base-allocation -u "$uri" -c "$(cat <<'EOF'
import os, sys, json
exec(open(os.path.join(os.path.dirname(os.environ["TEST_MODEL"]),
                       "check.py")).read())
model = open(os.environ["TEST_MODEL"], "rb").read()
holes = set(json.load(open(os.environ["TEST_HOLES"])))
check_all(h, model, holes, True, "after restart")
print("test-plugin-trim-zero: after restart: content and block status match")
EOF
)" || fail "trim/zero after restart (phase 2) failed: see above"

# qemu-img map: holes where chunks were zeroed, data elsewhere.
qemu-img map --output=json -f raw "$uri" >"$tmpdir/map.json" ||
  fail "qemu-img map failed"
/usr/bin/python3 - "$tmpdir/map.json" <<'EOF' || fail "qemu-img map is wrong"
import json, os, sys
CS = 64 * 1024
m = json.load(open(sys.argv[1]))
model = open(os.environ["TEST_MODEL"], "rb").read()
holes = set(json.load(open(os.environ["TEST_HOLES"])))
data = {}
for e in m:
    for c in range(e["start"] // CS, (e["start"] + e["length"] + CS - 1) // CS):
        data.setdefault(c, set()).add(e["data"])
for c in range(len(model) // CS):
    chunk = model[c * CS:(c + 1) * CS]
    want = False if (c in holes or not any(chunk)) else True
    if data.get(c) != {want}:
        sys.exit("qemu-img map: chunk %d (%s) has data=%s, expected %s"
                 % (c, "zeroed" if not want else "data",
                    sorted(data.get(c, [])), want))
print("test-plugin-trim-zero: qemu-img map: %d entries, holes as expected"
      % len(m))
EOF

# Fast zero on a fresh server, nothing in memory: part of a chunk with data
# would need a GET first, so ENOTSUP and nothing changed; part of a hole,
# part of a chunk just read, and whole chunks are fast.
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
serve export=tz chunk-size=64K cache-size=4M
nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, sys
CS = 64 * 1024
model = bytearray(open(os.environ["TEST_MODEL"], "rb").read())
FAST = nbd.CMD_FLAG_FAST_ZERO
if not any(model[12 * CS:13 * CS]) or not any(model[13 * CS:14 * CS]):
    sys.exit("chunks 12 and 13 should hold data")
try:
    h.zero(100, 12 * CS + 10, FAST)
    sys.exit("fast zero of part of chunk 12, not in memory: succeeded, "
             "expected ENOTSUP")
except nbd.Error as e:
    if e.errno != "ENOTSUP":
        raise
for what, n, off in (("part of hole 2", 100, 2 * CS + 10),
                     ("whole chunk 14", CS, 14 * CS),
                     ("part of chunk 13, just read", 100, 13 * CS + 10)):
    if what.endswith("just read"):
        h.pread(10, 13 * CS)
    try:
        h.zero(n, off, FAST)
    except nbd.Error as e:
        sys.exit("fast zero of %s: %s, expected success" % (what, e))
    model[off:off + n] = bytes(n)
for c in (2, 12, 13, 14):
    if h.pread(CS, c * CS) != bytes(model[c * CS:(c + 1) * CS]):
        sys.exit("chunk %d after the fast zeroes is not as expected" % c)
h.flush()
print("test-plugin-trim-zero: fast zero: ENOTSUP only for a partial chunk "
      "not in memory")
EOF
)" || fail "fast zero on a fresh server failed: see above"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
