#!/usr/bin/env bash
# s3cow copy killed halfway (kill -9) leaves no disk at the destination;
# running it again completes it and sends only the chunks the killed run
# had not sent.  (300 chunks: the destination's chunks/ is listed.)
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store
serve

n=300
s3cow create d 32M --chunk-size 64K
nbd_py "w('d', 0, pattern('d', $n * 65536))"

dst="$tmpdir/dst"
mkdir -p "$dst/b2"
count_chunks () { { find "$dst/b2/chunks" -type f ! -name '.*' 2>/dev/null || true; } | wc -l; }

# Stop the copy now and then; once it has sent some chunks, kill it while
# it is stopped (so it is surely halfway).
s3cow copy d "file://$dst/b2/d" --jobs 1 >"$tmpdir/out1" 2>&1 &
pid=$!
kill_copy () { kill -9 "$1" 2>/dev/null || true; }
cleanup_fn kill_copy "$pid"
killed=
for ((i = 0; i < 3000; i++)); do
  kill -STOP "$pid" 2>/dev/null || break
  sent=$(count_chunks)
  if [ "$sent" -ge 20 ]; then
    kill -9 "$pid"
    killed=yes
    break
  fi
  kill -CONT "$pid"
  sleep 0.01
done
wait "$pid" 2>/dev/null || true
[ -n "$killed" ] || fail "the copy ended before it could be killed: $(cat "$tmpdir/out1")"
before=$(count_chunks)
echo "killed after $before chunks"
[ "$before" -lt "$n" ] || fail "the killed copy had sent everything"
[ ! -e "$dst/b2/disks/d/head" ] || fail "the killed copy left a disk head"
S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 s3cow ls >"$tmpdir/ls"
! grep -q '^d ' "$tmpdir/ls" || fail "the killed copy left a disk: $(cat "$tmpdir/ls")"

s3cow copy d "file://$dst/b2/d" >"$tmpdir/out2" || fail "the second run failed"
cat "$tmpdir/out2"
grep -q "$before already there, sent $((n - before)) chunks" "$tmpdir/out2" ||
  fail "the second run did not send only the $((n - before)) missing chunks"
[ "$(count_chunks)" = "$n" ] || fail "the destination has $(count_chunks) chunks"
S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 s3cow fsck d ||
  fail "fsck of the completed copy"
echo "$0: PASS"
