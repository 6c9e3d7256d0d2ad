#!/usr/bin/env bash
# Fault injection: a lease renewal that lands on S3 but whose
# response is lost, and whose retries then fail until retry-time runs out
# (tests/faultproxy.py drops every response to lease PUTs for a while).
# Nobody else took the lease, so once the network is back the server must
# renew it and writes must work again: it must not declare its lease lost
# and fence itself for good.
#
# This failed before lease.c recognised its own landed renewal (412 on the
# next renewal, and a stored lease naming our instance): see put_lease
# in lease.c.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

setup_python_test s3

/usr/bin/python3 "$srcdir/faultload.py" lease \
  --disk 16M --chunk 256K --cache 8M --timeout 1 --retry-time 2 --lease 9 || {
  show_tail "$tmpdir/nbdkit.log" 20
  fail "lease renewal with a lost response (see above)"
}
