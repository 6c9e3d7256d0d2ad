#!/usr/bin/env bash
# Renewal keeps the lease through a heavy write load lasting several lease
# periods: no write or flush fails, the lease object is renewed, and the
# data reads back.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store s3
lease=4
args=("${store[@]}"
  export=d lease=$lease chunk-size=256K cache-size=16M commit-interval=1)
uri () { echo "nbd+unix:///?socket=$tmpdir/$1"; }

start_nbdkit "$tmpdir/a" "${args[@]}" size=64M 2>"$tmpdir/a.log"
nbdsh -u "$(uri a)" -c "
import random, time
random.seed(2)
size = 64 * 1024 * 1024
model = bytearray(size)
end = time.monotonic() + $lease * 4
n = 0
while time.monotonic() < end:
    off = random.randrange(0, size - 65536, 4096)
    data = random.randbytes(65536)
    h.pwrite(data, off)
    model[off:off + 65536] = data
    n += 1
    if n % 64 == 0:
        h.flush()
h.flush()
print('%d writes' % n)
for off in range(0, size, 1 << 20):
    assert h.pread(1 << 20, off) == model[off:off + (1 << 20)], 'bad data at %d' % off
" >"$tmpdir/out"
cat "$tmpdir/out"
renewed=$(obj_cat disks/d/lease | sed -n 's/^renewed=//p')
taken=$(obj_cat disks/d/lease | sed -n 's/^taken=//p')
[ $((renewed - taken)) -ge $((lease * 3)) ] ||
  fail "lease renewed at $renewed, taken at $taken: not renewed through the load"
if grep -q "lease not renewed\|lease lost" "$tmpdir/a.log"; then
  cat "$tmpdir/a.log"
  fail "the lease lapsed under load"
fi
stop_nbdkit || fail "nbdkit exited with status $?"
echo ok
