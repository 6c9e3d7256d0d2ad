#!/usr/bin/env bash
# A bucket in another region than the one requests are signed for: the
# server answers 400 AuthorizationHeaderMalformed naming the bucket's
# region (faultproxy.py --bucket-region plays AWS; RGW ignores regions).
# Without a region given, the plugin and s3cow switch to the bucket's
# region by themselves (a debug line says so) and work; with region=
# (--region) given, they refuse at start with one line naming the
# bucket's region.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store s3
start_proxy --bucket-region eu-west-3
unset AWS_REGION AWS_DEFAULT_REGION
export S3COW_ENDPOINT="$proxy_endpoint"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
noregion=()
for a in "${store_proxy[@]}"; do
  case "$a" in region=*) ;; *) noregion+=("$a") ;; esac
done

# s3cow without a region: it finds the bucket's and uses it.
s3cow --debug=http create d 1M 2>"$tmpdir/create.log" || {
  cat "$tmpdir/create.log"
  fail "s3cow create without a region failed"
}
grep -q "bucket $bucket is in region eu-west-3, not us-east-1: using eu-west-3" \
  "$tmpdir/create.log" || {
  cat "$tmpdir/create.log"
  fail "no debug line about the switch to eu-west-3"
}

# s3cow --region us-east-1: refused, naming the bucket's region.
want="bucket $bucket is in region eu-west-3, not us-east-1: give region=eu-west-3"
status=0
s3cow --region us-east-1 ls >"$tmpdir/out" 2>&1 || status=$?
[ "$status" = 1 ] || fail "s3cow --region us-east-1 ls: exit $status, not 1"
grep -qF "$want" "$tmpdir/out" || {
  cat "$tmpdir/out"
  fail "s3cow --region us-east-1: the message does not say: $want"
}

# The plugin without region=: serves d (written and read back).
status=0
nbdkit -U - "$S3COW_PLUGIN" "${noregion[@]}" export=d --run '
  nbdsh -u "$uri" -c "h.pwrite(b\"x\" * 512, 4096); assert h.pread(512, 4096) == b\"x\" * 512"
' >"$tmpdir/plugin.out" 2>&1 || status=$?
[ "$status" = 0 ] || {
  cat "$tmpdir/plugin.out"
  fail "the plugin without region= did not serve d (exit $status)"
}

# The plugin with region=us-east-1: refuses to start, with the message.
status=0
nbdkit -U - "$S3COW_PLUGIN" "${noregion[@]}" region=us-east-1 export=d \
  --run 'echo SERVING' >"$tmpdir/plugin.out" 2>&1 || status=$?
if [ "$status" = 0 ] || grep -q SERVING "$tmpdir/plugin.out"; then
  cat "$tmpdir/plugin.out"
  fail "the plugin with region=us-east-1 started"
fi
grep -qF "$want" "$tmpdir/plugin.out" || {
  cat "$tmpdir/plugin.out"
  fail "the plugin with region=us-east-1: the message does not say: $want"
}
echo "$0: PASS"
