#!/usr/bin/env bash
# test-plugin-corrupt.sh: damaged chunk objects in the bucket are detected,
# never served as data:
#  - write 16 chunks of distinct random data (64K chunks), flush, stop;
#    chunks/ lists exactly their 16 SHA-256 addresses;
#  - overwrite chunk 3's object with other bytes of the same length,
#    replace chunk 9's with a truncated copy, delete chunk 7's;
#  - on a new server, reading any of those chunks (whole, a few bytes
#    inside, or a range that begins in a good chunk) fails with EIO, and
#    the log (nbdkit's stderr) names the chunk index and its object key
#    ("corrupt" / "missing");
#  - every other chunk reads back correctly, the server keeps serving, a
#    partial write to a missing chunk fails with EIO, a whole-chunk write
#    over a corrupt chunk replaces it, and the server stops with status 0;
#  - a map object with one bit flipped: the disk is not served, and the log
#    says the map (named) is corrupt; a truncated head: the server refuses
#    to start, saying the head (named) is not an s3cow head object.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store
export TEST_DIR="$tmpdir"
log="$tmpdir/nbdkit.log"

serve export=bad size=4M chunk-size=64K \
  cache-size=2M
nbdsh -u "$uri" -c "$(cat <<'EOF'
import hashlib, os, random
CS = 64 * 1024
d = os.environ["TEST_DIR"]
rng = random.Random(3)
data = rng.randbytes(16 * CS)
h.pwrite(data, 0)
h.flush()
open(d + "/data", "wb").write(data)
with open(d + "/keys", "w") as f:
    for c in range(16):
        f.write(hashlib.sha256(data[c * CS:(c + 1) * CS]).hexdigest() + "\n")
EOF
)" || fail "writing 16 chunks failed"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# The bucket holds exactly the 16 chunks, by content address.
obj_list chunks/ | sed 's|^chunks/||; s| .*||' | sort >"$tmpdir/listed"
sort "$tmpdir/keys" >"$tmpdir/expected"
cmp -s "$tmpdir/listed" "$tmpdir/expected" ||
  fail "chunks/ lists $(wc -l <"$tmpdir/listed") keys, expected the 16" \
    "SHA-256 addresses of the chunks written: $(diff "$tmpdir/expected" \
    "$tmpdir/listed" | tr '\n' ' ')"
key3="$(sed -n 4p "$tmpdir/keys")"
key7="$(sed -n 8p "$tmpdir/keys")"
key9="$(sed -n 10p "$tmpdir/keys")"

# Damage three chunk objects.
head -c 65536 /dev/urandom >"$tmpdir/other"
obj_put "chunks/$key3" "$tmpdir/other"
head -c 1000 "$tmpdir/data" >"$tmpdir/short"
obj_put "chunks/$key9" "$tmpdir/short"
obj_delete "chunks/$key7"

# A new server, its messages also kept in $log.
serve export=bad chunk-size=64K cache-size=2M \
  2> >(tee "$log" >&2)

nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, sys
CS = 64 * 1024
d = os.environ["TEST_DIR"]
data = open(d + "/data", "rb").read()

def expect_eio(n, off, what):
    try:
        got = h.pread(n, off)
    except nbd.Error as e:
        if e.errno != "EIO":
            sys.exit("%s: read failed with %s, expected EIO" % (what, e.errno))
        return
    sys.exit("%s: read of %d bytes at %d returned data, expected EIO (%s)"
             % (what, n, off, "the original" if got == data[off:off + n]
                else "other bytes"))

for c in (3, 7, 9):
    expect_eio(CS, c * CS, "chunk %d" % c)
    expect_eio(10, c * CS + 1000, "10 bytes inside chunk %d" % c)
    expect_eio(2 * CS, c * CS - CS, "chunks %d-%d" % (c - 1, c))
for c in range(16):
    if c in (3, 7, 9):
        continue
    got = h.pread(CS, c * CS)
    if got != data[c * CS:(c + 1) * CS]:
        sys.exit("chunk %d (intact) does not read back as written" % c)
if h.pread(CS, 20 * CS) != bytes(CS):
    sys.exit("chunk 20 (never written) does not read as zeros")

# A partial write needs the old content: on a missing chunk, EIO.
try:
    h.pwrite(b"x" * 100, 7 * CS + 50)
    sys.exit("a partial write to chunk 7 (missing) succeeded, expected EIO")
except nbd.Error as e:
    if e.errno != "EIO":
        sys.exit("partial write to chunk 7: %s, expected EIO" % e.errno)
# A whole-chunk write needs nothing: it replaces the corrupt chunk.
new = bytes([0x5a]) * CS
h.pwrite(new, 3 * CS)
h.flush()
if h.pread(CS, 3 * CS) != new:
    sys.exit("chunk 3 rewritten whole does not read back")
print("test-plugin-corrupt: damaged chunks give EIO, the others read back")
EOF
)" || fail "reads of damaged chunks (see above)"

# The log names each damaged chunk and its key (poll: tee may lag).
for ((i = 0; i < 50; i++)); do
  grep -q "$key7" "$log" && grep -q "$key3" "$log" && grep -q "$key9" "$log" &&
    break
  sleep 0.1
done
expect_log ()
{
  grep -E "$1" "$log" >/dev/null ||
    fail "the log has no line matching /$1/; it has:$(printf '\n%s' \
      "$(cat "$log")")"
}
expect_log "chunk 3: chunks/$key3 is corrupt"
expect_log "chunk 9: chunks/$key9 is corrupt"
expect_log "chunk 7: chunks/$key7 is missing"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# A damaged map object: the disk is not opened (no connection), and the log
# names the map.  A damaged head: the server refuses to start, naming it.
serve export=meta size=1M chunk-size=64K \
  cache-size=2M
nbdsh -u "$uri" -c 'h.pwrite(b"m" * 70000, 1000); h.flush()' ||
  fail "writing disk meta failed"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
map="$(obj_list disks/meta/maps/ | tail -n 1 | cut -d' ' -f1)"
[ -n "$map" ] || fail "no map object under disks/meta/maps/"
obj_get "$map" "$tmpdir/map"
/usr/bin/python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[len(d) // 2] ^= 1
open(sys.argv[1], "wb").write(d)' "$tmpdir/map"
obj_put "$map" "$tmpdir/map"
serve export=meta chunk-size=64K cache-size=2M \
  2> >(tee "$log" >&2)
if nbdsh -u "$uri" -c 'print(h.pread(10, 1000))' 2>/dev/null; then
  fail "a disk whose map is corrupt was served"
fi
for ((i = 0; i < 50; i++)); do
  grep -q "$map" "$log" && break
  sleep 0.1
done
expect_log "$map: map object is corrupt"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

obj_get disks/meta/head "$tmpdir/head"
head -c 20 "$tmpdir/head" >"$tmpdir/head.short"
obj_put disks/meta/head "$tmpdir/head.short"
status=0
timeout 60 nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=meta \
  chunk-size=64K cache-size=2M --run true 2>"$tmpdir/err" || status=$?
cat "$tmpdir/err" >&2
if [ "$status" = 0 ] || [ "$status" = 124 ]; then
  fail "a disk whose head is truncated: nbdkit exit status $status," \
    "expected a refusal at startup"
fi
grep -q "disks/meta/head: not an s3cow head object" "$tmpdir/err" ||
  fail "truncated head: the message does not name disks/meta/head as not" \
    "an s3cow head object"
echo "$0: PASS"
