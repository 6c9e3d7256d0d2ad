#!/usr/bin/env bash
# s3cow copy to a destination whose requests fail now and then (500,
# 503 SlowDown, connections reset before or after the request was
# applied) completes: every request is retried, the head's conditional
# PUT whose answer was lost counts as its own, and the copy reads the
# source's data.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit /usr/bin/python3 s3cow
use_store s3
serve

s3cow create d 4M --chunk-size 64K
nbd_py 'w("d", 0, pattern("d", 40 * 65536))'
dst="$(new_bucket)"
start_proxy --seed 7

# Every kind of transient fault on a quarter of the requests, and the
# head's PUT answered by a reset once it landed.
proxy_ctl set 500=0.06 503=0.06 reset_before=0.06 reset_after=0.07 \
  max_in_a_row=2
s3cow copy d "s3://$dst/d" --to-endpoint "$proxy_endpoint" >"$tmpdir/out" ||
  { show_tail "$tmpdir/proxy.log" 20; fail "the copy failed"; }
proxy_ctl clear
proxy_ctl set reset_after=1 max_in_a_row=1 "match=^PUT /$dst/disks/d2/head\$"
s3cow copy d "s3://$dst/d2" --to-endpoint "$proxy_endpoint" ||
  fail "the copy whose head PUT lost its answer failed"
grep -q "reset_after: PUT /$dst/disks/d2/head -> 200" "$tmpdir/proxy.log" ||
  fail "the head's PUT did not lose its answer"
proxy_ctl clear
faults="$(grep -cE ' (500|503|reset_before|reset_after): ' "$tmpdir/proxy.log")" || true
echo "faults injected: $faults"
[ "$faults" -gt 5 ] || fail "too few faults were injected ($faults)"

S3COW_BUCKET="$dst" s3cow fsck || fail "fsck of the destination"
start_nbdkit "$tmpdir/sock2" "${store[@]/#bucket=*/bucket=$dst}"
nbd_py '
want = r("d", 0, 4 << 20)
for name in ("d", "d2"):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(SOCK + "2")
    got = h.pread(4 << 20, 0)
    h.shutdown()
    if got != want:
        sys.exit("%s reads other data than the source" % name)
' || fail "data differ (above)"
echo "$0: PASS"
