#!/usr/bin/env bash
# s3cow info DISK@TIME describes the state at that time (its generation,
# size, chunks in use), in text and JSON; rm and ls refuse a time with a
# message that says why.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("A", 65536))'
t="$(last_commit_time d)"
gen="$(s3cow log d --json |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["commits"][-1]["generation"])')"
nbd_py 'w("d", 65536, pattern("B", 3 * 65536))'

s3cow info "d@$t" >"$tmpdir/info" || fail "s3cow info d@$t failed"
cat "$tmpdir/info"
grep -q "^disk at time: *d@$t\$" "$tmpdir/info" || fail "info: no 'disk at time'"
grep -q "^generation: *$gen\$" "$tmpdir/info" || fail "info: not generation $gen"
grep -q "^chunks in use: *1 of 16" "$tmpdir/info" || fail "info: not 1 chunk in use"
s3cow info "d@$t" --json | T="$t" G="$gen" /usr/bin/python3 -c '
import json, os, sys
j = json.load(sys.stdin)
assert j["name"] == "d@" + os.environ["T"] and j["time"] == os.environ["T"], j
assert j["generation"] == int(os.environ["G"]) and j["chunks_in_use"] == 1, j
assert j["snapshot"] is None and j["lease"] is None, j
' || fail "info --json of a time is wrong (above)"
s3cow info d | grep -q "^chunks in use: *4 of 16" || fail "info d: not 4 chunks"

if s3cow rm "d@$t" 2>"$tmpdir/err"; then fail "rm of a time succeeded"; fi
grep -q "point in time, which cannot be removed" "$tmpdir/err" ||
  fail "rm of a time: no clear message: $(cat "$tmpdir/err")"
if s3cow ls "d@$t" 2>"$tmpdir/err"; then fail "ls of a time succeeded"; fi
grep -q "point in time (DISK@TIME) is not allowed here" "$tmpdir/err" ||
  fail "ls of a time: no clear message: $(cat "$tmpdir/err")"
s3cow info d >/dev/null || fail "the disk is gone"
