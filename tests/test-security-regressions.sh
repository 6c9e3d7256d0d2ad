#!/usr/bin/env bash
# test-security-regressions.sh: the bugs that fuzzing found, each
# checked end to end on the directory store (no S3 server needed).  Their
# fuzz inputs are in tests/fuzz/regress-*/, which test-security-fuzz.sh
# replays; the list below says what each was.
#   dotdot-name          a disk named v1..2 was created, then never opened
#   param-nonfinite      nan, inf, 1e300 taken as durations
#   log-injection        a client's export name copied raw into the log
#   head-parent-unchecked  a head's parent (and map keys, lease fields)
#                        printed raw by s3cow ls / info and in messages
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
make_tmpdir


store ()
{
  rm -rf "$tmpdir/store"
  mkdir -p "$tmpdir/store/b"
  echo "bucket=b endpoint=file://$tmpdir/store"
}

# A disk named v1..2: refused as a name, or created, written, flushed and
# then opened again.
# shellcheck disable=SC2016 # $uri is for nbdkit --run to expand
check_disk_with_dotdot_name ()
{
  # shellcheck disable=SC2046 # store prints the parameters
  if ! nbdkit -U - "$S3COW_PLUGIN" $(store) export=v1..2 size=1M \
    chunk-size=64K cache-size=4M --run 'nbdsh -u "$uri" \
    -c "h.pwrite(b\"x\" * 512, 0)" -c "h.flush()"' >"$tmpdir/log" 2>&1; then
    grep -q 'invalid disk name' "$tmpdir/log" # refused: fixed that way
    return
  fi
  # shellcheck disable=SC2046
  nbdkit -U - "$S3COW_PLUGIN" bucket=b endpoint="file://$tmpdir/store" \
    export=v1..2 --run 'nbdsh -u "$uri" -c "assert h.pread(1, 0) == b\"x\""' \
    >>"$tmpdir/log" 2>&1
}

# nan, inf, 1e300 must be refused for every duration parameter.
check_nonfinite_parameters ()
{
  local p v
  for p in lease commit-interval timeout retry-time lease-wait; do
    for v in nan inf 1e300; do
      [ "$p" = lease ] && [ "$v" != nan ] && continue # range-checked
      # shellcheck disable=SC2046
      if nbdkit -U - "$S3COW_PLUGIN" $(store) "$p=$v" --run true \
        >"$tmpdir/log" 2>&1; then
        echo "$p=$v is accepted"
        return 1
      fi
    done
  done
}

# An export name with a newline and an ESC must not reach the log raw.
check_export_name_in_log ()
{
  local sock="$tmpdir/sock"
  # shellcheck disable=SC2046
  start_nbdkit "$sock" $(store) 2>"$tmpdir/log"
  nbdsh -n -c "
h = nbd.NBD()
h.set_export_name('x\nnbdkit: error: FORGED LINE\x1b[2J')
try:
    h.connect_unix('$sock')
except nbd.Error:
    pass
" || true
  stop_nbdkit || true
  ! grep -q '^nbdkit: error: FORGED LINE' "$tmpdir/log" &&
    ! grep -q $'\x1b' "$tmpdir/log"
}

# ... nor through "this server serves only disk d, not NAME".
check_export_name_in_log_export ()
{
  local sock="$tmpdir/sock"
  # shellcheck disable=SC2046
  start_nbdkit "$sock" $(store) export=d size=1M chunk-size=64K \
    cache-size=4M 2>"$tmpdir/log"
  nbdsh -n -c "
h = nbd.NBD()
h.set_export_name('x\nnbdkit: error: FORGED LINE\x1b[2J')
try:
    h.connect_unix('$sock')
except nbd.Error:
    pass
" || true
  stop_nbdkit || true
  grep -q 'serves only disk' "$tmpdir/log" || return 1 # not even refused?
  ! grep -q '^nbdkit: error: FORGED LINE' "$tmpdir/log" &&
    ! grep -q $'\x1b' "$tmpdir/log"
}

# put KEY FILE: store FILE as KEY of bucket b in the directory store.
put ()
{
  mkdir -p "$(dirname "$tmpdir/store/b/$1")"
  /usr/bin/python3 - "$2" "$tmpdir/store/b/$1" <<'PYEOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
etag = hashlib.sha256(data).hexdigest()[:32]     # the directory store's
head = ("S3COWDIR1 " + etag).ljust(63).encode() + b"\n"
open(sys.argv[2], "wb").write(head + data)
PYEOF
}

# A head as format.c writes it (docs/format.md), with any parent and maps.
mkhead ()
{
  /usr/bin/python3 - "$@" <<'PYEOF'
import hashlib, struct, sys
out, parent = sys.argv[1], sys.argv[2].encode("latin-1")
maps = [m.encode("latin-1") for m in sys.argv[3:]]
b = b"s3cowHD\0" + struct.pack("<IIQIIQQQ", 1, 0, 1 << 20, 65536, len(maps),
                               1, 1700000000, 1700000000)
b += struct.pack("<H", len(parent)) + parent
for m in maps:
    b += struct.pack("<H", len(m)) + m
open(out, "wb").write(b + hashlib.sha256(b).digest())
PYEOF
}

# s3cow ls and info refuse a head whose parent or map key is not a name
# s3cow writes, with an error naming the key; no control byte is printed.
check_cli_hostile_head ()
{
  local esc=$'\x1b[31mFORGED\x1b[0m' d
  local s3=(s3cow --endpoint "file://$tmpdir/store" --bucket b)
  rm -rf "$tmpdir/store"
  mkdir -p "$tmpdir/store/b"
  mkhead "$tmpdir/h" "" && put disks/good/head "$tmpdir/h"
  mkhead "$tmpdir/h" "good$esc" && put disks/evil1/head "$tmpdir/h"
  mkhead "$tmpdir/h" $'good\nevil9 1G' && put disks/evil2/head "$tmpdir/h"
  mkhead "$tmpdir/h" "good" "disks/good/maps/x$esc" &&
    put disks/evil3/head "$tmpdir/h"
  "${s3[@]}" ls >"$tmpdir/log" 2>&1 || true
  for d in evil1 evil2 evil3; do
    "${s3[@]}" info "$d" >>"$tmpdir/log" 2>&1 && {
      echo "s3cow info $d succeeded"
      return 1
    }
  done
  grep -q '^good ' "$tmpdir/log" || { echo "ls lost the good disk"; return 1; }
  if ! grep -q 'disks/evil1/head: head has an invalid parent name' \
    "$tmpdir/log" ||
    ! grep -q 'disks/evil2/head: head has an invalid parent name' \
      "$tmpdir/log" ||
    ! grep -q 'disks/evil3/head: head map key 0 is not a map key' \
      "$tmpdir/log"; then
    echo "no error naming the key"
    return 1
  fi
  ! grep -q $'\x1b' "$tmpdir/log" && ! grep -q '^evil9' "$tmpdir/log"
}

# A lease whose host holds an escape sequence (checksum right): refused as
# malformed (so treated as held for a lease period, then taken over),
# and never printed raw, by the server or by s3cow info.
check_lease_host_escape ()
{
  rm -rf "$tmpdir/store"
  mkdir -p "$tmpdir/store/b"
  mkhead "$tmpdir/h" "" && put disks/d/head "$tmpdir/h"
  /usr/bin/python3 - "$tmpdir/l" <<'PYEOF'
import hashlib, sys, time
t = int(time.time())
b = ("s3cow-lease 1\nstate=held\nhost=h\x1b[2J\x1b]0;owned\x07\npid=1\n"
     "instance=00ff\nexport=d\ntaken=%d\nrenewed=%d\nduration=3600\n"
     % (t, t)).encode()
open(sys.argv[1], "wb").write(b + b"sha256=" +
                              hashlib.sha256(b).hexdigest().encode() + b"\n")
PYEOF
  put disks/d/lease "$tmpdir/l"
  s3cow --endpoint "file://$tmpdir/store" --bucket b info d \
    >"$tmpdir/log" 2>&1 || true
  # shellcheck disable=SC2016 # $uri is for nbdkit --run to expand
  nbdkit -U - "$S3COW_PLUGIN" bucket=b endpoint="file://$tmpdir/store" \
    export=d lease=3 --run 'nbdsh -u "$uri" -c "h.get_size()"' \
    >>"$tmpdir/log" 2>&1 || {
    echo "the stale lease was not taken over"
    return 1
  }
  grep -q 'disks/d/lease: lease object is malformed' "$tmpdir/log" ||
    { echo "no error naming the lease"; return 1; }
  ! grep -q $'\x1b\|\x07' "$tmpdir/log"
}

checks=(disk_with_dotdot_name nonfinite_parameters export_name_in_log
  export_name_in_log_export cli_hostile_head lease_host_escape)
for c in "${checks[@]}"; do
  if "check_$c"; then
    echo "$0: $c: OK"
  else
    echo "$0: $c: FAILED; log:"
    cat -v "$tmpdir/log"
    fail "$c"
  fi
done
echo "$0: OK: ${#checks[@]} checks"
