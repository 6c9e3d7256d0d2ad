"""faultload_model.py: what the disk must hold, as faultload.py's
scenarios wrote it, and the checks of what they read against it."""

import threading

import nbd

from faultload_harness import MiB, die


class Mismatch(Exception):
    """Wrong data read (raised, not sys.exit: it may happen in a thread)."""


class Model:
    """What the disk must hold: one bytearray, plus, for blocks that a
    failed write touched, the other content each may hold (a write that
    failed may have been applied to some of its chunks)."""

    BLOCK = 512

    def __init__(self, disk_size):
        self.data = bytearray(disk_size)
        self.maybe = {}             # block -> [alternative content]
        self.lock = threading.Lock()

    def write(self, off, data):
        self.data[off:off + len(data)] = data
        if self.maybe:
            with self.lock:
                for b in range(off // self.BLOCK,
                               (off + len(data)) // self.BLOCK):
                    self.maybe.pop(b, None)

    def failed_write(self, off, data):
        with self.lock:
            for i in range(0, len(data), self.BLOCK):
                self.maybe.setdefault((off + i) // self.BLOCK, []).append(
                    bytes(data[i:i + self.BLOCK]))

    def check(self, off, got, what):
        """Compare got (read at off) with the model; raise Mismatch."""
        want = self.data[off:off + len(got)]
        if got == want:
            return
        for i in range(0, len(got), self.BLOCK):
            g = got[i:i + self.BLOCK]
            w = want[i:i + self.BLOCK]
            if g == w:
                continue
            b = (off + i) // self.BLOCK
            with self.lock:
                alts = self.maybe.get(b, [])
                if g in alts:
                    # a failed write that landed: the state now
                    self.data[off + i:off + i + self.BLOCK] = g
                    del self.maybe[b]
                    continue
            j = next(k for k in range(len(g)) if g[k] != w[k])
            raise Mismatch("%s: wrong data at disk offset %d (read of %d bytes at %d):"
                " got %s..., expected %s...%s"
                % (what, off + i + j, len(got), off, bytes(g[j:j + 8]).hex(),
                   bytes(w[j:j + 8]).hex(),
                   " or one of %d contents of a failed write" % len(alts)
                   if alts else ""))


def verify_all(h, model, what, step=MiB):
    n = 0
    for off in range(0, len(model.data), step):
        length = min(step, len(model.data) - off)
        try:
            got = h.pread(length, off)
        except nbd.Error as e:
            die("%s: read of %d bytes at %d failed: %s" % (what, length, off, e))
        model.check(off, got, what)
        n += length
    return n
