#!/usr/bin/env bash
# test-plugin-qemu-img.sh: qemu-img against the plugin on S3
# (64 MiB disk, 1M chunks):
#  - qemu-img convert a 64 MiB image of random data with zero ranges (whole
#    chunks, a large aligned range, unaligned ranges inside chunks, the
#    tail) into the disk;
#  - qemu-img compare image disk says identical;
#  - restart the server; qemu-img info gives the size; qemu-img compare
#    disk image (the other way round) says identical; qemu-img convert the disk back out to a file, identical to the
#    image (cmp);
#  - qemu-img map shows every all-zero chunk as a hole (data: false) and
#    every other chunk as data.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit qemu-img cmp
use_store s3
img="$tmpdir/src.img"
size=$((64 << 20))

/usr/bin/python3 - "$img" "$size" <<'EOF'
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
CS = 1 << 20
rng = random.Random(42)
data = bytearray(rng.randbytes(size))
for off, n in ((4 << 20, 2 << 20),            # 8 whole chunks
               (9 * CS, CS),                  # one chunk
               (20 * CS + 1000, 500000),      # inside a chunk
               (30 * CS - 4096, CS + 8192),   # one chunk and both edges
               (40 * CS + 123, 4567),         # unaligned, small
               (size - (1 << 20), 1 << 20)):  # the tail
    data[off:off + n] = bytes(n)
open(path, "wb").write(data)
EOF

# compare A B WHEN: qemu-img compare says identical (exit status 0).
compare ()
{
  local status=0
  qemu-img compare -f raw -F raw "$1" "$2" || status=$?
  [ "$status" = 0 ] ||
    fail "qemu-img compare $1 $2 ($3): exit status $status, expected 0" \
      "(identical)"
}

serve export=qi size=64M chunk-size=1M \
  cache-size=32M
qemu-img convert -n -f raw -O raw "$img" "$uri" ||
  fail "qemu-img convert image -> disk failed"
compare "$img" "$uri" "before restart"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
serve export=qi cache-size=32M

qemu-img info --output=json -f raw "$uri" >"$tmpdir/info.json" ||
  fail "qemu-img info failed"
vsize="$(/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["virtual-size"])' "$tmpdir/info.json")"
[ "$vsize" = "$size" ] ||
  fail "qemu-img info: virtual-size $vsize, expected $size"
compare "$uri" "$img" "after restart"

qemu-img convert -f raw -O raw "$uri" "$tmpdir/out.img" ||
  fail "qemu-img convert disk -> file failed"
cmp "$img" "$tmpdir/out.img" ||
  fail "the image converted out of the disk differs from the original"

qemu-img map --output=json -f raw "$uri" >"$tmpdir/map.json" ||
  fail "qemu-img map failed"
/usr/bin/python3 - "$img" "$tmpdir/map.json" <<'EOF' ||
import json, sys
CS = 1 << 20
img = open(sys.argv[1], "rb").read()
m = json.load(open(sys.argv[2]))
seen = {}
for e in m:
    for c in range(e["start"] // CS, (e["start"] + e["length"] + CS - 1) // CS):
        seen.setdefault(c, set()).add(e["data"])
holes = 0
for c in range(len(img) // CS):
    want = any(img[c * CS:(c + 1) * CS])
    holes += not want
    if seen.get(c) != {want}:
        sys.exit("qemu-img map: chunk %d (%s) shows data=%s, expected %s"
                 % (c, "data" if want else "all zero",
                    sorted(seen.get(c, [])), want))
print("test-plugin-qemu-img: qemu-img map: %d entries, %d hole chunks as "
      "expected" % (len(m), holes))
EOF
  fail "qemu-img map does not show the zero ranges as holes"

stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
