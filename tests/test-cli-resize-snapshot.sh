#!/usr/bin/env bash
# Resizing a disk leaves its snapshots alone: after a grow and a shrink of
# the disk, its snapshot keeps its size and data.  A snapshot itself
# cannot be resized (the message says to fork it).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("v1", 1024 * 1024))'
s3cow snapshot d s

status=0
s3cow resize d@s 2M 2>"$tmpdir/err" || status=$?
[ "$status" = 2 ] || fail "resize of a snapshot: status $status, expected 2"
grep -q "fork" "$tmpdir/err" || fail "resize of a snapshot said: $(cat "$tmpdir/err")"

wait_released d
s3cow resize d 2M
s3cow resize d 200K --shrink
s3cow resize d 3M
nbd_py '
h = _conn("d@s")
if h.get_size() != 1024 * 1024:
    sys.exit("the snapshot size changed to %d" % h.get_size())
if h.pread(1024 * 1024, 0) != pattern("v1", 1024 * 1024):
    sys.exit("the snapshot data changed")
h.shutdown()
if r("d", 0, 3 * 1024 * 1024) != pattern("v1", 1024 * 1024)[:200 * 1024] + bytes(3 * 1024 * 1024 - 200 * 1024):
    sys.exit("the disk does not read as shrunk and grown")
'
size="$(s3cow info d@s --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["size"])')"
[ "$size" = 1048576 ] || fail "s3cow info d@s: size $size"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
