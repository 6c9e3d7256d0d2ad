#!/usr/bin/env bash
# test-cli-ls-lock.sh: s3cow ls shows in its LOCK column (and ls --json in
# "locked" and "lease") whether a server holds each disk's lease: "held"
# while one serves the disk, "-" once it stopped, and for a disk never
# served.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
s3cow create d 1M
s3cow create idle 1M
serve export=d
nbd_py 'w("d", 0, pattern("d0", 4096))'

# lock_of DISK: the LOCK column of DISK's row (the field before PARENT).
lock_of ()
{
  s3cow ls >"$tmpdir/ls" || fail "ls failed"
  head -n 1 "$tmpdir/ls" | grep -q "COMMITTED *LOCK *PARENT$" || {
    cat "$tmpdir/ls"
    fail "ls has no LOCK column before PARENT"
  }
  awk -v d="$1" '$1 == d { print $(NF - 1) }' "$tmpdir/ls"
}
# json_lock DISK: "locked" of DISK in ls --json, and the lease's pid.
json_lock ()
{
  s3cow ls --json | /usr/bin/python3 -c '
import json, sys
row = [r for r in json.load(sys.stdin) if r["name"] == sys.argv[1]][0]
lease = row["lease"]
print(row["locked"], lease and lease.get("pid"))' "$1"
}

[ "$(lock_of d)" = held ] || fail "served d: LOCK is '$(lock_of d)', expected held"
[ "$(lock_of idle)" = - ] || fail "idle: LOCK is '$(lock_of idle)', expected -"
[ "$(json_lock d)" = "True $nbdkit_pid" ] ||
  fail "served d: ls --json gives '$(json_lock d)', expected True $nbdkit_pid"
[ "$(json_lock idle)" = "False None" ] ||
  fail "idle: ls --json gives '$(json_lock idle)', expected False None"

stop_nbdkit || fail "nbdkit exited with status $?"
[ "$(lock_of d)" = - ] || fail "stopped d: LOCK is '$(lock_of d)', expected -"
[ "$(json_lock d)" = "False $nbdkit_pid" ] ||
  fail "stopped d: ls --json gives '$(json_lock d)', expected False (released)"
