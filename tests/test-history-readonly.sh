#!/usr/bin/env bash
# DISK@TIME is read-only: the export says so and a write fails with EPERM;
# a time before the disk existed, or in the future, is refused with a
# message saying which.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve 2>"$tmpdir/nbdkit.log"

s3cow create d 1M --chunk-size 64K
nbd_py '
import time, errno
w("d", 0, pattern("A", 65536))
time.sleep(1.1)
at = "d@" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
assert ro(at), "DISK@TIME is not read-only"
h = _conn(at)
try:
    h.pwrite(b"x" * 512, 0)
    raise SystemExit("a write to DISK@TIME succeeded")
except nbd.Error as e:
    assert e.errno == errno.EPERM or "EPERM" in str(e), e
h.shutdown()
assert r("d", 0, 65536) == pattern("A", 65536)
for bad in ("d@2001-01-01T00:00:00Z", "d@2999-01-01T00:00:00Z"):
    try:
        r(bad, 0, 512)
        raise SystemExit("%s was served" % bad)
    except nbd.Error:
        pass
' || { show_tail "$tmpdir/nbdkit.log" 20; fail "DISK@TIME accepted a write or a bad time (above)"; }
grep -q "d@2001-01-01T00:00:00Z: disk d did not exist yet" "$tmpdir/nbdkit.log" ||
  fail "no message for a time before the disk existed"
grep -q "d@2999-01-01T00:00:00Z: the time is in the future" "$tmpdir/nbdkit.log" ||
  fail "no message for a time in the future"
