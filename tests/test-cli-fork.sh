#!/usr/bin/env bash
# s3cow fork: a fork starts with its source's last committed data, and
# writes are invisible across a fork both ways (source <-> fork, and
# between sibling forks); a fork of DISK@SNAP gets the snapshot's data; the
# new disk names its parent and has generation 0; the source's maps are
# shared, not copied.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create src 4M --chunk-size 64K
nbd_py '
for c in range(8):
    w("src", c * 65536, pattern("src/%d" % c, 65536))
'
s3cow snapshot src s1
s3cow fork src a
s3cow fork src b
s3cow fork src@s1 fromsnap

s3cow fork src c
s3cow ls --json >"$tmpdir/ls.json"
/usr/bin/python3 - "$tmpdir/ls.json" <<'PY' || fail "ls --json after the fork is wrong (above)"
import json, sys
disks = {d["name"]: d for d in json.load(open(sys.argv[1]))}
c, src = disks["c"], disks["src"]
assert c["parent"] == "src", c
assert c["generation"] == 0, c
assert disks["fromsnap"]["parent"] == "src@s1", disks["fromsnap"]
assert c["size"] == src["size"] and c["chunk_size"] == src["chunk_size"], c
PY
s3cow info c --json >"$tmpdir/c.json"
s3cow info src --json >"$tmpdir/src.json"
/usr/bin/python3 - "$tmpdir/c.json" "$tmpdir/src.json" <<'PY' || fail "the fork does not share the source's maps"
import json, sys
c, src = (json.load(open(f)) for f in sys.argv[1:])
assert c["maps"] == src["maps"] and c["maps"], (c["maps"], src["maps"])
assert all(m.startswith("disks/src/maps/") for m in c["maps"]), c["maps"]
assert c["chunks_unique"] == 0 and c["chunks_shared"] == 8, c
PY

# Writes to each: source, two sibling forks; then every disk reads exactly
# its own writes on top of what it was forked from.
nbd_py '
CS = 65536
w("src", 1 * CS, pattern("src-new", CS))
w("src", 30 * CS, pattern("src-new30", CS))
w("a", 2 * CS, pattern("a", CS))
w("a", 40 * CS, pattern("a40", CS))
w("b", 3 * CS, pattern("b", CS))
w("b", 0, bytes(CS))                      # b zeroes a chunk it inherited
w("fromsnap", 5 * CS, pattern("fs", CS))

base = {c: "src/%d" % c for c in range(8)}
want = {
    "src": {**base, 1: "src-new", 30: "src-new30"},
    "a": {**base, 2: "a", 40: "a40"},
    "b": {**{k: v for k, v in base.items() if k != 0}, 3: "b"},
    "c": base,
    "fromsnap": {**base, 5: "fs"},
    "src@s1": base,
}
for disk, chunks in want.items():
    data = r(disk, 0, 4 << 20)
    for c in range(64):
        exp = pattern(chunks[c], CS) if c in chunks else bytes(CS)
        if data[c * CS:(c + 1) * CS] != exp:
            sys.exit("%s: chunk %d is wrong: expected %s" %
                     (disk, c, chunks.get(c, "zeros")))
print("isolation: %d disks checked" % len(want))
' || fail "fork isolation failed (above)"

stop_nbdkit || fail "nbdkit exited with status $?"
s3cow fsck || fail "fsck is not clean after the forks"
echo "$0: PASS"
