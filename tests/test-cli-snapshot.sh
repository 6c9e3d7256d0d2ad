#!/usr/bin/env bash
# s3cow snapshot: a snapshot's contents never change after later writes to
# its disk (nor after a fork of it is written); DISK@SNAP is served
# read-only, both as a client's export name and with export=DISK@SNAP
# (writes fail); an existing snapshot name, a missing disk and a bad
# snapshot name are refused; ls DISK lists the snapshots; rm refuses a
# disk with snapshots unless --force, and rm DISK@SNAP removes one.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 2M --chunk-size 64K
nbd_py 'w("d", 0, pattern("v1", 4 * 65536))'
s3cow snapshot d s1
nbd_py '
w("d", 65536, pattern("v2", 65536))
w("d", 10 * 65536, pattern("v2b", 65536))
'
s3cow snapshot d s2
nbd_py 'w("d", 0, bytes(2 * 65536))'
s3cow fork d@s1 f
nbd_py 'w("f", 3 * 65536, pattern("f", 65536))'

nbd_py '
CS = 65536
v1 = pattern("v1", 4 * CS) + bytes(2 * 1024 * 1024 - 4 * CS)
v2 = bytearray(v1)
v2[CS:2 * CS] = pattern("v2", CS)
v2[10 * CS:11 * CS] = pattern("v2b", CS)
for name, want in (("d@s1", v1), ("d@s2", bytes(v2))):
    if r(name, 0, len(want)) != want:
        sys.exit("%s changed after later writes" % name)
    if not ro(name):
        sys.exit("%s is not read-only" % name)
    # Past the client library check: the server itself must refuse.
    h = nbd.NBD()
    h.set_export_name(name)
    h.set_strict_mode(0)
    h.connect_unix(SOCK)
    try:
        h.pwrite(b"x" * 512, 0)
        sys.exit("a write to %s succeeded" % name)
    except nbd.Error as e:
        print("%s: the server refused the write: %s" % (name, e))
    h.shutdown()
d = r("d", 0, 11 * CS)
if d[:2 * CS] != bytes(2 * CS) or d[2 * CS:4 * CS] != v1[2 * CS:4 * CS]:
    sys.exit("the disk itself does not read its last writes")
' || fail "snapshot contents or read-only serving are wrong (above)"
stop_nbdkit || fail "nbdkit exited with status $?"

# export=DISK@SNAP: the server is read-only.
start_nbdkit "$sock" "${store[@]}" export=d@s1
nbdsh -u "nbd+unix:///?socket=$sock" -c '
import hashlib
assert h.is_read_only(), "export=d@s1 is not read-only"
try:
    h.pwrite(b"x" * 512, 0)
    raise SystemExit("a write to export=d@s1 succeeded")
except nbd.Error:
    pass
' || fail "export=d@s1 is not served read-only"
stop_nbdkit || fail "nbdkit exited with status $?"

# Errors.
expect_fail ()
{
  local what="$1" pattern="$2"
  shift 2
  if "$@" 2>"$tmpdir/err"; then
    fail "$what: '$*' succeeded"
  fi
  grep -q -- "$pattern" "$tmpdir/err" || {
    cat "$tmpdir/err"
    fail "$what: the message does not say '$pattern'"
  }
}
expect_fail "existing snapshot" "snapshot d@s1 already exists" \
  s3cow snapshot d s1
expect_fail "missing disk" "disk nope does not exist" s3cow snapshot nope s1
expect_fail "bad snapshot name" "invalid snapshot name" s3cow snapshot d 'a/b'
expect_fail "missing snapshot" "snapshot d@s9 does not exist" s3cow rm d@s9
expect_fail "rm with snapshots" "has 2 snapshots" s3cow rm d

s3cow ls d >"$tmpdir/ls"
grep -q '^s1 ' "$tmpdir/ls" && grep -q '^s2 ' "$tmpdir/ls" || {
  cat "$tmpdir/ls"
  fail "ls d does not list s1 and s2"
}
s3cow rm d@s2
[ "$(s3cow ls d --json | grep -c '"name"')" = 1 ] ||
  fail "rm d@s2 did not remove just that snapshot"
s3cow rm --snapshots d
s3cow ls --json >"$tmpdir/ls.json"
grep -q '"name": "d"' "$tmpdir/ls.json" && fail "rm --snapshots d left d"
s3cow ls d 2>/dev/null && fail "ls of a removed disk succeeded"
# f was forked from d@s1, which is gone: it still reads (its maps are d's).
serve
nbd_py '
CS = 65536
want = pattern("v1", 4 * CS)
want = want[:3 * CS] + pattern("f", CS)
if r("f", 0, 4 * CS) != want:
    sys.exit("the fork of a removed snapshot reads wrong data")
' || fail "a fork of a removed snapshot does not read correctly"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
