#!/usr/bin/env bash
# test-plugin-tail-chunk.sh: the last chunk of a disk whose size is not a
# multiple of the chunk size (4 chunks of 64K + 1 KiB), on the directory
# store (no S3 server needed):
#  - zeroing or trimming that chunk from its start to the end of the disk
#    zeroes all of it: it needs no GET of the chunk (its object is deleted
#    from the bucket first, so a GET would fail with EIO), a fast zero of
#    it is not ENOTSUP on a fresh server, and block status reports it as a
#    hole at once;
#  - after a flush and a restart it reads as zeros and is a hole;
#  - zeroing only the end of that chunk still keeps its other bytes.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh sha256sum
use_store dir
store+=(chunk-size=64K cache-size=2M)
size=$((4 * 65536 + 1024))
export TEST_DIR="$tmpdir"

# 1. Two disks, their tail chunks full of random data, committed.
for d in a b; do
  serve export=$d size=$size
  TEST_DISK=$d nbdsh -u "$uri" -c "$(cat <<'EOF'
import hashlib, os, random
CS = 64 * 1024
d = os.environ["TEST_DISK"]
SIZE = h.get_size()
data = random.Random(d).randbytes(SIZE)
h.pwrite(data, 0)
h.flush()
tail = data[SIZE - SIZE % CS:]
open(os.path.join(os.environ["TEST_DIR"], d + ".model"), "wb").write(data)
# The object of the tail chunk: its bytes, then zeros up to the chunk size.
with open(os.path.join(os.environ["TEST_DIR"], d + ".tail"), "w") as f:
    f.write(hashlib.sha256(tail + bytes(CS - len(tail))).hexdigest())
EOF
)" || fail "disk $d: writing it failed"
  stop_nbdkit || fail "nbdkit exited with status $?"
done

# 2. Delete the tail chunks' objects: zeroing the whole tail must not read
# them.
for d in a b; do
  obj="$tmpdir/store/bkt/chunks/$(cat "$tmpdir/$d.tail")"
  [ -f "$obj" ] || fail "no object $obj for the tail chunk of $d"
  rm "$obj"
done

# 3. A fresh server: fast zero of the tail of a, trim of the tail of b.
serve
nbdsh -c "$(cat <<'EOF'
import os, sys
CS = 64 * 1024
sock = os.environ["TEST_DIR"] + "/sock"

def status(h, count, off):
    got = []
    h.block_status(count, off,
                   lambda meta, o, entries, err: got.extend(entries))
    return got

for d, how in (("a", "fast zero"), ("b", "trim")):
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_uri("nbd+unix:///%s?socket=%s" % (d, sock))
    SIZE = h.get_size()
    T = SIZE - SIZE % CS
    try:
        if how == "trim":
            h.trim(SIZE - T, T)
        else:
            h.zero(SIZE - T, T, nbd.CMD_FLAG_FAST_ZERO)
    except nbd.Error as e:
        sys.exit("disk %s: %s of the last chunk (%d bytes at %d, to the end "
                 "of the disk) failed: %s; expected success without reading "
                 "the chunk" % (d, how, SIZE - T, T, e))
    if h.pread(SIZE - T, T) != bytes(SIZE - T):
        sys.exit("disk %s: the last chunk does not read as zeros after %s"
                 % (d, how))
    st = status(h, SIZE - T, T)
    if st != [SIZE - T, nbd.STATE_HOLE | nbd.STATE_ZERO]:
        sys.exit("disk %s: block status of the last chunk after %s: %s, "
                 "expected [%d, hole|zero (3)]" % (d, how, st, SIZE - T))
    h.flush()
    h.shutdown()
EOF
)" || fail "zeroing the last chunk failed: see above"
stop_nbdkit || fail "nbdkit exited with status $?"

# 4. After a restart: zeros, a hole, the rest intact; then zero only the
# end of the tail chunk of a (written again first): the rest is kept.
serve
nbdsh -c "$(cat <<'EOF'
import os, sys
CS = 64 * 1024
tdir = os.environ["TEST_DIR"]
for d in ("a", "b"):
    model = bytearray(open(os.path.join(tdir, d + ".model"), "rb").read())
    SIZE = len(model)
    T = SIZE - SIZE % CS
    model[T:] = bytes(SIZE - T)
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_uri("nbd+unix:///%s?socket=%s/sock" % (d, tdir))
    got = h.pread(SIZE, 0)
    if got != model:
        i = next(i for i in range(SIZE) if got[i] != model[i])
        sys.exit("disk %s after restart: byte %d at %d (chunk %d), expected %d"
                 % (d, got[i], i, i // CS, model[i]))
    st = []
    h.block_status(SIZE - T, T, lambda m, o, e, err: st.extend(e))
    if st != [SIZE - T, nbd.STATE_HOLE | nbd.STATE_ZERO]:
        sys.exit("disk %s after restart: block status of the last chunk %s, "
                 "expected [%d, hole|zero (3)]" % (d, st, SIZE - T))
    if d == "a":
        data = bytes(range(256)) * ((SIZE - T) // 256)
        h.pwrite(data, T)
        h.zero(100, SIZE - 100)
        want = data[:len(data) - 100] + bytes(100)
        if h.pread(SIZE - T, T) != want:
            sys.exit("disk a: zeroing the last 100 bytes changed others")
        h.flush()
    h.shutdown()
print("test-plugin-tail-chunk: the last partial chunk zeroes whole")
EOF
)" || fail "after restart: see above"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
