#!/usr/bin/env bash
# Fault injection: a commit whose head PUT lands on S3 but whose answers
# are all lost (tests/faultproxy.py drops every response to head PUTs,
# the 412s of the retries too) until retry-time runs out: the flush fails
# with EIO.  Once the network is back, the next commit must read the head
# back, find its own bytes (op id included), build on them and succeed:
# not take its own commit for another writer's and fence itself.  Every
# byte written is there after a restart.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

setup_python_test s3

FAULT_NBDKIT_OPTS="${NBDKIT_OPTS:-} -v -D s3cow.commit=1" \
  /usr/bin/python3 "$srcdir/faultload.py" lost-commit \
  --disk 16M --chunk 256K --cache 8M --timeout 1 --retry-time 2 || {
  show_tail "$tmpdir/nbdkit.log" 20
  fail "a commit with its answers lost (see above)"
}
