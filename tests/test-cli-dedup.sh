#!/usr/bin/env bash
# Identical chunks are stored once across disks: write the same 64 MiB of
# random data to two disks; the bytes stored under chunks/ grow by 64 MiB
# with the first disk and by nothing with the second (listed and summed);
# s3cow info shows all 64 MiB of each disk as shared, none unique; then,
# after the second disk changes one chunk, that chunk is unique to it.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdcopy
requires nbdkit nbdsh s3cow
use_store
serve

chunk_bytes ()
{
  obj_list chunks/ | awk '{ s += $2 } END { print s + 0 }'
}

head -c 64M /dev/urandom >"$tmpdir/data"
s3cow create one 128M
s3cow create two 128M
b0="$(chunk_bytes)"
nbdcopy --flush "$tmpdir/data" "nbd+unix:///one?socket=$sock"
b1="$(chunk_bytes)"
nbdcopy --flush "$tmpdir/data" "nbd+unix:///two?socket=$sock"
b2="$(chunk_bytes)"
echo "chunk bytes stored: $b0 at first, $b1 after one disk, $b2 after two"
[ "$b0" = 0 ] || fail "chunks stored before any write: $b0 bytes"
[ "$((b1 - b0))" = $((64 << 20)) ] ||
  fail "the first disk stored $((b1 - b0)) chunk bytes, expected 64 MiB"
[ "$b2" = "$b1" ] ||
  fail "the second, identical disk stored $((b2 - b1)) more chunk bytes," \
    "expected none"

s3cow info two --json >"$tmpdir/two.json"
/usr/bin/python3 - "$tmpdir/two.json" <<'PY' || fail "info two is wrong (above)"
import json, sys
i = json.load(open(sys.argv[1]))
assert i["chunks_in_use"] == 64, i
assert i["bytes_shared"] == 64 << 20 and i["bytes_unique"] == 0, i
PY
nbd_py 'w("two", 0, pattern("changed", 1 << 20))'
s3cow info two --json >"$tmpdir/two.json"
s3cow info one --json >"$tmpdir/one.json"
/usr/bin/python3 - "$tmpdir/two.json" "$tmpdir/one.json" <<'PY' || fail "info after a change is wrong (above)"
import json, sys
two, one = (json.load(open(f)) for f in sys.argv[1:])
assert two["bytes_unique"] == 1 << 20 and two["chunks_unique"] == 1, two
assert two["bytes_shared"] == 63 << 20, two
# two's base map still names the chunk two changed (its delta overrides it)
# so removing one would free nothing: all of one is still shared.
assert one["bytes_unique"] == 0 and one["bytes_shared"] == 64 << 20, one
PY
s3cow info two
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
