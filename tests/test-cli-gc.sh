#!/usr/bin/env bash
# rm then gc deletes exactly the unreferenced objects:
#  - A is written (chunks a0, a1), B is forked from A and changes chunk 1
#    (b1), then A writes a2 (a new delta map); C is written (c0); D keeps
#    d0 only through its snapshot D@s;
#  - before any rm, gc --grace 0s finds nothing to delete;
#  - after rm A and rm C: gc with the default grace (1h) deletes nothing
#    (all is younger); gc --dry-run --grace 0s lists exactly a2, c0, C's
#    maps and A's maps that B does not name; gc --grace 0s --verbose deletes
#    exactly those; the bucket holds everything else;
#  - B, forked from the removed A, still reads correctly; D@s too; fsck is
#    clean; a second gc deletes nothing.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve
CS=65536

for d in A C D; do s3cow create "$d" 1M --chunk-size 64K; done
nbd_py '
CS = 65536
h = _conn("A")
h.pwrite(pattern("a0", CS), 0)
h.pwrite(pattern("a1", CS), CS)
h.flush()
h.shutdown()
'
s3cow fork A B
nbd_py '
CS = 65536
w("B", CS, pattern("b1", CS))
w("A", 2 * CS, pattern("a2", CS))
w("C", 0, pattern("c0", CS))
w("D", 0, pattern("d0", CS))
'
s3cow snapshot D s
nbd_py 'w("D", 0, pattern("d0b", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

# The keys of chunks by their content.
key_of ()
{
  S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
print('chunks/' + hashlib.sha256(pattern('$1', 65536)).hexdigest())"
}
objects ()
{
  { obj_list chunks/; obj_list disks/; } | awk '{ print $1 }' |
    grep -E '^(chunks/|disks/[^/]*/maps/)' | sort
}

s3cow gc --force --grace 0s --dry-run >"$tmpdir/gc0"
grep -q "would delete 0 maps and 0 chunks" "$tmpdir/gc0" || {
  cat "$tmpdir/gc0"
  fail "gc found garbage before anything was removed"
}

s3cow info B --json | /usr/bin/python3 -c '
import json, sys
print("\n".join(json.load(sys.stdin)["maps"]))' >"$tmpdir/b-maps"
objects >"$tmpdir/before"
{
  key_of a2
  key_of c0
  grep '^disks/C/maps/' "$tmpdir/before"
  grep '^disks/A/maps/' "$tmpdir/before" | grep -v -x -F -f "$tmpdir/b-maps"
} | sort >"$tmpdir/expected"
echo "expected garbage after rm A, rm C:"
cat "$tmpdir/expected"
[ "$(grep -c '^disks/A/maps/' "$tmpdir/expected")" -ge 1 ] ||
  fail "the test expects A to have a map B does not name"

s3cow rm A
s3cow rm C
s3cow gc >"$tmpdir/gc1"
grep -q "deleted 0 maps and 0 chunks" "$tmpdir/gc1" || {
  cat "$tmpdir/gc1"
  fail "gc with the default grace deleted objects a few seconds old"
}
s3cow gc --force --grace 0s --dry-run >"$tmpdir/dry"
sed -n 's/^would delete \([^ ]*\) .*/\1/p' "$tmpdir/dry" | sort >"$tmpdir/listed"
diff -u "$tmpdir/expected" "$tmpdir/listed" ||
  fail "gc --dry-run lists other objects than the unreferenced ones"
[ "$(objects)" = "$(cat "$tmpdir/before")" ] ||
  fail "gc --dry-run deleted something"

s3cow gc --force --grace 0s --verbose >"$tmpdir/gc2"
cat "$tmpdir/gc2"
sed -n 's/^deleted \([^ ]*\) .*/\1/p' "$tmpdir/gc2" | sort >"$tmpdir/deleted"
diff -u "$tmpdir/expected" "$tmpdir/deleted" ||
  fail "gc deleted other objects than the unreferenced ones"
objects >"$tmpdir/after"
comm -23 "$tmpdir/before" "$tmpdir/expected" >"$tmpdir/kept"
diff -u "$tmpdir/kept" "$tmpdir/after" ||
  fail "after gc the bucket does not hold exactly the referenced objects"

serve
nbd_py '
CS = 65536
want = pattern("a0", CS) + pattern("b1", CS) + bytes(14 * CS)
if r("B", 0, 16 * CS) != want:
    sys.exit("B (forked from the removed A) reads wrong data after gc")
if r("D@s", 0, CS) != pattern("d0", CS) or r("D", 0, CS) != pattern("d0b", CS):
    sys.exit("D or D@s reads wrong data after gc")
' || fail "data lost by gc (above)"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck || fail "fsck is not clean after gc"
s3cow gc --force --grace 0s >"$tmpdir/gc3"
grep -q "deleted 0 maps and 0 chunks" "$tmpdir/gc3" || {
  cat "$tmpdir/gc3"
  fail "a second gc deleted more"
}
echo "$0: PASS"
