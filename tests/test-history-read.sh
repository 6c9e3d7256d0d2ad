#!/usr/bin/env bash
# DISK@TIME serves the disk as last committed at or before TIME: write A,
# flush, note the time, write B, flush; DISK@TIME reads A, DISK reads B.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("A", 65536))'
at="d@$(last_commit_time d)"
AT="$at" nbd_py '
w("d", 0, pattern("B", 65536))
w("d", 65536, pattern("B2", 65536))
at = os.environ["AT"]
assert r(at, 0, 65536) == pattern("A", 65536), "DISK@TIME does not read A"
assert r(at, 65536, 65536) == bytes(65536), "DISK@TIME reads a later write"
assert r("d", 0, 65536) == pattern("B", 65536), "the disk does not read B"
' || fail "reading the disk at a past time (above)"
