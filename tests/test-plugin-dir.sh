#!/usr/bin/env bash
# test-plugin-dir.sh: the plugin on the directory store
# (endpoint=file:///DIR, no S3 server needed): the basic cycle
#  - create a 32 MiB disk of 64K chunks in DIR/BUCKET, write random data at
#    unaligned offsets across chunk boundaries, zero a range, flush;
#  - the bucket directory holds the disk's head and a chunk object named
#    by the SHA-256 of each distinct non-zero chunk (content addressed;
#    chunks uploaded before a later write changed them are garbage for GC,
#    so there may be more objects than that);
#  - stop the server (exit status 0), start a new one without size=, and
#    the whole disk reads back as the Python model.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
use_store dir
export TEST_MODEL="$tmpdir/model"

serve export=local size=32M chunk-size=64K \
  cache-size=2M
nbdsh -u "$uri" -c "$(cat <<'EOF'
import hashlib, os, random, sys
CS = 64 * 1024
SIZE = h.get_size()
if SIZE != 32 << 20:
    sys.exit("size %d, expected %d" % (SIZE, 32 << 20))
model = bytearray(SIZE)
rng = random.Random(8)
for k in range(60):
    off = rng.randrange(1, SIZE // CS) * CS - rng.randint(1, 4000)
    data = rng.randbytes(min(rng.randint(4001, 3 * CS), SIZE - off))
    h.pwrite(data, off)
    model[off:off + len(data)] = data
same = rng.randbytes(CS)                   # two equal chunks
for c in (400, 401):
    h.pwrite(same, c * CS)
    model[c * CS:(c + 1) * CS] = same
h.zero(3 * CS, 100 * CS + 7)
model[100 * CS + 7:103 * CS + 7] = bytes(3 * CS)
h.flush()
if h.pread(SIZE, 0) != model:
    sys.exit("before restart: the disk does not read back as written")
open(os.environ["TEST_MODEL"], "wb").write(model)
keys = {hashlib.sha256(model[c * CS:(c + 1) * CS]).hexdigest()
        for c in range(SIZE // CS) if any(model[c * CS:(c + 1) * CS])}
open(os.environ["TEST_MODEL"] + ".keys", "w").write("\n".join(sorted(keys))
                                                     + "\n")
EOF
)" || fail "writes on the directory store failed: see above"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# The objects, as files of the bucket directory.
[ -f "$tmpdir/store/bkt/disks/local/head" ] ||
  fail "no head object: $tmpdir/store/bkt/disks/local/head"
(cd "$tmpdir/store/bkt/chunks" && ls) | sort >"$tmpdir/listed" ||
  fail "no chunks/ directory in $tmpdir/store/bkt"
missing="$(comm -13 "$tmpdir/listed" "$TEST_MODEL.keys")"
[ -z "$missing" ] ||
  fail "chunks/ lacks objects for chunks of the disk: $missing"
grep -qv '^[0-9a-f]\{64\}$' "$tmpdir/listed" &&
  fail "chunks/ holds files not named by a SHA-256:" \
    "$(grep -v '^[0-9a-f]\{64\}$' "$tmpdir/listed")"

serve export=local chunk-size=64K cache-size=2M
nbdsh -u "$uri" -c "$(cat <<'EOF'
import os, sys
CS = 64 * 1024
model = open(os.environ["TEST_MODEL"], "rb").read()
got = h.pread(len(model), 0)
if got != model:
    i = next(i for i in range(len(got)) if got[i] != model[i])
    sys.exit("after restart: byte %d at %d (chunk %d), expected %d"
             % (got[i], i, i // CS, model[i]))
print("test-plugin-dir: %d MiB read back after restart" % (len(model) >> 20))
EOF
)" || fail "read back after restart failed: see above"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
