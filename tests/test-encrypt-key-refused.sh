#!/usr/bin/env bash
# An encrypted disk is not opened without its key, nor with another key,
# and the message names the disk's key by its fingerprint (never a key):
#  - a server without encryption-key=, and one with another key: the
#    export is refused at open (no data served) with the fingerprint;
#  - encryption-key= that is not 64 hex characters: nbdkit does not start;
#  - a disk that is not encrypted is refused with a key given;
#  - s3cow fork and snapshot of the encrypted disk without the key, or
#    with another, are refused with the fingerprint, and create nothing.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
log="$tmpdir/nbdkit.log"
openssl rand -hex 32 >"$tmpdir/key"
openssl rand -hex 32 >"$tmpdir/other"

s3cow create d 1M --chunk-size 64K --encryption-key-file "$tmpdir/key"
s3cow create plain 1M --chunk-size 64K
s3cow ls --json >"$tmpdir/ls.json"
fp="$(/usr/bin/python3 -c '
import json, sys
print({x["name"]: x for x in json.load(open(sys.argv[1]))}["d"]["key_fingerprint"])
' "$tmpdir/ls.json")"
[ -n "$fp" ] || fail "no fingerprint in ls --json"

serve "encryption-key=+$tmpdir/key"
nbd_py 'w("d", 0, pattern("secret data", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

# Refused at open: no key; another key.
for args in "" "encryption-key=+$tmpdir/other"; do
  # shellcheck disable=SC2086 # no argument, or one
  serve $args 2>"$log"
  if nbd_py 'r("d", 0, 512)' 2>/dev/null; then
    fail "the encrypted disk was served with ${args:-no key}"
  fi
  stop_nbdkit || true
  grep -q "$fp" "$log" || fail "the refusal does not name the fingerprint $fp: $(cat "$log")"
  for k in "$tmpdir/key" "$tmpdir/other"; do
    if grep -qi "$(cat "$k")" "$log"; then fail "a key is in the log"; fi
  done
done
grep -q "not with the key given" "$log" || fail "wrong key: $(cat "$log")"

# A key that is not one.
echo "0123" >"$tmpdir/short"
if nbdkit -f -U "$tmpdir/sock2" "$S3COW_PLUGIN" "${store[@]}" \
  "encryption-key=+$tmpdir/short" 2>"$log"; then
  fail "nbdkit started with a short key"
fi
grep -q "encryption-key: not a key" "$log" || fail "bad key: $(cat "$log")"

# A plain disk with a key.
serve "encryption-key=+$tmpdir/key" 2>"$log"
if nbd_py 'r("plain", 0, 512)' 2>/dev/null; then
  fail "a disk that is not encrypted was served with a key"
fi
stop_nbdkit || true
grep -q "plain is not encrypted" "$log" || fail "plain disk: $(cat "$log")"

# fork and snapshot need the key.
if s3cow fork d f 2>"$log"; then fail "fork without the key succeeded"; fi
grep -q "$fp" "$log" || fail "fork without the key: $(cat "$log")"
if s3cow snapshot d s --encryption-key-file "$tmpdir/other" 2>"$log"; then
  fail "snapshot with another key succeeded"
fi
grep -q "$fp" "$log" || fail "snapshot with another key: $(cat "$log")"
if obj_list disks/ | grep -q "disks/f/\|snaps/s"; then
  fail "a refused fork or snapshot left objects: $(obj_list disks/)"
fi
