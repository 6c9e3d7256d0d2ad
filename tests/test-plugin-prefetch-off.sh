#!/usr/bin/env bash
# prefetch=off: a fork's reads write no hint, and a hint that exists is not
# prefetched.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
golden_forks f1 f2

serve export=f1 prefetch=off
boot f1 5 9 2
stop_nbdkit || fail "nbdkit exited with status $?"
[ -z "$(obj_list disks/gold/hints/)" ] || fail "prefetch=off wrote a hint"

# With prefetch on, f1 writes the hint; f2 with prefetch=off ignores it.
serve export=f1
boot f1 5 9 2
stop_nbdkit || fail "nbdkit exited with status $?"
obj_cat disks/gold/hints/v1 >/dev/null || fail "no hint with prefetch on"
serve export=f2 prefetch=off stats="$tmpdir/s"
boot f2 1
sleep 2.5 # time for a prefetch that should not happen
# The stats file a clean stop writes: all the server did.
stop_nbdkit || fail "nbdkit exited with status $?"
[ "$(stat_of "$tmpdir/s" s3cow_prefetch_loads_total)" = 0 ] ||
  fail "prefetch=off prefetched: $(grep prefetch "$tmpdir/s")"
[ "$(stat_of "$tmpdir/s" s3cow_cache_misses_total)" = 1 ] ||
  fail "prefetch=off loaded more than was read: $(grep misses "$tmpdir/s")"
