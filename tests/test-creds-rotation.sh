#!/usr/bin/env bash
# Temporary credentials from instance metadata (IMDSv2), rotated under a
# server that keeps writing and flushing: keys live 24 s, a new one is made
# every 8 s and each is removed from the RGW at its Expiration, and once a
# key is revoked early (S3 answers InvalidAccessKeyId: one renewal, one
# retry).  No write or flush fails, the server renews in the background
# before each key expires, and the data reads back from S3 through a
# fresh server.
source "${srcdir:-.}/functions.sh"
source "${srcdir:-.}/creds-functions.sh"
set -euo pipefail

requires nbdkit nbdsh radosgw-admin
creds_setup
creds_requires_plain_nbdkit
[ -n "${S3COW_TEST_RGW_CONF:-}" ] || {
  echo "$0: SKIP: needs S3COW_TEST_RGW_CONF (scripts/rgw-start.sh)" >&2
  exit 77
}

start_standin imds --rgw-conf "$S3COW_TEST_RGW_CONF" --lifetime 24 \
  --mint-every 8
uri="nbd+unix:///?socket=$tmpdir/sock"
args=(bucket="$bucket" endpoint="$S3COW_TEST_ENDPOINT" export=d
  chunk-size=256K cache-size=16M commit-interval=1)

AWS_EC2_METADATA_DISABLED= AWS_EC2_METADATA_SERVICE_ENDPOINT="$standin_url" \
  NBDKIT_OPTS="-v -D s3cow.http=1" \
  start_nbdkit "$tmpdir/sock" "${args[@]}" size=16M 2>"$tmpdir/nbdkit.log"

STANDIN="$standin_url" MODEL="$tmpdir/model" nbdsh -u "$uri" -c '
import os, random, time, urllib.request
random.seed(7)
size = 16 * 1024 * 1024
model = bytearray(size)
start = time.monotonic()
rotated = False
n = 0
while time.monotonic() - start < 80:
    off = random.randrange(0, size - 65536, 4096)
    data = random.randbytes(65536)
    h.pwrite(data, off)
    model[off:off + 65536] = data
    n += 1
    if n % 8 == 0:
        h.flush()
    if not rotated and time.monotonic() - start > 40:
        # Revoke the key in use now, before its Expiration.
        urllib.request.urlopen(urllib.request.Request(
            os.environ["STANDIN"] + "/control/rotate", data=b"",
            method="POST"), timeout=60).read()
        rotated = True
        h.pwrite(b"r" * 4096, 0)
        model[0:4096] = b"r" * 4096
        h.flush()
    time.sleep(0.15)
h.flush()
print("%d writes" % n)
open(os.environ["MODEL"], "wb").write(model)
'
stop_nbdkit || fail "nbdkit exited with status $?"

revoked=$(grep -c " revoke " "$tmpdir/imds.log" || true)
keys=$(grep -c "credentials: from instance metadata .*: new keys" \
  "$tmpdir/nbdkit.log" || true)
echo "keys revoked: $revoked, keys used by the server: $keys"
[ "$revoked" -ge 3 ] || fail "only $revoked keys were revoked during the run"
[ "$keys" -ge 3 ] || fail "the server used only $keys keys"
grep -q "S3 rejected the keys from instance metadata" "$tmpdir/nbdkit.log" ||
  { show_tail "$tmpdir/nbdkit.log" 40; fail "no renewal after the early revocation"; }
if grep -i "error" "$tmpdir/nbdkit.log"; then
  fail "the server logged errors"
fi
grep -q "IMDSv1\|bad ttl" "$tmpdir/imds.log" &&
  fail "an instance metadata request came without a token"

# The data, from S3, by a server with the test's own keys.
echo -n "$S3COW_TEST_SECRET_KEY" >"$tmpdir/secret"
start_nbdkit "$tmpdir/sock" "${args[@]}" access-key="$S3COW_TEST_ACCESS_KEY" \
  secret-key=+"$tmpdir/secret" 2>"$tmpdir/nbdkit2.log"
MODEL="$tmpdir/model" nbdsh -u "$uri" -c '
import os
model = open(os.environ["MODEL"], "rb").read()
for off in range(0, len(model), 1 << 20):
    assert h.pread(1 << 20, off) == model[off:off + (1 << 20)], "bad data at %d" % off
'
stop_nbdkit || fail "nbdkit exited with status $?"
echo ok
