#!/usr/bin/env bash
# test-security-names.sh: no export name, parameter or stored object can
# make s3cow touch keys outside PREFIX disks/<valid name>/.
#
# The bucket has two tenants: prefix t1/ (the servers under test) and
# prefix t2/ (a victim disk that must stay untouched and unread).
#  - a server with prefix=t1/, new-disk-size= (so that any name it accepts
#    would be created) and no export=: clients ask for ../x, a/b, .., a/../../b,
#    %2e%2e, a 200-character name, a@b@c, a@ (empty snapshot), names with
#    a space, a newline, a backslash, '?', '#', non-ASCII, ...  Every one is
#    refused, the log says "invalid disk name" or "too long" for each, and
#    the bucket is unchanged; the boundary is exact (96 characters are a
#    disk, 97 are refused), and only what the valid name creates appears,
#    under t1/disks/NAME/;
#  - the same names to a server with export=d are refused ("serves only
#    disk d"); export=BAD makes nbdkit refuse to start, creating nothing;
#  - hostile heads stored in the bucket (disks/evil*/head) naming map keys
#    chunks/../.., disks/x/../../.., ../t2/..., a key that is not under
#    disks/: opening them fails with "is not a map key", and no request
#    for a key with ".." or outside t1/ is sent (http debug log);
#  - the s3cow command (if built) refuses the same names.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh /usr/bin/python3
use_store s3
creds=("${store[@]}" chunk-size=64K cache-size=4M retry-time=5)
export TEST_SOCK="$sock" TEST_NAMES="$tmpdir/names"

# Every key of the bucket, sorted.
objects ()
{
  obj_list "" | cut -d' ' -f1
}

# The victim: a disk of tenant t2 with known data.
start_nbdkit "$sock" "${creds[@]}" prefix=t2/ export=victim size=1M
nbdsh -u "nbd+unix:///?socket=$sock" \
  -c 'h.pwrite(b"victim data" * 100, 0); h.flush()' ||
  fail "cannot write the victim disk"
stop_nbdkit || fail "nbdkit exited with status $?"
victim_before="$(objects | grep '^t2/')"
[ -n "$victim_before" ] || fail "the victim disk left no objects"

# The hostile names, one per line, as Python literals (some hold a
# newline or a NUL-free control character).
long200="$(printf 'a%.0s' $(seq 1 200))"
name96="n$(printf 'x%.0s' $(seq 1 95))"
name97="${name96}y"
cat >"$TEST_NAMES" <<EOF
'../x'
'a/b'
'..'
'.'
'a/../../b'
'%2e%2e'
'%2E%2E%2Fx'
'../../t2/disks/victim'
'../t2/disks/victim'
'/victim'
'victim/'
'disks/victim'
'$long200'
'$name97'
'a@b@c'
'a@'
'@'
'@snap'
'a@..'
'a@../x'
'a@b/c'
'-a'
'.hidden'
'a b'
'a\nb'
'a\rb'
'a\\\\b'
'a?list-type=2'
'a#x'
'a\tb'
'\u00e9t\u00e9'
'a\x1b[2Jb'
'a%00b'
'x' * 4000
EOF
nnames="$(wc -l <"$TEST_NAMES")"

# try_names [FILE]: every name of FILE (default TEST_NAMES), one Python
# literal a line, must fail to open.  One nbdsh for all: each start of
# Python costs time.
try_names ()
{
  TEST_TRY="${1:-$TEST_NAMES}" nbdsh -n -c "$(cat <<'PYEOF'
import os, sys
sock = os.environ["TEST_SOCK"]
bad = 0
for line in open(os.environ["TEST_TRY"]):
    name = eval(line)   # our own literals, not input
    h = nbd.NBD()
    h.set_export_name(name)
    try:
        h.connect_unix(sock)
    except nbd.Error as e:
        print("refused %r: %s" % (name[:60], e))
        continue
    try:
        h.pread(512, 0)
    except nbd.Error:
        pass
    print("SERVED %r" % name)
    bad += 1
sys.exit(1 if bad else 0)
PYEOF
)"
}

# 1. No export=: the client's name picks the disk; new-disk-size= would
# create it.
before="$(objects)"
log="$tmpdir/noexport.log"
NBDKIT_OPTS="-v -D s3cow.http=1" start_nbdkit "$sock" "${creds[@]}" \
  prefix=t1/ new-disk-size=1M 2>"$log"
try_names >"$tmpdir/client.out" 2>&1 ||
  fail "a hostile export name was served: $(grep SERVED "$tmpdir/client.out")"
after="$(objects)"
[ "$before" = "$after" ] ||
  fail "refused names changed the bucket: $(diff <(echo "$before") \
    <(echo "$after"))"
nerr="$(grep -c 'invalid disk name\|disk name too long' "$log" || true)"
[ "$nerr" -ge "$nnames" ] ||
  fail "only $nerr of $nnames refused names say why in the log:" \
    "$(grep -i error "$log" | head -n 40)"
echo "$0: $nnames hostile names refused, each with a message"

# The boundary: 96 characters make a disk, under t1/disks/NAME/ only.
nbdsh -c "h.set_export_name('$name96')" -c "h.connect_unix('$sock')" \
  -c 'h.pwrite(b"x" * 512, 0); h.flush()' ||
  fail "a valid 96-character name was refused: $(tail -n 5 "$log")"
stop_nbdkit || fail "nbdkit exited with status $?"
new="$(comm -13 <(echo "$before") <(objects))"
[ -n "$new" ] || fail "the valid name created nothing: the test is blind"
# t1/gc/grace: the bucket's gc grace record, a fixed key.
bad_new="$(echo "$new" | grep -v "^t1/disks/$name96/" |
  grep -v '^t1/chunks/[0-9a-f]\{64\}$' | grep -v '^t1/gc/grace$' || true)"
[ -z "$bad_new" ] || fail "objects created outside t1/disks/$name96/: $bad_new"
# Nothing outside t1/ was asked for, and no key with "..".
if grep -E '(GET|PUT|HEAD|DELETE|LIST) s3://[^ ]*' "$log" |
  grep -Ev "s3://$bucket/(t1/|\?)" | grep -q .; then
  fail "requests outside t1/: $(grep -E 's3://' "$log" |
    grep -Ev "s3://$bucket/(t1/|\?)" | head)"
fi
if grep -E 's3://[^ ]*\.\.' "$log" | grep -q .; then
  fail "a request for a key with '..': $(grep -E 's3://[^ ]*\.\.' "$log")"
fi

# 2. With export=d: everything but d is refused.
before="$(objects)"
log="$tmpdir/export.log"
start_nbdkit "$sock" "${creds[@]}" prefix=t1/ export=d size=1M 2>"$log"
try_names >"$tmpdir/client.out" 2>&1 ||
  fail "export=d served a hostile name: $(grep SERVED "$tmpdir/client.out")"
nerr="$(grep -c 'serves only disk d' "$log" || true)"
[ "$nerr" -ge "$nnames" ] ||
  fail "only $nerr of $nnames refusals say \"serves only disk d\""
stop_nbdkit || fail "nbdkit exited with status $?"
new="$(comm -13 <(echo "$before") <(objects) | grep -v '^t1/disks/d/' || true)"
[ -z "$new" ] || fail "export=d created objects outside t1/disks/d/: $new"

# export=BAD: nbdkit refuses to start, with a clear error, creating nothing.
before="$(objects)"
# (Each nbdkit start costs time: a choice of the names.)
for bad in ../x a/b .. a/../../b "$name97" a@b@c d@ d@../x .hidden \
  "../../t2/disks/victim"
do
  out="$(timeout 60 nbdkit -f -U "$tmpdir/bad.sock" "$S3COW_PLUGIN" \
    "${creds[@]}" prefix=t1/ export="$bad" --run 'exit 0' 2>&1)" &&
    fail "export=$bad: nbdkit started"
  case "$out" in
    *"invalid disk name"* | *"too long"*) ;;
    *) fail "export=$bad: unclear error: $out" ;;
  esac
done
[ "$before" = "$(objects)" ] || fail "a refused export= created objects"

# 3. Hostile heads in the bucket.
# A head as format.c writes it (docs/format.md): DIR MAP-KEY... writes
# DIR/good (no maps) and DIR/evilN (naming the Nth key as its map).
cat >"$tmpdir/head.py" <<'PYEOF'
import hashlib, struct, sys
def head(maps, parent=b"", size=1 << 20, chunk=65536):
    b = b"s3cowHD\0" + struct.pack("<IIQIIQQQ", 1, 0, size, chunk, len(maps),
                                   1, 1700000000, 1700000000)
    b += struct.pack("<H", len(parent)) + parent
    for m in maps:
        b += struct.pack("<H", len(m)) + m
    return b + hashlib.sha256(b).digest()
d = sys.argv[1]
open(d + "/good", "wb").write(head([]))
for i, k in enumerate(sys.argv[2:], 1):
    open("%s/evil%d" % (d, i), "wb").write(head([k.encode()]))
PYEOF
evil_keys=("chunks/../.." "disks/x/../../t2/disks/victim/head"
  "disks/evil/maps/../../../t2/disks/victim/maps/x" "../t2/disks/victim/head"
  "t2/disks/victim/head" "/t2/disks/victim/head" "disks/a/maps/..%2f.."
  "disks/a/maps/x/.." "disks/..")
/usr/bin/python3 "$tmpdir/head.py" "$tmpdir" "${evil_keys[@]}"
evil=()
: >"$tmpdir/evil-names"
for ((n = 1; n <= ${#evil_keys[@]}; n++)); do
  obj_put "t1/disks/evil$n/head" "$tmpdir/evil$n"
  evil+=("evil$n")
  echo "'evil$n'" >>"$tmpdir/evil-names"
done
# A good head from the same encoder opens (the test is not blind).
obj_put t1/disks/good/head "$tmpdir/good"

before="$(objects)"
log="$tmpdir/evil.log"
NBDKIT_OPTS="-v -D s3cow.http=1" start_nbdkit "$sock" "${creds[@]}" \
  prefix=t1/ 2>"$log"
nbdsh -c "h.set_export_name('good')" -c "h.connect_unix('$sock')" \
  -c 'assert h.pread(512, 0) == bytes(512)' ||
  fail "the good hand-made head does not open: $(grep error "$log")"
try_names "$tmpdir/evil-names" >"$tmpdir/client.out" 2>&1 ||
  fail "a hostile head was served: $(grep SERVED "$tmpdir/client.out")"
stop_nbdkit || fail "nbdkit exited with status $?"
nerr="$(grep -c 'is not a map key' "$log" || true)"
[ "$nerr" -ge "${#evil[@]}" ] ||
  fail "only $nerr of ${#evil[@]} hostile heads are refused with" \
    "\"is not a map key\": $(grep error "$log")"
if grep -E 's3://' "$log" | grep -Ev "s3://$bucket/(t1/|\?)" | grep -q .; then
  fail "requests outside t1/: $(grep -E 's3://' "$log" |
    grep -Ev "s3://$bucket/(t1/|\?)" | head)"
fi
if grep -E 's3://[^ ]*\.\.' "$log" | grep -q .; then
  fail "a request for a key with '..': $(grep -E 's3://[^ ]*\.\.' "$log")"
fi
# (A read-write open takes the disk's lease before it reads the head.)
new="$(comm -13 <(echo "$before") <(objects) | grep -v '^t1/disks/good/' |
  grep -v '^t1/disks/evil[0-9]*/lease$' || true)"
[ -z "$new" ] || fail "hostile heads created objects: $new"
echo "$0: ${#evil[@]} hostile heads refused"

# The victim is untouched.
[ "$victim_before" = "$(objects | grep '^t2/')" ] ||
  fail "the victim's objects changed"

# 4. The s3cow command refuses the names too.
if command -v s3cow >/dev/null 2>&1; then
  cli=(s3cow --endpoint "$S3COW_TEST_ENDPOINT" --bucket "$bucket"
    --prefix t1/ --access-key "$S3COW_TEST_ACCESS_KEY"
    --secret-key-file "$tmpdir/secret" --retry-time 5)
  before="$(objects)"
  for c in "create ../x 1M" "create a/b 1M" "create $long200 1M" \
    "fork good ../../t2/disks/victim" "fork ../t2/disks/victim x" \
    "snapshot good ../x" "snapshot good a@b" "info ../x" "rm a/../../b" \
    "fsck ..@x"; do
    # shellcheck disable=SC2086 # c is a command and its operands
    if out="$("${cli[@]}" $c 2>&1)"; then
      fail "s3cow $c succeeded: $out"
    fi
  done
  [ "$before" = "$(objects)" ] || fail "s3cow created objects for a bad name"
fi
echo "$0: OK"
