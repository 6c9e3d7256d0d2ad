#!/usr/bin/env bash
# s3cow grace shows the bucket's gc grace record (gc/grace) and sets it:
#  - no record: 1h, the default, and lowering even that needs --force;
#  - a server with gc-grace=7200 records it; gc --grace 1h is refused;
#  - s3cow grace 30m is refused without --force (the record stays), and
#    with it lowers the record: gc --grace 30m then runs;
#  - raising needs no --force; a server that opens a disk afterwards
#    raises the record again to its own gc-grace=;
#  - --json gives what was shown or set.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
dir=("${store[@]}" retry-time=1 timeout=2)
out="$tmpdir/out"

# field KEY: KEY of the JSON object in $out.
field ()
{
  /usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(str(v).lower() if isinstance(v, bool) else v)
' "$out" "$1"
}

# expect_grace SECONDS RECORDED: what s3cow grace --json shows.
expect_grace ()
{
  s3cow grace --json >"$out" || fail "s3cow grace --json failed"
  [ "$(field grace_seconds)" = "$1" ] && [ "$(field recorded)" = "$2" ] &&
    [ "$(field set)" = false ] ||
    fail "s3cow grace: expected $1 s, recorded $2: $(cat "$out")"
}

# connect_rw GRACE: a server with gc-grace=GRACE, opened read-write once.
connect_rw ()
{
  start_nbdkit "$sock" "${dir[@]}" export=d gc-grace="$1"
  nbdsh -u "nbd+unix:///?socket=$sock" -c 'h.pwrite(b"x" * 512, 0); h.flush()'
  stop_nbdkit || fail "nbdkit exited with status $?"
}

s3cow create d 1M --chunk-size 64K
expect_grace 3600 false
[ "$(s3cow grace)" = "1h (the default: no server recorded one)" ] ||
  fail "s3cow grace: $(s3cow grace)"
if s3cow grace 10m >"$out" 2>&1; then
  fail "the default was lowered without --force"
fi
grep -q "needs --force" "$out" || fail "no reason: $(cat "$out")"
expect_grace 3600 false

connect_rw 7200
expect_grace 7200 true
if s3cow gc --grace 1h >"$out" 2>&1; then
  fail "gc --grace 1h ran against a recorded 7200 s"
fi
grep -q "s3cow grace" "$out" || fail "gc does not name s3cow grace: $(cat "$out")"

if s3cow grace 30m >"$out" 2>&1; then
  fail "the record was lowered without --force"
fi
grep -q "the gc grace is 7200s (recorded in gc/grace): lowering it to 1800s needs --force" "$out" ||
  fail "s3cow grace 30m: $(cat "$out")"
expect_grace 7200 true

s3cow grace 30m --force --json >"$out" || fail "grace 30m --force: $(cat "$out")"
[ "$(field grace_seconds)" = 1800 ] && [ "$(field old_grace_seconds)" = 7200 ] &&
  [ "$(field old_recorded)" = true ] && [ "$(field set)" = true ] ||
  fail "grace 30m --force --json: $(cat "$out")"
expect_grace 1800 true
s3cow gc --grace 30m >"$out" 2>&1 || fail "gc --grace 30m: $(cat "$out")"

# Raising: no --force; the text output says what it was.
[ "$(s3cow grace 45m)" = "gc grace: 45m (was 30m)" ] || fail "grace 45m"
expect_grace 2700 true

# A server opening a disk afterwards raises it again, never lowers it.
connect_rw 3600
expect_grace 3600 true
connect_rw 600
expect_grace 3600 true

# Usage errors, before any request.
status=0
s3cow grace soon >"$out" 2>&1 || status=$?
[ "$status" = 2 ] || fail "grace soon: exit status $status"
status=0
s3cow grace 1h --dry-run >"$out" 2>&1 || status=$?
[ "$status" = 2 ] || fail "grace --dry-run: exit status $status"
echo "$0: PASS"
