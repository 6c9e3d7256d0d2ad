#!/usr/bin/env bash
# test-fault-tier-full.sh: the disk tier (cache-dir=) on a file system that
# fills up before cache-dir-size (a 4 MiB tmpfs, cache-dir-size=64M), on
# the directory store (no S3 server needed):
#  1. write and flush 160 chunks of 64K (10 MiB): every byte is right,
#     the tier's writes fail with ENOSPC once the file system is full, and
#     that is logged;
#  2. a fresh server reads 40 other chunks (cold): right, and the tier
#     keeps working at the size that fits, evicting its least recently used
#     files to make room (it used to stop writing for good after 32 failed
#     writes, keeping forever what it held when the file system filled);
#  3. a fresh server reads those 40 chunks again: all come from the tier,
#     none from the store, and every file holds what its name says.
# Needs root (mount -t tmpfs): skipped otherwise.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh sha256sum mount umount
make_tmpdir
use_store
mkdir "$tmpdir/tier"
tier="$tmpdir/tier"
if ! mount -t tmpfs -o size=4M tmpfs "$tier" 2>/dev/null; then
  echo "$0: SKIP: cannot mount a tmpfs (not root?)"
  exit 77
fi
cleanup_fn umount "$tier"
store+=(export=t cache-size=4M read-ahead=0 cache-dir="$tier"
  cache-dir-size=64M)
export TEST_MODEL="$tmpdir/model"

# stat FILE NAME: the value of counter NAME in stats file FILE.
stat ()
{
  awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }' \
    "$1"
}

# read_chunks STATS: a fresh server reads chunks 60..99, checked.
read_chunks ()
{
  serve stats="$1"
  nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, sys
CS = 64 * 1024
model = open(os.environ["TEST_MODEL"], "rb").read()
for c in range(60, 100):
    if h.pread(CS, c * CS) != model[c * CS:(c + 1) * CS]:
        sys.exit("chunk %d reads wrong" % c)
EOF
  )" || fail "reading chunks 60..99 failed: see above"
  stop_nbdkit || fail "nbdkit exited with status $?"
}

# 1. Write and flush more than the file system holds.
serve size=10M chunk-size=64K \
  stats="$tmpdir/s1" 2>"$tmpdir/log1"
nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, random, sys
SIZE = h.get_size()
model = random.Random(3).randbytes(SIZE)
h.pwrite(model, 0)
h.flush()
if h.pread(SIZE, 0) != model:
    sys.exit("the disk reads wrong after the write")
open(os.environ["TEST_MODEL"], "wb").write(model)
EOF
)" || fail "writing the disk failed: see above"
stop_nbdkit || fail "nbdkit exited with status $?"
cat "$tmpdir/log1" >&2
grep -q "No space left on device" "$tmpdir/log1" ||
  fail "the tier's file system never filled up: no ENOSPC logged"

# 2. and 3.
read_chunks "$tmpdir/s2"
echo "cold read: $(stat "$tmpdir/s2" s3cow_tier_writes_total) files written," \
  "$(stat "$tmpdir/s2" s3cow_tier_errors_total) errors"
read_chunks "$tmpdir/s3"
hits=$(stat "$tmpdir/s3" s3cow_tier_hits_total)
loads=$(stat "$tmpdir/s3" s3cow_cache_misses_total)
echo "warm read: $hits chunks from the tier, $loads from the store;" \
  "$(find "$tier" -type f | wc -l) files in the tier"
[ "$hits" -eq 40 ] && [ "$loads" -eq 0 ] ||
  fail "the 40 chunks read again: $hits from the tier, $loads from the" \
    "store; expected 40 and 0 (a full file system stopped the tier)"
for f in $(find "$tier" -maxdepth 1 -type f -regextype posix-extended \
  -regex '.*/[0-9a-f]{64}'); do
  [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] ||
    fail "tier file $f does not hold the content its name says"
done
echo "$0: PASS"
