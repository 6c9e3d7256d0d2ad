#!/usr/bin/env bash
# test-creds-assume-role.sh: a profile with role_arn and source_profile:
# s3cow assumes the role through STS AssumeRole, signed (SigV4) with the
# source profile's keys (the stand-in checks the signature), and uses the
# role's credentials; a source_profile that does not exist, or that is a
# role itself, is one clear error.
source "${srcdir:-.}/functions.sh"
source "${srcdir:-.}/creds-functions.sh"
set -euo pipefail

creds_setup
ak="$S3COW_TEST_ACCESS_KEY"
sk="$S3COW_TEST_SECRET_KEY"
start_standin aws --key "$ak:$sk" --source-key "AKIASOURCE:source-secret"
AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" s3cow create d1 1M
cat >"$tmpdir/credentials" <<EOF2
[src]
aws_access_key_id = AKIASOURCE
aws_secret_access_key = source-secret
EOF2
cat >"$tmpdir/config" <<EOF2
[profile ops]
role_arn = arn:aws:iam::123456789012:role/s3cow
source_profile = src

[profile nosrc]
role_arn = arn:aws:iam::123456789012:role/s3cow
source_profile = missing

[profile chain]
role_arn = arn:aws:iam::123456789012:role/s3cow
source_profile = ops
EOF2
files=(AWS_SHARED_CREDENTIALS_FILE="$tmpdir/credentials"
  AWS_CONFIG_FILE="$tmpdir/config" AWS_ENDPOINT_URL_STS="$standin_url/sts/")

s3cow_ls_with AWS_PROFILE=ops "${files[@]}" || {
  cat "$tmpdir/ls.out"
  fail "s3cow ls with profile ops (role_arn, source_profile) failed"
}
grep -q '^d1 ' "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "disk d1 not listed"
}
grep -q "credentials: from role arn:aws:iam::123456789012:role/s3cow of profile ops (source profile src" \
  "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "no debug line naming the role and its source profile"
}
grep -q "serve sts-assume-role $ak" "$tmpdir/aws.log" ||
  fail "STS AssumeRole was not asked (or refused): $(cat "$tmpdir/aws.log")"
! grep -q "source-secret" "$tmpdir/ls.out" || fail "a secret is in the output"

for p in nosrc chain; do
  if s3cow_ls_with AWS_PROFILE=$p "${files[@]}"; then
    fail "s3cow ls with profile $p worked"
  fi
done
s3cow_ls_with AWS_PROFILE=nosrc "${files[@]}" || true
grep -q "profile nosrc: its source_profile missing does not exist" \
  "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "no clear error for a missing source_profile"
}
s3cow_ls_with AWS_PROFILE=chain "${files[@]}" || true
grep -q "profile chain: its source_profile ops has a role_arn too" \
  "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "no clear error for a chain of roles"
}
