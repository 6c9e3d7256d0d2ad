#!/usr/bin/env bash
# Working-set hints on an encrypted disk: the first fork of a snapshot of
# an encrypted disk records the chunks it reads into the snapshot's hint;
# a second fork, served by a fresh server, prefetches exactly those
# chunks, opened with the key, and reads them right, all prefetch hits.
# The hint holds chunk indexes and the snapshot's op id only: nothing
# derived from the content (no chunk address, keyed or not, and no
# plaintext hash).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl /usr/bin/python3
use_store
openssl rand -hex 32 >"$tmpdir/key"
keyfile=(--encryption-key-file "$tmpdir/key")
key="encryption-key=+$tmpdir/key"
picks="7 3 40 41 12 63 20" # the chunks the "boot" reads, in its order
npicks=$(wc -w <<<"$picks")

# gold: 64 chunks of 64 KiB, chunk c holding pattern("gold/c").
s3cow create gold 4M --chunk-size 64K "${keyfile[@]}"
serve "$key"
nbd_py '
for c in range(64):
    w("gold", c * 65536, pattern("gold/%d" % c, 65536))
'
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow snapshot gold v1 "${keyfile[@]}"
s3cow fork gold@v1 f1 "${keyfile[@]}"
s3cow fork gold@v1 f2 "${keyfile[@]}"

# First fork: nothing to prefetch; its reads become the hint.
serve export=f1 stats="$tmpdir/s1" "$key"
boot f1 $picks
sleep 1.5
[ "$(stat_of "$tmpdir/s1" s3cow_prefetch_loads_total)" = 0 ] ||
  fail "the first fork prefetched without a hint"
stop_nbdkit || fail "nbdkit exited with status $?"
obj_cat disks/gold/hints/v1 >"$tmpdir/hint" ||
  fail "no hint object after the first fork closed"
[ "$(tail -n +5 "$tmpdir/hint" | tr '\n' ' ')" = "$picks " ] ||
  fail "the hint does not list the chunks read, in order: $(cat "$tmpdir/hint")"

# What the hint holds: its header, then small decimal indexes; no hex
# string but the 32-digit snapshot id, which is no chunk's address nor
# the start of any plaintext hash.
obj_list chunks/ | awk '{ sub("^chunks/", "", $1); print $1 }' >"$tmpdir/addrs"
[ -s "$tmpdir/addrs" ] || fail "no chunk objects"
S3COW_TEST_SOCK= /usr/bin/python3 - "$tmpdir/hint" "$tmpdir/addrs" <<PY ||
$_s3cow_py_prelude
import re
text = open(sys.argv[1]).read()
lines = text.split("\n")
assert lines[0] == "s3cow-hints 1", lines[0]
m = re.fullmatch(r"snapshot ([0-9a-f]{32})", lines[1])
assert m, lines[1]
snap = m.group(1)
assert lines[2] == "chunk-size 65536" and lines[3] == "chunks $npicks", lines[2:4]
for l in lines[4:-1]:
    assert re.fullmatch(r"[0-9]{1,2}", l), "not a chunk index: %r" % l
assert lines[-1] == ""
hexes = set(re.findall(r"[0-9a-f]{16,}", text))
assert hexes == {snap}, "hex strings in the hint: %r" % hexes
addrs = open(sys.argv[2]).read().split()
plain = [hashlib.sha256(pattern("gold/%d" % c, 65536)).hexdigest()
         for c in range(64)]
for h in addrs + plain:
    assert snap not in h, "the snapshot id is part of a chunk hash"
# The stored chunks are under keyed addresses, not plaintext hashes.
assert not set(plain) & set(addrs), "a chunk is stored under its plaintext hash"
PY
  fail "the hint holds more than indexes (above): $(cat "$tmpdir/hint")"

# Second fork, fresh server: the open prefetches the hint's chunks, and
# the boot reads them right from the prefetched (decrypted) entries.
serve export=f2 stats="$tmpdir/s2" "$key"
nbd_py 'r("f2", 0, 1)' # opens the disk (chunk 0 is read: not a pick)
wait_for 20 "[ \"\$(stat_of '$tmpdir/s2' s3cow_prefetch_loads_total)\" = $npicks ]"
boot f2 $picks
sleep 1.5
[ "$(stat_of "$tmpdir/s2" s3cow_prefetch_hits_total)" = "$npicks" ] ||
  fail "not every read found its chunk prefetched: $(grep prefetch "$tmpdir/s2")"
[ "$(stat_of "$tmpdir/s2" s3cow_cache_misses_total)" = $((npicks + 1)) ] ||
  fail "chunks were loaded twice: $(grep misses "$tmpdir/s2")"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
