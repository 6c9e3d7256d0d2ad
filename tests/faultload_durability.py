"""faultload_durability.py: faultload.py's scenarios of outages and lost
answers: flush during and after an outage, a write-back buffer that cannot
drain, a lease renewal and a commit that landed with their answers lost."""

import errno
import random
import threading
import time

import nbd

import faultproxy
from faultload_harness import (MiB, Env, Proxy, Server, close, die,
                               nbd_errno, plugin_summary, sanitized, say,
                               server_params)
from faultload_model import Model, verify_all


# ---- outage: longer than the retry budget --------------------------------

def scenario_outage(a):
    env = Env()
    proxy = Proxy(env, a.seed, 5, {})
    params = server_params(a, ["timeout=%g" % a.timeout,
                               "retry-time=%g" % a.retry_time,
                               "lease=%d" % a.lease,
                               "commit-interval=%g" % a.commit_interval])
    srv = Server(env, "outage", proxy.endpoint, params)
    model = Model(a.disk)
    rng = random.Random(a.seed)
    h = srv.connect()
    chunk = a.chunk
    nchunks = a.disk // chunk
    t0 = time.monotonic()

    def write(off, length):
        data = rng.randbytes(length)
        h.pwrite(data, off)
        model.write(off, data)

    # 1. Committed data.
    for _ in range(32):
        write(rng.randrange(nchunks) * chunk, chunk)
    h.flush()
    # 2. Written before the outage, not flushed: partial writes to a few
    #    chunks, which stay in the cache.
    pre = rng.sample(range(nchunks), 8)
    for c in pre:
        for _ in range(4):
            off = c * chunk + rng.randrange(chunk // 4096) * 4096
            write(off, 4096)
    # 3. The outage; more writes during it (whole chunks, and into the
    #    cached chunks: neither needs a read from S3).
    proxy.ctl.outage(a.outage, a.outage_mode)
    out_start = time.monotonic()
    for c in pre[:4]:
        write(c * chunk + 8192, 8192)
    for _ in range(4):
        write(rng.randrange(nchunks) * chunk, chunk)
    say("outage of %.0f s (%s) started; %d dirty writes before and %d "
        "during it" % (a.outage, a.outage_mode, 8 * 4, 8))
    t = time.monotonic()
    try:
        h.flush()
    except nbd.Error as e:
        took = time.monotonic() - t
        if nbd_errno(e) != errno.EIO:
            die("flush during the outage failed with %s, not EIO" % e)
        say("flush during the outage: EIO after %.1f s (retry-time %g)"
            % (took, a.retry_time))
    else:
        die("flush during an outage of %.0f s (retry-time %g) succeeded "
            "after %.1f s: it cannot be durable"
            % (a.outage, a.retry_time, time.monotonic() - t))
    if time.monotonic() - out_start >= a.outage:
        die("the flush took longer than the outage: raise --outage")
    log = srv.log_text()
    for needle in ("flush failed", "still failing after"):
        if needle not in log:
            die("the server did not log why the flush failed (no \"%s\" "
                "in nbdkit.log)" % needle)
    why = [l for l in log.splitlines() if "flush failed" in l][:1]
    say("the server logged: %s" % why[0].strip())
    # Data is still readable from memory during the outage.
    for c in pre:
        got = h.pread(chunk, c * chunk)
        model.check(c * chunk, got, "read of a dirty chunk during the outage")
    # 4. After the outage, a flush succeeds, and everything is there.
    left = a.outage - (time.monotonic() - out_start)
    if a.end_outage_early:
        proxy.ctl.end_outage()
    elif left > 0:
        time.sleep(left + 0.5)
    t = time.monotonic()
    try:
        h.flush()
    except nbd.Error as e:
        die("flush after the outage ended failed: %s" % e)
    say("flush after the outage: OK in %.1f s" % (time.monotonic() - t))
    verify_all(h, model, "after the first outage", chunk)
    say("all data written before and during the outage is intact")

    # 5. A write-back buffer that cannot drain: writers wait, then fail with
    #    EIO; memory stays bounded.
    rss0 = srv.rss()
    proxy.ctl.outage(a.fill_seconds + 3600, a.fill_mode)
    t = time.monotonic()
    ok = failed = 0
    first_eio = None
    max_rss = rss0
    stop = threading.Event()
    samples = []

    def sampler():
        nonlocal max_rss
        while not stop.wait(0.1):
            r = srv.rss()
            samples.append(r)
            max_rss = max(max_rss, r)

    st = threading.Thread(target=sampler, daemon=True)
    st.start()
    i = 0
    limit = 4 * (a.retry_time + a.timeout) + 30
    while True:
        now = time.monotonic()
        if first_eio is not None and now - t >= first_eio + a.fill_seconds:
            break
        if first_eio is None and now - t > limit:
            break
        off = ((i * 7919) % nchunks) * chunk
        i += 1
        data = rng.randbytes(chunk)
        t1 = time.monotonic()
        try:
            h.pwrite(data, off)
            model.write(off, data)
            ok += 1
        except nbd.Error as e:
            if nbd_errno(e) != errno.EIO:
                stop.set()
                die("a write into a full write-back buffer failed with %s, "
                    "not EIO" % e)
            model.failed_write(off, data)
            failed += 1
            if first_eio is None:
                first_eio = time.monotonic() - t
                say("first EIO after %.1f s of writing (%d writes done, the "
                    "failed one waited %.1f s)"
                    % (first_eio, ok, time.monotonic() - t1))
    stop.set()
    st.join()
    wrote = time.monotonic() - t
    say("writing into the outage for %.0f s: %d writes of %d KiB succeeded, "
        "%d failed with EIO; RSS %.0f MiB before, at most %.0f MiB "
        "(cache-size %d MiB)" % (wrote, ok, chunk // 1024, failed, rss0 / MiB,
                                 max_rss / MiB, a.cache // MiB))
    if failed == 0:
        die("writers never failed although the write-back buffer could not "
            "drain for %.0f s" % wrote)
    if ok * chunk > a.cache + 16 * MiB:
        die("%d MiB of writes succeeded with S3 down: more than the cache "
            "(%d MiB) can hold" % (ok * chunk // MiB, a.cache // MiB))
    if sanitized(env.plugin):
        say("RSS not checked: the plugin is built with a sanitizer, whose "
            "shadow memory and quarantine count in the RSS")
    elif max_rss > a.cache + 64 * MiB:
        die("the server's RSS reached %.0f MiB (cache-size %d MiB): memory is "
            "not bounded" % (max_rss / MiB, a.cache // MiB))
    dirty = srv.stats().get("s3cow_dirty_bytes", 0)
    proxy.ctl.end_outage()
    time.sleep(0.5)
    t = time.monotonic()
    try:
        h.flush()
    except nbd.Error as e:
        die("flush after the second outage failed: %s" % e)
    say("outage over: flush OK in %.1f s (%.0f MiB were dirty)"
        % (time.monotonic() - t, dirty / MiB))
    verify_all(h, model, "after the second outage")
    close(h)
    srv.stop()
    st = srv.stats()
    snap = proxy.stop()
    say(plugin_summary(st))
    say(faultproxy.summary(snap))
    srv2 = Server(env, "outage-direct", env.endpoint, server_params(a))
    h = srv2.connect()
    verify_all(h, model, "after a restart without the proxy")
    close(h)
    srv2.stop()
    say("RESULT outage: %d outages, %d requests rejected; flush gave EIO "
        "during the outage and succeeded after it; %d writes failed with "
        "EIO while S3 was down, RSS at most %.0f MiB (cache %d MiB); all %d "
        "MiB verified after a restart; %.0f s"
        % (snap["outages"], snap["outage_rejected"], failed, max_rss / MiB,
           a.cache // MiB, a.disk // MiB, time.monotonic() - t0))


# ---- lease: a renewal that landed but whose response was lost -----------

def scenario_lease(a):
    env = Env()
    proxy = Proxy(env, a.seed, 3, {})
    model = Model(a.disk)
    rng = random.Random(a.seed)
    t0 = time.monotonic()
    srv = Server(env, "lease", proxy.endpoint,
                 server_params(a, ["timeout=%g" % a.timeout,
                                   "retry-time=%g" % a.retry_time,
                                   "lease=%d" % a.lease]))
    h = srv.connect()

    def write_flush(what):
        off = rng.randrange(a.disk // 4096) * 4096
        data = rng.randbytes(4096)
        try:
            h.pwrite(data, off)
            h.flush()
        except nbd.Error as e:
            log = srv.log_text()
            lines = [l.strip() for l in log.splitlines() if "lease" in l]
            die("%s: write and flush failed: %s; the server logged: %s"
                % (what, e, " | ".join(lines[-4:])))
        model.write(off, data)

    write_flush("before the fault")
    # Every response to a lease PUT is lost, until a renewal has failed
    # (its retry budget ran out): the first attempt landed, so the lease
    # object now holds that renewal, which the server never learnt.
    proxy.ctl.set(match=r"^PUT [^ ]*/disks/d/lease$", reset_after=1.0)
    deadline = time.monotonic() + 3 * a.lease + 30
    while "lease renewal failed" not in srv.log_text():
        if time.monotonic() > deadline:
            die("no lease renewal failed although every lease PUT response "
                "was dropped")
        time.sleep(0.1)
    proxy.ctl.clear()
    lost = proxy.ctl.stats()["reset_after"]
    say("a lease renewal landed, its response was lost %d times and it "
        "failed after retry-time %g s; the network is good again"
        % (lost, a.retry_time))
    # The next renewal must succeed (the lease object is our own), and
    # writes must work again once it has, at the latest after a lease
    # duration.
    time.sleep(a.lease)
    write_flush("%d s after the network came back" % a.lease)
    if "lease lost" in srv.log_text():
        die("the server declared its lease lost, but nobody else took it")
    close(h)
    srv.stop()
    proxy.stop()
    srv2 = Server(env, "lease-direct", env.endpoint, server_params(a))
    h = srv2.connect()
    verify_all(h, model, "after a restart without the proxy")
    close(h)
    srv2.stop()
    say("RESULT lease: a renewal whose response was lost did not cost the "
        "lease; %.0f s" % (time.monotonic() - t0))


# ---- lost-commit: a head PUT that landed, its answers all lost ----------

def scenario_lost_commit(a):
    env = Env()
    proxy = Proxy(env, a.seed, 3, {})
    model = Model(a.disk)
    rng = random.Random(a.seed)
    t0 = time.monotonic()
    srv = Server(env, "lost-commit", proxy.endpoint,
                 server_params(a, ["timeout=%g" % a.timeout,
                                   "retry-time=%g" % a.retry_time,
                                   "commit-interval=0"]))
    h = srv.connect()

    def write():
        off = rng.randrange(a.disk // 4096) * 4096
        data = rng.randbytes(4096)
        h.pwrite(data, off)
        model.write(off, data)

    write()
    h.flush()
    # Every response to a head PUT is lost: the first attempt lands, its
    # retries get 412s that are lost too, until retry-time runs out.
    proxy.ctl.set(match=r"^PUT [^ ]*/disks/d/head$", reset_after=1.0)
    write()
    try:
        h.flush()
        die("a flush succeeded although every head PUT response was lost")
    except nbd.Error:
        pass
    proxy.ctl.clear()
    say("a commit landed, its responses were lost %d times and the flush "
        "failed after retry-time %g s; the network is good again"
        % (proxy.ctl.stats()["reset_after"], a.retry_time))
    # The next commit must find that one landed (its own bytes, op id
    # included) and build on it: not take it for another writer's.
    write()
    try:
        h.flush()
    except nbd.Error as e:
        die("the flush after the network came back failed: %s" % e)
    log = srv.log_text()
    if "another writer owns this disk" in log:
        die("the server took its own landed commit for another writer's")
    if "had landed" not in log:
        die("the server did not log that the uncertain commit had landed "
            "(run with -v -D s3cow.commit=1)")
    close(h)
    srv.stop()
    proxy.stop()
    srv2 = Server(env, "lost-commit-direct", env.endpoint, server_params(a))
    h = srv2.connect()
    verify_all(h, model, "after a restart without the proxy")
    close(h)
    srv2.stop()
    say("RESULT lost-commit: a commit whose responses were lost was found "
        "landed by the next one; %.0f s" % (time.monotonic() - t0))
