#!/usr/bin/env bash
# gc against a server whose commits fail for longer than gc's grace period
# (the gc-grace= parameter): chunks uploaded but not committed
# are unreferenced, and gc deletes unreferenced chunks older than the
# grace.  The server must upload them again before they get that old.
#  - a server (export=d, so that the disk stays open between connections;
#    gc-grace=8, the shortest for retry-time=1, timeout=1;
#    commit-interval=1)
#    writes 6 chunks; then every head PUT fails (faultproxy.py: 500): the
#    flush gives EIO, the chunks are in the bucket, uncommitted;
#  - for 20 s (2.5 grace periods) the commits keep failing while
#    s3cow gc --grace 8s runs again and again;
#  - the server logs that it uploads the chunks again; then the head PUTs
#    work again, a flush succeeds, and a new server (no proxy) reads all 6
#    chunks; fsck is clean; gc deleted none of them.
# Without the re-upload, gc deletes the chunks after 8 s and the disk
# names missing chunks (EIO, fsck: missing chunk).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3
requires nbdkit nbdsh s3cow
use_store s3
GRACE=8

s3cow create d 1M --chunk-size 64K
start_proxy
start_nbdkit "$sock" "${store_proxy[@]}" export=d gc-grace=$GRACE retry-time=1 \
  timeout=1 commit-interval=1 2>"$tmpdir/log"

# Writes, then a failed flush, then holds the connection until told.
CTL="$proxy_ctl_port" nbd_py '
CS = 65536
h = _conn("d")
sys.path.insert(0, os.environ["srcdir"])
import faultproxy
faultproxy.Control(int(os.environ["CTL"])).set(
    **{"500": 1, "match": "^PUT .*/disks/d/head$"})
for i in range(6):
    h.pwrite(pattern("g%d" % i, CS), i * CS)
try:
    h.flush()
    sys.exit("flush succeeded although every head PUT fails")
except nbd.Error as e:
    print("flush with head PUTs failing: %s" % e)
h.shutdown()
' || fail "first flush (above)"

end=$((SECONDS + GRACE * 5 / 2))
runs=0
while [ "$SECONDS" -lt "$end" ]; do
  if s3cow -q gc --grace ${GRACE}s >>"$tmpdir/gc.out" 2>&1; then
    runs=$((runs + 1))
  fi
  sleep 1
done
echo "gc ran $runs times while commits failed"
tail -n 3 "$tmpdir/gc.out"
[ "$runs" -ge 5 ] || fail "gc ran only $runs times"
grep -q "commit of generation [0-9]* failed" "$tmpdir/log" ||
  fail "the commits did not fail"

proxy_ctl clear
nbd_py '
h = _conn("d")
h.flush()
h.shutdown()
' || fail "flush after the head PUTs work again"
stop_nbdkit || fail "nbdkit exited with status $?"

s3cow fsck d >"$tmpdir/fsck" || {
  cat "$tmpdir/fsck"
  fail "fsck after gc ran against failing commits"
}
serve
nbd_py '
CS = 65536
for i in range(6):
    if r("d", i * CS, CS) != pattern("g%d" % i, CS):
        sys.exit("chunk %d lost" % i)
' || fail "data lost to gc while commits failed"
stop_nbdkit || fail "nbdkit exited with status $?"
grep "deleted [1-9][0-9]* maps and\|and [1-9][0-9]* chunks" "$tmpdir/gc.out" |
  head -3 || true
grep -q "not committed yet (gc-grace=$GRACE): uploading them again" \
  "$tmpdir/log" || {
  tail -n 20 "$tmpdir/log"
  fail "the server did not upload its chunks again"
}
echo "$0: PASS"
