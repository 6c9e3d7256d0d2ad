#!/usr/bin/env bash
# A compressed chunk object whose frame no longer decodes (its payload
# garbled in the bucket, the header intact) is corrupt: s3cow fsck
# reports it ("does not decode", the reason on stderr) and a read of it
# fails with EIO, while the other chunk still reads.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
s3cow create d 1M --chunk-size 64K
prelude='
CS = 65536
def text(tag):
    return "".join("%s line %06d\n" % (tag, i) for i in range(CS // 8)).encode()[:CS]
'
serve export=d
nbd_py "$prelude
w('d', 0, text('a'))
w('d', CS, text('b'))
"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck d || fail "fsck finds problems in a sound disk"

key="chunks/$(S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
$prelude
print(hashlib.sha256(text('a')).hexdigest())")"
obj_get "$key" "$tmpdir/obj"
/usr/bin/python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
assert b[:8] == b"s3cowCK\0" and len(b) < 65536, "not a frame"
for i in range(40, len(b), 7):
    b[i] ^= 0xa5
open(sys.argv[1], "wb").write(b)
' "$tmpdir/obj"
obj_put "$key" "$tmpdir/obj"

status=0
s3cow fsck d >"$tmpdir/fsck" 2>"$tmpdir/fsck.err" || status=$?
cat "$tmpdir/fsck" "$tmpdir/fsck.err"
[ "$status" = 1 ] || fail "fsck exited with $status, expected 1"
grep -q "^corrupt chunk $key (disk d chunk 0): does not decode$" \
  "$tmpdir/fsck" || fail "fsck does not report the chunk"
grep -q "$key: [0-9]* bytes: the zstd payload does not decode" \
  "$tmpdir/fsck.err" || fail "fsck does not say why"

serve export=d retry-time=1
nbd_py "$prelude
import errno
assert r('d', CS, CS) == text('b')
try:
    r('d', 0, CS)
    raise SystemExit('the garbled chunk was read')
except nbd.Error as e:
    assert e.errnum == errno.EIO, e
"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
