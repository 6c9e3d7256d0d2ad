#!/usr/bin/env bash
# test-lease-fenced-reads.sh: a server that lost its lease serves no
# reads.  Directory store, lease=6:
#  - server A writes A1 to chunk 0 and flushes, writes A2 to chunk 1 and
#    does not flush;
#  - A is paused (SIGSTOP) past its lease; B takes the disk over, writes
#    B1 to chunk 0 and flushes;
#  - A resumes.  Its client reads chunk 0 (B1 is committed there; A holds
#    A1) and chunk 1 (A2 exists nowhere durable), then writes and
#    flushes: each fails with EIO.  A read-only server (no lease) reads
#    B1 and zeros.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store
args=("${store[@]}" export=d lease=6 chunk-size=64K cache-size=8M
  commit-interval=0)
uri () { echo "nbd+unix:///?socket=$tmpdir/$1"; }

start_nbdkit "$tmpdir/a" "${args[@]}" size=16M 2>"$tmpdir/a.log"
a=$nbdkit_pid
nbdsh -u "$(uri a)" -c "
import os, time
h.pwrite(b'1' * 65536, 0)
h.flush()
h.pwrite(b'2' * 65536, 65536)
open('$tmpdir/ready', 'w').close()
while not os.path.exists('$tmpdir/go'):
    time.sleep(0.1)
results = []
for what in ('read0', 'read1', 'write', 'flush'):
    try:
        if what == 'read0':
            results.append('read0 ' + h.pread(65536, 0)[:1].decode())
        elif what == 'read1':
            results.append('read1 ' + h.pread(65536, 65536)[:1].decode())
        elif what == 'write':
            h.pwrite(b'X' * 65536, 2 * 65536)
            results.append('write ok')
        else:
            h.flush()
            results.append('flush ok')
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
h.pwrite(b"3" * 65536, 0)
h.flush()
' || { cat "$tmpdir/b.log"; fail "B could not take over"; }

kill -CONT "$a"
touch "$tmpdir/go"
wait "$client" || true
result="$(cat "$tmpdir/result" 2>/dev/null || echo none)"
expected="read0 errno 5 read1 errno 5 write errno 5 flush errno 5"
[ "$result" = "$expected" ] || {
  cat "$tmpdir/a.log"
  fail "A after losing the lease: '$result', expected '$expected'"
}
grep -q "lease" "$tmpdir/a.log" || fail "A did not log why it stopped"
stop_nbdkit "$a" || true
stop_nbdkit || fail "B exited with status $?"

NBDKIT_OPTS=-r start_nbdkit "$tmpdir/c" "${args[@]}" 2>"$tmpdir/c.log"
nbdsh -u "$(uri c)" -c '
assert h.pread(65536, 0) == b"3" * 65536, "chunk 0 is not B'"'"'s"
assert h.pread(65536, 65536) == bytes(65536), "chunk 1 is not zero"
' || fail "read-only server after the takeover"
stop_nbdkit
echo "$0: PASS"
