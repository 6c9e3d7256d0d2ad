#!/usr/bin/env bash
# Dedup is by content whatever the encoding: the same chunk written by
# servers with compression=zstd:1, zstd:19, lz4 and none, to two disks,
# is one object under chunks/ (named by the SHA-256 of the plain bytes),
# and both disks read it back right.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit s3cow
use_store
s3cow create a 1M --chunk-size 64K
s3cow create b 1M --chunk-size 64K

prelude='
CS = 65536
data = "".join("line %06d of the same chunk at every level\n" % i
               for i in range(CS // 40)).encode()[:CS].ljust(CS, b".")
'
key="chunks/$(S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
$prelude
print(hashlib.sha256(data).hexdigest())")"

n=0
for compression in zstd:1 zstd:19 lz4 none; do
  disk=a
  [ $((n % 2)) = 1 ] && disk=b
  serve compression="$compression"
  nbd_py "$prelude
w('$disk', $n * CS, data)
"
  stop_nbdkit || fail "nbdkit (compression=$compression) exited with status $?"
  objs="$(obj_list chunks/)"
  echo "after compression=$compression on disk $disk: $objs"
  [ "$(echo "$objs" | wc -l)" = 1 ] && [ "${objs%% *}" = "$key" ] ||
    fail "expected one chunk object, $key; got: $objs"
  n=$((n + 1))
done

serve
nbd_py "$prelude
for disk, ns in (('a', (0, 2)), ('b', (1, 3))):
    for n in ns:
        assert r(disk, n * CS, CS) == data, (disk, n)
"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck >/dev/null || fail "fsck found problems"
echo "$0: PASS"
