#!/usr/bin/env bash
# s3cow copy: a second copy of a disk after a few writes sends only the
# chunks that changed (counted in the destination's chunks/ and in what
# the command reports), and the destination then reads the new data.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

dst="$tmpdir/dst"
mkdir -p "$dst/b2"
count_chunks () { find "$dst/b2/chunks" -type f ! -name '.*' | wc -l; }

s3cow create d 4M --chunk-size 64K
nbd_py 'w("d", 0, pattern("base", 40 * 65536))'
s3cow copy d "file://$dst/b2/d" >"$tmpdir/out1" || fail "first copy failed"
cat "$tmpdir/out1"
grep -q 'sent 40 chunks' "$tmpdir/out1" || fail "the first copy did not send 40"
[ "$(count_chunks)" = 40 ] || fail "the destination has $(count_chunks) chunks"

# Three chunks change (one of them twice), one new chunk past the old end.
nbd_py '
CS = 65536
w("d", 3 * CS, pattern("new3", CS))
w("d", 17 * CS, pattern("new17", CS))
w("d", 17 * CS, pattern("new17b", CS))
w("d", 50 * CS, pattern("new50", CS))
'
s3cow copy d "file://$dst/b2/d" >"$tmpdir/out2" || fail "second copy failed"
cat "$tmpdir/out2"
grep -q 'sent 3 chunks' "$tmpdir/out2" ||
  fail "the second copy did not send exactly the 3 changed chunks"
[ "$(count_chunks)" = 43 ] || fail "the destination has $(count_chunks) chunks, not 43"

# A third copy with no change sends nothing.
s3cow copy d "file://$dst/b2/d" >"$tmpdir/out3" || fail "third copy failed"
grep -q 'up to date' "$tmpdir/out3" || fail "the third copy was not up to date"
[ "$(count_chunks)" = 43 ] || fail "the third copy wrote chunks"

# The destination reads the source's data.
start_nbdkit "$tmpdir/sock2" bucket=b2 endpoint="file://$dst"
nbd_py '
want = r("d", 0, 4 << 20)
h = nbd.NBD()
h.set_export_name("d")
h.connect_unix(os.environ["S3COW_TEST_SOCK"] + "2")
got = h.pread(4 << 20, 0)
h.shutdown()
if got != want:
    sys.exit("the copy reads other data than the source")
' || fail "data differ (above)"
echo "$0: PASS"
