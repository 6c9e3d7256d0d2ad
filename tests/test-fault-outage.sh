#!/usr/bin/env bash
# Fault injection: an S3 outage (tests/faultproxy.py) longer than
# the retry budget (retry-time=3; the outage is ended once what is checked
# during it is done, 10 s at most).  A flush during it fails
# with EIO, never success, and the server logs why; the dirty data stays
# in memory (still readable), and once the outage is over a flush succeeds
# and every byte written before and during the outage is there.  Then a
# second outage while a client keeps writing whole chunks: once the
# write-back buffer (the dirty limit, three quarters of cache-size) is
# full, writes wait (retry-time) and then fail with EIO, and the server's
# RSS stays under cache-size + 64 MiB.
# After the outage a flush succeeds; the whole disk is checked against a
# model, also after a restart without the proxy.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

setup_python_test s3

/usr/bin/python3 "$srcdir/faultload.py" outage \
  --disk 64M --chunk 256K --cache 32M --timeout 2 --retry-time 3 \
  --outage 10 --outage-mode reset --end-outage-early --fill-seconds 4 || {
  show_tail "$tmpdir/nbdkit.log" 30
  fail "S3 outage (see above)"
}
