# shellcheck shell=bash
# Helpers for the credential tests, on top of functions.sh:
#
#   creds_setup                # SKIPs without S3; $tmpdir, $bucket; no
#                              # AWS_* credential variable set, an empty
#                              # HOME, instance metadata disabled
#   start_standin NAME [ARG...]  # tests/aws-standin.py on a free port:
#                              # $standin_url, log in $tmpdir/NAME.log
#   s3cow_ls_with ENV=VAL... [-- S3COW-ARG...]
#                              # s3cow --debug=http ls on the bucket with
#                              # those variables; output in $tmpdir/ls.out

creds_setup ()
{
  requires /usr/bin/python3 s3cow
  requires_s3
  make_tmpdir
  bucket=$(new_bucket)
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME \
    AWS_ENDPOINT_URL_STS AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
    AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN \
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE AWS_EC2_METADATA_SERVICE_ENDPOINT \
    AWS_ENDPOINT_URL AWS_DEFAULT_REGION S3COW_PREFIX
  export AWS_EC2_METADATA_DISABLED=true
  export AWS_REGION="${S3COW_TEST_REGION:-us-east-1}"
  export HOME="$tmpdir/home"
  mkdir -p "$HOME"
  export S3COW_ENDPOINT="$S3COW_TEST_ENDPOINT" S3COW_BUCKET="$bucket"
}

# SKIP under scripts/sanitize.sh's nbdkit, which preloads the sanitizer
# runtime: there glibc's locale lock can be left held (see sanitize.sh),
# and json-c takes it (newlocale) for every document it parses, so the
# server hangs at its first credentials.  The s3cow command, not
# preloaded, parses the same answers under the sanitizers in
# test-creds-chain.sh.
creds_requires_plain_nbdkit ()
{
  if [ -n "${S3COW_TEST_PATH_FIRST:-}" ]; then
    echo "$0: SKIP: json-c hangs in nbdkit under a preloaded sanitizer" \
      "runtime (glibc's locale lock)" >&2
    exit 77
  fi
}

start_standin ()
{
  local name="$1" i pid
  shift
  rm -f "$tmpdir/$name.port"
  /usr/bin/python3 "${srcdir:-.}/aws-standin.py" \
    --port-file "$tmpdir/$name.port" --log "$tmpdir/$name.log" "$@" &
  pid=$!
  cleanup_fn _creds_stop_standin "$pid"
  for ((i = 0; i < 600; i++)); do
    [ -s "$tmpdir/$name.port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "aws-standin.py exited: $*"
    sleep 0.1
  done
  [ -s "$tmpdir/$name.port" ] || fail "aws-standin.py did not start: $*"
  standin_url="http://127.0.0.1:$(cat "$tmpdir/$name.port")"
}

# SIGTERM: the stand-in removes the keys it made from the RGW.
_creds_stop_standin ()
{
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

s3cow_ls_with ()
{
  local vars=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    vars+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  env "${vars[@]}" s3cow --debug=http "$@" ls >"$tmpdir/ls.out" 2>&1
}
