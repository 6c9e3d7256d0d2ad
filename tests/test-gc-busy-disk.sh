#!/usr/bin/env bash
# s3cow gc finishes while disks commit all the time: on each of 4 disks a
# client overwrites one chunk and flushes as fast as it can
# (commit-interval=0: every flush commits a new head and map), the bucket
# holds 300 snapshots and the maps the flushes leave behind; gc runs 3
# times meanwhile and each run must finish (a commit of a disk gc has read
# is no reason to wait for it).  Then each disk reads as last flushed and
# fsck is clean.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
export GC_TMP="$tmpdir" sock

for d in d1 d2 d3 d4; do s3cow create "$d" 4M --chunk-size 64K; done
for i in $(seq 1 300); do s3cow snapshot d1 "s$i"; done
start_nbdkit "$sock" "${store[@]}" gc-grace=30 retry-time=1 timeout=2 commit-interval=0 cache-size=2M

# flusher DISK: overwrite chunk 3 of DISK and flush, again and again.
flusher ()
{
  DISK="$1" nbdsh -u "nbd+unix:///$1?socket=$sock" -c '
import os
CS = 65536
tmp = os.environ["GC_TMP"]
disk = os.environ["DISK"]
n = 0
while not os.path.exists(os.path.join(tmp, "stop")):
    n += 1
    h.pwrite(n.to_bytes(8, "little") * (CS // 8), 3 * CS)
    h.flush()
    if n == 100:
        open(os.path.join(tmp, "warm-" + disk), "w").close()
open(os.path.join(tmp, "last-" + disk), "w").write("%d\n" % n)
'
}
stop_flushers ()
{
  touch "$tmpdir/stop"
  wait "$@" 2>/dev/null || true
}
pids=()
for d in d1 d2 d3 d4; do
  flusher "$d" &
  pids+=($!)
done
cleanup_fn stop_flushers "${pids[@]}"
warm ()
{
  local f n=0
  for f in "$tmpdir"/warm-*; do [ -e "$f" ] && n=$((n + 1)); done
  [ "$n" = 4 ]
}
for ((i = 0; i < 1200; i++)); do
  warm && break
  sleep 0.1
done
warm || fail "the flushers did not flush 100 times each"

for run in 1 2 3; do
  s3cow gc --grace 30s >"$tmpdir/gc$run" 2>&1 || {
    cat "$tmpdir/gc$run"
    fail "gc run $run failed while the disks flushed"
  }
done
touch "$tmpdir/stop"
for p in "${pids[@]}"; do
  wait "$p" || fail "a flusher failed"
done
for d in d1 d2 d3 d4; do
  n=$(cat "$tmpdir/last-$d")
  echo "$d: $n flushes"
  nbdsh -u "nbd+unix:///$d?socket=$sock" -c "
CS = 65536
assert h.pread(CS, 3 * CS) == ($n).to_bytes(8, 'little') * (CS // 8)
"
done
cat "$tmpdir/gc3"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck >"$tmpdir/fsck" || { cat "$tmpdir/fsck"; fail "fsck"; }
echo "$0: PASS"
