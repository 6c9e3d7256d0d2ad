#!/usr/bin/env bash
# Without endpoint= (or --endpoint, S3COW_ENDPOINT), the plugin and the
# s3cow command take the endpoint as the AWS SDKs do: AWS_ENDPOINT_URL_S3,
# then AWS_ENDPOINT_URL, then endpoint_url in the profile of
# ~/.aws/config (AWS_CONFIG_FILE, AWS_PROFILE).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store dir
unset S3COW_ENDPOINT AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
mkdir -p "$tmpdir/other/$bucket"
cat >"$tmpdir/config" <<CONF
[default]
endpoint_url = file://$store_root

[profile elsewhere]
endpoint_url = file://$tmpdir/other
CONF
export AWS_CONFIG_FILE="$tmpdir/config"
: >"$tmpdir/credentials" # none: a directory store needs no keys
export AWS_SHARED_CREDENTIALS_FILE="$tmpdir/credentials"

# The plugin: the default profile's endpoint_url.
nbdkit -U - "$S3COW_PLUGIN" bucket="$bucket" export=d size=1M --run '
  nbdsh -u "$uri" -c "h.pwrite(b\"p\" * 512, 0); h.flush()"
' || fail "the plugin did not serve with the profile's endpoint_url"
obj_list disks/d/head | grep -q . ||
  fail "no disks/d/head in the profile's endpoint: $(obj_list '')"

# The s3cow command finds it there too, and the profile chosen wins.
s3cow info d >/dev/null || fail "s3cow does not find d at endpoint_url"
if AWS_PROFILE=elsewhere s3cow info d >/dev/null 2>&1; then
  fail "AWS_PROFILE=elsewhere: d found, not the profile's endpoint_url"
fi
AWS_PROFILE=elsewhere s3cow create e 1M || fail "create e elsewhere"
[ -e "$tmpdir/other/$bucket/disks/e/head" ] ||
  fail "e was not created at the elsewhere profile's endpoint_url"

# The environment wins over the profile: AWS_ENDPOINT_URL_S3, then
# AWS_ENDPOINT_URL; a parameter over both.
AWS_ENDPOINT_URL_S3="file://$tmpdir/other" s3cow info e >/dev/null ||
  fail "AWS_ENDPOINT_URL_S3 does not win over endpoint_url"
AWS_ENDPOINT_URL="file://$tmpdir/other" s3cow info e >/dev/null ||
  fail "AWS_ENDPOINT_URL does not win over endpoint_url"
AWS_ENDPOINT_URL_S3="file://$tmpdir/other" AWS_ENDPOINT_URL="file://$store_root" \
  s3cow info e >/dev/null ||
  fail "AWS_ENDPOINT_URL_S3 does not win over AWS_ENDPOINT_URL"
AWS_ENDPOINT_URL="file://$tmpdir/other" s3cow --endpoint "file://$store_root" \
  info d >/dev/null || fail "--endpoint does not win over AWS_ENDPOINT_URL"
echo "$0: PASS"
