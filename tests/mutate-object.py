#!/usr/bin/python3
"""mutate-object.py MODE IN OUT: damage a stored s3cow object for
test-errors-table.sh.  Binary objects (head, map): corrupt (one bit
flipped in the middle), truncate20, truncatehalf, version (format version
2 with a valid checksum), oversized (70000 zero bytes appended), magic
(the magic replaced), mac (an encrypted head's MAC changed, valid
checksum).  Leases (text): lease-corrupt (pid changed, checksum
kept), lease-version (version 2, valid checksum), lease-truncate,
lease-oversized, and magic.  Chunks: corrupt, truncatehalf,
chunk-oversized (4096 bytes appended)."""
import hashlib
import struct
import sys

mode, src, dst = sys.argv[1:4]
d = bytearray(open(src, "rb").read())
if mode == "corrupt":
    d[len(d) // 2] ^= 1
elif mode == "truncate20":
    d = d[:20]
elif mode == "truncatehalf":
    d = d[:len(d) // 2]
elif mode == "version":
    d[8:12] = struct.pack("<I", 2)
    d[-32:] = hashlib.sha256(bytes(d[:-32])).digest()
elif mode == "mac":
    d[-33] ^= 1  # the MAC's last byte, right before the checksum
    d[-32:] = hashlib.sha256(bytes(d[:-32])).digest()
elif mode == "oversized":
    d += bytes(70000)
elif mode == "magic":
    d[0:8] = b"garbage!"
elif mode == "lease-corrupt":
    t = d.decode()
    i = t.index("pid=") + 4
    d = bytearray((t[:i] + ("1" if t[i] != "1" else "2") + t[i + 1:]).encode())
elif mode == "lease-version":
    t = d.decode().replace("s3cow-lease 1\n", "s3cow-lease 2\n", 1)
    body = t[:t.index("sha256=")]
    d = bytearray((body + "sha256=" + hashlib.sha256(body.encode()).hexdigest() + "\n").encode())
elif mode == "lease-truncate":
    d = d[:len(d) // 2]
elif mode == "lease-oversized":
    d += b"x" * 70000
elif mode == "chunk-oversized":
    d += bytes(4096)
else:
    sys.exit("mode?")
open(dst, "wb").write(d)
