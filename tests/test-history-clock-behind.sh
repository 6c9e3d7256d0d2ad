#!/usr/bin/env bash
# After a takeover by a server whose clock is an hour behind, the disk's
# commit times still never go backwards: each commit is stamped no earlier
# than the one before it, so that no TIME names a commit after one that
# was stamped later than TIME.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
so="${S3COW_CLOCKSHIFT_SO:-}"
[ -f "$so" ] || { echo "$0: SKIP: no libclockshift.so"; exit 77; }
use_store

s3cow create d 1M --chunk-size 64K
serve
nbd_py 'w("d", 0, pattern("A", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

LD_PRELOAD="$so${LD_PRELOAD:+:$LD_PRELOAD}" S3COW_TIMESHIFT=-3600 serve
nbd_py 'w("d", 0, pattern("B", 65536))'
s3cow log d --json | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["commits"]
times = [x["committed_unix"] for x in c]
assert times == sorted(times), "commit times go backwards: %r" % c
' || fail "commit times went backwards across the takeover (above)"
