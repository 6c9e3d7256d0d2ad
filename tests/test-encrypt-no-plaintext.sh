#!/usr/bin/env bash
# An encrypted disk leaves no plaintext in the bucket: a server creating
# the disk (size= and encryption-key=) writes a recognizable pattern; no
# object holds the pattern, nor the SHA-256 of any chunk written (as a
# key or as bytes), and the chunk objects are framed and sealed; ls shows
# the disk as encrypted, with its key's fingerprint and never the key.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
export TEST_DIR="$tmpdir"
openssl rand -hex 32 >"$tmpdir/key"

serve export=d size=1M chunk-size=64K encryption-key=+"$tmpdir/key"
nbdsh -u "$uri" -c "$(cat <<'PY'
import hashlib, os
CS = 65536
d = os.environ["TEST_DIR"]
marker = b"S3COW-PLAINTEXT-MARKER-0123456789"
data = b""
for c in range(4):
    unit = marker + b"%04d" % c
    data += (unit + b"." * (64 - len(unit))) * (CS // 64)
h.pwrite(data, 0)
h.flush()
with open(d + "/sums", "w") as f:
    for c in range(4):
        f.write(hashlib.sha256(data[c * CS:(c + 1) * CS]).hexdigest() + "\n")
PY
)" || fail "writing failed"
stop_nbdkit || fail "nbdkit exited with status $?"

n="$(obj_list chunks/ | wc -l)"
[ "$n" -eq 4 ] || fail "chunks/ holds $n objects, expected 4"
if grep -r -a -l "S3COW-PLAINTEXT-MARKER" "$store_root"; then
  fail "the plaintext is in the bucket (above)"
fi
while read -r sum; do
  if grep -r -l "$sum" "$store_root" || find "$store_root" -name "*$sum*" |
    grep .; then
    fail "the bucket names the plaintext's SHA-256 $sum (above)"
  fi
  # The binary hash, anywhere (a map entry).
  if /usr/bin/python3 - "$store_root" "$sum" <<'PY'; then
import os, sys
needle = bytes.fromhex(sys.argv[2])
for dirpath, _, files in os.walk(sys.argv[1]):
    for f in files:
        if needle in open(os.path.join(dirpath, f), "rb").read():
            print(os.path.join(dirpath, f))
            sys.exit(0)
sys.exit(1)
PY
    fail "the bucket holds the plaintext's SHA-256 $sum as bytes (above)"
  fi
done <"$tmpdir/sums"

# Every chunk object is a frame with the encrypted flag.
obj_list chunks/ | while read -r k _; do
  obj_get "$k" "$tmpdir/obj"
  /usr/bin/python3 - "$tmpdir/obj" <<'PY' || fail "$k is not an encrypted frame"
import sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"s3cowCK\0", b[:8]
assert int.from_bytes(b[10:12], "little") & 1, b[:32].hex()
PY
done

s3cow ls --json >"$tmpdir/ls.json"
key="$(cat "$tmpdir/key")"
if grep -qi "$key" "$tmpdir/ls.json"; then fail "ls prints the key"; fi
/usr/bin/python3 - "$tmpdir/ls.json" <<'PY' || fail "ls --json: the disk is not shown encrypted"
import json, re, sys
d = {x["name"]: x for x in json.load(open(sys.argv[1]))}["d"]
assert d["encrypted"] is True, d
assert re.fullmatch("[0-9a-f]{32}", d["key_fingerprint"]), d
PY
