#!/usr/bin/env bash
# s3cow gc refuses a grace shorter than the servers' gc-grace=, which the
# servers record in the bucket (gc/grace) before they upload anything:
#  - a server with gc-grace=30 and commit-interval=0; a client writes 4
#    whole chunks and does not flush; gc --grace 12s (longer than the
#    commit interval, shorter than gc-grace) is refused and says why, and
#    deletes nothing; the client's flush then succeeds and fsck is clean;
#    gc --grace 30s runs; gc --force --grace 12s runs, with a warning;
#  - a server with gc-grace=7200 raises the record: gc --grace 1h is
#    refused; a server with gc-grace=30 afterwards does not lower it;
#  - a bucket (here: a prefix) no server opened: the default (1h) applies.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
dir=("${store[@]}" retry-time=1 timeout=2)
export GC_TMP="$tmpdir"

s3cow create d 1M --chunk-size 64K
start_nbdkit "$sock" "${dir[@]}" export=d gc-grace=30 commit-interval=0
nbdsh -u "nbd+unix:///?socket=$sock" -c '
import os, subprocess, sys
CS = 65536
for i in range(4):
    h.pwrite(bytes([i + 1]) * CS, i * CS)
out = os.path.join(os.environ["GC_TMP"], "gc12")
with open(out, "w") as f:
    r = subprocess.run(["s3cow", "gc", "--grace", "12s"], stdout=f,
                       stderr=subprocess.STDOUT)
if r.returncode != 1:
    sys.exit("gc --grace 12s: exit status %d, not 1" % r.returncode)
h.flush()
for i in range(4):
    if h.pread(CS, i * CS) != bytes([i + 1]) * CS:
        sys.exit("chunk %d reads wrong" % i)
'
grep -q "shorter than the gc-grace the servers of this bucket rely on (30s" \
  "$tmpdir/gc12" || { cat "$tmpdir/gc12"; fail "gc --grace 12s: no reason given"; }
grep -q -- "--grace 30s or longer" "$tmpdir/gc12" ||
  { cat "$tmpdir/gc12"; fail "gc --grace 12s: does not say what to do"; }
s3cow fsck >"$tmpdir/fsck" || { cat "$tmpdir/fsck"; fail "fsck after flush"; }
s3cow gc --grace 30s >/dev/null
s3cow gc --force --grace 12s >"$tmpdir/gcf" 2>&1 ||
  { cat "$tmpdir/gcf"; fail "gc --force --grace 12s failed"; }
grep -q "force" "$tmpdir/gcf" || fail "gc --force: no warning"
stop_nbdkit || fail "nbdkit exited with status $?"

# connect_rw GRACE: a server with gc-grace=GRACE, opened read-write once.
connect_rw ()
{
  start_nbdkit "$sock" "${dir[@]}" export=d gc-grace="$1"
  nbdsh -u "nbd+unix:///?socket=$sock" -c 'h.pwrite(b"x" * 512, 0); h.flush()'
  stop_nbdkit || fail "nbdkit exited with status $?"
}
connect_rw 7200
if s3cow gc --grace 1h >"$tmpdir/gc1h" 2>&1; then
  fail "gc --grace 1h ran against a server's gc-grace=7200"
fi
grep -q "(7200s" "$tmpdir/gc1h" || { cat "$tmpdir/gc1h"; fail "no 7200s"; }
connect_rw 30
if s3cow gc --grace 1h >"$tmpdir/gc1h" 2>&1; then
  fail "the grace record went down to a later server's gc-grace=30"
fi
s3cow gc --grace 2h >/dev/null

# No record: the plugin's default gc-grace (1 h).
if S3COW_PREFIX=empty/ s3cow gc --grace 10m >"$tmpdir/gcd" 2>&1; then
  fail "gc --grace 10m ran on a bucket without a record"
fi
grep -q "the default" "$tmpdir/gcd" || { cat "$tmpdir/gcd"; fail "no default"; }
S3COW_PREFIX=empty/ s3cow gc >/dev/null
echo "$0: PASS"
