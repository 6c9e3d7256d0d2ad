#!/usr/bin/env bash
# A crash between chunk upload and head commit leaves only
# unreferenced objects, which gc reclaims:
#  - disk d is written (chunks a0..a3) and flushed: the "last commit";
#  - a second server, with its head PUTs failing (faultproxy.py: 500 on
#    PUT .../disks/d/head), writes b0..b5 over chunks 0..5 and flushes: the
#    chunks and the map are uploaded, the head commit fails (EIO), and the
#    server is killed (SIGKILL) before it can commit;
#  - the bucket holds the new chunks b0..b5 and one new map; fsck is clean;
#    a new server reads exactly the last commit (a0..a3 and zeros);
#  - gc --grace 0s --dry-run lists exactly b0..b5 and the new map; gc
#    --verbose deletes exactly those and the bucket is as before the crash;
#    d still reads the last commit and fsck is clean.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3
requires nbdkit nbdsh s3cow
use_store s3

s3cow create d 1M --chunk-size 64K
serve
nbd_py '
CS = 65536
h = _conn("d")
for i in range(4):
    h.pwrite(pattern("a%d" % i, CS), i * CS)
h.flush()
h.shutdown()
'
stop_nbdkit || fail "nbdkit exited with status $?"

objects ()
{
  { obj_list chunks/; obj_list disks/; } | awk '{ print $1 }' |
    grep -E '^(chunks/|disks/[^/]*/maps/)' | sort
}
key_of ()
{
  S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
print('chunks/' + hashlib.sha256(pattern('$1', 65536)).hexdigest())"
}
objects >"$tmpdir/before"

start_proxy
start_nbdkit "$sock" "${store_proxy[@]}" retry-time=1 timeout=2 \
  commit-interval=0 lease=3 2>"$tmpdir/log"
cleanup_fn cat "$tmpdir/log"
CTL="$proxy_ctl_port" nbd_py '
CS = 65536
h = _conn("d")          # opens d: its head PUT (claim) still works
sys.path.insert(0, os.environ["srcdir"])
import faultproxy
faultproxy.Control(int(os.environ["CTL"])).set(
    **{"500": 1, "match": "^PUT .*/disks/d/head$"})
for i in range(6):
    h.pwrite(pattern("b%d" % i, CS), i * CS)
try:
    h.flush()
    sys.exit("flush succeeded although every head PUT fails")
except nbd.Error as e:
    print("flush with the head commit failing: %s" % e)
' || fail "flush (above)"
grep -q "commit of generation [0-9]* failed" "$tmpdir/log" ||
  fail "the server did not log a failed commit"
kill -KILL "$nbdkit_pid"
stop_nbdkit || true
echo "server killed before any head commit"

objects >"$tmpdir/after-crash"
{
  for i in 0 1 2 3 4 5; do key_of "b$i"; done
  comm -13 "$tmpdir/before" "$tmpdir/after-crash" | grep '^disks/d/maps/'
} | sort >"$tmpdir/expected"
echo "expected garbage:"
cat "$tmpdir/expected"
[ "$(grep -c '^disks/d/maps/' "$tmpdir/expected")" -ge 1 ] ||
  fail "no map was uploaded before the crash"
comm -13 "$tmpdir/before" "$tmpdir/after-crash" >"$tmpdir/new"
diff -u "$tmpdir/expected" "$tmpdir/new" ||
  fail "the bucket does not hold exactly the new chunks and map"

s3cow unlock d --force >/dev/null
s3cow fsck d >"$tmpdir/fsck1" || { cat "$tmpdir/fsck1"; fail "fsck after the crash"; }
check_last_commit ()
{
  serve
  nbd_py '
CS = 65536
want = b"".join(pattern("a%d" % i, CS) for i in range(4)) + bytes(12 * CS)
if r("d", 0, 16 * CS) != want:
    sys.exit("d does not hold its last commit")
' || fail "d after the crash: $1"
  stop_nbdkit || fail "nbdkit exited with status $?"
}
check_last_commit "before gc"

s3cow gc --force --grace 0s --dry-run >"$tmpdir/dry"
sed -n 's/^would delete \([^ ]*\) .*/\1/p' "$tmpdir/dry" | sort >"$tmpdir/listed"
diff -u "$tmpdir/expected" "$tmpdir/listed" ||
  fail "gc --dry-run lists other objects than the uncommitted ones"
s3cow gc --force --grace 0s --verbose >"$tmpdir/gc"
cat "$tmpdir/gc"
sed -n 's/^deleted \([^ ]*\) .*/\1/p' "$tmpdir/gc" | sort >"$tmpdir/deleted"
diff -u "$tmpdir/expected" "$tmpdir/deleted" ||
  fail "gc deleted other objects than the uncommitted ones"
objects >"$tmpdir/after-gc"
diff -u "$tmpdir/before" "$tmpdir/after-gc" ||
  fail "after gc the bucket is not as before the crash"
s3cow fsck >"$tmpdir/fsck2" || { cat "$tmpdir/fsck2"; fail "fsck after gc"; }
check_last_commit "after gc"
echo "$0: PASS"
