#!/usr/bin/env bash
# s3cow info and ls show the bytes a disk's chunks take in the bucket
# (the sizes of their objects, compressed or raw) against their logical
# bytes (chunk size times distinct chunks): a disk of two chunks of text
# (one written twice: one object) and one of noise, with the default
# compression, stores what the listing of chunks/ adds up to, less than
# its logical bytes.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit s3cow
use_store
s3cow create d 1M --chunk-size 64K
serve export=d
nbd_py '
CS = 65536
text = "".join("line %06d of text\n" % i for i in range(CS // 16)).encode()[:CS]
w("d", 0, text)
w("d", CS, text)
w("d", 2 * CS, pattern("noise", CS))
'
stop_nbdkit || fail "nbdkit exited with status $?"
stored=$(obj_list chunks/ | awk '{ s += $2 } END { print s }')
echo "chunk objects: $(obj_list chunks/ | tr '\n' ' ')"
[ "$(obj_list chunks/ | wc -l)" = 2 ] || fail "expected 2 chunk objects"
[ "$stored" -lt $((2 * 65536)) ] && [ "$stored" -gt 65536 ] ||
  fail "chunk objects take $stored bytes: not compressed?"

s3cow info d --json >"$tmpdir/info.json"
s3cow ls --json >"$tmpdir/ls.json"
/usr/bin/python3 - "$tmpdir/info.json" "$tmpdir/ls.json" "$stored" <<'PY' ||
import json, sys
info = json.load(open(sys.argv[1]))
ls = json.load(open(sys.argv[2]))
stored = int(sys.argv[3])
assert info["bytes_logical"] == 2 * 65536, info
assert info["bytes_stored"] == stored, (info, stored)
assert info["bytes_stored_unique"] == stored, info
assert info["bytes_stored_shared"] == 0 and info["chunks_missing"] == 0, info
d, = [row for row in ls if row["name"] == "d"]
assert d["bytes_logical"] == 2 * 65536 and d["bytes_stored"] == stored, d
PY
  fail "info or ls --json is wrong (above)"
s3cow info d | tee "$tmpdir/info.txt"
grep -q "^stored: *$stored (.*) for 131072 (128K) of chunks" \
  "$tmpdir/info.txt" || fail "info does not show the stored bytes"
s3cow ls | tee "$tmpdir/ls.txt"
head -n 1 "$tmpdir/ls.txt" | grep -q "USED *STORED" ||
  fail "ls shows no USED and STORED columns"
echo "$0: PASS"
