#!/usr/bin/env bash
# s3cow copy across endpoints: a disk on S3 copied to the directory store,
# and from there back into another bucket on S3, reads the same data
# through the plugin at every step.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store s3
serve

s3cow create d 8M --chunk-size 64K
nbd_py '
CS = 65536
for c in range(0, 128, 3):
    w("d", c * CS, pattern("d/%d" % c, CS))
w("d", 8 * 1024 * 1024 - 4096, pattern("tail", 4096))
'

# S3 -> directory (file:///DIR/BUCKET/DISK).
mkdir -p "$tmpdir/dir/b2"
s3cow copy d "file://$tmpdir/dir/b2/copy" || fail "copy to the directory failed"

# Directory -> another bucket on S3 (its endpoint and keys given again).
back="$(new_bucket)"
s3cow --endpoint "file://$tmpdir/dir" --bucket b2 copy copy "s3://$back/back" \
  --to-endpoint "$S3COW_TEST_ENDPOINT" --to-region "$S3COW_TEST_REGION" ||
  fail "copy back to S3 failed"

start_nbdkit "$tmpdir/sock-dir" bucket=b2 endpoint="file://$tmpdir/dir"
dir_pid=$nbdkit_pid
start_nbdkit "$tmpdir/sock-back" "${store[@]/#bucket=*/bucket=$back}"
nbd_py '
def read(sock, name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(sock)
    try:
        return h.pread(h.get_size(), 0)
    finally:
        h.shutdown()
tmp = os.path.dirname(SOCK)
want = r("d", 0, 8 << 20)
if read(tmp + "/sock-dir", "copy") != want:
    sys.exit("the copy on the directory store reads other data")
if read(tmp + "/sock-back", "back") != want:
    sys.exit("the copy back on S3 reads other data")
' || fail "data differ (above)"
stop_nbdkit "$dir_pid" || fail "nbdkit (directory) exited with status $?"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
