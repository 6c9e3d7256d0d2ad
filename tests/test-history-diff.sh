#!/usr/bin/env bash
# s3cow diff takes DISK@TIME on either side: what changed since a time,
# and what changed between two times, in text and JSON.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

CS=65536
s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("A", 65536))'
t1="$(last_commit_time d)"
nbd_py 'w("d", 2 * 65536, pattern("B", 65536))'
t2="$(last_commit_time d)"
nbd_py 'w("d", 5 * 65536, pattern("C", 65536))'

s3cow diff "d@$t1" d >"$tmpdir/out" || fail "s3cow diff d@$t1 d failed"
printf '%s\n' "$((2 * CS)) $CS" "$((5 * CS)) $CS" >"$tmpdir/want"
diff -u "$tmpdir/want" "$tmpdir/out" || fail "diff since $t1: wrong ranges"

s3cow diff "d@$t1" "d@$t2" >"$tmpdir/out" || fail "diff of two times failed"
echo "$((2 * CS)) $CS" >"$tmpdir/want"
diff -u "$tmpdir/want" "$tmpdir/out" || fail "diff between two times: wrong"

s3cow diff "d@$t2" d --json | T="d@$t2" /usr/bin/python3 -c '
import json, os, sys
j = json.load(sys.stdin)
assert j["old"] == os.environ["T"] and j["new"] == "d", j
assert j["ranges"] == [{"offset": 5 * 65536, "length": 65536}], j
' || fail "diff --json with a time is wrong (above)"
