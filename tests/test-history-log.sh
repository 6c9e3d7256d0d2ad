#!/usr/bin/env bash
# s3cow log DISK lists the commits in the history window: time,
# generation and chunks changed (from the maps' sizes), in text and JSON.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K --history 1h
nbd_py '
w("d", 0, pattern("one", 65536))
w("d", 65536, pattern("three", 3 * 65536))
'
# The kept copy of the last commit is written after its flush returned;
# closing the disk waits for it, before the lease is released.
wait_released d
s3cow log d >"$tmpdir/log.txt" || fail "s3cow log failed"
cat "$tmpdir/log.txt"
grep -q "^disk d: history window 1h$" "$tmpdir/log.txt" ||
  fail "s3cow log does not show the window"
grep -Eq "^[0-9-]{10}T[0-9:]{8}Z +[0-9]+  3 chunks \(head\)$" "$tmpdir/log.txt" ||
  fail "s3cow log does not show the last commit"
s3cow log d --json | /usr/bin/python3 -c '
import json, sys
log = json.load(sys.stdin)
assert log["disk"] == "d" and log["history_seconds"] == 3600, log
c = log["commits"]
gens = [x["generation"] for x in c]
assert gens == list(range(gens[0], gens[0] + len(c))) and gens[0] == 0, gens
assert [x["chunks_changed"] for x in c[-2:]] == [1, 3], c
assert c[-1]["head"] and c[-1]["kept"] and c[-1]["map"] == "delta", c[-1]
assert all(x["committed"].endswith("Z") for x in c), c
assert c[0]["chunks_changed"] == 0 and c[0]["map"] == "none", c[0]
' || fail "s3cow log --json is wrong (above)"
