#!/usr/bin/env bash
# test-cli-gc-json.sh: s3cow gc --json prints one JSON object: with
# --dry-run, every object that would be deleted (key, size, modified) and
# the counts; without, the counts of what it deleted, and no object list
# unless --verbose.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
serve
s3cow create A 1M --chunk-size 64K
nbd_py 'w("A", 0, pattern("a0", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow rm A

check_json ()
{
  /usr/bin/python3 -c '
import json, sys
want_dry, want_objects = sys.argv[1] == "true", sys.argv[2] == "true"
o = json.load(sys.stdin)
if o["dry_run"] != want_dry or o["completed"] is not True:
    sys.exit("dry_run %r completed %r, expected %r and True"
             % (o["dry_run"], o["completed"], want_dry))
if o["chunks_deleted"] != 1 or o["maps_deleted"] < 1:
    sys.exit("chunks_deleted %d maps_deleted %d, expected 1 and >= 1"
             % (o["chunks_deleted"], o["maps_deleted"]))
keys = [x["key"] for x in o["objects"]]
if want_objects:
    if len(keys) != o["chunks_deleted"] + o["maps_deleted"]:
        sys.exit("objects %r, expected %d" % (keys,
                 o["chunks_deleted"] + o["maps_deleted"]))
    if not all(x["size"] > 0 and x["modified"].endswith("Z")
               for x in o["objects"]):
        sys.exit("objects without size or time: %r" % o["objects"])
elif keys:
    sys.exit("objects listed without --dry-run or --verbose: %r" % keys)
' "$@"
}

s3cow gc --grace 0s --force --dry-run --json >"$tmpdir/dry.json" ||
  fail "s3cow gc --dry-run --json failed"
check_json true true <"$tmpdir/dry.json" || {
  cat "$tmpdir/dry.json"
  fail "gc --dry-run --json: see above"
}
s3cow gc --grace 0s --force --json >"$tmpdir/gc.json" ||
  fail "s3cow gc --json failed"
check_json false false <"$tmpdir/gc.json" || {
  cat "$tmpdir/gc.json"
  fail "gc --json: see above"
}
