#!/usr/bin/env bash
# rm --snapshots racing snapshot leaves no snapshot behind:
#  - rm oz2 --snapshots, whose DELETE of oz2@s1 is held by faultproxy.py
#    (slow: forwarded, the answer held past the client's timeout, then
#    retried), while s3cow snapshot oz2 late runs and succeeds: rm must
#    remove late too (it lists the snapshots again once the head is gone);
#    then nothing is left under disks/oz2/, and a new disk oz2 has no
#    snapshot and a plain rm removes it;
#  - s3cow snapshot oz3 late, whose second read of the head (after its PUT)
#    is held while oz3 is removed and created again: the snapshot is of
#    another disk than the one now called oz3, so it must fail and leave no
#    snapshot.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires s3cow /usr/bin/python3
use_store s3
start_proxy

# wait_log PATTERN N: until proxy.log has N lines matching PATTERN.
wait_log ()
{
  local i
  for ((i = 0; i < 300; i++)); do
    [ "$(grep -c "$1" "$tmpdir/proxy.log" || true)" -ge "$2" ] && return 0
    sleep 0.1
  done
  cat "$tmpdir/proxy.log"
  fail "the proxy did not see $1 $2 times"
}

s3cow create oz2 1M --chunk-size 64K
s3cow snapshot oz2 s1
proxy_ctl set slow=1 max_in_a_row=1 slow_seconds=8 \
  "match=^DELETE /$bucket/disks/oz2/snaps/s1\$"
s3cow --endpoint "$proxy_endpoint" --timeout 5 rm oz2 --snapshots \
  >"$tmpdir/rm.out" 2>&1 &
rm_pid=$!
wait_log "slow: DELETE /$bucket/disks/oz2/snaps/s1" 1
s3cow snapshot oz2 late
wait "$rm_pid" || { cat "$tmpdir/rm.out"; fail "rm oz2 --snapshots failed"; }
proxy_ctl clear
left="$(obj_list disks/oz2/)"
[ -z "$left" ] || fail "rm oz2 --snapshots left: $left"
s3cow create oz2 1M
s3cow ls oz2 >"$tmpdir/ls"
if grep -q late "$tmpdir/ls"; then
  fail "the new disk oz2 shows the old one's snapshot late"
fi
s3cow rm oz2 || fail "a plain rm of the new oz2 was refused"

s3cow create oz3 1M --chunk-size 64K
proxy_ctl set slow=1 max_in_a_row=1 slow_seconds=8 \
  "match=^GET /$bucket/disks/oz3/head\$"
s3cow --endpoint "$proxy_endpoint" --timeout 5 snapshot oz3 late \
  >"$tmpdir/snap.out" 2>&1 &
snap_pid=$!
# The first read is held too (and retried); the second is the one after
# the snapshot's PUT.
wait_log "slow: GET /$bucket/disks/oz3/head" 2
s3cow rm oz3 --snapshots
s3cow create oz3 1M --chunk-size 64K
status=0
wait "$snap_pid" || status=$?
proxy_ctl clear
[ "$status" != 0 ] || {
  cat "$tmpdir/snap.out"
  fail "snapshot oz3 late succeeded although oz3 was removed meanwhile"
}
left="$(obj_list disks/oz3/snaps/)"
[ -z "$left" ] || fail "a snapshot of the removed oz3 survives: $left"
echo "$0: PASS"
