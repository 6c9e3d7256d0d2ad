#!/usr/bin/python3
"""faultload.py: workloads that drive s3cow through faultproxy.py and
check every byte against a model.  Used by tests/test-fault-*.sh and
scripts/fault-long.sh.

  faultload.py random  [options]   random writes, reads and flushes under
                                   injected faults; no client-visible error
  faultload.py outage  [options]   an outage longer than the retry budget:
                                   flush fails with EIO, nothing is lost,
                                   memory stays bounded
  faultload.py corrupt [options]   truncated and corrupted GET bodies are
                                   retried, never returned nor cached
  faultload.py readahead [options] sequential reads served by read-ahead:
                                   right under faults, racing writes, and
                                   failing only where their own chunk does
  faultload.py lost-commit         a commit that landed but whose answers
                                   were all lost: the next commit finds it

Settings come from the environment, as for the other tests:
S3COW_PLUGIN, S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
S3COW_TEST_SECRET_KEY, S3COW_TEST_REGION, tmpdir (a scratch directory)
and bucket (a fresh bucket).  Logs (nbdkit's and the proxy's) go to
$tmpdir.  Every failure ends with one line "faultload: FAIL: ...".
Run with -h after a scenario for its options.
"""

import argparse
import atexit
import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import nbd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import faultproxy  # noqa: E402

PROXY = os.path.join(HERE, "faultproxy.py")
MiB = 1 << 20

# Child processes (nbdkit, the proxy) still running are killed at exit,
# however faultload.py exits: a failed test must not leave them behind.
children = []


@atexit.register
def kill_children():
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()


def say(msg):
    print("faultload: " + msg, flush=True)


def die(msg):
    print("faultload: FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def size(s):
    s = s.strip()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:].upper())
    return int(float(s[:-1]) * mult) if mult else int(s)


class Env:
    def __init__(self):
        try:
            self.tmpdir = os.environ["tmpdir"]
            self.plugin = os.environ["S3COW_PLUGIN"]
            self.endpoint = os.environ["S3COW_TEST_ENDPOINT"]
            self.bucket = os.environ["bucket"]
            self.access_key = os.environ["S3COW_TEST_ACCESS_KEY"]
            secret = os.environ["S3COW_TEST_SECRET_KEY"]
        except KeyError as e:
            die("%s is not set in the environment" % e)
        self.region = os.environ.get("S3COW_TEST_REGION", "us-east-1")
        self.secret_file = os.path.join(self.tmpdir, "secret")
        with open(self.secret_file, "w") as f:
            f.write(secret)
        self.log = open(os.path.join(self.tmpdir, "nbdkit.log"), "ab")


class Proxy:
    """faultproxy.py in a child process."""

    def __init__(self, env, seed, slow_seconds, rates):
        self.env = env
        pf = os.path.join(env.tmpdir, "proxy.ports")
        if os.path.exists(pf):
            os.unlink(pf)
        args = [sys.executable, PROXY, "serve", "--upstream", env.endpoint,
                "--port-file", pf, "--seed", str(seed),
                "--slow-seconds", str(slow_seconds),
                "--log", os.path.join(env.tmpdir, "proxy.log")]
        if os.environ.get("FAULT_LOG_REQUESTS"):
            args.append("--log-requests")
        for k, v in rates.items():
            args += ["--rate", "%s=%s" % (k, v)]
        self.out = open(os.path.join(env.tmpdir, "proxy.out"), "ab")
        self.p = subprocess.Popen(args, stdout=self.out, stderr=self.out)
        children.append(self.p)
        for _ in range(200):
            if os.path.exists(pf):
                break
            if self.p.poll() is not None:
                die("faultproxy.py exited with status %d (see %s)"
                    % (self.p.returncode, self.out.name))
            time.sleep(0.05)
        else:
            die("faultproxy.py did not start")
        with open(pf) as f:
            self.port, cport = map(int, f.read().split())
        self.ctl = faultproxy.Control(cport)
        self.endpoint = "http://127.0.0.1:%d" % self.port
        say("proxy on %s (control port %d) in front of %s, seed %d, rates %s"
            % (self.endpoint, cport, env.endpoint, seed,
               json.dumps(rates, sort_keys=True)))

    def stop(self):
        snap = self.ctl.stats()
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(30)
        return snap


def injected(snap):
    return ", ".join("%s %d" % (k, snap[k]) for k in faultproxy.KINDS
                     if snap[k]) or "none"


class Server:
    """nbdkit with the s3cow plugin, serving disk d on a Unix socket."""

    def __init__(self, env, name, endpoint, params):
        self.env = env
        self.name = name
        self.sock = os.path.join(env.tmpdir, name + ".sock")
        self.stats_file = os.path.join(env.tmpdir, name + ".stats")
        pidfile = self.sock + ".pid"
        for f in (self.sock, pidfile):
            if os.path.exists(f):
                os.unlink(f)
        args = ["nbdkit", "-f", "-U", self.sock, "--pidfile", pidfile]
        args += os.environ.get("FAULT_NBDKIT_OPTS", "").split()
        args += [env.plugin, "bucket=" + env.bucket, "endpoint=" + endpoint,
                "access-key=" + env.access_key,
                "secret-key=+" + env.secret_file, "region=" + env.region,
                "export=d", "stats=" + self.stats_file] + params
        env.log.write(("==== faultload: %s: %s\n" % (name, " ".join(args)))
                      .encode())
        env.log.flush()
        self.log_start = env.log.tell()
        self.p = subprocess.Popen(args, stdout=env.log, stderr=env.log)
        children.append(self.p)
        for _ in range(1200):
            if os.path.exists(pidfile) and os.path.getsize(pidfile):
                return
            if self.p.poll() is not None:
                die("%s: nbdkit exited with status %d before it was ready "
                    "(see nbdkit.log)" % (name, self.p.returncode))
            time.sleep(0.05)
        self.p.kill()
        die("%s: nbdkit was not ready after 60 s" % name)

    def connect(self):
        h = nbd.NBD()
        h.connect_unix(self.sock)
        return h

    def stop(self):
        """SIGTERM; fail unless nbdkit exits with status 0."""
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            die("%s: nbdkit did not exit 120 s after SIGTERM" % self.name)
        if rc != 0:
            die("%s: nbdkit exited with status %d after SIGTERM (see "
                "nbdkit.log)" % (self.name, rc))

    def rss(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stats(self):
        d = {}
        try:
            with open(self.stats_file) as f:
                for line in f:
                    if line.startswith("#") or not line.strip():
                        continue
                    k, v = line.rsplit(None, 1)
                    d[k] = float(v)
        except FileNotFoundError:
            pass
        return d

    def log_text(self):
        with open(self.env.log.name, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode("utf-8", "replace")


def plugin_summary(st):
    def g(k):
        return int(st.get(k, 0))
    return ("plugin: %d GETs, %d PUTs, %d HTTP retries, %d store errors, "
            "%d corrupt chunks seen, %d chunk upload failures, %d commits"
            % (g('s3cow_store_requests_total{op="get"}'),
               g('s3cow_store_requests_total{op="put"}'),
               g("s3cow_http_retries_total"), g("s3cow_store_errors_total"),
               g("s3cow_chunk_corrupt_total"),
               g("s3cow_chunk_upload_failures_total"),
               g("s3cow_commits_total")))


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


def close(h):
    """Disconnect cleanly (NBD_CMD_DISC) and free the handle."""
    try:
        h.shutdown()
    except nbd.Error:
        pass


def server_params(a, extra=()):
    return (["size=%d" % a.disk, "chunk-size=%d" % a.chunk,
             "cache-size=%d" % a.cache] + list(extra))


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


# ---- outage: longer than the retry budget --------------------------------

def sanitized(plugin):
    """Is the plugin built with AddressSanitizer or ThreadSanitizer?"""
    with open(plugin, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def nbd_errno(e):
    return getattr(e, "errnum", None)


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="scenario", required=True)

    def common(p, disk, chunk, cache):
        p.add_argument("--seed", type=int,
                       default=int(os.environ.get("FAULT_SEED",
                                                  int(time.time()))))
        p.add_argument("--disk", type=size, default=disk)
        p.add_argument("--chunk", type=size, default=chunk)
        p.add_argument("--cache", type=size, default=cache)
        p.add_argument("--timeout", type=float, default=2)

    p = sub.add_parser("random")
    common(p, 64 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--moved", type=size, default=256 * MiB,
                   help="bytes written + read by the workload")
    p.add_argument("--fault-rate", type=float, default=0.10,
                   help="share of requests that get a fault (all kinds)")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--retry-time", type=float, default=30)
    p.add_argument("--slow-seconds", type=float, default=3)
    p.add_argument("--verify-through-proxy", action="store_true",
                   help="also read the whole disk through the faults")
    p.add_argument("--cas-rounds", type=int, default=10,
                   help="flushes whose head PUT responses get lost")

    p = sub.add_parser("outage")
    common(p, 64 * MiB, 256 * 1024, 32 * MiB)
    p.add_argument("--retry-time", type=float, default=3)
    p.add_argument("--outage", type=float, default=10)
    p.add_argument("--end-outage-early", action="store_true",
                   help="end the first outage once the checks made during "
                   "it are done, not after --outage seconds")
    p.add_argument("--outage-mode", default="reset",
                   choices=faultproxy.OUTAGE_MODES)
    p.add_argument("--fill-seconds", type=float, default=8,
                   help="how long to keep writing once writes fail")
    p.add_argument("--fill-mode", default="refuse",
                   choices=faultproxy.OUTAGE_MODES,
                   help="outage mode while the write-back buffer fills")
    p.add_argument("--lease", type=int, default=120)
    p.add_argument("--commit-interval", type=float, default=5)

    p = sub.add_parser("corrupt")
    common(p, 16 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--retry-time", type=float, default=30)
    p.add_argument("--passes", type=int, default=4)
    p.add_argument("--truncate", type=float, default=0.15)
    p.add_argument("--corrupt", type=float, default=0.15)
    p.add_argument("--rot", type=float, default=0.1,
                   help="share of chunks damaged in the bucket (0: skip)")

    p = sub.add_parser("readahead")
    common(p, 32 * MiB, 256 * 1024, 16 * MiB)
    p.add_argument("--retry-time", type=float, default=30)
    p.add_argument("--read-ahead", type=size, default=4 * MiB)
    p.add_argument("--truncate", type=float, default=0.1)
    p.add_argument("--corrupt", type=float, default=0.1)
    p.add_argument("--rot", type=float, default=0.1,
                   help="share of chunks damaged in the bucket")

    p = sub.add_parser("lease")
    common(p, 16 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--retry-time", type=float, default=2)
    p.add_argument("--lease", type=int, default=9)

    p = sub.add_parser("lost-commit")
    common(p, 16 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--retry-time", type=float, default=2)

    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    say("%s: seed %d (FAULT_SEED=%d reruns it)" % (a.scenario, a.seed,
                                                    a.seed))
    try:
        {"random": scenario_random, "outage": scenario_outage,
         "corrupt": scenario_corrupt, "lease": scenario_lease,
         "readahead": scenario_readahead,
         "lost-commit": scenario_lost_commit}[a.scenario](a)
    except Mismatch as e:
        die(str(e))


if __name__ == "__main__":
    main()
