#!/usr/bin/env bash
# test-security-secrets.sh: no secret in any log or error.
#
# Every request goes through a small recording TCP proxy in front of the
# test gateway, which notes the Signature= value of every Authorization
# header and every x-amz-security-token it forwards.  With all debug flags
# on (nbdkit -v -D s3cow.http=1 -D s3cow.cache=1 -D s3cow.commit=1
# -D s3cow.lease=1, s3cow --debug), a full workload runs:
#  - create a disk, write, flush, read; stop; restart, read back, write,
#    flush, stop (lease taken, renewed and released; stats= written);
#  - the same with a session token (session-token=+FILE: RGW ignores it
#    for a plain user, so it is really sent);
#  - failing attempts: a wrong secret key, a wrong access key, a wrong
#    session token with a wrong key, and a server of every disk whose
#    keys are wrong;
#  - the s3cow command (if built): ls, info, fsck with --debug, and a
#    failing ls with a wrong secret key.
# Then every byte written to stdout, stderr, the stats file and the
# command's output is searched for the access key, the secret key, the
# wrong keys, the session token, and every signature the proxy saw.
#
# Credentials are given the ways that keep them off the command line
# (environment, +FILE).  nbdkit -v itself prints every plugin parameter
# ("config key=secret-key, value=..."): a secret given literally on the
# command line is in that line (and in ps).  The last step checks that
# this line of nbdkit's is the only place where it shows up.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh /usr/bin/python3
use_store s3
logs="$tmpdir/logs"
mkdir "$logs"
export TEST_URI="nbd+unix:///?socket=$sock"

access_key="$S3COW_TEST_ACCESS_KEY"
secret_key="$S3COW_TEST_SECRET_KEY"
token="SOMETHINGSECRET$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
wrong_secret="wrongSecret$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
wrong_access="AKIAWRONG$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' |
  tr a-f A-F)"
literal_secret="literalSecret$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$secret_key" >"$tmpdir/secret"
printf '%s' "$wrong_secret" >"$tmpdir/wrong-secret"
printf '%s' "$token" >"$tmpdir/token"
chmod 600 "$tmpdir/secret" "$tmpdir/wrong-secret" "$tmpdir/token"

# ---- The recording proxy ---------------------------------------------------

cat >"$tmpdir/proxy.py" <<'EOF'
import re, socket, sys, threading
target_host, target_port = sys.argv[1], int(sys.argv[2])
portfile, outfile = sys.argv[3], sys.argv[4]
pat = re.compile(rb"(?i)(?:authorization:[^\r\n]*signature=([0-9a-f]{16,})"
                 rb"|x-amz-security-token: *([^\r\n]+))")
lock = threading.Lock()
seen = set()
out = open(outfile, "a")

def note(v):
    with lock:
        if v not in seen:
            seen.add(v)
            out.write(v + "\n")
            out.flush()

def pump(src, dst, sniff):
    tail = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if sniff:
                buf = tail + data
                for m in pat.finditer(buf):
                    note((m.group(1) or m.group(2)).decode("latin-1"))
                tail = buf[-4096:]
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def serve(c):
    try:
        u = socket.create_connection((target_host, target_port))
    except OSError:
        c.close()
        return
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = ls.accept()
    serve(c)
EOF
hostport="${S3COW_TEST_ENDPOINT#http://}"
hostport="${hostport%/}"
case "$S3COW_TEST_ENDPOINT" in
  http://*) ;;
  *) echo "$0: SKIP: needs a plain-HTTP endpoint to record" >&2; exit 77 ;;
esac
/usr/bin/python3 "$tmpdir/proxy.py" "${hostport%:*}" "${hostport##*:}" \
  "$tmpdir/proxy.port" "$tmpdir/sent-secrets" &
proxy_pid=$!
stop_proxy ()
{
  kill "$proxy_pid" 2>/dev/null || true
}
cleanup_fn stop_proxy
for ((i = 0; i < 100; i++)); do
  [ -s "$tmpdir/proxy.port" ] && break
  sleep 0.1
done
[ -s "$tmpdir/proxy.port" ] || fail "the recording proxy did not start"
endpoint="http://127.0.0.1:$(cat "$tmpdir/proxy.port")"

# ---- The workload ------------------------------------------------------------

export NBDKIT_OPTS="-v -D s3cow.http=1 -D s3cow.cache=1 -D s3cow.commit=1 -D s3cow.lease=1"
common=(bucket="$bucket" endpoint="$endpoint"
  region="${S3COW_TEST_REGION:-us-east-1}" chunk-size=64K cache-size=4M
  retry-time=5 lease=3 commit-interval=1 stats="$tmpdir/stats")
n=0
# run_nbdkit NAME ARG...: start_nbdkit with stdout and stderr in a log.
run_nbdkit ()
{
  local name="$1"
  shift
  n=$((n + 1))
  start_nbdkit "$sock" "${common[@]}" "$@" \
    >"$logs/$n-$name.out" 2>"$logs/$n-$name.err"
}
# must_fail NAME ENV... -- ARG...: nbdkit must refuse to start.
must_fail ()
{
  local name="$1" status=0 env=()
  shift
  while [ "$1" != -- ]; do
    env+=("$1")
    shift
  done
  shift
  n=$((n + 1))
  # shellcheck disable=SC2086 # NBDKIT_OPTS is a list of options
  env "${env[@]}" timeout 60 nbdkit $NBDKIT_OPTS -f -U "$tmpdir/fail.sock" \
    "$S3COW_PLUGIN" "${common[@]}" "$@" --run 'exit 0' \
    >"$logs/$n-$name.out" 2>"$logs/$n-$name.err" || status=$?
  [ "$status" != 0 ] || fail "$name: nbdkit started"
  [ "$status" != 124 ] || fail "$name: nbdkit hung"
  grep -q 'error' "$logs/$n-$name.err" ||
    fail "$name: no error message: $(cat "$logs/$n-$name.err")"
  echo "$0: $name: refused: $(grep error "$logs/$n-$name.err" | head -n 1)"
}
nbd ()
{
  nbdsh -u "$TEST_URI" -c "$1" >>"$logs/nbdsh.out" 2>>"$logs/nbdsh.err" ||
    fail "nbdsh failed: $(tail -n 5 "$logs/nbdsh.err")"
}

export AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE \
  AWS_ENDPOINT_URL

# 1. Create, write, flush, read; restart and read back, write, flush.
run_nbdkit create export=d size=4M
nbd '
import random, sys
data = random.Random(1).randbytes(300000)
h.pwrite(data, 1000)
h.flush()
if h.pread(len(data), 1000) != data:
    sys.exit("read back differs")
'
sleep 1.5            # a background commit and a lease renewal (lease=3)
stop_nbdkit || fail "nbdkit exited with status $?"
run_nbdkit restart export=d
nbd '
import random, sys
data = random.Random(1).randbytes(300000)
if h.pread(len(data), 1000) != data:
    sys.exit("data lost over a restart")
h.pwrite(b"again" * 1000, 2000000)
h.flush()
'
stop_nbdkit || fail "nbdkit exited with status $?"

# 2. With a session token, from a file.
run_nbdkit token export=d session-token=+"$tmpdir/token"
nbd 'h.pwrite(b"token" * 100, 0); h.flush(); h.pread(512, 0)'
stop_nbdkit || fail "nbdkit exited with status $?"
grep -qxF "$token" "$tmpdir/sent-secrets" ||
  fail "the session token was never sent: the test checks nothing"

# 3. Failing attempts.
must_fail wrong-secret AWS_SECRET_ACCESS_KEY="$wrong_secret" -- export=d
must_fail wrong-access AWS_ACCESS_KEY_ID="$wrong_access" -- export=d
must_fail wrong-token-and-secret AWS_SECRET_ACCESS_KEY="$wrong_secret" -- \
  export=d session-token=+"$tmpdir/token"
# A server with wrong keys and no export=: it checks the bucket at start.
must_fail no-export-wrong-secret AWS_SECRET_ACCESS_KEY="$wrong_secret" --

# 4. The s3cow command.
if command -v s3cow >/dev/null 2>&1; then
  cli=(s3cow --debug --endpoint "$endpoint" --bucket "$bucket"
    --region "${S3COW_TEST_REGION:-us-east-1}" --retry-time 5)
  for c in "ls" "info d" "fsck d" "ls --json"; do
    n=$((n + 1))
    # shellcheck disable=SC2086 # c is a command and its operands
    "${cli[@]}" $c >"$logs/$n-cli.out" 2>"$logs/$n-cli.err" ||
      fail "s3cow $c failed: $(tail -n 5 "$logs/$n-cli.err")"
  done
  n=$((n + 1))
  "${cli[@]}" --secret-key-file "$tmpdir/secret" \
    --access-key "$access_key" ls >"$logs/$n-cli.out" 2>"$logs/$n-cli.err" ||
    fail "s3cow --secret-key-file ls failed: $(cat "$logs/$n-cli.err")"
  n=$((n + 1))
  if AWS_SECRET_ACCESS_KEY="$wrong_secret" "${cli[@]}" ls \
    >"$logs/$n-cli.out" 2>"$logs/$n-cli.err"; then
    fail "s3cow ls with a wrong secret key succeeded"
  fi
  n=$((n + 1))
  if "${cli[@]}" --secret-key-file "$tmpdir/wrong-secret" \
    --access-key "$wrong_access" ls >"$logs/$n-cli.out" \
    2>"$logs/$n-cli.err"; then
    fail "s3cow ls with wrong keys succeeded"
  fi
else
  echo "$0: the s3cow command is not built: not tested"
fi

# ---- The search ----------------------------------------------------------------

cp "$tmpdir/stats" "$logs/stats" 2>/dev/null || true
nsig="$(grep -cv -xF "$token" "$tmpdir/sent-secrets" || true)"
[ "$nsig" -ge 20 ] ||
  fail "the proxy saw only $nsig signatures: the test checks too little"
grep -q 'PUT s3://' "$logs"/*-create.err ||
  fail "the http debug flag printed nothing: $(head -n 30 "$logs"/*-create.err)"
for f in cache commit lease; do
  grep -qi "$f" "$logs"/*-create.err || fail "no $f debug line"
done

{
  printf '%s\n' "$access_key" "$secret_key" "$token" "$wrong_secret" \
    "$wrong_access"
  cat "$tmpdir/sent-secrets"
} >"$tmpdir/needles"
# Also what would give the signature away: its parts and the header.
printf '%s\n' 'Signature=' 'Credential=' 'AWS4-HMAC-SHA256' \
  'x-amz-security-token' >>"$tmpdir/needles"
if grep -rnF -i -f "$tmpdir/needles" "$logs" >"$tmpdir/found"; then
  fail "secrets in the logs ($(wc -l <"$tmpdir/found") lines):" \
    "$(head -n 10 "$tmpdir/found")"
fi
echo "$0: searched $(cat "$logs"/* | wc -c) bytes of $(find "$logs" -type f | wc -l)" \
  "logs for $(wc -l <"$tmpdir/needles") secrets ($nsig signatures): none"

# 5. Literal secrets on the command line: only nbdkit's own "config key="
# line may show them.
must_fail literal-secret AWS_SECRET_ACCESS_KEY= AWS_ACCESS_KEY_ID= -- \
  export=d access-key="$wrong_access" secret-key="$literal_secret"
if grep -F "$literal_secret" "$logs/$n-literal-secret.err" |
  grep -v "config key=secret-key, value=$literal_secret\$" |
  grep -q .; then
  fail "a literal secret key is logged outside nbdkit's config line:" \
    "$(grep -F "$literal_secret" "$logs/$n-literal-secret.err")"
fi
if grep -F "$wrong_access" "$logs/$n-literal-secret.err" |
  grep -v "config key=access-key, value=$wrong_access\$" | grep -q .; then
  fail "a literal access key is logged outside nbdkit's config line:" \
    "$(grep -F "$wrong_access" "$logs/$n-literal-secret.err")"
fi
[ -z "${KEEP_LOGS:-}" ] || cp -r "$logs" "$KEEP_LOGS"
echo "$0: OK"
