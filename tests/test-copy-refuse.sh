#!/usr/bin/env bash
# s3cow copy never overwrites a disk that is not its own earlier copy: a
# destination disk of another origin (another disk id), or one written
# since it was copied, is refused and left as it was; so is a copy onto
# the source itself.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("d", 3 * 65536))'
dst="$tmpdir/dst"
mkdir -p "$dst/b2"
to () { S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 "$@"; }
head_sum () { sha256sum "$dst/b2/disks/$1/head" | cut -d' ' -f1; }

# Another disk of the same name at the destination.
to s3cow create other 1M --chunk-size 64K
before=$(head_sum other)
if s3cow copy d "file://$dst/b2/other" 2>"$tmpdir/err"; then
  fail "a copy onto a disk of another origin succeeded"
fi
grep -q 'not a copy of d' "$tmpdir/err" || fail "unclear error: $(cat "$tmpdir/err")"
[ "$(head_sum other)" = "$before" ] || fail "the other disk's head changed"

# An earlier copy, then written at the destination.
s3cow copy d "file://$dst/b2/c" >/dev/null || fail "the first copy failed"
start_nbdkit "$tmpdir/sock2" bucket=b2 endpoint="file://$dst"
nbd_py '
h = nbd.NBD()
h.set_export_name("c")
h.connect_unix(SOCK + "2")
h.pwrite(b"x" * 65536, 0)
h.flush()
h.shutdown()
'
stop_nbdkit || fail "nbdkit exited with status $?"
nbd_py 'w("d", 5 * 65536, pattern("more", 65536))'
before=$(head_sum c)
if s3cow copy d "file://$dst/b2/c" 2>"$tmpdir/err"; then
  fail "a copy onto a copy written since succeeded"
fi
grep -q 'written since it was copied' "$tmpdir/err" ||
  fail "unclear error: $(cat "$tmpdir/err")"
[ "$(head_sum c)" = "$before" ] || fail "the written copy's head changed"

# The source itself.
if s3cow copy d "s3://$S3COW_BUCKET/d" --to-endpoint "$S3COW_ENDPOINT" \
  2>"$tmpdir/err"; then
  fail "a copy onto its own source succeeded"
fi
grep -q 'is the source itself' "$tmpdir/err" || fail "unclear error: $(cat "$tmpdir/err")"
echo "$0: PASS"
