#!/usr/bin/env bash
# Fault injection: GET bodies truncated (Content-Length kept,
# body cut) or corrupted (one bit flipped) by tests/faultproxy.py, 15% of
# each, are detected (length, ETag MD5 and SHA-256 checks), retried, and
# never reach the client: a 16 MiB disk is read 4 times through an 8M
# cache (every read goes to S3) and every byte is right.  Then a server
# with a cache that holds the whole disk loads every chunk once through
# the faults and reads it twice more from memory with the faults off:
# still right, so nothing bad was cached.  Last, 20% of the chunks get
# the same bit flipped in every GET, as if damaged in the bucket while
# their ETags still claim the good content: reading them fails with EIO
# and a log line naming the chunk, every time; the others read right.
# (20%, not 10%: which chunks rot depends on the seed, new each run, and
# at 10% none of the 64 did in one run in 850 (0.9^64), failing the test;
# at 20% in one in 1.6 million.)
source "${srcdir:-.}/functions.sh"
set -euo pipefail

setup_python_test s3

/usr/bin/python3 "$srcdir/faultload.py" corrupt \
  --disk 16M --chunk 256K --cache 8M --timeout 2 --retry-time 30 \
  --passes 2 --truncate 0.15 --corrupt 0.15 --rot 0.2 || {
  show_tail "$tmpdir/nbdkit.log" 30
  fail "truncated and corrupted GET bodies (see above)"
}
