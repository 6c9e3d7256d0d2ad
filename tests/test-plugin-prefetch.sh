#!/usr/bin/env bash
# Working-set hints: the first fork of a snapshot to be served records the
# chunks it reads (in order) into the snapshot's hint object; a second fork
# of the same snapshot, served by a fresh server, prefetches exactly those
# chunks at open (s3cow_prefetch_loads_total), and its reads of them are
# all prefetch hits, with no load of its own.  A fork of that fork
# inherits the hint.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
picks="7 3 40 41 12 63 20" # the chunks the "boot" reads, in its order
npicks=$(wc -w <<<"$picks")
golden_forks f1 f2

# wait_prefetched STATS N: until N chunks were prefetched.
wait_prefetched ()
{
  wait_for 20 "[ \"\$(stat_of '$1' s3cow_prefetch_loads_total)\" = $2 ]"
}

# First fork: nothing to prefetch; its reads become the hint.
serve export=f1 stats="$tmpdir/s1"
boot f1 $picks
sleep 1.5
[ "$(stat_of "$tmpdir/s1" s3cow_prefetch_loads_total)" = 0 ] ||
  fail "the first fork prefetched without a hint"
stop_nbdkit || fail "nbdkit exited with status $?"
obj_cat disks/gold/hints/v1 >"$tmpdir/hint" ||
  fail "no hint object after the first fork closed"
[ "$(tail -n +5 "$tmpdir/hint" | tr '\n' ' ')" = "$picks " ] ||
  fail "the hint does not list the chunks read, in order: $(cat "$tmpdir/hint")"

# Second fork, fresh server: the open prefetches the hint's chunks.
serve export=f2 stats="$tmpdir/s2"
nbd_py 'r("f2", 0, 1)' # opens the disk (chunk 0 is read: not a pick)
wait_prefetched "$tmpdir/s2" "$npicks"
boot f2 $picks
# The stats file is written every second: until it shows every read.
wait_for 20 "[ \"\$(stat_of '$tmpdir/s2' s3cow_prefetch_hits_total)\" = $npicks ]"
# Chunk 0 (read by this boot), and the picks by prefetch, nothing more.
[ "$(stat_of "$tmpdir/s2" s3cow_cache_misses_total)" = $((npicks + 1)) ] ||
  fail "chunks were loaded twice: $(grep misses "$tmpdir/s2")"
stop_nbdkit || fail "nbdkit exited with status $?"

# A fork of a fork inherits the hint of the snapshot above (now chunk 0
# too: the second fork's reads were merged into it).
s3cow snapshot f2 s
s3cow fork f2@s g
serve export=g stats="$tmpdir/s3"
nbd_py 'r("g", 50 * 65536, 1)' # opens it; chunk 50 is in no hint
wait_prefetched "$tmpdir/s3" $((npicks + 1))
stop_nbdkit || fail "nbdkit exited with status $?"
