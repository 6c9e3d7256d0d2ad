#!/usr/bin/env bash
# test-plugin-map-limit.sh: a head never lists more maps than a commit
# may write, and one over the limit still opens.  Directory store.
#  - 32 write+flush commits give a head of 32 maps (31 deltas and more
#    would follow a delta each);
#  - then a chunk is written and never flushed: the commit thread commits
#    it once it is older than gc-grace/4 (uploading it again first).  That
#    commit must compact (one full map), not add a 33rd map: commits of
#    old chunks, one after the other, used to add a delta each until the
#    head went past 64 maps (the server crashed, the disk no longer
#    opened).  Twice, then all the data reads back from a new server;
#  - a head that lists 65 maps (as such a server left it) is read by
#    s3cow info and gc, opens, reads back, and compacts on its next flush.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store dir # the test rewrites a head in the directory store's files
dir=("${store[@]}" export=nf cache-size=4M gc-grace=6 retry-time=0.5
  timeout=0.5 commit-interval=0)
export TEST_STORE="$store_root/$bucket"

# nmaps, generation of disk nf, from s3cow info --json.
head_state ()
{
  s3cow info nf --json |
    /usr/bin/python3 -c 'import json, sys
i = json.load(sys.stdin)
print(len(i["maps"]), i["generation"])'
}

s3cow create nf 4M --chunk-size 64K
start_nbdkit "$sock" "${dir[@]}" 2>"$tmpdir/log"
nbdsh -u "$uri" -c '
from hashlib import sha256
CS = 65536
for i in range(32):
    h.pwrite(sha256(b"a%d" % i).digest() * (CS // 32), i * CS)
    h.flush()
' || fail "32 flushes"
read -r nmaps gen < <(head_state)
echo "after 32 flushes: $nmaps maps, generation $gen"
[ "$nmaps" -eq 32 ] || fail "expected 32 maps after 32 delta commits"

# Two chunks written without a flush, each committed by the commit thread.
for c in 40 41; do
  nbdsh -u "$uri" -c "
from hashlib import sha256
h.pwrite(sha256(b'b$c').digest() * 2048, $c * 65536)
" || fail "write of chunk $c"
  for ((i = 0; i < 600; i++)); do
    read -r nmaps now < <(head_state)
    [ "$now" -gt "$gen" ] && break
    sleep 0.1
  done
  [ "$now" -gt "$gen" ] || fail "chunk $c was not committed within 60 s"
  gen=$now
  echo "background commit of chunk $c: $nmaps maps, generation $gen"
  [ "$nmaps" -le 32 ] ||
    fail "a commit of old chunks added a map to a head of 32: $nmaps maps"
done
grep -q "uploading them again" "$tmpdir/log" ||
  fail "the chunks were not committed as old ones (see $tmpdir/log)"
stop_nbdkit || fail "nbdkit exited with status $?"

check_data ()
{
  nbdsh -u "$uri" -c '
from hashlib import sha256
CS = 65536
for i in range(32):
    assert h.pread(CS, i * CS) == sha256(b"a%d" % i).digest() * (CS // 32), i
for c in (40, 41):
    assert h.pread(CS, c * CS) == sha256(b"b%d" % c).digest() * 2048, c
assert h.pread(CS, 50 * CS) == bytes(CS)
'
}
start_nbdkit "$sock" "${dir[@]}" 2>>"$tmpdir/log"
check_data || fail "data after the background commits"
stop_nbdkit || fail "nbdkit exited with status $?"

# A head of 65 maps: the last map listed 34 times more (applying a map
# twice changes nothing), under new keys.
/usr/bin/python3 - <<'EOF' || fail "cannot write a head of 65 maps"
import hashlib, os, struct
root = os.environ["TEST_STORE"]
def read(key):
    return open(os.path.join(root, key), "rb").read()[64:]
def write(key, data):
    etag = hashlib.sha256(data).hexdigest()[:32]
    hdr = ("S3COWDIR1 " + etag).ljust(63).encode() + b"\n"
    open(os.path.join(root, key), "wb").write(hdr + data)
d = read("disks/nf/head")
# "s3cowHD\0", version, flags, size, chunk_size: 28 bytes; nmaps; then
# generation, created, committed; parent_len at 56.
(nmaps,) = struct.unpack_from("<I", d, 28)
(plen,) = struct.unpack_from("<H", d, 56)
p = 58 + plen
keys = []
for _ in range(nmaps):
    (kl,) = struct.unpack_from("<H", d, p)
    keys.append(d[p + 2:p + 2 + kl].decode())
    p += 2 + kl
last = read(keys[-1])
while len(keys) < 65:
    k = "disks/nf/maps/ffff%012x-extra" % len(keys)
    write(k, last)
    keys.append(k)
body = bytearray(d[:28]) + struct.pack("<I", len(keys)) + d[32:58 + plen]
for k in keys:
    body += struct.pack("<H", len(k)) + k.encode()
body += d[p:len(d) - 32]  # flags bit 0: the op id and disk id
write("disks/nf/head", bytes(body) + hashlib.sha256(body).digest())
EOF
read -r nmaps gen < <(head_state) || fail "s3cow info on a head of 65 maps"
[ "$nmaps" -eq 65 ] || fail "the head lists $nmaps maps, expected 65"
s3cow create other 1M
s3cow gc --grace 1h >"$tmpdir/gc.out" 2>&1 || {
  cat "$tmpdir/gc.out"
  fail "gc with a head of 65 maps in the bucket"
}
start_nbdkit "$sock" "${dir[@]}" 2>>"$tmpdir/log"
check_data || fail "data of the head of 65 maps"
nbdsh -u "$uri" -c 'h.pwrite(b"c" * 65536, 60 * 65536); h.flush()' ||
  fail "flush over a head of 65 maps"
read -r nmaps gen < <(head_state)
[ "$nmaps" -eq 1 ] || fail "the head of 65 maps did not compact: $nmaps maps"
stop_nbdkit || fail "nbdkit exited with status $?"
start_nbdkit "$sock" "${dir[@]}" 2>>"$tmpdir/log"
check_data || fail "data after compacting the head of 65 maps"
nbdsh -u "$uri" -c 'assert h.pread(65536, 60 * 65536) == b"c" * 65536' ||
  fail "chunk 60 after compacting"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck nf >"$tmpdir/fsck" || {
  cat "$tmpdir/fsck"
  fail "fsck"
}
echo "$0: PASS"
