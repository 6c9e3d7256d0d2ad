#!/usr/bin/env bash
# Whoever writes the bucket cannot make a server return data of an
# encrypted disk that it did not write: every swap gives an error, never
# other data.  Each attack recomputes the objects' public SHA-256
# checksums, so that only the MACs and the AEAD tags can catch it:
#  - two chunk objects swapped: reading either chunk gives EIO, and s3cow
#    fsck finds both with the key (without it, they are sealed frames);
#  - two entries of a map swapped: the disk is refused at open;
#  - disk b's map replaced by disk a's (both encrypted under one key):
#    b is refused at open; a's head copied over b's: refused too.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
log="$tmpdir/nbdkit.log"
openssl rand -hex 32 >"$tmpdir/key"
key=(encryption-key=+"$tmpdir/key")
for d in a b; do
  s3cow create $d 1M --chunk-size 64K --encryption-key-file "$tmpdir/key"
done
serve "${key[@]}"
nbd_py '
for d in ("a", "b"):
    w(d, 0, pattern(d + "0", 65536) + pattern(d + "1", 65536))
'
stop_nbdkit || fail "nbdkit exited with status $?"

# fix_sum FILE: recompute the SHA-256 trailer of a head or map object.
fix_sum ()
{
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-32:] = hashlib.sha256(b[:-32]).digest()
open(sys.argv[1], "wb").write(b)
PY
}
map_of ()
{
  obj_list "disks/$1/maps/" | tail -n 1 | cut -d' ' -f1
}
# expect_refused DISK WHAT: DISK is not served; the log says why.
expect_refused ()
{
  serve "${key[@]}" 2>"$log"
  if nbd_py "r(\"$1\", 0, 512)" 2>/dev/null; then
    fail "$2: disk $1 was served"
  fi
  stop_nbdkit || true
  grep -q "MAC does not match" "$log" || fail "$2: $(cat "$log")"
  cat "$log" >&2
}

# 1. Two chunk objects of a swapped.
ma="$(map_of a)"
obj_get "$ma" "$tmpdir/map"
read -r c0 c1 < <(/usr/bin/python3 - "$tmpdir/map" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
n = int.from_bytes(b[32:40], "little")
print(" ".join(b[40 + 40 * i + 8:40 + 40 * i + 40].hex() for i in range(n)))
PY
)
obj_get "chunks/$c0" "$tmpdir/c0"
obj_get "chunks/$c1" "$tmpdir/c1"
obj_put "chunks/$c0" "$tmpdir/c1"
obj_put "chunks/$c1" "$tmpdir/c0"
serve "${key[@]}" 2>"$log"
nbd_py '
for c in (0, 1):
    try:
        r("a", c * 65536, 512)
    except nbd.Error as e:
        assert e.errno == "EIO", e.errno
    else:
        raise AssertionError("chunk %d of a was served after the swap" % c)
assert r("b", 0, 65536) == pattern("b0", 65536)
' || fail "swapped chunk objects were not refused with EIO"
stop_nbdkit || true
cat "$log" >&2
grep -q "does not open under the disk.s key" "$log" ||
  fail "the swapped chunks were not refused by their tag: $(cat "$log")"
if s3cow fsck a --encryption-key-file "$tmpdir/key" >"$tmpdir/fsck"; then
  fail "fsck with the key found no problem: $(cat "$tmpdir/fsck")"
fi
n="$(grep -c "^corrupt chunk chunks/\($c0\|$c1\) (disk a chunk" "$tmpdir/fsck")" || true
[ "$n" = 2 ] || fail "fsck with the key: $(cat "$tmpdir/fsck")"
s3cow fsck a >"$tmpdir/fsck" || fail "fsck without the key: $(cat "$tmpdir/fsck")"
obj_put "chunks/$c0" "$tmpdir/c0"
obj_put "chunks/$c1" "$tmpdir/c1"

# 2. Two entries of a's map swapped (the chunk ids exchanged).
cp "$tmpdir/map" "$tmpdir/map.swapped"
/usr/bin/python3 - "$tmpdir/map.swapped" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
e0, e1 = b[48:80], b[88:120]
b[48:80], b[88:120] = e1, e0
open(sys.argv[1], "wb").write(b)
PY
fix_sum "$tmpdir/map.swapped"
obj_put "$ma" "$tmpdir/map.swapped"
expect_refused a "map entries swapped"
if s3cow fsck a --encryption-key-file "$tmpdir/key" >"$tmpdir/fsck"; then
  fail "fsck with the key passed swapped map entries"
fi
grep -q "^corrupt map $ma (disk a)" "$tmpdir/fsck" || fail "fsck: $(cat "$tmpdir/fsck")"
obj_put "$ma" "$tmpdir/map"

# 3. b's map replaced by a's; then b's head by a's.
mb="$(map_of b)"
obj_get "$mb" "$tmpdir/mapb"
obj_put "$mb" "$tmpdir/map"
expect_refused b "a map moved between disks"
obj_put "$mb" "$tmpdir/mapb"
obj_get disks/a/head "$tmpdir/heada"
obj_put disks/b/head "$tmpdir/heada"
expect_refused b "a head moved between disks"

# a is intact throughout.
serve "${key[@]}"
nbd_py 'assert r("a", 65536, 65536) == pattern("a1", 65536)' ||
  fail "disk a does not read back"
stop_nbdkit || fail "nbdkit exited with status $?"
