#!/usr/bin/env bash
# A client asking for a disk that does not exist (a server serving every
# disk of the bucket, without size=) gets an error and leaves nothing in
# the bucket: no lease object under disks/NAME/ for every name a client
# tries (unbounded garbage in the bucket from anyone who can connect).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
s3cow create d 1M
serve 2>"$tmpdir/log"
for name in nope1 nope2 nope3; do
  if nbdsh -u "nbd+unix:///$name?socket=$sock" -c pass 2>/dev/null; then
    fail "a connection opened disk $name, which does not exist"
  fi
done
grep -q "disk nope1 does not exist" "$tmpdir/log" || {
  cat "$tmpdir/log"
  fail "no log line says that disk nope1 does not exist"
}
nbd_py 'w("d", 0, b"d" * 512); assert r("d", 0, 512) == b"d" * 512'
stop_nbdkit || fail "nbdkit exited with status $?"
obj_list disks/ >"$tmpdir/objects"
if grep "^disks/nope" "$tmpdir/objects"; then
  fail "connections for missing disks left objects in the bucket"
fi
grep -q "^disks/d/lease " "$tmpdir/objects" ||
  fail "disk d has no lease object (the listing is wrong?)"
echo "$0: PASS"
