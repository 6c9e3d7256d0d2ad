#!/usr/bin/env bash
# test-plugin-bad-params.sh: every bad input is refused when the server
# starts (nbdkit --run never runs), with a non-zero exit status and exactly
# one line on stderr that holds the key words of the plugin's message:
# missing bucket=, unknown parameter, unparsable / unaligned / zero size,
# chunk-size out of range or not a power of two, cache-size too small for
# 32 chunks, malformed endpoints, invalid export names, a missing disk
# without size=, an existing disk with another size=, size= for a snapshot,
# a missing snapshot, a wrong secret key, an unknown access key, a missing
# bucket (S3 and directory store), a refused connection, bad numbers, a
# fixed and a maximum count of threads together.
# No secret key, nor the password of an endpoint URL, is ever shown.
# Then the cache-size check against an existing disk's own chunk size:
# a cache of 32 of the disk's chunks must be accepted whatever chunk-size=
# says, and a cache smaller than 32 of them refused at startup.
# All cases run; the test fails at the end with the list of failed ones.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh timeout
use_store s3
ep="$S3COW_TEST_ENDPOINT"
printf '%s' "not-the-secret-key" >"$tmpdir/wrong"
failures=()
failed ()
{
  failures+=("$*")
}

# expect_refused WHAT KEY-WORDS PLUGIN-ARG...
# nbdkit must exit non-zero before serving, with one line on stderr that
# contains KEY-WORDS (a fixed string).
expect_refused ()
{
  local what="$1" words="$2" status=0 lines
  shift 2
  timeout 90 nbdkit -U - "$S3COW_PLUGIN" "$@" --run 'echo SERVING' \
    >"$tmpdir/out" 2>"$tmpdir/err" || status=$?
  lines="$(wc -l <"$tmpdir/err")"
  echo "--- $what: exit status $status: $(cat "$tmpdir/err")"
  if [ "$status" = 124 ]; then
    failed "$what: nbdkit did not exit within 90 s"
  elif [ "$status" = 0 ] || grep -q SERVING "$tmpdir/out"; then
    failed "$what: the server started (exit status $status), expected" \
      "it to refuse: $words"
  elif ! grep -qF -- "$words" "$tmpdir/err"; then
    failed "$what: stderr does not say \"$words\"; it says:" \
      "$(cat "$tmpdir/err")"
  elif [ "$lines" != 1 ]; then
    failed "$what: $lines lines on stderr, expected 1:" \
      "$(cat "$tmpdir/err")"
  fi
  if grep -qF -e "$S3COW_TEST_SECRET_KEY" -e not-the-secret-key \
    "$tmpdir/err"; then
    failed "$what: the message shows a secret key"
  fi
}

# 1. Parameters checked before any request.
S3COW_BUCKET= expect_refused "no bucket=" "bucket= is required" \
  export=d size=1M endpoint="$ep"
expect_refused "unknown parameter" "unknown parameter 'colour'" \
  "${store[@]}" export=d size=1M colour=blue
expect_refused "unparsable size" "could not parse size string (lots)" \
  "${store[@]}" export=d size=lots
expect_refused "unaligned size" \
  "size=1000: must be a positive multiple of 512 bytes" \
  "${store[@]}" export=d size=1000
expect_refused "zero size" "size=0: must be a positive multiple of 512" \
  "${store[@]}" export=d size=0
expect_refused "chunk-size too small" \
  "chunk-size=32K: must be a power of two from 64K to 64M" \
  "${store[@]}" export=d size=1M chunk-size=32K
expect_refused "chunk-size too large" \
  "chunk-size=128M: must be a power of two from 64K to 64M" \
  "${store[@]}" export=d size=1M chunk-size=128M
expect_refused "chunk-size not a power of two" \
  "chunk-size=3M: must be a power of two from 64K to 64M" \
  "${store[@]}" export=d size=1M chunk-size=3M
expect_refused "cache-size below 32 chunks" \
  "cache-size must hold at least 32 chunks (33554432 bytes for chunk size 1048576)" \
  "${store[@]}" export=d size=1M chunk-size=1M cache-size=16M
expect_refused "endpoint ftp://x" \
  "endpoint ftp://x: must start with http:// or https://" \
  bucket="$bucket" export=d size=1M endpoint=ftp://x access-key=a \
  secret-key=+"$tmpdir/secret"
expect_refused "endpoint http://" "endpoint http://: no host name" \
  bucket="$bucket" export=d size=1M endpoint=http:// access-key=a \
  secret-key=+"$tmpdir/secret"
expect_refused "endpoint with a path" \
  "endpoint http://127.0.0.1:1/b: must be only scheme://host[:port]" \
  bucket="$bucket" export=d size=1M endpoint=http://127.0.0.1:1/b \
  access-key=a secret-key=+"$tmpdir/secret"
# ... and the password in it is not logged ("No secret is ever logged").
expect_refused "endpoint with a user name" \
  "must not hold a user name or password" \
  bucket="$bucket" export=d size=1M endpoint=http://u:s3cr3tpw@127.0.0.1:1 \
  access-key=a secret-key=+"$tmpdir/secret"
if grep -q s3cr3tpw "$tmpdir/err"; then
  failed "endpoint with a password: the message shows the password:" \
    "$(cat "$tmpdir/err")"
fi
expect_refused "relative file endpoint" \
  "endpoint file://rel: a file endpoint needs an absolute path" \
  bucket="$bucket" export=d size=1M endpoint=file://rel
expect_refused "export=../x" "invalid disk name '../x'" \
  "${store[@]}" export=../x size=1M
expect_refused "export=a/b" "invalid disk name 'a/b'" \
  "${store[@]}" export=a/b size=1M
expect_refused "export name of 97 characters" \
  "disk name too long (at most 96 characters" \
  "${store[@]}" export="$(printf 'n%.0s' $(seq 97))" size=1M
expect_refused "size= for a snapshot" \
  "size= cannot create a snapshot (export=d@s1)" \
  "${store[@]}" export=d@s1 size=1M
expect_refused "connections=0" "connections=0: must be from 1 to 256" \
  "${store[@]}" export=d size=1M connections=0
expect_refused "upload-threads-max=0" \
  "upload-threads-max=0: must be from 1 to 256" \
  "${store[@]}" export=d size=1M upload-threads-max=0
expect_refused "read-ahead-threads= with read-ahead-threads-max=" \
  "read-ahead-threads= fixes the read-ahead loads in flight" \
  "${store[@]}" export=d size=1M read-ahead-threads=4 \
  read-ahead-threads-max=8
expect_refused "timeout=abc" \
  "timeout=abc: expected a duration from 0 to 1d" \
  "${store[@]}" export=d size=1M timeout=abc

# 2. Refused after looking at the bucket.
expect_refused "missing disk without size=" \
  "disk nodisk does not exist (give size= to create it)" \
  "${store[@]}" export=nodisk
timeout 60 nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=d1 size=1M \
  --run true || fail "cannot create disk d1 (size=1M)"
expect_refused "existing disk, another size=" \
  "disk d1 exists with size 1048576, not the size=2097152 given (resize it with s3cow resize)" \
  "${store[@]}" export=d1 size=2M
expect_refused "missing snapshot" "snapshot d1@nosnap does not exist" \
  "${store[@]}" export=d1@nosnap
expect_refused "wrong secret key" \
  "access denied: HTTP 403 SignatureDoesNotMatch (the signature made with access key id" \
  bucket="$bucket" endpoint="$ep" access-key="$S3COW_TEST_ACCESS_KEY" \
  secret-key=+"$tmpdir/wrong" export=d1
expect_refused "unknown access key" \
  "access denied: HTTP 403 InvalidAccessKeyId (the server does not know access key id" \
  bucket="$bucket" endpoint="$ep" access-key=NOSUCHKEY \
  secret-key=+"$tmpdir/secret" export=d1
expect_refused "missing bucket" \
  "bucket no-such-bucket-$$ does not exist at $ep (HTTP 404 NoSuchBucket)" \
  bucket="no-such-bucket-$$" endpoint="$ep" \
  access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/secret" export=d1
expect_refused "missing bucket directory" \
  "bucket nob does not exist (NoSuchBucket): no directory $tmpdir/nob" \
  bucket=nob endpoint="file://$tmpdir" export=d1 size=1M
expect_refused "connection refused" "Couldn't connect to server" \
  bucket="$bucket" endpoint=http://127.0.0.1:1 access-key=a \
  secret-key=+"$tmpdir/secret" retry-time=1 export=d1

# 3. cache-size against the chunk size of an existing disk.  d64 has 64K
# chunks: a 2M cache holds 32 of them, so it must be served, whatever the
# chunk-size= of new disks is.
timeout 60 nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=d64 size=4M \
  chunk-size=64K cache-size=2M --run true ||
  fail "cannot create disk d64 (64K chunks, cache-size=2M)"
status=0
# shellcheck disable=SC2016 # $uri is for nbdkit --run to expand
timeout 60 nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=d64 cache-size=2M \
  --run 'nbdsh -u "$uri" -c "h.pread(65536, 0)"' 2>"$tmpdir/err" || status=$?
echo "--- d64 (64K chunks) with cache-size=2M: exit status $status:" \
  "$(cat "$tmpdir/err")"
[ "$status" = 0 ] ||
  failed "existing disk with 64K chunks, cache-size=2M (32 of its" \
    "chunks), no chunk-size=: refused (exit status $status), expected it to" \
    "be served: $(cat "$tmpdir/err")"
# d1 has 1M chunks: a 2M cache holds 2 of them, whatever chunk-size= says.
expect_refused "cache-size=2M for an existing disk of 1M chunks" \
  "cache-size" "${store[@]}" export=d1 chunk-size=64K cache-size=2M

if [ ${#failures[@]} -gt 0 ]; then
  printf '%s\n' "${failures[@]}" >&2
  fail "${#failures[@]} case(s) failed (above)"
fi
echo "$0: PASS"
