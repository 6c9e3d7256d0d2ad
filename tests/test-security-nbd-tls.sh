#!/usr/bin/env bash
# test-security-nbd-tls.sh: NBD over TLS.
#  - nbdkit --tls=require --tls-psk=FILE serves an s3cow disk (TLS is
#    between the client and nbdkit, whatever the store);
#  - libnbd connects with the PSK (nbds+unix://alice@/?tls-psk-file=...),
#    writes, flushes and reads back; a second TLS connection sees the data;
#  - refused: a plain-text client (nbd+unix://), a plain-text export
#    listing, a client with the right user name but a wrong key, and a
#    client with an unknown user name; none of them reads a byte.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh nbdinfo od
use_store

# PSK files: "username:hex key" per line (nbdkit-tls(1)).
key="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
wrong="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
printf 'alice:%s\n' "$key" >"$tmpdir/server.psk"
printf 'alice:%s\n' "$key" >"$tmpdir/alice.psk"
printf 'alice:%s\n' "$wrong" >"$tmpdir/wrong.psk"
printf 'mallory:%s\n' "$key" >"$tmpdir/mallory.psk"
chmod 600 "$tmpdir"/*.psk

log="$tmpdir/nbdkit.log"
NBDKIT_OPTS="--tls=require --tls-psk=$tmpdir/server.psk" \
  serve export=disk size=4M chunk-size=64K \
  cache-size=4M 2> >(tee "$log" >&2)

tls_uri ()
{
  echo "nbds+unix://$1@/?socket=$sock&tls-psk-file=$2"
}

# nbdsh connected to URI (which may name a local PSK file: libnbd wants
# that allowed explicitly), then running the other arguments.
nbdsh_uri ()
{
  local uri="$1"
  shift
  nbdsh -c "h.set_uri_allow_local_file(True)" -c "h.connect_uri('$uri')" "$@"
}

# 1. The right key: write, flush, read back; a new connection sees it.
export TEST_URI2
TEST_URI2="$(tls_uri alice "$tmpdir/alice.psk")"
nbdsh_uri "$(tls_uri alice "$tmpdir/alice.psk")" -c "$(cat <<'EOF'
import os, sys
if not h.get_tls_negotiated():
    sys.exit("TLS was not negotiated")
data = bytes(range(256)) * 1024          # 256 KiB across 4 chunks
h.pwrite(data, 65536 + 100)
h.flush()
if h.pread(len(data), 65536 + 100) != data:
    sys.exit("read back differs on the TLS connection")
h2 = nbd.NBD()
h2.set_tls(nbd.TLS_REQUIRE)
h2.set_uri_allow_local_file(True)
h2.connect_uri(os.environ["TEST_URI2"])
if h2.pread(len(data), 65536 + 100) != data:
    sys.exit("a second TLS connection reads other data")
h2.shutdown()
EOF
)" || fail "write/read over TLS with the PSK failed"

# 2. Refused clients.  Each must fail to connect at all (not just fail a
# read), and must not see the data.
refused ()
{
  local what="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    fail "$what: was served: $out"
  fi
  case "$out" in
    *READ-OK*) fail "$what: read data: $out" ;;
  esac
  echo "$0: $what: refused: $(echo "$out" | head -n 2 | tr '\n' ' ')"
  refused_out="$out"
}

# The probe prints READ-OK only if it could read.
probe='h.pread(512, 65536); print("READ-OK")'
refused "plain-text client" \
  nbdsh -u "nbd+unix:///disk?socket=$sock" -c "$probe"
# ... with a message saying why.
case "$refused_out" in
  *"requires TLS"*) ;;
  *) fail "the plain-text client's error does not say TLS is required:" \
    "$refused_out" ;;
esac
refused "plain-text client without an export name" \
  nbdsh -u "nbd+unix:///?socket=$sock" -c "$probe"
refused "plain-text export listing" \
  nbdinfo --list "nbd+unix:///?socket=$sock"
# libnbd with tls=allow falls back to plain text when the server has no
# TLS; here the server insists, so even that client is refused.
refused "client with TLS allowed but no key" \
  nbdsh -c "h.set_tls(nbd.TLS_ALLOW)" \
  -c "h.connect_unix('$sock')" -c "$probe"
refused "client with a wrong key" \
  nbdsh_uri "$(tls_uri alice "$tmpdir/wrong.psk")" -c "$probe"
refused "client with an unknown user name" \
  nbdsh_uri "$(tls_uri mallory "$tmpdir/mallory.psk")" \
  -c "$probe"

# 3. The server is still fine after the refused clients.
nbdsh_uri "$(tls_uri alice "$tmpdir/alice.psk")" -c "$(cat <<'EOF'
import sys
data = bytes(range(256)) * 1024
if h.pread(len(data), 65536 + 100) != data:
    sys.exit("data changed after the refused clients")
EOF
)" || fail "TLS client failed after the refused ones"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM"
echo "$0: OK"
