#!/usr/bin/env bash
# When temporary credentials cannot be renewed: the server keeps working
# with the current ones until their Expiration, then refuses to sign with
# them, so that a flush fails with EIO (never a false success) and says
# why; once the source answers again, the next request renews and works.
# Credentials from the container endpoint, made on the RGW, valid 20 s.
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

start_standin cont --rgw-conf "$S3COW_TEST_RGW_CONF" --lifetime 20 \
  --mint-every 100000 --fail-file "$tmpdir/fail"
expires=$(sed -n 's/.* mint [A-Z0-9]* expires \(.*\)$/\1/p' "$tmpdir/cont.log")
expires=$(date -u -d "$expires" +%s)
uri="nbd+unix:///?socket=$tmpdir/sock"

AWS_CONTAINER_CREDENTIALS_FULL_URI="$standin_url/container/credentials" \
  NBDKIT_OPTS="-v -D s3cow.http=1" \
  start_nbdkit "$tmpdir/sock" bucket="$bucket" endpoint="$S3COW_TEST_ENDPOINT" \
  export=d size=4M 2>"$tmpdir/nbdkit.log"

EXPIRES=$expires FAIL="$tmpdir/fail" nbdsh -u "$uri" -c '
import errno, os, time
import nbd
expires = int(os.environ["EXPIRES"])

h.pwrite(b"a" * 4096, 0)
h.flush()
# The source fails from now on: renewals fail, the key still works.
open(os.environ["FAIL"], "w").close()
n = 0
while time.time() < expires - 4:
    h.pwrite(b"b" * 4096, 4096)
    h.flush()
    n += 1
    time.sleep(1)
print("%d flushes while the key was valid" % n)
assert n >= 3, "too few flushes before the expiration"

# Past the Expiration: the key is not used, the flush fails with EIO.
while time.time() < expires + 1:
    time.sleep(0.2)
h.pwrite(b"c" * 4096, 8192)
try:
    h.flush()
    raise AssertionError("a flush succeeded with expired credentials")
except nbd.Error as e:
    print("flush failed: %s" % e)
    assert e.errnum == errno.EIO, "errno %s, not EIO" % e.errno

# The source answers again: the next request renews.
os.unlink(os.environ["FAIL"])
h.pwrite(b"d" * 4096, 12288)
h.flush()
assert h.pread(4096, 0) == b"a" * 4096
assert h.pread(4096, 12288) == b"d" * 4096
'
stop_nbdkit || true
grep -q "credentials from container endpoint .*(the current ones are still valid: retrying)" \
  "$tmpdir/nbdkit.log" || {
  show_tail "$tmpdir/nbdkit.log" 30
  fail "no message about the failed renewal"
}
grep -q "expired [0-9]* s ago and cannot be renewed: HTTP 500" \
  "$tmpdir/nbdkit.log" || {
  show_tail "$tmpdir/nbdkit.log" 30
  fail "no message saying the credentials expired"
}
# The stand-in revoked the key at its Expiration: a request signed with it
# after that would have been refused by the RGW as InvalidAccessKeyId.
if grep -q "InvalidAccessKeyId" "$tmpdir/nbdkit.log"; then
  fail "a request was signed with the expired key"
fi
echo ok
