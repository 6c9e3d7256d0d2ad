#!/usr/bin/env bash
# s3cow copy slower than half the destination's gc grace sends again,
# before it writes the head, the chunks it sent more than that ago: the
# new head then names no chunk old enough for gc to delete.  (A grace
# record of 10 s at the destination, room for a loaded machine to send
# the whole disk within half of it; the copy is stopped 6 s halfway.)
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

n=300
s3cow create d 32M --chunk-size 64K
nbd_py "w('d', 0, pattern('d', $n * 65536))"

# The destination bucket b2, beside the source's, with gc/grace = 10 s.
mkdir -p "$store_root/b2"
/usr/bin/python3 -c '
import hashlib, struct, sys
body = b"s3cowGR\0" + struct.pack("<IIQ", 1, 0, 10)
sys.stdout.buffer.write(body + hashlib.sha256(body).digest())
' >"$tmpdir/grace"
bucket=b2 obj_put gc/grace "$tmpdir/grace"
count_chunks () { { find "$store_root/b2/chunks" -type f ! -name '.*' 2>/dev/null || true; } | wc -l; }

s3cow copy d "s3://b2/d" --jobs 1 >"$tmpdir/out" 2>&1 &
pid=$!
kill_copy () { kill -9 "$1" 2>/dev/null || true; }
cleanup_fn kill_copy "$pid"
paused=
for ((i = 0; i < 3000; i++)); do
  kill -STOP "$pid" 2>/dev/null || break
  if [ "$(count_chunks)" -ge 20 ]; then
    sleep 6
    kill -CONT "$pid"
    paused=yes
    break
  fi
  kill -CONT "$pid"
  sleep 0.01
done
[ -n "$paused" ] || fail "the copy ended before it could be paused: $(cat "$tmpdir/out")"
wait "$pid" || fail "the copy failed: $(cat "$tmpdir/out")"
cat "$tmpdir/out"
sent="$(sed -n 's/.*, sent \([0-9]*\) chunks.*/\1/p' "$tmpdir/out")"
[ -n "$sent" ] && [ "$sent" -gt "$n" ] ||
  fail "the chunks sent before the pause were not sent again ($sent sent)"
S3COW_BUCKET=b2 s3cow fsck d || fail "fsck of the copy"
echo "$0: PASS"
