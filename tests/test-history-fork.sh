#!/usr/bin/env bash
# s3cow fork DISK@TIME NEW and s3cow snapshot DISK@TIME NAME make a disk
# and a snapshot of the state last committed at or before TIME; the fork's
# parent is DISK, and writes to it stay its own.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py 'w("d", 0, pattern("A", 65536))'
at="d@$(last_commit_time d)"
nbd_py 'w("d", 0, pattern("B", 65536))'
s3cow fork "$at" f || fail "s3cow fork $at f failed"
s3cow snapshot "$at" s || fail "s3cow snapshot $at s failed"
s3cow ls --json | /usr/bin/python3 -c '
import json, sys
disks = {d["name"]: d for d in json.load(sys.stdin)}
assert disks["f"]["parent"] == "d", disks["f"]
' || fail "the fork of a time does not name its disk as parent"
nbd_py '
assert r("f", 0, 65536) == pattern("A", 65536), "the fork does not read A"
assert r("d@s", 0, 65536) == pattern("A", 65536), "the snapshot does not read A"
w("f", 0, pattern("F", 65536))
assert r("f", 0, 65536) == pattern("F", 65536)
assert r("d", 0, 65536) == pattern("B", 65536), "a write to the fork shows in d"
' || fail "fork or snapshot of a time reads wrong data (above)"
