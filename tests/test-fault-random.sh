#!/usr/bin/env bash
# Fault injection: with about 10% of the S3 requests failing
# through tests/faultproxy.py (500, 503 SlowDown, resets before and after
# the request, responses held past the client's timeout=2, stalled,
# truncated and corrupted bodies, 1.5% of requests each; the last two hit
# only GETs), 8 connections doing random writes, reads and flushes move
# 256 MiB over a 64 MiB disk (256K chunks, 8M cache: the data really goes
# to S3 and back) and see no error at all; every read is checked against
# a model.  Then 10 flushes while most head and lease PUTs land with their
# answer lost (the retry gets 412: the plugin must see that the object is
# its own).  After a clean stop, through the faults, a server straight on
# the S3 server, without the proxy, reads the whole disk: all as the model.
# FAULT_SEED reruns one seed; FAULT_MOVED and FAULT_RATE change the size.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

setup_python_test s3

/usr/bin/python3 "$srcdir/faultload.py" random \
  --moved "${FAULT_MOVED:-128M}" --fault-rate "${FAULT_RATE:-0.12}" \
  --disk 64M --chunk 256K --cache 8M --timeout 2 --retry-time 30 || {
  show_tail "$tmpdir/nbdkit.log" 30
  show_tail "$tmpdir/proxy.log" 15
  fail "random I/O under injected S3 faults (see above)"
}
