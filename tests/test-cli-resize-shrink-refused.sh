#!/usr/bin/env bash
# s3cow resize to a smaller size without --shrink is refused, saying why,
# and changes nothing; sizes that are not a multiple of 512, zero or past
# 1P are refused too.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("data", 1024 * 1024))'

status=0
s3cow resize d 512K 2>"$tmpdir/err" || status=$?
[ "$status" = 1 ] || fail "resize to a smaller size: status $status, expected 1"
grep -q -- "--shrink" "$tmpdir/err" || fail "no word of --shrink: $(cat "$tmpdir/err")"

for bad in 1000 0 2E; do
  status=0
  s3cow resize d "$bad" 2>"$tmpdir/err" || status=$?
  [ "$status" = 2 ] || fail "resize to $bad: status $status, expected 2"
  grep -q "multiple of 512" "$tmpdir/err" || fail "resize to $bad: $(cat "$tmpdir/err")"
done

size="$(s3cow info d --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["size"])')"
[ "$size" = 1048576 ] || fail "the size changed to $size"
nbd_py '
if r("d", 0, 1024 * 1024) != pattern("data", 1024 * 1024):
    sys.exit("the data changed after a refused shrink")
'
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
