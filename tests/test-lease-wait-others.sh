#!/usr/bin/env bash
# A connection that waits for a locked disk (lease-wait=) holds up no
# connection to another disk of the same server, and the server opens and
# closes disks for other connections meanwhile:
#  - server A holds the lease of disk a (export=a);
#  - server B (every disk of the bucket; lease-wait=10) gets a connection
#    for a, which waits for A's lease; 1 s later a connection for b
#    writes, flushes and goes (b is opened and closed, its lease taken and
#    released) while the connection for a still waits;
#  - the connection for a fails after its wait, naming the holder.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
s3cow create a 1M
s3cow create b 1M
uri () { echo "nbd+unix:///$2?socket=$tmpdir/$1"; }

start_nbdkit "$tmpdir/A" "${store[@]}" export=a 2>"$tmpdir/A.log"
a=$nbdkit_pid
nbdsh -u "$(uri A a)" -c 'h.pwrite(b"a" * 512, 0); h.flush()'

start_nbdkit "$tmpdir/B" "${store[@]}" lease-wait=10 2>"$tmpdir/B.log"
b=$nbdkit_pid
nbdsh -u "$(uri B a)" -c 'pass' >"$tmpdir/wait.out" 2>&1 &
waiter=$!
sleep 1
start=$SECONDS
nbdsh -u "$(uri B b)" -c 'h.pwrite(b"b" * 512, 0); h.flush()' ||
  fail "the connection for b failed"
echo "the connection for b took $((SECONDS - start)) s"
is_running "$waiter" ||
  fail "the connection for b ended after the wait for disk a's lease"
if wait "$waiter"; then
  fail "the connection for a opened a disk locked by another server"
fi
grep -q "disk a is locked by .* pid $a " "$tmpdir/B.log" || {
  cat "$tmpdir/B.log"
  fail "the refusal does not name the holder (pid $a)"
}
stop_nbdkit "$b" || fail "B exited with status $?"
stop_nbdkit "$a" || fail "A exited with status $?"
serve
nbd_py '
assert r("b", 0, 512) == b"b" * 512, "disk b: the write is not there"
'
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
