#!/usr/bin/env bash
# test-security-https.sh: HTTPS to S3 with certificate verification.  The
# test gateway serves HTTPS too when scripts/rgw-start.sh
# ran with S3COW_RGW_TLS_PORT (scripts/test.sh does): a certificate for
# 127.0.0.1 and localhost from a test CA, S3COW_TEST_CA_FILE.  SKIPs without.
#  - ca-file=CA: create a disk, write, flush, read back; a new server reads
#    it again, over https://localhost too; the plain-HTTP endpoint of the
#    same gateway sees the same objects (it is the same store);
#  - no ca-file (the system's CAs), tls-verify=true said explicitly, and
#    ca-file= of another CA made here with openssl: the server refuses to
#    start (export=) with an error naming the certificate problem, creates
#    nothing, and does not fall back to unverified TLS or to plain HTTP;
#    without export= too (the server checks the bucket when it starts);
#  - tls-verify=false (asked for): the server works without ca-file, and
#    warns once at startup, without -v;
#  - the s3cow command, if built: --ca-file works, no CA file fails.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh openssl
requires_s3
if [ -z "${S3COW_TEST_TLS_ENDPOINT:-}" ] || [ -z "${S3COW_TEST_CA_FILE:-}" ]
then
  echo "$0: SKIP: needs an HTTPS endpoint of the test server" \
    "(S3COW_TEST_TLS_ENDPOINT, S3COW_TEST_CA_FILE: scripts/rgw-start.sh" \
    "with S3COW_RGW_TLS_PORT)" >&2
  exit 77
fi
use_store s3
tls="$S3COW_TEST_TLS_ENDPOINT"
tls_localhost="${tls/127.0.0.1/localhost}"
common=(bucket="$bucket" region="${S3COW_TEST_REGION:-us-east-1}"
  access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/secret"
  chunk-size=64K cache-size=4M retry-time=5 timeout=10)
export TEST_URI="nbd+unix:///?socket=$sock"

# Another CA, made here, that did not sign the gateway's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmpdir/other-ca.key" -out "$tmpdir/other-ca.pem" -days 1 \
  -subj "/CN=s3cow other test CA" >/dev/null 2>&1 ||
  fail "openssl cannot make a CA"

# Sanity: curl agrees on who is trusted.
curl -sS -o /dev/null --cacert "$S3COW_TEST_CA_FILE" "$tls/" ||
  fail "curl cannot reach $tls with the test CA"
if curl -sS -o /dev/null --cacert "$tmpdir/other-ca.pem" "$tls/" 2>/dev/null
then
  fail "curl trusts $tls with an unrelated CA: the test cannot tell"
fi

objects ()
{
  s3curl -f "$S3COW_TEST_ENDPOINT/$bucket?list-type=2" |
    grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' || true
}

# 1. With the CA: the whole cycle.
start_nbdkit "$sock" "${common[@]}" endpoint="$tls" \
  ca-file="$S3COW_TEST_CA_FILE" export=d size=4M
nbdsh -u "$TEST_URI" -c "$(cat <<'EOF'
import sys
data = b"over https " * 30000        # 330 KB across six chunks
h.pwrite(data, 12345)
h.flush()
if h.pread(len(data), 12345) != data:
    sys.exit("read back over https differs")
EOF
)" || fail "write/flush/read over HTTPS with ca-file failed"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM"
objects | grep -qx 'disks/d/head' ||
  fail "no head in the bucket after the flush over HTTPS: $(objects)"

check_read='
import sys
data = b"over https " * 30000
if h.pread(len(data), 12345) != data:
    sys.exit("the data written over https does not read back")
'
for ep in "$tls_localhost" "$S3COW_TEST_ENDPOINT"; do
  start_nbdkit "$sock" "${common[@]}" endpoint="$ep" \
    ca-file="$S3COW_TEST_CA_FILE" export=d
  nbdsh -u "$TEST_URI" -c "$check_read" || fail "reading back via $ep failed"
  stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM"
done

# 2. Refused: nbdkit must not start, must say why, must create nothing.
before="$(objects)"
refused_start ()
{
  local what="$1" log="$tmpdir/refused.log" status=0
  shift
  timeout 60 nbdkit -f -U "$tmpdir/refused.sock" "$S3COW_PLUGIN" \
    "${common[@]}" endpoint="$tls" export=new size=1M "$@" \
    --run 'exit 0' >"$log" 2>&1 || status=$?
  [ "$status" != 0 ] ||
    fail "$what: the server started (no certificate check?): $(cat "$log")"
  [ "$status" != 124 ] || fail "$what: the server hung: $(cat "$log")"
  grep -qi 'certificate' "$log" ||
    fail "$what: the error does not name the certificate problem:" \
      "$(cat "$log")"
  echo "$0: $what: refused: $(grep -i certificate "$log" | head -n 1)"
}
refused_start "no ca-file"
refused_start "tls-verify=true, no ca-file" tls-verify=true
refused_start "ca-file of another CA" ca-file="$tmpdir/other-ca.pem"
refused_start "ca-file of another CA over localhost" \
  ca-file="$tmpdir/other-ca.pem" endpoint="$tls_localhost"

# A certificate from a trusted CA but for another host name: an openssl
# s_server on 127.0.0.1 with a certificate of the other CA for
# wrong.example; s3cow trusts that CA (ca-file=) and must still refuse.
printf 'subjectAltName=DNS:wrong.example\n' >"$tmpdir/wrong.ext"
if ! openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmpdir/wrong.key" -out "$tmpdir/wrong.csr" \
  -subj "/CN=wrong.example" >/dev/null 2>&1 ||
  ! openssl x509 -req -in "$tmpdir/wrong.csr" -CA "$tmpdir/other-ca.pem" \
    -CAkey "$tmpdir/other-ca.key" -CAcreateserial -days 1 \
    -extfile "$tmpdir/wrong.ext" -out "$tmpdir/wrong.pem" >/dev/null 2>&1
then
  fail "openssl cannot make a certificate"
fi
port=
for ((i = 0; i < 50; i++)); do
  p=$((20000 + RANDOM % 10000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    port=$p
    break
  fi
done
[ -n "$port" ] || fail "no free port for openssl s_server"
openssl s_server -quiet -www -accept "127.0.0.1:$port" \
  -cert "$tmpdir/wrong.pem" -key "$tmpdir/wrong.key" </dev/null \
  >"$tmpdir/s_server.log" 2>&1 &
s_server_pid=$!
stop_s_server ()
{
  kill "$s_server_pid" 2>/dev/null || true
}
cleanup_fn stop_s_server
for ((i = 0; i < 100; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
refused_start "a certificate for another host name" \
  ca-file="$tmpdir/other-ca.pem" endpoint="https://127.0.0.1:$port"
stop_s_server

after="$(objects)"
[ "$before" = "$after" ] ||
  fail "refused servers changed the bucket: before: $before; after: $after"

# Without export=, too: the server checks the bucket when it starts, so it
# is refused then, naming the certificate, and never serves unverified.
log="$tmpdir/noexport.log"
status=0
timeout 60 nbdkit -f -U "$tmpdir/refused.sock" "$S3COW_PLUGIN" \
  "${common[@]}" endpoint="$tls" --run 'exit 0' >"$log" 2>&1 || status=$?
[ "$status" != 0 ] ||
  fail "without export= and a CA, the server started: $(cat "$log")"
[ "$status" != 124 ] || fail "without export=: the server hung: $(cat "$log")"
grep -qi certificate "$log" ||
  fail "without export=: the error does not name the certificate: $(cat "$log")"

# 3. tls-verify=false, asked for: works without the CA, and warns once at
# startup, without -v (not an error).
log="$tmpdir/noverify.log"
start_nbdkit "$sock" "${common[@]}" endpoint="$tls" tls-verify=false \
  export=d 2>"$log"
nbdsh -u "$TEST_URI" -c "$check_read" ||
  fail "tls-verify=false: reading failed: $(cat "$log")"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM"
n="$(grep -c 'warning: endpoint .*: TLS certificate verification is OFF' \
  "$log" || true)"
[ "$n" = 1 ] ||
  fail "tls-verify=false: $n warnings without -v, expected 1: $(cat "$log")"
! grep -q 'error' "$log" ||
  fail "tls-verify=false: an error in the log: $(cat "$log")"

# 4. The s3cow command, if built.
if command -v s3cow >/dev/null 2>&1; then
  cli=(s3cow --endpoint "$tls" --bucket "$bucket"
    --access-key "$S3COW_TEST_ACCESS_KEY" --secret-key-file "$tmpdir/secret"
    --retry-time 5)
  out="$("${cli[@]}" --ca-file "$S3COW_TEST_CA_FILE" ls 2>&1)" ||
    fail "s3cow ls --ca-file failed: $out"
  case "$out" in *d*) ;; *) fail "s3cow ls --ca-file does not list d: $out" ;;
  esac
  if out="$("${cli[@]}" ls 2>&1)"; then
    fail "s3cow ls without a CA file succeeded: $out"
  fi
  case "$out" in
    *[Cc]ertificate*) ;;
    *) fail "s3cow ls without a CA file: the error does not name the" \
      "certificate: $out" ;;
  esac
  "${cli[@]}" --no-verify-tls ls >/dev/null 2>"$tmpdir/cli.err" ||
    fail "s3cow --no-verify-tls ls failed"
  grep -q 'warning: .*verification is OFF' "$tmpdir/cli.err" ||
    fail "s3cow --no-verify-tls gives no warning: $(cat "$tmpdir/cli.err")"
fi
echo "$0: OK"
