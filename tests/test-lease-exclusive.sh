#!/usr/bin/env bash
# The lease keeps a second read-write server off a disk: its connections
# are refused with an error naming the holder.  A read-only server (-r)
# works and serves the last committed state.  A clean stop releases the
# lease at once: the next server takes the disk without waiting.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store s3
args=("${store[@]}"
  export=d lease=6)
uri () { echo "nbd+unix:///?socket=$tmpdir/$1"; }

# A takes the lease with its first connection, and writes.
start_nbdkit "$tmpdir/a" "${args[@]}" size=16M 2>"$tmpdir/a.log"
a=$nbdkit_pid
nbdsh -u "$(uri a)" -c 'h.pwrite(b"A" * 4096, 8192); h.flush()'

# B starts (the disk exists) but cannot open it read-write.
start_nbdkit "$tmpdir/b" "${args[@]}" 2>"$tmpdir/b.log"
b=$nbdkit_pid
if nbdsh -u "$(uri b)" -c 'pass' 2>"$tmpdir/b-client.log"; then
  fail "a second read-write server could open a locked disk"
fi
grep -q "disk d is locked by .* pid $a .*s3cow unlock d --force" \
  "$tmpdir/b.log" || {
  cat "$tmpdir/b.log"
  fail "the refusal does not name the holder (pid $a)"
}
stop_nbdkit "$b" || fail "B exited with status $?"

# A read-only server works while A holds the lease.
NBDKIT_OPTS=-r start_nbdkit "$tmpdir/c" "${args[@]}" 2>"$tmpdir/c.log"
nbdsh -u "$(uri c)" -c '
assert h.is_read_only()
assert h.pread(4096, 8192) == b"A" * 4096, "read-only server: wrong data"
'
stop_nbdkit || fail "C exited with status $?"

# A clean stop releases the lease: B opens the disk at once.
stop_nbdkit "$a" || fail "A exited with status $?"
start_nbdkit "$tmpdir/b" "${args[@]}" 2>"$tmpdir/b2.log"
start=$(date +%s)
nbdsh -u "$(uri b)" -c '
assert h.pread(4096, 8192) == b"A" * 4096, "after takeover: wrong data"
h.pwrite(b"B" * 4096, 8192)
h.flush()
'
elapsed=$(($(date +%s) - start))
echo "taking the released lease, a read, a write and a flush: $elapsed s"
# At once: less than the lease (6 s), which a lease not released would
# have to run out first.  The client's start, read, write and flush count
# too, in whole seconds, under TSan too: 5 s leaves a slow or loaded
# machine room.
[ "$elapsed" -le 5 ] ||
  fail "taking a released lease took $elapsed s, expected at once"
stop_nbdkit || fail "B exited with status $?"
echo "ok"
