#!/usr/bin/env bash
# s3cow copy DISK@TIME s3://B/D copies the state of DISK at TIME as disk
# D of the destination: it reads what DISK read then, not what it reads
# now.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("A", 65536))'
t="$(last_commit_time d)"
nbd_py 'w("d", 0, pattern("B", 65536))'

dst="$tmpdir/dst"
mkdir -p "$dst/b2"
s3cow copy "d@$t" "file://$dst/b2/c" || fail "s3cow copy d@$t failed"
S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 s3cow fsck ||
  fail "fsck of the destination"

start_nbdkit "$tmpdir/sock2" bucket=b2 endpoint="file://$dst"
nbd_py '
h = nbd.NBD()
h.set_export_name("c")
h.connect_unix(SOCK + "2")
got = h.pread(65536, 0)
h.shutdown()
assert got == pattern("A", 65536), "the copy of d@TIME does not read A"
assert r("d", 0, 65536) == pattern("B", 65536)
' || fail "the copy of a time reads wrong data (above)"
