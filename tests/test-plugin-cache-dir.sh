#!/usr/bin/env bash
# test-plugin-cache-dir.sh: the local disk tier (cache-dir=), on the real S3
# server, counting chunk loads from S3 with stats=:
#  1. write 40 chunks of random data (+ 8 of zeros) and flush: every
#     uploaded chunk goes to the tier (an uploader finding the queue full
#     writes the file itself), one file per chunk named by its SHA-256;
#  2. restart (cold memory): a whole read is right, and every chunk whose
#     file was there comes from the tier, the rest from S3 (and then into
#     the tier);
#  3. restart again: the read is right and every chunk comes from the tier
#     (none from S3);
#  4. flip a byte in one tier file and truncate another: restart, the read
#     is right, both are counted corrupt, come from S3 and are written
#     again, good;
#  5. two servers at once on one fresh cache-dir, reading two disks with
#     the same chunks: every file they write is good, no temp file is left,
#     and a later read takes the chunks from the tier;
#  6. cache-dir-size=64M with 80 chunks read cold and in sequence: every
#     chunk is written to the tier (read-ahead finding the queue half full
#     writes the file itself: s3cow_tier_self_writes_total), the files
#     stay under 64 MiB
#     (the least recently used evicted), and s3cow_tier_bytes says so;
#  7. a tier that cannot be written (chattr +i): reads are right, the cause
#     is logged once, and the tier stops writing after 32 failures.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh nbdcopy cmp sha256sum
use_store s3
tier="$tmpdir/tier"
MiB=1048576
# Steps 1-5 and 7 count chunks, not bytes: small chunks (and a memory
# cache of 32 of them, the least there is) keep them quick.
CS=$((256 * 1024))

# stat FILE NAME: the value of counter NAME in stats file FILE.
stat ()
{
  awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }' \
    "$1"
}

# tier_files [DIR]: the number of chunk files in the tier.
tier_files ()
{
  find "${1:-$tier}" -maxdepth 1 -type f -regextype posix-extended \
    -regex '.*/[0-9a-f]{64}' | wc -l
}

# check_files [DIR]: every chunk file holds the content its name says.
check_files ()
{
  local f
  for f in $(find "${1:-$tier}" -maxdepth 1 -type f -regextype posix-extended \
    -regex '.*/[0-9a-f]{64}'); do
    [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] ||
      fail "tier file $f does not hold the content its name says"
  done
}

# read_all STATS [ARGS...]: serve export t with the tier, copy the whole
# disk out, compare it with the data, stop.
read_all ()
{
  local stats="$1"
  shift
  serve export=t cache-size=8M \
    cache-dir="$tier" stats="$stats" "$@"
  rm -f "$tmpdir/copy"
  nbdcopy -- "$uri" "$tmpdir/copy" || fail "nbdcopy out failed"
  cmp "$tmpdir/data" "$tmpdir/copy" ||
    fail "the disk read through the tier differs from what was written"
  stop_nbdkit || fail "nbdkit exited with status $?"
}

# 1. Write and flush.
head -c $((40 * CS)) /dev/urandom >"$tmpdir/data"
head -c $((8 * CS)) /dev/zero >>"$tmpdir/data"
serve export=t size=$((48 * CS)) chunk-size=$CS \
  cache-size=8M cache-dir="$tier" stats="$tmpdir/s1"
nbdcopy --flush -- "$tmpdir/data" "$uri" || fail "nbdcopy in failed"
stop_nbdkit || fail "nbdkit exited with status $?"
written=$(tier_files)
echo "after the writes: $written files in the tier"
[ "$written" -eq 40 ] ||
  fail "after writing 40 chunks: $written tier files, expected 40"
check_files

# 2. Restart: what is in the tier comes from there.
read_all "$tmpdir/s2"
hits=$(stat "$tmpdir/s2" s3cow_tier_hits_total)
loads=$(stat "$tmpdir/s2" s3cow_cache_misses_total)
echo "read after restart: $hits from the tier, $loads from S3"
[ "$hits" -eq "$written" ] && [ "$loads" -eq $((40 - written)) ] ||
  fail "read after restart: $hits tier hits and $loads S3 loads," \
    "expected $written and $((40 - written))"
[ "$(tier_files)" -eq 40 ] ||
  fail "after the read: $(tier_files) tier files, expected 40"

# 3. Again: nothing from S3; the S3 GETs
# of chunks are counted in the -D s3cow.http=1 log too.
read_all "$tmpdir/s3" -D s3cow.http=1 -v 2>"$tmpdir/log3"
hits=$(stat "$tmpdir/s3" s3cow_tier_hits_total)
loads=$(stat "$tmpdir/s3" s3cow_cache_misses_total)
gets=$(grep -c 'GET [^ ]*chunks/' "$tmpdir/log3" || true)
echo "read after a second restart: $hits from the tier, $loads from S3" \
  "($gets chunk GETs in the log)"
[ "$hits" -eq 40 ] && [ "$loads" -eq 0 ] ||
  fail "second read after restart: $hits tier hits and $loads S3 loads," \
    "expected 40 and 0"
[ "$gets" -eq "$loads" ] ||
  fail "second read after restart: $gets chunk GETs in the log, expected $loads"
[ "$(stat "$tmpdir/s3" 's3cow_tier_bytes_total{op="read"}')" \
  -eq $((hits * CS)) ] || fail "tier read bytes do not match the hits"

# 4. Damage two files: detected, deleted, fetched from S3, written again.
check_files
mapfile -t files < <(find "$tier" -maxdepth 1 -type f -regextype \
  posix-extended -regex '.*/[0-9a-f]{64}' | sort | head -2)
printf '\x5a' | dd of="${files[0]}" bs=1 seek=12345 conv=notrunc status=none
truncate -s 4096 "${files[1]}"
read_all "$tmpdir/s4" -D s3cow.http=1 -v 2>"$tmpdir/log4"
corrupt=$(stat "$tmpdir/s4" s3cow_tier_corrupt_total)
loads=$(stat "$tmpdir/s4" s3cow_cache_misses_total)
gets=$(grep -c 'GET [^ ]*chunks/' "$tmpdir/log4" || true)
echo "with two damaged files: $corrupt corrupt, $loads from S3 ($gets chunk" \
  "GETs in the log)"
[ "$corrupt" -eq 2 ] || fail "damaged tier files: $corrupt counted, expected 2"
[ "$loads" -ge 2 ] && [ "$gets" -eq "$loads" ] ||
  fail "damaged tier files: $loads S3 loads and $gets chunk GETs, expected" \
    "2 or more, equal"
for f in "${files[@]}"; do
  grep -q "cache-dir=$tier: $(basename "$f") is corrupt" "$tmpdir/log4" ||
    fail "no log line about the corrupt tier file $f: $(cat "$tmpdir/log4")"
done
check_files

# 5. Two servers at once on one fresh cache-dir, reading two disks with the
# same chunks: both fetch from S3 and write the same files; every file is
# good, and a third read takes everything from the tier.
cp "$tmpdir/data" "$tmpdir/data48"
serve export=twin size=$((48 * CS)) chunk-size=$CS \
  cache-size=8M
nbdcopy --flush -- "$tmpdir/data" "$uri" || fail "nbdcopy in (twin) failed"
stop_nbdkit || fail "nbdkit exited with status $?"
tier="$tmpdir/shared"
serve export=t cache-size=8M cache-dir="$tier"
# shellcheck disable=SC2016 # $uri is for nbdkit --run
nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=twin cache-size=8M \
  cache-dir="$tier" --run 'nbdcopy -- "$uri" '"$tmpdir/copy2" &
other=$!
rm -f "$tmpdir/copy"
nbdcopy -- "$uri" "$tmpdir/copy" || fail "nbdcopy out (t, shared) failed"
wait "$other" || fail "the second server (twin, shared) failed"
stop_nbdkit || fail "nbdkit exited with status $?"
cmp "$tmpdir/data" "$tmpdir/copy" || fail "t read beside twin differs"
cmp "$tmpdir/data" "$tmpdir/copy2" || fail "twin read beside t differs"
check_files
[ "$(find "$tier" -name '.tmp-*' | wc -l)" -eq 0 ] ||
  fail "temp files left in the shared cache-dir"
read_all "$tmpdir/s5"
hits=$(stat "$tmpdir/s5" s3cow_tier_hits_total)
echo "after two servers shared a cache-dir: $hits of 40 from the tier"
[ "$hits" -ge 30 ] || fail "after two servers shared a cache-dir: only" \
  "$hits of 40 chunks from the tier"

# 6. cache-dir-size: an 80 MiB disk read through a 64M tier (the least
# cache-dir-size there is, in 1M chunks: 16 more than fit).
head -c $((80 * MiB)) /dev/urandom >"$tmpdir/data"
serve export=big size=80M chunk-size=1M \
  cache-size=32M
nbdcopy --flush -- "$tmpdir/data" "$uri" || fail "nbdcopy in (big) failed"
stop_nbdkit || fail "nbdkit exited with status $?"
small="$tmpdir/small"
serve export=big cache-size=32M \
  cache-dir="$small" cache-dir-size=64M stats="$tmpdir/s6"
rm -f "$tmpdir/copy"
nbdcopy -- "$uri" "$tmpdir/copy" || fail "nbdcopy out (big) failed"
cmp "$tmpdir/data" "$tmpdir/copy" || fail "the big disk differs"
stop_nbdkit || fail "nbdkit exited with status $?"
bytes=$(find "$small" -maxdepth 1 -type f -printf '%s\n' |
  awk '{ s += $1 } END { print s + 0 }')
evictions=$(stat "$tmpdir/s6" s3cow_tier_evictions_total)
writes=$(stat "$tmpdir/s6" s3cow_tier_writes_total)
gauge=$(stat "$tmpdir/s6" s3cow_tier_bytes)
self=$(stat "$tmpdir/s6" s3cow_tier_self_writes_total)
echo "cache-dir-size=64M: $bytes bytes of files, $writes written" \
  "($self by the thread that loaded them), $evictions evicted"
[ "$writes" -eq 80 ] ||
  fail "a cold sequential read of 80 chunks: $writes written to the tier," \
    "expected 80"
[ "$bytes" -le $((64 * MiB)) ] ||
  fail "cache-dir-size=64M: the directory holds $bytes bytes of files"
[ "$gauge" -eq "$bytes" ] ||
  fail "cache-dir-size=64M: s3cow_tier_bytes is $gauge, files hold $bytes"
[ $((writes - evictions)) -eq $((bytes / MiB)) ] ||
  fail "cache-dir-size=64M: $writes written - $evictions evicted is not" \
    "the $((bytes / MiB)) files there"
[ "$evictions" -ge 16 ] ||
  fail "cache-dir-size=64M after 80 chunks: $evictions evictions, expected" \
    "16 or more"
check_files "$small"

# 7. Writes that fail (the directory made immutable after the start, where
# the file system allows it): reads are right, the cause is logged once,
# and after 32 failures in a row the tier stops writing.
tier="$tmpdir/frozen"
mkdir "$tier"
if chattr +i "$tier" 2>/dev/null; then
  chattr -i "$tier"
  cp "$tmpdir/data48" "$tmpdir/data"
  serve export=t cache-size=8M cache-dir="$tier" \
    stats="$tmpdir/s7" 2>"$tmpdir/log7"
  cleanup_fn chattr -i "$tier"
  chattr +i "$tier"
  rm -f "$tmpdir/copy"
  nbdcopy -- "$uri" "$tmpdir/copy" || fail "nbdcopy out (frozen) failed"
  stop_nbdkit || fail "nbdkit exited with status $?"
  chattr -i "$tier"
  cmp "$tmpdir/data" "$tmpdir/copy" ||
    fail "the disk read while the tier cannot be written differs"
  errors=$(stat "$tmpdir/s7" s3cow_tier_errors_total)
  logged=$(grep -c "cannot create a temp file" "$tmpdir/log7" || true)
  echo "unwritable tier: $errors errors, $logged logged"
  [ "$errors" -ge 32 ] && [ "$logged" -eq 1 ] ||
    fail "unwritable tier: $errors errors counted (expected 32+) and" \
      "$logged log lines (expected 1): $(cat "$tmpdir/log7")"
  grep -q "32 writes failed in a row: no more chunks will be written" \
    "$tmpdir/log7" || fail "no log line saying the tier stopped writing"
else
  echo "chattr +i does not work in $tmpdir: write errors not tested"
fi

echo "$0: PASS"
