#!/usr/bin/env bash
# SIGKILL the server at random moments of a write/trim/flush loop, 20 times
# (CRASH_ITERATIONS): after each restart the disk holds the state of the
# last acknowledged flush or a later one, with no torn block, and s3cow
# fsck is clean (crash.py).  Longer: scripts/crash-long.sh.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit curl s3cow /usr/bin/python3
/usr/bin/python3 -c 'import nbd' 2>/dev/null || {
  echo "$0: SKIP: needs python3-libnbd"
  exit 77
}
requires_s3
make_tmpdir
export tmpdir
bucket=$(new_bucket)
export bucket
echo -n "$S3COW_TEST_SECRET_KEY" >"$tmpdir/secret"
/usr/bin/python3 "$srcdir/crash.py" "${CRASH_ITERATIONS:-20}" || {
  tail -n 40 "$tmpdir/nbdkit.log"
  fail "crash test failed"
}
