#!/usr/bin/env bash
# test-cli-fsck-json.sh: s3cow fsck --json prints one JSON object: the
# problems (one string each, as the text lines: a deleted chunk is missing
# for the disk and for its kept head), the counts, and "completed"; the
# exit status stays 1 when there is a problem, 0 when there is none.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
serve
s3cow create A 1M --chunk-size 64K
nbd_py 'w("A", 0, pattern("a0", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

check_json ()
{
  /usr/bin/python3 -c '
import json, sys
want = int(sys.argv[1])
o = json.load(sys.stdin)
if o["completed"] is not True or o["chunks_checked"] < 1:
    sys.exit("completed %r chunks_checked %r, expected True and >= 1"
             % (o["completed"], o["chunks_checked"]))
if len(o["problems"]) != o["problem_count"] or bool(want) != bool(
        o["problems"]):
    sys.exit("problems %r (count %d), expected %s"
             % (o["problems"], o["problem_count"], "some" if want else "none"))
for p in o["problems"]:
    if not p.startswith("missing chunk chunks/"):
        sys.exit("problem %r, expected a missing chunk" % p)
' "$@"
}

s3cow fsck --json >"$tmpdir/clean.json" || fail "s3cow fsck --json failed"
check_json 0 <"$tmpdir/clean.json" || {
  cat "$tmpdir/clean.json"
  fail "fsck --json on a sound bucket: see above"
}
chunk="$(obj_list chunks/ | head -n 1 | cut -d' ' -f1)"
obj_delete "$chunk"
status=0
s3cow fsck --json >"$tmpdir/bad.json" || status=$?
[ "$status" = 1 ] || fail "fsck --json exited with $status, expected 1"
check_json 1 <"$tmpdir/bad.json" || {
  cat "$tmpdir/bad.json"
  fail "fsck --json with a missing chunk: see above"
}
