#!/usr/bin/env bash
# The credential chain of the AWS SDKs, source by source and in order, with
# the s3cow command against the RGW: parameters, the environment, web
# identity (STS AssumeRoleWithWebIdentity), the profile (keys, then
# credential_process; its region), the container endpoint (token or token
# file), instance metadata (IMDSv2 only, disabled when asked).  Each case
# sets every later source too, so that the first one must win.  The
# stand-in hands out the test user's key; the debug line names the source
# and never the secret.
source "${srcdir:-.}/functions.sh"
source "${srcdir:-.}/creds-functions.sh"
set -euo pipefail

creds_setup
ak="$S3COW_TEST_ACCESS_KEY"
sk="$S3COW_TEST_SECRET_KEY"
start_standin aws --key "$ak:$sk" --container-token "container-secret-token"
AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" s3cow create d1 1M

printf '%s' "$sk" >"$tmpdir/secret"
printf 'standin-web-identity-token\n' >"$tmpdir/webtoken"
printf 'container-secret-token' >"$tmpdir/ctoken"
cat >"$tmpdir/credentials" <<EOF
[default]
aws_access_key_id = $ak
aws_secret_access_key = $sk
EOF
cat >"$tmpdir/process" <<EOF
#!/bin/sh
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "process-token", "Expiration": "%s"}\n' \
  "$ak" "$sk" "\$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
EOF
chmod +x "$tmpdir/process"
cat >"$tmpdir/config" <<EOF
[default]
region = us-east-1

[profile proc]
credential_process = $tmpdir/process
region = eu-test-1

[profile broken]
credential_process = sh -c 'echo oops; exit 3'
EOF

imds=(AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$standin_url")
cont=(AWS_CONTAINER_CREDENTIALS_FULL_URI="$standin_url/container/credentials"
  AWS_CONTAINER_AUTHORIZATION_TOKEN=container-secret-token)
profile=(AWS_SHARED_CREDENTIALS_FILE="$tmpdir/credentials"
  AWS_CONFIG_FILE="$tmpdir/config")
web=(AWS_WEB_IDENTITY_TOKEN_FILE="$tmpdir/webtoken"
  AWS_ROLE_ARN=arn:aws:iam::123456789012:role/s3cow
  AWS_ENDPOINT_URL_STS="$standin_url/sts/")
envkeys=(AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk")

# expect_source NAME PATTERN ENV... [-- ARG...]: ls works and says PATTERN.
expect_source ()
{
  local name="$1" pattern="$2"
  shift 2
  s3cow_ls_with "$@" || {
    cat "$tmpdir/ls.out"
    fail "$name: s3cow ls failed"
  }
  grep -q "$pattern" "$tmpdir/ls.out" || {
    cat "$tmpdir/ls.out"
    fail "$name: no \"$pattern\" in the output"
  }
  grep -q "^d1" "$tmpdir/ls.out" || fail "$name: d1 not listed"
  ! grep -qF "$sk" "$tmpdir/ls.out" || fail "$name: the secret is in the output"
  echo "$name: ok"
}

# expect_failure NAME PATTERN ENV...: ls fails and says PATTERN.
expect_failure ()
{
  local name="$1" pattern="$2"
  shift 2
  if s3cow_ls_with "$@"; then
    cat "$tmpdir/ls.out"
    fail "$name: s3cow ls succeeded"
  fi
  grep -q "$pattern" "$tmpdir/ls.out" || {
    cat "$tmpdir/ls.out"
    fail "$name: no \"$pattern\" in the output"
  }
  ! grep -qF "container-secret-token" "$tmpdir/ls.out" ||
    fail "$name: the container token is in the output"
  echo "$name: ok"
}

all=("${envkeys[@]}" "${web[@]}" "${profile[@]}" "${cont[@]}" "${imds[@]}")
expect_source parameters "fixed keys from parameters" "${all[@]}" -- \
  --access-key "$ak" --secret-key-file "$tmpdir/secret"
expect_source environment "fixed keys from the environment" "${all[@]}"
: >"$tmpdir/aws.log"
expect_source web-identity "credentials: from web identity (role arn:aws:iam::123456789012:role/s3cow" \
  "${web[@]}" "${profile[@]}" "${cont[@]}" "${imds[@]}"
grep -q "serve sts $ak session s3cow" "$tmpdir/aws.log" || fail "no STS call"
expect_source web-identity-session "credentials: from web identity" \
  "${web[@]}" AWS_ROLE_SESSION_NAME=my-session
grep -q "serve sts $ak session my-session" "$tmpdir/aws.log" ||
  fail "AWS_ROLE_SESSION_NAME not sent"
expect_source profile-keys "fixed keys from profile default" \
  "${profile[@]}" "${cont[@]}" "${imds[@]}"
expect_source credential-process "credential_process of profile proc" \
  AWS_PROFILE=proc "${profile[@]}" "${cont[@]}" "${imds[@]}"
: >"$tmpdir/aws.log"
expect_source container-token "credentials: from container endpoint" \
  "${cont[@]}" "${imds[@]}"
expect_source container-token-file "credentials: from container endpoint" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$standin_url/container/credentials" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$tmpdir/ctoken" "${imds[@]}"
grep -q "serve container $ak" "$tmpdir/aws.log" || fail "no container call"
! grep -q "imds" "$tmpdir/aws.log" || fail "instance metadata asked too"
expect_source imds "credentials: from instance metadata at $standin_url" \
  "${imds[@]}"
grep -q "imds token ttl=21600" "$tmpdir/aws.log" || fail "no IMDSv2 token"
! grep -q "IMDSv1" "$tmpdir/aws.log" || fail "an IMDSv1 request was made"

# Instance metadata disabled, nothing else: anonymous (and refused).
: >"$tmpdir/aws.log"
s3cow_ls_with AWS_EC2_METADATA_SERVICE_ENDPOINT="$standin_url" || true
grep -q "anonymous" "$tmpdir/ls.out" || fail "not anonymous"
! grep -q "imds" "$tmpdir/aws.log" || fail "AWS_EC2_METADATA_DISABLED ignored"
echo "metadata-disabled: ok"

# The profile's region, when AWS_REGION is not set.
s3cow_ls_with -u AWS_REGION AWS_PROFILE=proc "${profile[@]}" || true
grep -q "region eu-test-1" "$tmpdir/ls.out" || {
  cat "$tmpdir/ls.out"
  fail "the profile's region was not used"
}
echo "profile-region: ok"

# Sources that are set up but fail say why, and the chain stops there.
expect_failure container-wrong-token "HTTP 401" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="$standin_url/container/credentials" \
  AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong "${imds[@]}"
expect_failure container-remote-http "only allowed to a loopback" \
  AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds"
expect_failure web-identity-refused "STS error AccessDenied" \
  "${web[@]}" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/other
expect_failure web-identity-half "AWS_WEB_IDENTITY_TOKEN_FILE is not" \
  AWS_ROLE_ARN=arn:aws:iam::123456789012:role/s3cow
expect_failure process-fails "credential_process failed (exit status 3)" \
  AWS_PROFILE=broken "${profile[@]}"
expect_failure profile-missing "profile nope (AWS_PROFILE) is in neither" \
  AWS_PROFILE=nope "${profile[@]}"
echo ok
