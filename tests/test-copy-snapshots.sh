#!/usr/bin/env bash
# s3cow copy DISK@SNAP s3://B/DISK makes snapshot SNAP of the destination
# disk, and copying DISK writes its head: copying d@s1, d@s2 and then d
# gives a destination disk d with snapshots s1 and s2, each reading what
# the source's read, and a snapshot copied again is up to date.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

s3cow create d 2M --chunk-size 64K
nbd_py 'w("d", 0, pattern("one", 8 * 65536))'
s3cow snapshot d s1
nbd_py 'w("d", 65536, pattern("two", 2 * 65536))'
s3cow snapshot d s2
nbd_py 'w("d", 5 * 65536, pattern("three", 65536))'

dst="$tmpdir/dst"
mkdir -p "$dst/b2"
to="file://$dst/b2/d"
s3cow copy d@s1 "$to" || fail "copy of d@s1 failed"
# A snapshot alone makes no disk head.
[ ! -e "$dst/b2/disks/d/head" ] || fail "copying a snapshot wrote the head"
s3cow copy d@s2 "$to" >"$tmpdir/out2" || fail "copy of d@s2 failed"
grep -q 'sent 2 chunks' "$tmpdir/out2" || fail "d@s2 did not send only its 2 new chunks"
s3cow copy d "$to" >"$tmpdir/out3" || fail "copy of d failed"
grep -q 'sent 1 chunks' "$tmpdir/out3" || fail "d did not send only its 1 new chunk"
s3cow copy d@s1 "$to" | grep -q 'up to date' || fail "d@s1 again is not up to date"

S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 s3cow ls d >"$tmpdir/ls"
cat "$tmpdir/ls"
[ "$(awk 'NR > 1 { print $1 }' "$tmpdir/ls" | tr '\n' ' ')" = "s1 s2 " ] ||
  fail "the destination's snapshots are not s1 and s2"
S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 s3cow fsck ||
  fail "fsck of the destination"

start_nbdkit "$tmpdir/sock2" bucket=b2 endpoint="file://$dst"
nbd_py '
def read2(name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(SOCK + "2")
    try:
        return h.pread(2 << 20, 0)
    finally:
        h.shutdown()
for name in ("d@s1", "d@s2", "d"):
    if read2(name) != r(name, 0, 2 << 20):
        sys.exit("%s reads other data at the destination" % name)
' || fail "data differ (above)"
echo "$0: PASS"
