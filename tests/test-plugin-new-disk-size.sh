#!/usr/bin/env bash
# test-plugin-new-disk-size.sh: a server without export= and with
# new-disk-size=16M creates an unknown export name a client opens, with
# that size, and serves existing disks at their own sizes; without
# new-disk-size=, an unknown name fails ("does not exist") and creates
# nothing.  size= without export=, and new-disk-size= with it, are
# refused.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
s3cow create old 1M

size_of () { nbdsh -u "nbd+unix:///$1?socket=$sock" -c 'print(h.get_size())'; }

serve new-disk-size=16M 2>"$tmpdir/log"
[ "$(size_of my_device)" = $((16 << 20)) ] ||
  fail "my_device was not created with 16M: $(cat "$tmpdir/log")"
[ "$(size_of old)" = $((1 << 20)) ] || fail "old is not served with its 1M"
stop_nbdkit || fail "nbdkit exited with status $?"
s3cow ls | grep -q '^my_device ' || fail "my_device is not in the bucket"

serve 2>"$tmpdir/log"
if size_of typo 2>/dev/null; then fail "an unknown name was served"; fi
[ "$(size_of my_device)" = $((16 << 20)) ] ||
  fail "my_device is not served with 16M"
stop_nbdkit || fail "nbdkit exited with status $?"
grep -q "disk typo does not exist" "$tmpdir/log" || {
  cat "$tmpdir/log"
  fail "no log line says that disk typo does not exist"
}
! s3cow ls | grep -q '^typo ' || fail "an unknown name created a disk"

# refused PARAM... MESSAGE: nbdkit refuses to start with the parameters.
refused ()
{
  local msg="${*: -1}"
  if timeout 60 nbdkit -U - --run true "$S3COW_PLUGIN" "${store[@]}" \
    "${@:1:$#-1}" 2>"$tmpdir/err"; then
    fail "nbdkit started with ${*:1:$#-1}"
  fi
  grep -qF "$msg" "$tmpdir/err" || {
    cat "$tmpdir/err"
    fail "${*:1:$#-1}: the error does not say: $msg"
  }
}
refused size=16M "size= needs export="
refused export=old new-disk-size=16M \
  "new-disk-size= is for a server without export="
