#!/usr/bin/python3
# Crash test driver (used by test-crash.sh and scripts/crash-long.sh).
#
# Rounds of writes, trims and a flush go to an s3cow server, which is killed
# with SIGKILL at a random moment.  After each kill a new server opens the
# disk and the whole disk is compared with the model: every block must hold
# what it held after the last acknowledged flush, or, for a block written in
# the round that was cut short, that round's content (whole: never torn).
# After each cleanly stopped server, `s3cow fsck` must find the bucket clean.
#
# usage: crash.py ITERATIONS  (settings in the environment, see below)

import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time

import nbd

BLOCK = 4096
DISK = 8 * 1024 * 1024
NBLOCKS = DISK // BLOCK
ZERO = bytes(BLOCK)

# From tests/functions.sh (setup_python_test): the store's plugin
# arguments, one a line, in store_args, and the environment of the s3cow
# command.
tmpdir = os.environ["tmpdir"]
plugin = os.environ["S3COW_PLUGIN"]
store_args = os.environ["store_args"].split("\n")
sock = os.path.join(tmpdir, "sock")
seed = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
rng = random.Random(seed)


def server_args():
    return ["nbdkit", "-f", "-U", sock, "--pidfile", sock + ".pid",
            plugin] + store_args + [
                "export=d", "size=%d" % DISK, "chunk-size=64K",
                "cache-size=4M", "commit-interval=0.3", "lease=6"]


def start_server(log):
    for f in (sock, sock + ".pid"):
        if os.path.exists(f):
            os.unlink(f)
    p = subprocess.Popen(server_args(), stdout=log, stderr=log)
    for _ in range(600):
        # nbdkit writes the PID file once it listens
        if os.path.exists(sock + ".pid") and os.path.getsize(sock + ".pid"):
            return p
        if p.poll() is not None:
            sys.exit("crash.py: nbdkit exited with status %d" % p.returncode)
        time.sleep(0.05)
    p.kill()
    sys.exit("crash.py: nbdkit did not start")


def break_lease():
    # The killed holder cannot renew, nor release.
    subprocess.run(["s3cow", "unlock", "d", "--force"], check=True,
                   stdout=subprocess.DEVNULL)


def fsck(label):
    """s3cow fsck of the bucket: every head, map and chunk readable and
    every chunk whole, after a crash and a clean stop."""
    r = subprocess.run(["s3cow", "fsck"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit("crash.py: %s: s3cow fsck failed (status %d):\n%s"
                 % (label, r.returncode, r.stdout.decode(errors="replace")))


def content(rnd, block):
    return struct.pack("<QQ", rnd, block) * (BLOCK // 16)


def connect():
    h = nbd.NBD()
    h.connect_unix(sock)
    return h


def verify(h, model, pending, label):
    """Each block: as after the last acknowledged flush, or one of the
    contents the unacknowledged round gave it (pending: block -> set)."""
    for start in range(0, NBLOCKS, 256):
        data = h.pread(256 * BLOCK, start * BLOCK)
        for i in range(256):
            b = start + i
            got = bytes(data[i * BLOCK:(i + 1) * BLOCK])
            if got == model.get(b, ZERO):
                continue
            if got in pending.get(b, ()):
                model[b] = got          # it survived: it is the state now
                continue
            rnd, blk = struct.unpack("<QQ", got[:16])
            sys.exit("crash.py: %s: block %d holds %r... (round %d block %d),"
                     " expected round state %r or pending %r (seed %d)"
                     % (label, b, got[:16], rnd, blk,
                        model.get(b, ZERO)[:16],
                        [p[:16] for p in pending.get(b, ())], seed))


def main():
    iterations = int(sys.argv[1])
    log = open(os.path.join(tmpdir, "nbdkit.log"), "ab")
    model = {}
    rnd = 0
    kills_during_flush = 0
    for it in range(iterations):
        server = start_server(log)
        h = connect()
        verify(h, model, {}, "iteration %d start" % it)
        killer_delay = rng.uniform(0.05, 1.5)
        killer = threading.Timer(killer_delay,
                                 lambda: server.send_signal(signal.SIGKILL))
        killer.start()
        pending = {}                    # block -> contents this round wrote
        in_flush = False
        try:
            while True:
                rnd += 1
                pending = {}
                last = {}
                for _ in range(rng.randrange(5, 60)):
                    b = rng.randrange(NBLOCKS - 4)
                    n = rng.randrange(1, 5)
                    if rng.random() < 0.1:
                        h.trim(n * BLOCK, b * BLOCK)
                        blocks = {b + i: ZERO for i in range(n)}
                    else:
                        blocks = {b + i: content(rnd, b + i) for i in range(n)}
                        h.pwrite(b"".join(blocks[b + i] for i in range(n)),
                                 b * BLOCK)
                    for blk, data in blocks.items():
                        pending.setdefault(blk, set()).add(data)
                    last.update(blocks)
                in_flush = True
                h.flush()
                in_flush = False
                model.update(last)      # acknowledged: durable from now on
                pending = {}
        except nbd.Error:
            if in_flush:
                kills_during_flush += 1
        killer.join()
        server.wait()
        del h
        break_lease()
        server = start_server(log)
        h = connect()
        verify(h, model, pending, "after kill %d (round %d)" % (it + 1, rnd))
        del h
        server.send_signal(signal.SIGTERM)
        if server.wait() != 0:
            sys.exit("crash.py: nbdkit exited with status %d after a clean "
                     "stop" % server.returncode)
        fsck("after kill %d" % (it + 1))
    print("crash.py: %d kills survived (%d during a flush), %d rounds, "
          "s3cow fsck clean after each, seed %d"
          % (iterations, kills_during_flush, rnd, seed))


main()
