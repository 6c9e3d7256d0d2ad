#!/usr/bin/env bash
# test-cli-json-all.sh: every s3cow command that changes or shows one disk
# (create, fork, snapshot, history, resize, unlock, copy, rm) prints one
# JSON object describing what it did with --json, and an error stays on
# stderr with the documented exit status (2: usage, 1: failure).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires s3cow /usr/bin/python3
use_store

# check NAME PYTHON-EXPRESSION COMMAND...: the command's stdout is one JSON
# object o (nothing else) for which the expression is true.
check ()
{
  local name="$1" expr="$2"
  shift 2
  "$@" >"$tmpdir/$name.json" || fail "$name: $* exited with $?"
  /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
if not isinstance(o, dict) or not eval("(" + sys.argv[2] + ")"):
    sys.exit("%s: %r does not satisfy %s" % (sys.argv[3], o, sys.argv[2]))
' "$tmpdir/$name.json" "$expr" "$name" || fail "$name: wrong --json output"
}

check create 'o["disk"] == "d" and o["created"] is True
  and o["size"] == 16 << 20 and o["chunk_size"] == 64 << 10
  and o["history_seconds"] == 86400 and o["encrypted"] is False' \
  s3cow create d 16M --chunk-size 64K --json
check fork 'o == {"disk": "e", "created": True, "source": "d"}' \
  s3cow fork d e --json
check snapshot 'o["disk"] == "d" and o["snapshot"] == "s1"
  and o["created"] is True' s3cow snapshot d s1 --json
check history-show 'o == {"disk": "d", "history_seconds": 86400,
  "set": False}' s3cow history d --json
check history-set 'o == {"disk": "d", "history_seconds": 1800,
  "set": True}' s3cow history d 30m --json
check resize 'o == {"disk": "d", "resized": True, "old_size": 16 << 20,
  "size": 32 << 20}' s3cow resize d 32M --json
check resize-same 'o["resized"] is False and o["size"] == 32 << 20' \
  s3cow resize d 32M --json
# resize left a released lease behind.
check unlock 'o["disk"] == "d" and o["lease_broken"] is True
  and o["lease"] == "released"' s3cow unlock d --force --json
check unlock-none 'o["lease_broken"] is False and o["lease"] == "no lease"' \
  s3cow unlock d --force --json
check copy 'o["source"] == "d" and o["key"] == "disks/c/head"
  and o["up_to_date"] is False and o["sent"] == 0' \
  s3cow copy d "file://$store_root/$bucket/c" --json
check copy-again 'o["up_to_date"] is True' \
  s3cow copy d "file://$store_root/$bucket/c" --json
check rm-snapshot 'o["disk"] == "d" and o["snapshot"] == "s1"
  and o["removed"] is True' s3cow rm d@s1 --json
check rm 'o["disk"] == "e" and "snapshot" not in o and o["removed"] is True' \
  s3cow rm e --json

# Errors: nothing on stdout, the message on stderr, the documented status.
expect_status ()
{
  local want="$1" st=0
  shift
  "$@" >"$tmpdir/out" 2>"$tmpdir/err" || st=$?
  [ "$st" = "$want" ] || fail "$*: exit status $st, expected $want"
  [ ! -s "$tmpdir/out" ] || fail "$*: wrote to stdout on error"
  [ -s "$tmpdir/err" ] || fail "$*: no message on stderr"
}
expect_status 2 s3cow create x 1X --json
expect_status 2 s3cow resize d@s1 1M --json
expect_status 2 s3cow create x --json
expect_status 1 s3cow create d 1M --json
expect_status 1 s3cow fork nosuch f --json
expect_status 1 s3cow history nosuch --json
