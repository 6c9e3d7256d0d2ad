#!/usr/bin/env bash
# s3cow copy of an encrypted disk:
#  - without its key the copy is refused, naming the key's fingerprint,
#    and writes nothing at the destination;
#  - with it, the destination is encrypted under the same key, reads the
#    source's data with it, holds no plaintext, and
#    its chunks have the source's addresses; fsck with the key finds the
#    destination's head, map and chunks sound;
#  - a second copy after a write reads the destination back with the key
#    and sends only the changed chunk.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
log="$tmpdir/log"
openssl rand -hex 32 >"$tmpdir/key"
keyfile=(--encryption-key-file "$tmpdir/key")
dst="$tmpdir/dst"
mkdir -p "$dst/b2"
to () { S3COW_ENDPOINT="file://$dst" S3COW_BUCKET=b2 "$@"; }

s3cow create d 1M --chunk-size 64K "${keyfile[@]}"
serve "encryption-key=+$tmpdir/key"
nbd_py '
w("d", 0, b"plaintext marker " * (3 * 65536 // 17) + bytes(3 * 65536 % 17))
w("d", 5 * 65536, pattern("five", 65536))
'
stop_nbdkit || fail "nbdkit exited with status $?"
fp="$(s3cow info d --json | /usr/bin/python3 -c '
import json, sys
print(json.load(sys.stdin)["key_fingerprint"])')"

if s3cow copy d "file://$dst/b2/d" 2>"$log"; then
  fail "copy without the key succeeded"
fi
grep -q "$fp" "$log" || fail "copy without the key: $(cat "$log")"
[ -z "$(find "$dst/b2" -type f)" ] || fail "a refused copy wrote objects"

s3cow copy d "file://$dst/b2/d" "${keyfile[@]}" >"$tmpdir/out" ||
  fail "copy with the key failed"
(cd "$dst/b2/chunks" && ls) | LC_ALL=C sort >"$tmpdir/dst-chunks"
obj_list chunks/ | sed 's|^chunks/||; s| .*||' >"$tmpdir/src-chunks"
cmp -s "$tmpdir/src-chunks" "$tmpdir/dst-chunks" ||
  fail "the destination's chunk addresses differ from the source's"
if grep -rq "plaintext marker" "$dst/b2"; then
  fail "the destination holds plaintext"
fi

# A second copy after one write: the destination's head and map are
# read back with the key, and only the changed chunk is sent.
serve "encryption-key=+$tmpdir/key"
nbd_py 'w("d", 7 * 65536, pattern("seven", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow copy d "file://$dst/b2/d" "${keyfile[@]}" >"$tmpdir/out2" ||
  fail "the second copy failed"
grep -q 'sent 1 chunks' "$tmpdir/out2" ||
  fail "the second copy: $(cat "$tmpdir/out2")"

start_nbdkit "$tmpdir/sock2" bucket=b2 endpoint="file://$dst" \
  "encryption-key=+$tmpdir/key"
nbd_py '
h = nbd.NBD()
h.set_export_name("d")
h.connect_unix(os.environ["S3COW_TEST_SOCK"] + "2")
got = h.pread(8 * 65536, 0)
h.shutdown()
want = b"plaintext marker " * (3 * 65536 // 17) + bytes(3 * 65536 % 17)
want += bytes(2 * 65536) + pattern("five", 65536)
want += bytes(65536) + pattern("seven", 65536)
if got != want:
    sys.exit("the copy reads other data than the source")
' || fail "reading the copy with the key (above)"
stop_nbdkit || fail "nbdkit exited with status $?"

to s3cow fsck d "${keyfile[@]}" \
  >"$tmpdir/fsck" 2>&1 || fail "fsck of the copy: $(cat "$tmpdir/fsck")"
to s3cow info d --json | grep -q "\"key_fingerprint\": \"$fp\"" ||
  fail "the copy is not encrypted under the source's key"

echo "$0: PASS"
