#!/usr/bin/env bash
# Fencing: a holder paused (SIGSTOP) past its lease loses the disk to a
# waiting server, which writes.  When the first one resumes, its next
# write and flush fail with EIO, and the new holder's data is intact, byte
# by byte.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store s3
lease=6
args=("${store[@]}"
  export=d lease=$lease chunk-size=64K cache-size=8M)
uri () { echo "nbd+unix:///?socket=$tmpdir/$1"; }

start_nbdkit "$tmpdir/a" "${args[@]}" size=16M 2>"$tmpdir/a.log"
a=$nbdkit_pid
# A's client: writes and flushes, waits while A is paused and replaced,
# then tries again and records what happened.
nbdsh -u "$(uri a)" -c "
import os, time
h.pwrite(b'1' * 65536, 0)
h.flush()
open('$tmpdir/ready', 'w').close()
while not os.path.exists('$tmpdir/go'):
    time.sleep(0.1)
results = []
for what in ('write', 'flush'):
    try:
        if what == 'write':
            h.pwrite(b'X' * 65536, 65536)
        else:
            h.flush()
        results.append(what + ' ok')
    except nbd.Error as e:
        results.append(what + ' errno ' + str(e.errnum))
open('$tmpdir/result', 'w').write(' '.join(results))
" 2>"$tmpdir/a-client.log" &
client=$!
for ((i = 0; i < 300; i++)); do [ -e "$tmpdir/ready" ] && break; sleep 0.1; done
[ -e "$tmpdir/ready" ] || fail "A's client did not get ready"

kill -STOP "$a"
start_nbdkit "$tmpdir/b" "${args[@]}" lease-wait=60 2>"$tmpdir/b.log"
nbdsh -u "$(uri b)" -c '
assert h.pread(65536, 0) == b"1" * 65536, "A'"'"'s flushed data is missing"
h.pwrite(b"2" * 65536, 65536)
h.pwrite(b"3" * 65536, 0)
h.flush()
' || { cat "$tmpdir/b.log"; fail "B could not take over"; }

kill -CONT "$a"
touch "$tmpdir/go"
wait "$client" || true
result="$(cat "$tmpdir/result" 2>/dev/null || echo none)"
errno_eio=5
case "$result" in
  "write errno $errno_eio flush errno $errno_eio") ;;
  *) cat "$tmpdir/a.log"; fail "A after losing the lease: '$result', expected EIO twice" ;;
esac
grep -q "lease" "$tmpdir/a.log" || fail "A did not log why it stopped writing"
stop_nbdkit "$a" || true

# B's data, byte by byte, also from a fresh read-only server.
nbdsh -u "$(uri b)" -c '
assert h.pread(65536, 0) == b"3" * 65536
assert h.pread(65536, 65536) == b"2" * 65536
'
stop_nbdkit || fail "B exited with status $?"
NBDKIT_OPTS=-r start_nbdkit "$tmpdir/c" "${args[@]}" 2>"$tmpdir/c.log"
nbdsh -u "$(uri c)" -c '
assert h.pread(65536, 0) == b"3" * 65536, "chunk 0 is not B'"'"'s"
assert h.pread(65536, 65536) == b"2" * 65536, "chunk 1 is not B'"'"'s"
'
stop_nbdkit
echo ok
