#!/usr/bin/env bash
# A chain of 50 forks, each forked from the one before and changing one
# chunk of its own, reads correctly at every level: level i holds the base
# data with chunks 1..i as written by levels 1..i, and nothing written by
# deeper levels.  Reads of the deepest fork are no slower than of the base
# (the chain is resolved when a disk is opened, not per read): the time of
# one chunk read is printed for both.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

LEVELS=50
requires nbdkit nbdsh s3cow
use_store
serve
t0=$(date +%s.%N)

s3cow create l0 4M --chunk-size 64K
LEVELS=$LEVELS nbd_py '
import subprocess
CS = 65536
w("l0", 0, pattern("base/0", CS))
w("l0", 63 * CS, pattern("base/63", CS))
for i in range(1, int(os.environ["LEVELS"]) + 1):
    subprocess.run(["s3cow", "fork", "l%d" % (i - 1), "l%d" % i], check=True)
    w("l%d" % i, i * CS, pattern("level/%d" % i, CS))
' || fail "making the chain failed (above)"
t1=$(date +%s.%N)

# Check every level through a read-only server (no lease to take), four
# levels at a time.
stop_nbdkit || fail "nbdkit exited with status $?"
NBDKIT_OPTS=-r serve
LEVELS=$LEVELS nbd_py '
import threading, time
CS = 65536
levels = int(os.environ["LEVELS"])
errors = []

def check(i):
    data = r("l%d" % i, 0, 4 << 20)
    for c in range(64):
        if c in (0, 63):
            tag = "base/%d" % c
        elif c <= i:
            tag = "level/%d" % c
        else:
            tag = None
        exp = pattern(tag, CS) if tag else bytes(CS)
        if data[c * CS:(c + 1) * CS] != exp:
            errors.append("level %d: chunk %d is wrong: expected %s" %
                          (i, c, tag or "zeros"))
            return

def worker(k):
    for i in range(k, levels + 1, 4):
        check(i)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    sys.exit("; ".join(errors))
print("all %d levels read correctly" % (levels + 1))

# One chunk read (not cached: a new connection opens the disk again), at
# the bottom and at the top of the chain, one at a time: median of 5.
def chunk_read_ms(i):
    ts = []
    for k in range(5):
        h = _conn("l%d" % i)
        t = time.monotonic()
        h.pread(CS, 63 * CS)
        ts.append(time.monotonic() - t)
        h.shutdown()
    return sorted(ts)[2] * 1000
print("reading one chunk: %.1f ms at level 0, %.1f ms at level %d" %
      (chunk_read_ms(0), chunk_read_ms(levels), levels))
' || fail "the fork chain does not read correctly (above)"
t2=$(date +%s.%N)

s3cow info "l$LEVELS" >"$tmpdir/info"
grep -q "^parent chain: *l$((LEVELS - 1)) -> l$((LEVELS - 2)) -> " \
  "$tmpdir/info" || {
  cat "$tmpdir/info"
  fail "info does not show the parent chain"
}
grep -q " -> l0$" "$tmpdir/info" || {
  cat "$tmpdir/info"
  fail "the parent chain does not end at l0"
}
stop_nbdkit || fail "nbdkit exited with status $?"
awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v n="$LEVELS" -v me="$0" 'BEGIN {
  printf "%s: %d forks made and written in %.1f s, checked in %.1f s\n",
    me, n, t1 - t0, t2 - t1 }'
echo "$0: PASS"
