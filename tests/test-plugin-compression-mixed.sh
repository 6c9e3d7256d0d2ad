#!/usr/bin/env bash
# One disk written by servers with compression=none, lz4 and zstd:3 in
# turn holds chunk objects of every encoding (raw, an lz4 frame, a zstd
# frame, and raw again for data that does not compress, whatever the
# server), and every server, whatever its compression=, reads all of them
# back right from a cold cache; s3cow fsck finds them sound.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit s3cow
use_store
s3cow create d 1M --chunk-size 64K

# The data of chunk N (64 KiB): text that compresses, or noise that does
# not.  Each chunk is written by the server whose compression= is listed.
prelude='
CS = 65536
def text(tag):
    return "".join("%s line %06d of a chunk that compresses\n" % (tag, i)
                   for i in range(CS // 40)).encode()[:CS].ljust(CS, b".")
def data(n):
    return pattern("noise%d" % n, CS) if n in (1, 5) else text("t%d" % n)
'
write_with ()
{
  local compression="$1"
  shift
  serve export=d compression="$compression"
  nbd_py "$prelude
for n in [$*]:
    w('d', n * CS, data(n))
"
  stop_nbdkit || fail "nbdkit (compression=$compression) exited with status $?"
}
write_with none 0,1
write_with lz4 2,3
write_with zstd:3 4,5

# Each chunk's object: its size, and the codec byte of a frame.
for n in 0 1 2 3 4 5; do
  key="chunks/$(S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
$prelude
print(hashlib.sha256(data($n)).hexdigest())")"
  obj_get "$key" "$tmpdir/obj"
  got="$(/usr/bin/python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
if len(b) == 65536:
    print("raw")
elif b[:8] == b"s3cowCK\0":
    print("frame-%d" % b[9])
else:
    print("bad-%d" % len(b))
' "$tmpdir/obj")"
  case "$n" in
    0 | 1 | 5) want=raw ;;
    2 | 3) want=frame-1 ;;
    4) want=frame-2 ;;
  esac
  echo "chunk $n: $got (expected $want)"
  [ "$got" = "$want" ] || fail "chunk $n is stored as $got, expected $want"
done

for compression in none lz4 zstd zstd:19; do
  serve export=d compression="$compression"
  nbd_py "$prelude
for n in range(6):
    got = r('d', n * CS, CS)
    assert got == data(n), 'chunk %d read wrong with compression=$compression' % n
assert r('d', 6 * CS, CS) == bytes(CS)
" || fail "reading with compression=$compression"
  stop_nbdkit || fail "nbdkit (compression=$compression) exited with status $?"
done

s3cow fsck d >"$tmpdir/fsck" || fail "fsck: $(cat "$tmpdir/fsck")"
cat "$tmpdir/fsck"
echo "$0: PASS"
