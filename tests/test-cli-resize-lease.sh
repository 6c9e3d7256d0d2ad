#!/usr/bin/env bash
# s3cow resize is refused while a server holds the disk's lease (a client
# is connected), with a message saying so, and the size stays; once the
# client is gone (the server released the lease) it succeeds.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store
serve

s3cow create d 1M --chunk-size 64K
nbd_py '
import subprocess
h = _conn("d")
h.pwrite(pattern("x", 4096), 0)
h.flush()
p = subprocess.run(["s3cow", "resize", "d", "2M"], capture_output=True,
                   text=True)
if p.returncode != 1:
    sys.exit("resize while the disk is in use: status %d, expected 1"
             % p.returncode)
if "holds its lease" not in p.stderr:
    sys.exit("resize while the disk is in use said: " + p.stderr)
h.shutdown()
h = _conn("d")
if h.get_size() != 1024 * 1024:
    sys.exit("the size changed: %d" % h.get_size())
h.shutdown()
'
wait_released d
s3cow resize d 2M
nbd_py '
h = _conn("d")
if h.get_size() != 2 * 1024 * 1024:
    sys.exit("size after resize: %d, expected 2M" % h.get_size())
h.shutdown()
'
stop_nbdkit || fail "nbdkit exited with status $?"
echo "$0: PASS"
