#!/usr/bin/env bash
# s3cow copy --to-profile takes the destination's credentials from that
# profile, not from the environment (which holds the source's): a profile
# with wrong keys is refused by the destination, one with good keys copies.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store s3
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("d", 2 * 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

cat >"$tmpdir/credentials" <<CREDS
[wrong]
aws_access_key_id = AKIAWRONGWRONGWRONG1
aws_secret_access_key = wrongwrongwrongwrongwrongwrongwrongwrong
[good]
aws_access_key_id = $S3COW_TEST_ACCESS_KEY
aws_secret_access_key = $S3COW_TEST_SECRET_KEY
CREDS
export AWS_SHARED_CREDENTIALS_FILE="$tmpdir/credentials"
: >"$tmpdir/config"
export AWS_CONFIG_FILE="$tmpdir/config"
dst="$(new_bucket)"

if s3cow copy d "s3://$dst/d" --to-profile wrong --retry-time 1 \
  2>"$tmpdir/err"; then
  fail "a copy with the wrong profile's keys succeeded"
fi
cat "$tmpdir/err"
grep -q 'InvalidAccessKeyId\|403' "$tmpdir/err" ||
  fail "the wrong profile's keys were not the ones sent"
s3cow copy d "s3://$dst/d" --to-profile good ||
  fail "a copy with the good profile failed"
S3COW_BUCKET="$dst" s3cow fsck d || fail "fsck of the copy"
echo "$0: PASS"
