#!/usr/bin/env bash
# The plugin takes S3COW_BUCKET, S3COW_ENDPOINT and S3COW_PREFIX from the
# environment as the s3cow command does (parameters win), and a prefix
# without a trailing '/' gets one, in both: prefix "team-a" keeps the
# objects under "team-a/", not "team-adisks/".
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store dir

# Only the environment: S3COW_BUCKET and S3COW_ENDPOINT (use_store), and
# a prefix without its '/'.
S3COW_PREFIX=team-a nbdkit -U - "$S3COW_PLUGIN" export=d size=1M --run '
  nbdsh -u "$uri" -c "h.pwrite(b\"a\" * 512, 0); h.flush()"
' || fail "the plugin did not serve with S3COW_* only"
obj_list team-a/disks/d/head | grep -q . ||
  fail "no team-a/disks/d/head: $(obj_list '')"
if obj_list team-adisks | grep -q .; then
  fail "objects under team-adisks/: the prefix got no '/'"
fi

# A parameter wins over the environment: prefix=team-b.
S3COW_PREFIX=team-a nbdkit -U - "$S3COW_PLUGIN" export=e size=1M \
  prefix=team-b --run 'nbdinfo --size "$uri" >/dev/null' ||
  fail "the plugin did not serve e with prefix=team-b"
obj_list team-b/disks/e/head | grep -q . ||
  fail "no team-b/disks/e/head: $(obj_list '')"

# s3cow finds the same disk with the same prefix, with or without '/'.
S3COW_PREFIX=team-a s3cow info d >/dev/null || fail "s3cow (team-a) has no d"
s3cow --prefix team-a/ info d >/dev/null || fail "s3cow (team-a/) has no d"
echo "$0: PASS"
