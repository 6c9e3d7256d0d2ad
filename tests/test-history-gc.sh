#!/usr/bin/env bash
# gc against history: within the window, gc keeps every kept head and the
# maps and chunks they name, even those the disk's head no longer names;
# once they leave the window it deletes the kept heads older than the
# newest one before the window's start, and then the maps and chunks
# only they named.  A time that left the window is refused.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

window=10
s3cow create d 1M --chunk-size 64K --history ${window}s
# 33 commits of chunk 0 on one connection: the last one compacts into a
# full map, so the head names none of the first 32 chunks any more.
first_at="$(nbd_py '
import time
h = _conn("d")
for i in range(33):
    h.pwrite(pattern("c%d" % i, 65536), 0)
    h.flush()
    if i == 0:
        t = int(time.time())
        while int(time.time()) <= t:
            time.sleep(0.05)
h.shutdown()
print("d@" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)))
')" || fail "writing the commits"
# The kept copy of the last commit is written after its flush returned;
# closing the disk waits for it, before the lease is released.
wait_released d
first_chunk="chunks/$(nbd_py 'sys.stdout.write(hashlib.sha256(pattern("c0", 65536)).hexdigest())')"
last_chunk="chunks/$(nbd_py 'sys.stdout.write(hashlib.sha256(pattern("c32", 65536)).hexdigest())')"
kept () { obj_list disks/d/history/ | wc -l; }
maps () { obj_list disks/d/maps/ | wc -l; }
n_kept="$(kept)"
[ "$n_kept" -ge 34 ] || fail "only $n_kept kept heads for 34 commits"

s3cow gc --grace 1s --force
[ "$(kept)" = "$n_kept" ] || fail "gc deleted kept heads within the window"
obj_list chunks/ | grep -q "^$first_chunk " ||
  fail "gc deleted a chunk that a kept head within the window names"
[ "$(maps)" -ge 33 ] || fail "gc deleted maps that kept heads name"

sleep $((window + 2))
s3cow gc --grace 1s --force
[ "$(kept)" = 1 ] || fail "$(kept) kept heads left, expected 1 (the newest before the window)"
obj_list chunks/ | grep -q "^$first_chunk " &&
  fail "gc kept a chunk named only by kept heads beyond the window"
obj_list chunks/ | grep -q "^$last_chunk " ||
  fail "gc deleted the chunk the head names"
[ "$(maps)" = 1 ] || fail "$(maps) maps left, expected the head's full map"
nbd_py '
assert r("d", 0, 65536) == pattern("c32", 65536)
' || fail "the disk lost data"
if s3cow fork "$first_at" late 2>"$tmpdir/err"; then
  fail "a fork of a time before the window succeeded"
fi
grep -q "before the history window of disk d" "$tmpdir/err" ||
  fail "no clear error for a time before the window: $(cat "$tmpdir/err")"
