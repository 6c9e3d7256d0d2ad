#!/usr/bin/env bash
# s3cow copy counts a chunk the destination holds, but that none of the
# destination disk's roots names, as there only while it is younger than
# half the destination's gc grace: an older one (garbage that gc may be
# deleting) is sent again, so the new head never names a chunk gc is
# about to remove; a young one is not sent.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("d", 4 * 65536))'
dst="$tmpdir/dst"
mkdir -p "$dst/b2"
to () { S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 "$@"; }

# The chunks reach the destination through a disk removed since: garbage.
s3cow copy d "file://$dst/b2/x" >/dev/null || fail "copy to x failed"
to s3cow rm x

# Young garbage: not sent again.
s3cow copy d "file://$dst/b2/young" >"$tmpdir/out1" || fail "copy to young failed"
cat "$tmpdir/out1"
grep -q '4 already there, sent 0 chunks' "$tmpdir/out1" ||
  fail "young chunks at the destination were sent again"
to s3cow rm young

# The same garbage, two hours old (the default grace is one hour).
find "$dst/b2/chunks" -type f -exec touch -d '2 hours ago' {} +
s3cow copy d "file://$dst/b2/old" >"$tmpdir/out2" || fail "copy to old failed"
cat "$tmpdir/out2"
grep -q '0 already there, sent 4 chunks' "$tmpdir/out2" ||
  fail "chunks older than half the grace were not sent again"
[ -z "$(find "$dst/b2/chunks" -type f -mmin +60)" ] ||
  fail "a chunk the new head names is still old"

# Old chunks that the destination disk itself names need nothing.
find "$dst/b2/chunks" -type f -exec touch -d '2 hours ago' {} +
nbd_py 'w("d", 8 * 65536, pattern("more", 65536))'
s3cow copy d "file://$dst/b2/old" >"$tmpdir/out3" || fail "update of old failed"
cat "$tmpdir/out3"
grep -q 'sent 1 chunks' "$tmpdir/out3" ||
  fail "the update sent more than its one new chunk"
echo "$0: PASS"
