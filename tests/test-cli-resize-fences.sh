#!/usr/bin/env bash
# A resize lands with If-Match on the head it read: a server that holds an
# older head (its lease broken by hand, so the resize went ahead) cannot
# commit over it: its next flush fails, and the disk keeps the new size
# and the data committed before.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py '
import subprocess
h = _conn("d")
h.pwrite(pattern("before", 65536), 0)
h.flush()
for cmd in (["s3cow", "unlock", "d", "--force"], ["s3cow", "resize", "d", "2M"]):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s: status %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
h.pwrite(pattern("after", 65536), 65536)
try:
    h.flush()
    sys.exit("a server commits over the resized head")
except nbd.Error:
    pass
h.shutdown()
'
stop_nbdkit || true
serve
nbd_py '
h = _conn("d")
if h.get_size() != 2 * 1024 * 1024:
    sys.exit("size after the resize: %d, expected 2M" % h.get_size())
if h.pread(2 * 65536, 0) != pattern("before", 65536) + bytes(65536):
    sys.exit("the disk does not hold what was committed before the resize")
h.shutdown()
'
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
