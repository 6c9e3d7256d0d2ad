#!/usr/bin/env bash
# s3cow history DISK DURATION writes the head: for an encrypted disk it
# needs the key.  Without it the change is refused, saying so; with it
# the new window is set, and a server with the key opens the disk (the
# new head is authenticated) and reads its data.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow openssl
use_store
log="$tmpdir/log"
openssl rand -hex 32 >"$tmpdir/key"

s3cow create d 1M --chunk-size 64K --encryption-key-file "$tmpdir/key"
serve "encryption-key=+$tmpdir/key"
nbd_py 'w("d", 0, pattern("data", 65536))'
stop_nbdkit || fail "nbdkit exited with status $?"

if s3cow history d 2h 2>"$log"; then fail "set without the key succeeded"; fi
grep -q "d is encrypted: changing its history window needs its key" "$log" ||
  fail "set without the key: $(cat "$log")"
[ "$(s3cow history d)" != 2h ] || fail "the window changed without the key"

s3cow history d 2h --encryption-key-file "$tmpdir/key" ||
  fail "set with the key failed"
[ "$(s3cow history d)" = 2h ] || fail "the window is $(s3cow history d)"
serve "encryption-key=+$tmpdir/key"
nbd_py 'assert r("d", 0, 65536) == pattern("data", 65536)' ||
  fail "reading the disk after the change failed"
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
