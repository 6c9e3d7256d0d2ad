#!/usr/bin/env bash
# The history window is the disk's: --history 0 keeps no heads; s3cow
# history DISK shows it and DISK DURATION changes it (commits are kept from
# then on), refused while a server holds the disk's lease; a fork keeps
# its source's window unless --history says otherwise.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K --history 0
[ "$(s3cow history d)" = off ] || fail "history d: $(s3cow history d), expected off"
nbd_py 'w("d", 0, pattern("A", 65536))'
[ -z "$(obj_list disks/d/history/)" ] || fail "a disk without history kept heads"

# The server closes the disk once the client has gone: then its lease is
# free for the change.
wait_released d
s3cow history d 90m || fail "s3cow history d 90m failed"
[ "$(s3cow history d)" = 90m ] || fail "history d: $(s3cow history d), expected 90m"
s3cow info d | grep -q "^history window: *90m$" || fail "s3cow info does not show the window"
nbd_py 'w("d", 0, pattern("B", 65536))'
[ -n "$(obj_list disks/d/history/)" ] || fail "no kept heads after the window was set"

s3cow fork d f1
[ "$(s3cow history f1)" = 90m ] || fail "a fork did not keep its source's window"
s3cow fork d f2 --history 7d
[ "$(s3cow history f2)" = 7d ] || fail "fork --history 7d: $(s3cow history f2)"

# A server writing d holds its lease: the change is refused.
nbd_py '
import subprocess
h = _conn("d")
h.pwrite(pattern("C", 512), 0)
p = subprocess.run(["s3cow", "history", "d", "1h"], capture_output=True, text=True)
h.flush()
h.shutdown()
assert p.returncode == 1, p
assert "stop the server that writes it first" in p.stderr, p.stderr
' || fail "s3cow history changed the window of a disk being written (above)"
[ "$(s3cow history d)" = 90m ] || fail "the window changed while d was written"
