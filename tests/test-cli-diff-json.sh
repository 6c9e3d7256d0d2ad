#!/usr/bin/env bash
# s3cow diff --json prints one JSON object that parses, with the names,
# sizes, chunk size, changed bytes and the ranges.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
s3cow snapshot d empty
nbd_py '
CS = 65536
w("d", CS, pattern("a", CS))
w("d", 5 * CS, pattern("b", 2 * CS))
'
s3cow diff empty d 2>/dev/null && fail "diff of a missing disk succeeded"
s3cow diff d@empty d --json >"$tmpdir/out"
/usr/bin/python3 -m json.tool "$tmpdir/out" >/dev/null ||
  fail "diff --json is not JSON: $(cat "$tmpdir/out")"
/usr/bin/python3 - "$tmpdir/out" <<'PY' || fail "diff --json: wrong content"
import json, sys
CS = 65536
got = json.load(open(sys.argv[1]))
want = {
    "old": "d@empty", "new": "d", "chunk_size": CS,
    "old_size": 1 << 20, "new_size": 1 << 20, "changed_bytes": 3 * CS,
    "ranges": [{"offset": CS, "length": CS},
               {"offset": 5 * CS, "length": 2 * CS}],
}
if got != want:
    sys.exit("got %r\nwant %r" % (got, want))
PY
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
