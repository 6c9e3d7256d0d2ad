"""faultload_data.py: faultload.py's scenarios of data under faults:
random I/O, corrupted and truncated bodies, read-ahead; every byte read is
checked against the model."""

import errno
import random
import threading
import time

import nbd

import faultproxy
from faultload_harness import (MiB, Env, Proxy, Server, close, die,
                               injected, nbd_errno, plugin_summary, say,
                               server_params)
from faultload_model import Mismatch, Model, verify_all


# ---- random: random I/O under random faults ------------------------------

def scenario_random(a):
    env = Env()
    per_kind = a.fault_rate / len(faultproxy.TRANSIENT)
    rates = {k: round(per_kind, 6) for k in faultproxy.TRANSIENT}
    proxy = Proxy(env, a.seed, a.slow_seconds, rates)
    params = server_params(a, ["timeout=%g" % a.timeout,
                               "retry-time=%g" % a.retry_time])
    srv = Server(env, "random", proxy.endpoint, params)
    model = Model(a.disk)
    region = a.disk // a.threads // a.chunk * a.chunk
    lock = threading.Lock()
    moved = {"write": 0, "read": 0, "flush": 0, "ops": 0}
    errors = []
    t0 = time.monotonic()
    sizes = [512, 4096, 4096, 16384, 65536, 65536, 131072, a.chunk,
             a.chunk + 4096, 2 * a.chunk, 1 * MiB]

    def worker(i):
        rng = random.Random(a.seed * 1000 + i)
        lo = i * region
        try:
            h = srv.connect()
        except nbd.Error as e:
            errors.append("thread %d: connect: %s" % (i, e))
            return
        what = "connect"
        try:
            while not errors:
                with lock:
                    if moved["write"] + moved["read"] >= a.moved:
                        break
                r = rng.random()
                length = min(rng.choice(sizes), region)
                off = lo + rng.randrange((region - length) // 512 + 1) * 512
                if r < 0.45:
                    what = "write of %d bytes at %d" % (length, off)
                    data = rng.randbytes(length)
                    h.pwrite(data, off)
                    model.write(off, data)
                    k = "write"
                elif r < 0.97:
                    what = "read of %d bytes at %d" % (length, off)
                    got = h.pread(length, off)
                    model.check(off, got, "thread %d" % i)
                    k = "read"
                else:
                    what = "flush"
                    h.flush()
                    k, length = "flush", 1
                with lock:
                    moved[k] += length
                    moved["ops"] += 1
            what = "final flush"
            h.flush()
        except nbd.Error as e:
            errors.append("thread %d: %s failed: %s" % (i, what, e))
        except Mismatch as e:
            errors.append("thread %d: %s" % (i, e))
        finally:
            close(h)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(a.threads)]
    for t in threads:
        t.start()
    last = time.monotonic()
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            with lock:
                say("%.0f s: %.0f MiB written, %.0f MiB read, %d flushes"
                    % (last - t0, moved["write"] / MiB, moved["read"] / MiB,
                       moved["flush"]))
    for t in threads:
        t.join()
    if errors:
        snap = proxy.ctl.stats()
        die("client-visible error under injected faults (%s): %s"
            % (injected(snap), "; ".join(errors)))
    t1 = time.monotonic()
    say("workload done in %.1f s: %d ops, %.1f MiB written, %.1f MiB read "
        "and checked, %d flushes, no error"
        % (t1 - t0, moved["ops"], moved["write"] / MiB, moved["read"] / MiB,
           moved["flush"]))

    # Lost responses to the compare-and-swaps of commits (the head) and of
    # lease renewals: the PUT lands but its response never comes back; the
    # retry gets 412, and the plugin must find out that the object is its
    # own (not fence itself, not fail).  At most 4 in a row on one object:
    # otherwise one commit in about a thousand loses all its ~14 answers
    # within retry-time, and its flush fails as it should, failing the test.
    proxy.ctl.clear()
    proxy.ctl.set(match=r"^PUT [^ ]*/disks/d/(head|lease)$", reset_after=0.6,
                  max_in_a_row=4)
    lost0 = proxy.ctl.stats()["reset_after"]
    h = srv.connect()
    rng = random.Random(a.seed)
    for r in range(a.cas_rounds):
        for _ in range(2):
            off = rng.randrange(a.disk // 512 - 64) * 512
            data = rng.randbytes(rng.choice([4096, 32768]))
            try:
                h.pwrite(data, off)
            except nbd.Error as e:
                die("write with lost head-PUT responses failed: %s" % e)
            model.write(off, data)
        try:
            h.flush()
        except nbd.Error as e:
            die("flush %d with lost head-PUT responses failed: %s (%d head "
                "and lease PUT responses dropped so far)"
                % (r + 1, e, proxy.ctl.stats()["reset_after"] - lost0))
    close(h)
    lost = proxy.ctl.stats()["reset_after"] - lost0
    say("%d flushes while %d head and lease PUTs landed with their response "
        "lost: all succeeded" % (a.cas_rounds, lost))
    proxy.ctl.clear()
    proxy.ctl.set(**rates)

    # Everything again, through the faults, on a new connection; and the
    # clean stop (a last commit, the lease released) through them too.
    n = 0
    if a.verify_through_proxy:
        h = srv.connect()
        n = verify_all(h, model, "full read through the proxy")
        close(h)
        say("verified all %d MiB through the proxy" % (n // MiB))
    srv.stop()
    st = srv.stats()
    snap = proxy.stop()
    say(plugin_summary(st))
    say(faultproxy.summary(snap))
    if snap["injected"] == 0:
        die("the proxy injected no fault")

    # And from the bucket alone: a new server straight on the S3 server.
    srv2 = Server(env, "random-direct", env.endpoint, server_params(a))
    h = srv2.connect()
    n2 = verify_all(h, model, "after a restart without the proxy")
    close(h)
    srv2.stop()
    total = moved["write"] + moved["read"] + n + n2
    say("verified all %d MiB again after a restart without the proxy" %
        (n2 // MiB))
    say("RESULT random: %d faults injected (%s) in %d requests, %d of them "
        "head/lease PUT answers lost on purpose; %.0f MiB moved (%.0f "
        "written, %.0f read), %.0f MiB verified, 0 errors, %.0f s"
        % (snap["injected"], injected(snap), snap["requests"], lost,
           (moved["write"] + moved["read"]) / MiB, moved["write"] / MiB,
           moved["read"] / MiB, (moved["read"] + n + n2) / MiB,
           time.monotonic() - t0))
    return total


# ---- corrupt: truncated and corrupted GET bodies -------------------------

def scenario_corrupt(a):
    env = Env()
    proxy = Proxy(env, a.seed, 3, {})
    model = Model(a.disk)
    rng = random.Random(a.seed)
    t0 = time.monotonic()
    # Fill the disk (no faults), flush.
    srv = Server(env, "corrupt-fill", proxy.endpoint,
                 server_params(a, ["timeout=%g" % a.timeout]))
    h = srv.connect()
    for off in range(0, a.disk, MiB):
        data = rng.randbytes(MiB)
        h.pwrite(data, off)
        model.write(off, data)
    h.flush()
    close(h)
    srv.stop()
    # At most 8 bad bodies in a row for one object: a read has 12 to 14
    # attempts within retry-time 30 s (the backoff), and at 30% bad bodies
    # all of them are bad for 1 GET in a few million; at ~360 GETs a run,
    # one run in about 20000 would fail on bad luck alone.  8 bad bodies
    # in a row still happen (0.3^8: one GET in 15000) and are retried.
    proxy.ctl.set(truncate=a.truncate, corrupt=a.corrupt, max_in_a_row=8)
    read = 0

    def passes(srv, n, what):
        # Each pass reads every chunk in a shuffled order, on four
        # connections at once: the re-reads of bad bodies wait for their
        # backoff side by side.
        nonlocal read
        errors = []
        lock = threading.Lock()

        def reader(offs, p):
            nonlocal read
            h = srv.connect()
            try:
                for off in offs:
                    try:
                        got = h.pread(a.chunk, off)
                    except nbd.Error as e:
                        errors.append("%s, pass %d: read of chunk at %d "
                                      "failed: %s (faults so far: %s)"
                                      % (what, p + 1, off, e,
                                         injected(proxy.ctl.stats())))
                        return
                    model.check(off, got, "%s, pass %d" % (what, p + 1))
                    with lock:
                        read += a.chunk
            except Exception as e:
                errors.append("%s, pass %d: %s" % (what, p + 1, e))
            finally:
                close(h)

        for p in range(n):
            order = list(range(0, a.disk, a.chunk))
            rng.shuffle(order)
            ts = [threading.Thread(target=reader, args=(order[k::4], p))
                  for k in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            if errors:
                die(errors[0])

    # Small cache: every pass reads every chunk from S3 again.
    small = Server(env, "corrupt-small", proxy.endpoint,
                   ["cache-size=%d" % a.cache, "chunk-size=%d" % a.chunk,
                    "timeout=%g" % a.timeout,
                    "retry-time=%g" % a.retry_time])
    passes(small, a.passes, "small cache")
    small.stop()
    st1 = small.stats()
    say("small cache: %d passes over %d MiB with faults: every byte right; "
        "%s" % (a.passes, a.disk // MiB, plugin_summary(st1)))
    # Big cache: load every chunk once through the faults, then read them
    # from the cache with the faults off: nothing bad was cached.
    big = Server(env, "corrupt-big", proxy.endpoint,
                 ["cache-size=%d" % max(4 * a.disk, 32 * a.chunk),
                  "chunk-size=%d" % a.chunk,
                  "timeout=%g" % a.timeout, "retry-time=%g" % a.retry_time])
    passes(big, 1, "big cache, faults on")
    proxy.ctl.clear()
    passes(big, 2, "big cache, from the cache")
    big.stop()
    st2 = big.stats()
    misses = st2.get("s3cow_cache_misses_total", 0)
    nchunks = a.disk // a.chunk

    # Objects damaged in the bucket (the proxy flips the same bit of some
    # chunks in every GET, their ETags still the good MD5s): reads of them
    # fail with EIO and a log line, every time; the others read right.
    bad = set()
    if a.rot:
        proxy.ctl.set(rot=a.rot, match="^GET [^ ]*/chunks/")
        rot = Server(env, "corrupt-rot", proxy.endpoint,
                     ["cache-size=%d" % a.cache, "chunk-size=%d" % a.chunk,
                      "timeout=%g" % a.timeout,
                      "retry-time=%g" % a.retry_time])
        h = rot.connect()
        for p in range(2):
            for off in range(0, a.disk, a.chunk):
                try:
                    got = h.pread(a.chunk, off)
                except nbd.Error as e:
                    if nbd_errno(e) != errno.EIO:
                        die("read of a damaged chunk at %d failed with %s, "
                            "not EIO" % (off, e))
                    if p == 1 and off not in bad:
                        die("chunk at %d read right, then failed" % off)
                    bad.add(off)
                    continue
                if off in bad:
                    die("chunk at %d failed with EIO, then read (right)" % off)
                model.check(off, got, "damaged chunks, pass %d" % (p + 1))
        close(h)
        rot.stop()
        proxy.ctl.clear()
        log = rot.log_text()
        if not bad:
            die("no chunk was damaged (rot=%g): raise --rot" % a.rot)
        for needle in ("may be damaged in the bucket", "is corrupt"):
            if needle not in log:
                die("no \"%s\" in the log of the server that read damaged "
                    "chunks" % needle)
        say("%d of %d chunks damaged in the bucket: EIO twice each, with "
            "a log line naming the chunk; the others read right"
            % (len(bad), nchunks))
    snap = proxy.stop()
    say(faultproxy.summary(snap))
    if snap["corrupt"] == 0 or snap["truncate"] == 0:
        die("the proxy did not corrupt and truncate bodies (%s)"
            % injected(snap))
    retries = sum(st.get("s3cow_http_retries_total", 0) +
                  st.get("s3cow_chunk_corrupt_total", 0) for st in (st1, st2))
    if retries == 0:
        die("the plugin saw no bad body (no retry, no corrupt chunk)")
    say("big cache: %d chunk loads for %d chunks, then 2 passes from the "
        "cache with the faults off: right; %s" % (misses, nchunks,
                                                 plugin_summary(st2)))
    say("RESULT corrupt: %d bodies corrupted, %d truncated in %d requests; "
        "%.0f MiB read and verified, 0 bad bytes returned, nothing bad "
        "cached; %d chunks damaged in the bucket always EIO; %.0f s"
        % (snap["corrupt"], snap["truncate"], snap["requests"],
           read / MiB, len(bad), time.monotonic() - t0))


# ---- readahead: read-ahead under faults, racing writes -------------------

def scenario_readahead(a):
    env = Env()
    proxy = Proxy(env, a.seed, 3, {})
    model = Model(a.disk)
    rng = random.Random(a.seed)
    t0 = time.monotonic()
    params = ["cache-size=%d" % a.cache, "chunk-size=%d" % a.chunk,
              "timeout=%g" % a.timeout, "retry-time=%g" % a.retry_time,
              "read-ahead=%d" % a.read_ahead]
    srv = Server(env, "ra-fill", proxy.endpoint,
                 server_params(a, ["timeout=%g" % a.timeout]))
    h = srv.connect()
    for off in range(0, a.disk, MiB):
        data = rng.randbytes(MiB)
        h.pwrite(data, off)
        model.write(off, data)
    h.flush()
    close(h)
    srv.stop()

    def sequential(h, what, step, expect_eio=frozenset()):
        """Read the disk front to back in pieces of step bytes (crossing
        chunk boundaries unless step divides the chunk size); a piece
        fails with EIO exactly when it touches a chunk of expect_eio."""
        eio = 0
        for off in range(0, a.disk, step):
            n = min(step, a.disk - off)
            touched = set(range(off // a.chunk, (off + n - 1) // a.chunk + 1))
            try:
                got = h.pread(n, off)
            except nbd.Error as e:
                if touched & expect_eio and nbd_errno(e) == errno.EIO:
                    eio += 1
                    continue
                die("%s: read of %d bytes at %d (chunks %s) failed: %s "
                    "(faults so far: %s)" % (what, n, off, sorted(touched), e,
                                             injected(proxy.ctl.stats())))
            if touched & expect_eio:
                die("%s: read of %d bytes at %d touches a damaged chunk but "
                    "did not fail" % (what, n, off))
            model.check(off, got, what)
        return eio

    # 1. Sequential reads across chunk boundaries, every GET body at risk
    #    of truncation or corruption (retried): every byte right, and the
    #    reads were served by read-ahead.
    proxy.ctl.set(truncate=a.truncate, corrupt=a.corrupt)
    srv = Server(env, "ra-faults", proxy.endpoint, params)
    h = srv.connect()
    sequential(h, "sequential reads under faults", 100003)
    close(h)
    srv.stop()
    st = srv.stats()
    loads = st.get("s3cow_readahead_loads_total", 0)
    hits = st.get("s3cow_readahead_hits_total", 0)
    if loads == 0 or hits == 0:
        die("sequential reads: read-ahead loaded %d chunks, %d hits: "
            "expected some of both" % (loads, hits))
    say("sequential reads under faults (%s): every byte right; read-ahead "
        "loaded %d chunks, %d reads found one; %s"
        % (injected(proxy.ctl.stats()), loads, hits, plugin_summary(st)))
    proxy.ctl.clear()

    # 2. Read-ahead racing writes: read sequentially on one connection
    #    and, after each read, write a piece of a chunk just ahead on
    #    another (a chunk that read-ahead is likely loading right then);
    #    the reader must see every write once it gets there.
    srv = Server(env, "ra-race", proxy.endpoint, params)
    h = srv.connect()
    w = srv.connect()
    nchunks = a.disk // a.chunk
    writes = 0
    for c in range(nchunks):
        off = c * a.chunk
        model.check(off, h.pread(a.chunk, off), "reads racing writes")
        ahead = c + rng.randint(1, 6)
        if ahead < nchunks:
            n = rng.randint(1, a.chunk // 2)
            woff = ahead * a.chunk + rng.randrange(0, a.chunk - n)
            data = rng.randbytes(n)
            w.pwrite(data, woff)
            model.write(woff, data)
            writes += 1
    w.flush()
    close(w)
    sequential(h, "after reads racing writes", a.chunk)
    close(h)
    srv.stop()
    st = srv.stats()
    say("reads racing %d writes to the chunks just ahead: every read saw "
        "every write; read-ahead loaded %d chunks"
        % (writes, st.get("s3cow_readahead_loads_total", 0)))

    # 3. Chunks damaged in the bucket (the same bit flipped in every GET):
    #    read-ahead of them fails (logged), but only reads that touch a
    #    damaged chunk fail, with EIO; read them twice.
    proxy.ctl.set(rot=a.rot, match="^GET [^ ]*/chunks/")
    srv = Server(env, "ra-rot", proxy.endpoint, params)
    h = srv.connect()
    bad = set()
    for c in range(nchunks):
        try:
            model.check(c * a.chunk, h.pread(a.chunk, c * a.chunk),
                        "finding damaged chunks")
        except nbd.Error as e:
            if nbd_errno(e) != errno.EIO:
                die("read of chunk %d failed with %s, not EIO" % (c, e))
            bad.add(c)
    if not bad:
        die("no chunk was damaged (rot=%g): raise --rot" % a.rot)
    if len(bad) == nchunks:
        die("every chunk was damaged (rot=%g): lower --rot" % a.rot)
    close(h)
    srv.stop()
    srv = Server(env, "ra-rot2", proxy.endpoint, params)
    h = srv.connect()
    eio = sequential(h, "sequential reads with damaged chunks", a.chunk // 4,
                     frozenset(bad))
    close(h)
    srv.stop()
    st = srv.stats()
    proxy.ctl.clear()
    if st.get("s3cow_readahead_loads_total", 0) == 0:
        die("damaged chunks: read-ahead loaded nothing")
    if "is corrupt" not in srv.log_text():
        die("no \"is corrupt\" in the log of the server with damaged chunks")
    snap = proxy.stop()
    say("%d of %d chunks damaged: %d reads that touch them failed with EIO, "
        "every other read right; read-ahead loaded %d chunks"
        % (len(bad), nchunks, eio, st.get("s3cow_readahead_loads_total", 0)))
    say("RESULT readahead: %s; %.0f s" % (faultproxy.summary(snap),
                                          time.monotonic() - t0))
