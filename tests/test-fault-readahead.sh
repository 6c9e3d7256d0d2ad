#!/usr/bin/env bash
# Read-ahead: sequential reads are served by read-ahead, and it
# never changes what a read returns or whether it fails.  With
# tests/faultproxy.py truncating and corrupting 10% of GET bodies each,
# unaligned sequential reads across chunk boundaries return every byte
# right, and read-ahead loaded chunks that reads then found.  Reads racing
# writes on another connection to the chunks just ahead (which read-ahead
# is loading) see every write.  With 10% of the chunks damaged in the
# bucket, read-ahead of them fails, yet only the reads that touch a
# damaged chunk fail (EIO, with a log line); every other read is right.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

setup_python_test s3

/usr/bin/python3 "$srcdir/faultload.py" readahead \
  --disk 32M --chunk 256K --cache 16M --read-ahead 4M --timeout 2 \
  --retry-time 30 --truncate 0.1 --corrupt 0.1 --rot 0.1 || {
  show_tail "$tmpdir/nbdkit.log" 30
  fail "read-ahead under faults, racing writes, damaged chunks (see above)"
}
