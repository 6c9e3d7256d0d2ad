#!/usr/bin/env bash
# s3cow fsck: clean (exit 0) on a healthy bucket; finds a deleted chunk and
# a corrupted chunk (same size, other content), exits 1 and names each with
# the disk and chunk index using it (a snapshot sharing them too); a
# disk without problems checks clean on its own; a missing map and a
# corrupt map are named too.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve
# History off: the kept heads' checks are test-history-fsck.sh's.
for d in D E F G; do s3cow create "$d" 1M --chunk-size 64K --history 0; done
nbd_py '
CS = 65536
h = _conn("D")
for c in range(3):
    h.pwrite(pattern("d%d" % c, CS), c * CS)
h.flush()
h.shutdown()
w("E", 0, pattern("e0", CS))
w("F", 0, pattern("f0", CS))
w("G", 0, pattern("g0", CS))
'
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow snapshot D s
s3cow fsck >"$tmpdir/out" || { cat "$tmpdir/out"; fail "fsck of a healthy bucket failed"; }
grep -q "no problems" "$tmpdir/out" || fail "fsck does not say 'no problems'"

key_of ()
{
  S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
print('chunks/' + hashlib.sha256(pattern('$1', 65536)).hexdigest())"
}
k0="$(key_of d0)"
k1="$(key_of d1)"
obj_delete "$k0"
head -c 65536 /dev/urandom >"$tmpdir/garbage"
obj_put "$k1" "$tmpdir/garbage"
fmap="$(s3cow info F --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["maps"][0])')"
obj_delete "$fmap"
gmap="$(s3cow info G --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["maps"][0])')"
printf 'not a map' >"$tmpdir/notamap"
obj_put "$gmap" "$tmpdir/notamap"

status=0
s3cow fsck >"$tmpdir/out" 2>"$tmpdir/err" || status=$?
cat "$tmpdir/out"
[ "$status" = 1 ] || fail "fsck exited with $status, expected 1"
for line in "missing chunk $k0 (disk D chunk 0)" \
  "corrupt chunk $k1 (disk D chunk 1): content does not match its hash" \
  "missing chunk $k0 (snapshot D@s chunk 0)" \
  "corrupt chunk $k1 (snapshot D@s chunk 1)" \
  "missing map $fmap (disk F)" "corrupt map $gmap (disk G)"; do
  grep -q -F "$line" "$tmpdir/out" || fail "fsck does not say: $line"
done
[ "$(grep -c -E '^(missing|corrupt|unreadable) ' "$tmpdir/out")" = 6 ] ||
  fail "fsck reports other problems than the 6 expected"
grep -q "6 problems" "$tmpdir/out" || fail "the summary does not count 6"

status=0
s3cow fsck D@s >"$tmpdir/out" || status=$?
[ "$status" = 1 ] && [ "$(grep -c '^missing chunk' "$tmpdir/out")" = 1 ] ||
  fail "fsck D@s: status $status, or not one missing chunk"
s3cow fsck E >"$tmpdir/out" || { cat "$tmpdir/out"; fail "fsck E (healthy) failed"; }
s3cow fsck nope 2>"$tmpdir/err" && fail "fsck of a missing disk succeeded"
grep -q "disk nope does not exist" "$tmpdir/err" || fail "fsck nope: wrong message"
echo "$0: PASS"
