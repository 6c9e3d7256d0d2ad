#!/usr/bin/env bash
# test-creds-imds-v1.sh: instance metadata without IMDSv2 (its token PUT
# fails, as beyond the hop limit in a container): s3cow does not fall back
# to IMDSv1 by itself (no IMDSv1 request, no credentials); with
# AWS_EC2_METADATA_V1_DISABLED=false it does, and the debug line says so.
source "${srcdir:-.}/functions.sh"
source "${srcdir:-.}/creds-functions.sh"
set -euo pipefail

creds_setup
ak="$S3COW_TEST_ACCESS_KEY"
sk="$S3COW_TEST_SECRET_KEY"
start_standin aws --key "$ak:$sk" --imds-v1-only
AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" s3cow create d1 1M
imds=(AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$standin_url")

if s3cow_ls_with "${imds[@]}"; then
  cat "$tmpdir/ls.out"
  fail "s3cow ls worked with IMDSv1 only and no AWS_EC2_METADATA_V1_DISABLED"
fi
! grep -q "IMDSv1" "$tmpdir/aws.log" || fail "an IMDSv1 request was made"

s3cow_ls_with "${imds[@]}" AWS_EC2_METADATA_V1_DISABLED=false || {
  cat "$tmpdir/ls.out"
  fail "s3cow ls failed with AWS_EC2_METADATA_V1_DISABLED=false"
}
grep -q '^d1 ' "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "disk d1 not listed"
}
grep -q "credentials: from instance metadata at $standin_url (IMDSv1 allowed)" \
  "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "no debug line naming IMDSv1"
}
grep -q "IMDSv1" "$tmpdir/aws.log" || fail "no IMDSv1 request was made"
