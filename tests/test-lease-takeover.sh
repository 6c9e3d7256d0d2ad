#!/usr/bin/env bash
# A holder killed with SIGKILL leaves a lease that nobody renews: a server
# waiting with lease-wait= takes the disk over within one lease period plus
# one renewal period, and sees everything flushed before the kill.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store
lease=6
args=("${store[@]}"
  export=d lease=$lease chunk-size=64K cache-size=8M)
uri () { echo "nbd+unix:///?socket=$tmpdir/$1"; }

start_nbdkit "$tmpdir/a" "${args[@]}" size=16M 2>"$tmpdir/a.log"
a=$nbdkit_pid
nbdsh -u "$(uri a)" -c '
import random
random.seed(1)
for i in range(64):
    h.pwrite(random.randbytes(4096), i * 200000)
h.flush()
h.pwrite(b"x" * 4096, 0)     # never flushed: may or may not survive
'

# B waits for the lease: its client blocks until the takeover (the open,
# which takes the lease, is in the handshake), then notes the time.
start_nbdkit "$tmpdir/b" "${args[@]}" lease-wait=120 2>"$tmpdir/b.log"
TAKEN="$tmpdir/taken" nbdsh -u "$(uri b)" -c '
import os, random, time
open(os.environ["TAKEN"], "w").write("%.3f" % time.time())
random.seed(1)
for i in range(64):
    want = random.randbytes(4096)
    if i > 0:
        assert h.pread(4096, i * 200000) == want, "block %d lost" % i
h.pwrite(b"B" * 4096, 65536)
h.flush()
' 2>"$tmpdir/b-client.log" &
client=$!

sleep 3                        # B sees A renew: A is alive
is_running "$client" || fail "B's client finished while A held the lease"
kill -KILL "$a"
killed=$(date +%s.%N)
wait "$client" || { cat "$tmpdir/b-client.log" "$tmpdir/b.log"; fail "B's client failed"; }
# From the kill to B's open, not to the end of the client's reads and
# flush (64 chunk GETs, an upload, a commit: slow under TSan on a loaded
# machine, and no part of the takeover).
took=$(awk -v k="$killed" '{ printf "%d", $1 - k + 0.5 }' "$tmpdir/taken")
limit=$((lease + lease / 3 + 4))
echo "takeover $took s after SIGKILL (lease $lease s, limit $limit s)"
[ "$took" -le "$limit" ] || fail "takeover took $took s, more than $limit s"
[ "$took" -ge $((lease - 2)) ] || fail "takeover after $took s: too early"
stop_nbdkit || fail "B exited with status $?"
