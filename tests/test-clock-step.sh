#!/usr/bin/env bash
# A step of the system clock backwards does not hold back the lease
# renewals or the commit thread.  Timed waits measured on CLOCK_REALTIME
# last as long as the step: an hour-long step left the lease unrenewed
# (every write and flush failed with EIO, "lease not renewed in time"),
# and writes the commit thread should have committed after
# commit-interval= were lost in a crash.  libclockshift (clockshift.c,
# LD_PRELOAD) shows nbdkit a CLOCK_REALTIME one hour ahead, which is what
# a step of an hour back looks like to a deadline taken just before it.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh /usr/bin/python3
so=${S3COW_CLOCKSHIFT_SO:-$(dirname "$S3COW_PLUGIN")/../../tests/.libs/libclockshift.so}
[ -f "$so" ] || fail "$so is missing (make check builds it)"
use_store s3
args=("${store[@]}"
  export=d chunk-size=64K cache-size=8M)
uri () { echo "nbd+unix:///?socket=$tmpdir/$1"; }

# The shim works: CLOCK_REALTIME an hour ahead in a preloaded process.
real=$(/usr/bin/python3 -c 'import time; print(int(time.time()))')
shifted=$(LD_PRELOAD="$so" S3COW_CLOCKSHIFT=3600 /usr/bin/python3 -c \
  'import time; print(int(time.time()))')
[ $((shifted - real)) -ge 3500 ] ||
  fail "libclockshift does not shift the clock: $real, then $shifted"

# lease=3: renewed every second, valid 2 s after a renewal.
export LD_PRELOAD="$so${LD_PRELOAD:+:$LD_PRELOAD}" S3COW_CLOCKSHIFT=3600
start_nbdkit "$tmpdir/a" "${args[@]}" size=4M lease=3 commit-interval=1 \
  2>"$tmpdir/a.log"
unset LD_PRELOAD S3COW_CLOCKSHIFT
a=$nbdkit_pid
cleanup_fn cat "$tmpdir/a.log"

nbdsh -u "$(uri a)" -c "
import sys, time
h.pwrite(b'A' * 65536, 0)
time.sleep(5)   # the lease must have been renewed meanwhile
try:
    h.pwrite(b'B' * 65536, 65536)
    h.flush()
except nbd.Error as e:
    sys.exit('write and flush 5 s later: %s' % e)
h.pwrite(b'C' * 65536, 131072)
time.sleep(4)   # the commit thread commits it (commit-interval=1)
"
if grep -q "lease not renewed\|lease lost" "$tmpdir/a.log"; then
  fail "the lease lapsed"
fi
# A crash: what the commit thread committed must survive it.
kill -KILL "$a"
stop_nbdkit "$a" || true

start_nbdkit "$tmpdir/b" "${args[@]}" lease-wait=20 2>"$tmpdir/b.log"
cleanup_fn cat "$tmpdir/b.log"
nbdsh -u "$(uri b)" -c "
for off, c in ((0, b'A'), (65536, b'B'), (131072, b'C')):
    got = h.pread(65536, off)
    assert got == c * 65536, 'at %d: %r..., expected %r' % (off, got[:8], c)
"
stop_nbdkit || fail "nbdkit exited with status $?"
echo ok
