#!/usr/bin/env bash
# SIGKILL the server at random moments of a write/trim/flush loop, 20 times
# (CRASH_ITERATIONS): after each restart the disk holds the state of the
# last acknowledged flush or a later one, with no torn block, and s3cow
# fsck is clean (crash.py).  Longer: scripts/crash-long.sh.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires s3cow
setup_python_test
/usr/bin/python3 "$srcdir/crash.py" "${CRASH_ITERATIONS:-20}" || {
  show_tail "$tmpdir/nbdkit.log" 40
  fail "crash test failed"
}
