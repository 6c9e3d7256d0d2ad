#!/usr/bin/env bash
# test-plugin-exports.sh: export names.
#  - create disk a (8 MiB) and disk b (16 MiB) with export=a / export=b
#    servers, each written with its own data;
#  - a server without export=: nbdinfo --list shows exactly a and b; the
#    client's export name picks the disk (nbd+unix:///a and /b give each its
#    size and data; connections to a and b at once, two to a share writes);
#  - asking that server for a missing disk, an invalid name, or no name
#    fails, and its log says why ("disk c does not exist", "invalid disk
#    name", "no disk named");
#  - a server with export=a lists only a, serves a for the default export
#    name and for "a", and refuses b ("serves only disk a, not b").
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh nbdinfo
use_store
store+=(chunk-size=64K cache-size=2M)
export TEST_SOCK="$sock"
log="$tmpdir/nbdkit.log"

# expect_log PATTERN WHAT: the server's log gets a line matching PATTERN
# (poll: tee may lag behind).
expect_log ()
{
  local i
  for ((i = 0; i < 50; i++)); do
    grep -qF -- "$1" "$log" && return 0
    sleep 0.1
  done
  fail "$2: the server's log does not say \"$1\"; it has:" \
    "$(cat "$log")"
}

# 1. Two disks.
for d in a b; do
  if [ $d = a ]; then size=8M; else size=16M; fi
  serve export=$d size=$size
  nbdsh -u "nbd+unix:///?socket=$sock" \
    -c "h.pwrite(b'this is disk $d' * 1000, 4096); h.flush()" ||
    fail "writing disk $d failed"
  stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM"
done

# 2. Without export=.
serve 2> >(tee "$log" >&2)
nbdinfo --list --json "nbd+unix:///?socket=$sock" >"$tmpdir/list.json" ||
  fail "nbdinfo --list failed"
names="$(/usr/bin/python3 -c 'import json, sys
print(" ".join(sorted(e["export-name"]
                      for e in json.load(open(sys.argv[1]))["exports"])))' \
  "$tmpdir/list.json")"
[ "$names" = "a b" ] ||
  fail "nbdinfo --list shows exports \"$names\", expected \"a b\""

nbdsh -n -c "$(cat <<'EOF'
import os, sys
sock = os.environ["TEST_SOCK"]
def conn(name):
    x = nbd.NBD()
    x.connect_uri("nbd+unix:///%s?socket=%s" % (name, sock))
    return x
a, b, a2 = conn("a"), conn("b"), conn("a")
for x, d, size in ((a, "a", 8 << 20), (b, "b", 16 << 20)):
    if x.get_size() != size:
        sys.exit("export %s: size %d, expected %d" % (d, x.get_size(), size))
    want = b"this is disk " + d.encode()
    got = x.pread(len(want) * 1000, 4096)
    if got != want * 1000:
        sys.exit("export %s: reads %r..., expected %r..."
                 % (d, bytes(got[:20]), want))
a.pwrite(b"new in a", 0); a.flush()
if a2.pread(8, 0) != b"new in a":
    sys.exit("a second connection to a does not see the first's write")
if b.pread(8, 0) != bytes(8):
    sys.exit("a write to a shows in b")
for x in (a, b, a2):
    x.shutdown()
print("test-plugin-exports: a and b served by export name")
EOF
)" || fail "reading disks by export name failed: see above"

# expect_refused NAME WHAT DECODED-NAME: connecting with export name NAME
# (in the URI) must fail, and the client say so.
expect_refused ()
{
  if nbdsh -u "nbd+unix:///$1?socket=$sock" -c 'print(h.get_size())' \
    >"$tmpdir/out" 2>"$tmpdir/err"; then
    fail "$2: connecting to export \"$1\" succeeded (size" \
      "$(cat "$tmpdir/out")), expected a refusal"
  fi
  echo "$2: refused: $(cat "$tmpdir/err")"
  grep -qF "no export named '$3'" "$tmpdir/err" ||
    fail "$2: the client's error does not say \"no export named '$3'\""
}
expect_refused c "missing disk c" c
expect_log "disk c does not exist (a server with new-disk-size= creates it)" \
  "missing disk c"
expect_refused '..%2Fx' "export name ../x" ../x
expect_log "invalid disk name '../x'" "export name ../x"
expect_refused '' "no export name" ''
expect_log "no disk named: ask for an export name" "no export name"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# 3. With export=a.
serve export=a 2> >(tee "$log" >&2)
names="$(nbdinfo --list --json "nbd+unix:///?socket=$sock" |
  /usr/bin/python3 -c 'import json, sys
print(" ".join(e["export-name"] for e in json.load(sys.stdin)["exports"]))')" ||
  fail "nbdinfo --list (export=a) failed"
[ "$names" = a ] ||
  fail "with export=a, nbdinfo --list shows \"$names\", expected \"a\""
for name in '' a; do
  got="$(nbdsh -u "nbd+unix:///$name?socket=$sock" -c 'print(h.pread(8, 0))')" ||
    fail "with export=a, export name \"$name\" failed"
  [ "$got" = "bytearray(b'new in a')" ] ||
    fail "with export=a, export name \"$name\" reads $got, expected disk a"
done
expect_refused b "export b from a server with export=a" b
expect_log "this server serves only disk a, not b" "export b with export=a"
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
