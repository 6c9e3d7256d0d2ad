"""faultload_harness.py: the processes and settings of faultload.py's
scenarios: faultproxy.py and nbdkit in child processes, the settings from
the environment, NBD handles, and the lines faultload prints."""

import atexit
import json
import os
import signal
import subprocess
import sys
import time

import nbd

import faultproxy

HERE = os.path.dirname(os.path.abspath(__file__))
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


def close(h):
    """Disconnect cleanly (NBD_CMD_DISC) and free the handle."""
    try:
        h.shutdown()
    except nbd.Error:
        pass


def server_params(a, extra=()):
    return (["size=%d" % a.disk, "chunk-size=%d" % a.chunk,
             "cache-size=%d" % a.cache] + list(extra))


def sanitized(plugin):
    """Is the plugin built with AddressSanitizer or ThreadSanitizer?"""
    with open(plugin, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def nbd_errno(e):
    return getattr(e, "errnum", None)
