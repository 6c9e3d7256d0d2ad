#!/usr/bin/env bash
# DISK@TIME of an encrypted disk: its kept heads are authenticated as
# heads of the disk, with its key.
#  - with the key, DISK@TIME reads the old data, DISK the new;
#  - without the key, DISK@TIME is refused at open, naming the key's
#    fingerprint; so are fork and snapshot of DISK@TIME;
#  - with the key, fork and snapshot of DISK@TIME read the old data;
#  - info, diff and fsck of DISK@TIME need no key; copy of it needs the
#    key, and the copy reads the old data with it;
#  - log and gc work without the key; fsck with the key checks the kept
#    heads' MACs and finds no problem;
#  - a kept head changed in the bucket (its checksum made good again)
#    is refused with the key: its MAC does not match.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
log="$tmpdir/nbdkit.log"
openssl rand -hex 32 >"$tmpdir/key"
keyfile=(--encryption-key-file "$tmpdir/key")

s3cow create d 1M --chunk-size 64K "${keyfile[@]}"
s3cow ls --json >"$tmpdir/ls.json"
fp="$(/usr/bin/python3 -c '
import json, sys
print({x["name"]: x for x in json.load(open(sys.argv[1]))}["d"]["key_fingerprint"])
' "$tmpdir/ls.json")"

serve "encryption-key=+$tmpdir/key"
nbd_py '
import time
w("d", 0, pattern("A", 65536))
t = int(time.time())
while int(time.time()) <= t:
    time.sleep(0.05)
w("d", 0, pattern("B", 65536))
at = "d@" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
assert r(at, 0, 65536) == pattern("A", 65536), "DISK@TIME does not read A"
assert r("d", 0, 65536) == pattern("B", 65536), "the disk does not read B"
print(at)
' >"$tmpdir/at" || fail "reading the encrypted disk at a past time (above)"
stop_nbdkit || fail "nbdkit exited with status $?"
at="$(tail -n 1 "$tmpdir/at")"

# Without the key: refused at open, naming the fingerprint.
serve 2>"$log"
if nbd_py "r('$at', 0, 512)" 2>/dev/null; then
  fail "$at was served without the key"
fi
stop_nbdkit || true
grep -q "$fp" "$log" || fail "the refusal does not name $fp: $(cat "$log")"
if s3cow fork "$at" f 2>"$log"; then fail "fork of $at without the key"; fi
grep -q "$fp" "$log" || fail "fork without the key: $(cat "$log")"
if s3cow snapshot "$at" s 2>"$log"; then fail "snapshot of $at without the key"; fi
grep -q "$fp" "$log" || fail "snapshot without the key: $(cat "$log")"

# With it: fork and snapshot of the time read the old data.
s3cow fork "$at" f "${keyfile[@]}"
s3cow snapshot "$at" s "${keyfile[@]}"
serve "encryption-key=+$tmpdir/key"
nbd_py '
assert r("f", 0, 65536) == pattern("A", 65536), "the fork of the time"
assert r("d@s", 0, 65536) == pattern("A", 65536), "the snapshot of the time"
' || fail "reading the fork or snapshot of $at failed"
stop_nbdkit || fail "nbdkit exited with status $?"

# info, diff and fsck of the time need no key; copy of it does, and
# fsck with the key authenticates the head it names.
s3cow info "$at" >/dev/null || fail "info of $at without the key failed"
[ "$(s3cow diff "$at" d)" = "0 65536" ] || fail "diff of $at and d"
s3cow fsck "$at" "${keyfile[@]}" >"$tmpdir/fsck" ||
  fail "fsck of $at with the key: $(cat "$tmpdir/fsck")"
mkdir -p "$tmpdir/dst/b2"
if s3cow copy "$at" "file://$tmpdir/dst/b2/old" 2>"$log"; then
  fail "copy of $at without the key succeeded"
fi
grep -q "$fp" "$log" || fail "copy without the key: $(cat "$log")"
s3cow copy "$at" "file://$tmpdir/dst/b2/old" "${keyfile[@]}" >/dev/null ||
  fail "copy of $at with the key failed"
start_nbdkit "$tmpdir/sock2" bucket=b2 endpoint="file://$tmpdir/dst" \
  "encryption-key=+$tmpdir/key"
nbd_py '
h = nbd.NBD()
h.set_export_name("old")
h.connect_unix(os.environ["S3COW_TEST_SOCK"] + "2")
if h.pread(65536, 0) != pattern("A", 65536):
    sys.exit("the copy of the time does not read A")
h.shutdown()
' || fail "reading the copy of $at (above)"
stop_nbdkit || fail "nbdkit exited with status $?"

# No key: log and gc; with it: fsck checks the kept heads too.
s3cow log d >"$tmpdir/log" || fail "log without the key: $(cat "$tmpdir/log")"
[ "$(grep -c . "$tmpdir/log")" -ge 3 ] || fail "log: $(cat "$tmpdir/log")"
s3cow gc --grace 0 --force >/dev/null || fail "gc without the key failed"
s3cow fsck d "${keyfile[@]}" >"$tmpdir/fsck" ||
  fail "fsck with the key: $(cat "$tmpdir/fsck")"

# A kept head changed (its committed time), its checksum made good.
kept="$(obj_list disks/d/history/ | awk 'NR == 1 { print $1 }')"
[ -n "$kept" ] || fail "no kept head"
obj_get "$kept" "$tmpdir/kept"
/usr/bin/python3 - "$tmpdir/kept" <<'PY'
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[48] ^= 1  # committed
b[-32:] = hashlib.sha256(bytes(b[:-32])).digest()
open(sys.argv[1], "wb").write(bytes(b))
PY
obj_put "$kept" "$tmpdir/kept"
if s3cow fsck d "${keyfile[@]}" >"$tmpdir/fsck" 2>"$log"; then
  fail "fsck with the key passed a changed kept head"
fi
grep -q "corrupt kept head $kept" "$tmpdir/fsck" ||
  fail "fsck: $(cat "$tmpdir/fsck") $(cat "$log")"
grep -q "MAC does not match" "$log" || fail "fsck: $(cat "$log")"
echo "$0: PASS"
