#!/usr/bin/env bash
# storage-class= and sse= (plugin) / --storage-class and --sse (s3cow)
# are sent, signed, on PUTs: the storage class on the objects written once
# (chunks, maps), not on those rewritten in place (heads, leases); the
# encryption on every PUT.  faultproxy.py logs the headers of every
# request.  RGW keeps STANDARD objects; it refuses SSE over plain HTTP,
# so for sse= the test checks what was sent and the message.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store s3
start_proxy --log-requests --log-header x-amz-storage-class \
  --log-header x-amz-server-side-encryption \
  --log-header x-amz-server-side-encryption-aws-kms-key-id \
  --log-header authorization
export S3COW_ENDPOINT="$proxy_endpoint"
log="$tmpdir/proxy.log"

# puts PATTERN: the proxy's log lines of the PUTs whose key matches.
puts ()
{
  grep -E "request: PUT /$bucket/$1 " "$log" || true
}

# The plugin with storage-class=STANDARD: create, write, flush, stop.
start_nbdkit "$sock" "${store_proxy[@]}" export=d size=1M \
  storage-class=STANDARD
nbdsh -u "$uri" -c 'h.pwrite(b"s" * 65536, 0); h.flush()'
stop_nbdkit || fail "nbdkit exited with status $?"
for what in 'chunks/[0-9a-f]+' 'disks/d/maps/[^ ]+'; do
  [ -n "$(puts "$what")" ] || fail "no PUT of $what in the log: $(cat "$log")"
  if puts "$what" | grep -v -F '[x-amz-storage-class: STANDARD]'; then
    fail "a PUT of $what without x-amz-storage-class: STANDARD"
  fi
  # Signed: in the Authorization's SignedHeaders.
  if puts "$what" | grep -v 'SignedHeaders=[^ ,]*x-amz-storage-class'; then
    fail "x-amz-storage-class is not signed on a PUT of $what"
  fi
done
for what in disks/d/head disks/d/lease; do
  [ -n "$(puts "$what")" ] || fail "no PUT of $what in the log"
  if puts "$what" | grep -F '[x-amz-storage-class: STANDARD]'; then
    fail "a PUT of $what (rewritten in place) with a storage class"
  fi
done
# And the data is there.
nbdkit -U - "$S3COW_PLUGIN" "${store_proxy[@]}" export=d -r --run '
  nbdsh -u "$uri" -c "assert h.pread(65536, 0) == b\"s\" * 65536"
' || fail "d does not read back"

# s3cow --sse aws:kms --sse-kms-key-id: sent and signed on the PUT; RGW
# refuses it, and the message says what was asked for.
: >"$log"
status=0
s3cow --sse aws:kms --sse-kms-key-id alias/s3cow-test create e 1M \
  2>"$tmpdir/err" || status=$?
[ "$status" = 1 ] || {
  cat "$tmpdir/err"
  fail "s3cow create with --sse: exit $status (RGW accepts SSE now? then check the objects)"
}
head_put="$(puts disks/e/head)"
case "$head_put" in
  *"[x-amz-server-side-encryption: aws:kms]"*"[x-amz-server-side-encryption-aws-kms-key-id: alias/s3cow-test]"*"SignedHeaders="*"x-amz-server-side-encryption;x-amz-server-side-encryption-aws-kms-key-id"*) ;;
  *) fail "the PUT of the head lacks the signed SSE headers: $head_put" ;;
esac
grep -qF "the server refused the encryption asked for (sse=aws:kms)" \
  "$tmpdir/err" || {
  cat "$tmpdir/err"
  fail "the message does not say that the encryption was refused"
}

# Bad values are refused before any request.
for bad in "--sse AES128" "--sse-kms-key-id k" "--storage-class glacier" \
  "--storage-class GLACIER"; do
  status=0
  # shellcheck disable=SC2086 # an option and its value
  s3cow $bad ls >/dev/null 2>"$tmpdir/err" || status=$?
  [ "$status" != 0 ] || fail "s3cow $bad ls succeeded"
  grep -q 'sse\|storage-class' "$tmpdir/err" || {
    cat "$tmpdir/err"
    fail "s3cow $bad: no message about the option"
  }
done
echo "$0: PASS"
