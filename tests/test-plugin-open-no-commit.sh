#!/usr/bin/env bash
# test-plugin-open-no-commit.sh: a read-write open that writes nothing
# leaves the head alone (generation, commit time, etag), when the last
# holder released the lease; a takeover of a lease that was not released
# still rewrites the head (the fence against the old holder's commits).
# Directory store.
#  - a disk written and flushed by one server, which stops (lease
#    released); its head file's bytes are recorded;
#  - read-write servers, with and without export=, serve reads and
#    extents to several connections and stop: the head file is the same;
#  - a server that writes and flushes, then is killed (lease held):
#    the next one takes the lease over and the generation moves.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh sha256sum
use_store dir # the test reads the head's file
store+=(chunk-size=64K cache-size=4M lease=3)
head="$store_root/$bucket/disks/g/head"

start_nbdkit "$sock" "${store[@]}" export=g size=4M
nbdsh -u "$uri" -c 'h.pwrite(b"g" * 65536, 65536); h.flush()' ||
  fail "first write"
stop_nbdkit || fail "nbdkit exited with status $?"
before="$(sha256sum <"$head")"

read_only_traffic ()
{
  local i
  for i in 1 2 3; do
    nbdsh --base-allocation -u "$uri" -c '
assert h.get_size() == 4 << 20
assert not h.is_read_only()
assert h.pread(65536, 65536) == b"g" * 65536
assert h.pread(65536, 0) == bytes(65536)
h.block_status(4 << 20, 0, lambda *a: 0)
' || fail "reads (connection $i)"
  done
}

start_nbdkit "$sock" "${store[@]}" export=g
read_only_traffic
stop_nbdkit || fail "nbdkit exited with status $?"
[ "$(sha256sum <"$head")" = "$before" ] ||
  fail "an open with export= that wrote nothing changed the head"

start_nbdkit "$sock" "${store[@]}"
nbdsh -c "h.set_export_name('g'); h.connect_unix('$sock')" \
  -c 'assert h.pread(65536, 65536) == b"g" * 65536' ||
  fail "reads by export name"
stop_nbdkit || fail "nbdkit exited with status $?"
[ "$(sha256sum <"$head")" = "$before" ] ||
  fail "an open by export name that wrote nothing changed the head"

# A holder killed with its lease held: the next server takes it over and
# claims the head.
start_nbdkit "$sock" "${store[@]}" export=g
nbdsh -u "$uri" -c 'h.pwrite(b"k" * 65536, 0); h.flush()' || fail "write"
kill -KILL "$nbdkit_pid"
wait "$nbdkit_pid" || true
_s3cow_reaped+=" $nbdkit_pid "
after_write="$(sha256sum <"$head")"
start_nbdkit "$sock" "${store[@]}" export=g lease-wait=30
nbdsh -u "$uri" -c 'assert h.pread(65536, 0) == b"k" * 65536' ||
  fail "read after the takeover"
[ "$(sha256sum <"$head")" != "$after_write" ] ||
  fail "a takeover of a held lease did not rewrite the head"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
