#!/usr/bin/env bash
# s3cow create, fork and snapshot succeed when their conditional PUT landed
# but its answer was lost: faultproxy.py forwards the first PUT of the new
# head (or snapshot) and resets the connection (reset_after), so the
# store's retry gets a real 412 from the object this very command wrote.
# So does a fork whose source compacted meanwhile and whose rewrite of the
# new head (If-Match) landed and lost its answer.  Then, without the
# proxy: ls, info and fsck show the new disks and the snapshot, they read
# the source's data, and a real collision (create, fork, snapshot of a
# name that holds something else) still fails with "already exists".
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3
requires nbdkit nbdsh s3cow
use_store s3
serve
s3cow create src 2M --chunk-size 64K
nbd_py 'w("src", 0, pattern("s0", 65536))'
start_proxy

# lost KEY CMD...: CMD through the proxy, whose first PUT of KEY lands and
# loses its answer (the retry goes through), must succeed.
lost ()
{
  local key="$1" n
  shift
  proxy_ctl clear
  proxy_ctl set reset_after=1 max_in_a_row=1 "match=^PUT /$bucket/$key\$"
  s3cow --endpoint "$proxy_endpoint" "$@" >"$tmpdir/out" 2>"$tmpdir/err" || {
    cat "$tmpdir/err"
    fail "'s3cow $*' failed after its PUT of $key landed with its answer lost"
  }
  n="$(grep -c "reset_after: PUT /$bucket/$key -> 200" "$tmpdir/proxy.log")" ||
    true
  [ "$n" = 1 ] || {
    cat "$tmpdir/proxy.log"
    fail "'s3cow $*': $n PUTs of $key landed with their answer lost, not 1"
  }
}
lost disks/d/head create d 1M
lost disks/f/head fork src f
lost disks/src/snaps/s1 snapshot src s1
proxy_ctl clear

s3cow ls >"$tmpdir/ls"
{ grep -q '^d ' "$tmpdir/ls" && grep -q '^f .* src$' "$tmpdir/ls"; } || {
  cat "$tmpdir/ls"
  fail "ls does not list d, and f with parent src"
}
s3cow ls src >"$tmpdir/ls"
grep -q '^s1 ' "$tmpdir/ls" || {
  cat "$tmpdir/ls"
  fail "ls src does not list s1"
}
s3cow info d --json >"$tmpdir/info"
grep -q '"size": 1048576' "$tmpdir/info" || {
  cat "$tmpdir/info"
  fail "info d does not give its size, 1M"
}
s3cow info src@s1 >/dev/null || fail "info src@s1 failed"
nbd_py '
want = pattern("s0", 65536)
for name in ("f", "src@s1"):
    if r(name, 0, 65536) != want:
        sys.exit("%s does not read the data of src" % name)
if r("d", 0, 65536) != bytes(65536):
    sys.exit("d is not all zeros")
' || fail "the new disks or the snapshot read wrong data (above)"

# A fork rewritten (If-Match) because its source compacted meanwhile,
# whose rewrite landed and lost its answer.  c has 32 deltas, so its next
# commit is a full map that names none of them.  The fork's first PUT of
# g's head lands and its answer is held (slow) past --timeout; meanwhile c
# commits, and the proxy switches to lost answers: the retry gets 412 (g
# is the fork's own), c's head no longer names the maps g names, g is
# rewritten, and that rewrite lands and loses its answer.
s3cow create c 2M --chunk-size 64K
nbd_py '
h = _conn("c")
for i in range(32):
    h.pwrite(pattern("c%d" % i, 65536), 65536)
    h.flush()
h.shutdown()
'
proxy_ctl set slow=1 slow_seconds=5 "match=^PUT /$bucket/disks/g/head\$"
s3cow --endpoint "$proxy_endpoint" --timeout 3 --retry-time 60 fork c g \
  >"$tmpdir/out" 2>"$tmpdir/err" &
fork_pid=$!
for ((i = 0; i < 300; i++)); do
  grep -q "slow: PUT /$bucket/disks/g/head -> 200" "$tmpdir/proxy.log" && break
  sleep 0.1
done
nbd_py 'w("c", 0, pattern("c-full", 65536))'
# One call, applied at once: between a clear and a set, a retry of the
# fork could get through unharmed, and its rewrite land with its answer.
proxy_ctl set slow=0 reset_after=1 max_in_a_row=1 \
  "match=^PUT /$bucket/disks/g/head\$"
wait "$fork_pid" || {
  cat "$tmpdir/err" "$tmpdir/proxy.log"
  fail "a fork whose rewrite landed with its answer lost failed"
}
proxy_ctl clear
{
  grep -q "slow: PUT /$bucket/disks/g/head -> 200" "$tmpdir/proxy.log" &&
    grep -q "reset_after: PUT /$bucket/disks/g/head -> 200" "$tmpdir/proxy.log"
} || {
  cat "$tmpdir/proxy.log"
  fail "the fork's first PUT was not held, or its rewrite did not lose its answer"
}
maps_of ()
{
  s3cow info "$1" --json |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["maps"])'
}
maps_of c >"$tmpdir/c.maps"
maps_of g >"$tmpdir/g.maps"
cmp -s "$tmpdir/c.maps" "$tmpdir/g.maps" || {
  cat "$tmpdir/c.maps" "$tmpdir/g.maps"
  fail "g does not name c's maps after its rewrite"
}
nbd_py '
if r("g", 0, 65536) != pattern("c-full", 65536):
    sys.exit("g does not read the data of c")
' || fail "g reads wrong data (above)"

s3cow fsck >"$tmpdir/fsck" || {
  cat "$tmpdir/fsck"
  fail "fsck failed"
}

# Real collisions: the name holds other bytes.
nbd_py 'w("src", 0, pattern("s1", 65536))'
expect_exists ()
{
  local pattern="$1"
  shift
  if s3cow "$@" 2>"$tmpdir/err"; then
    fail "'s3cow $*' succeeded on an existing name"
  fi
  grep -q -- "$pattern" "$tmpdir/err" || {
    cat "$tmpdir/err"
    fail "'s3cow $*': the message does not say '$pattern'"
  }
}
expect_exists "disk d already exists" create d 2M
expect_exists "disk f already exists" fork src@s1 f
expect_exists "snapshot src@s1 already exists" snapshot src s1
