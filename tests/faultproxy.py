#!/usr/bin/python3
"""faultproxy.py: a fault-injecting HTTP/1.1 proxy for s3cow's tests.

It sits between s3cow (endpoint=http://127.0.0.1:PORT) and an S3 server
(RGW), forwards every request byte for byte (the Host header too: the
client signed it with SigV4, and the server checks the signature against
the Host it receives, not against its own address), keeps connections
alive in both directions, and injects faults at configurable rates:

  500           reply 500 InternalError (S3 XML body); nothing forwarded
  503           reply 503 SlowDown (S3 XML body); nothing forwarded
  reset_before  reset the connection after the request headers, before
                its body is read; nothing forwarded
  reset_after   forward the request, read the whole response, then reset
                the client's connection: the request WAS applied, the
                client never learns it
  slow          forward, then hold the response for slow_seconds (longer
                than the client's timeout) before sending it
  stall         forward, send the headers and half of the body, then
                stall for slow_seconds and close
  truncate      (2xx GET with a body) send the headers unchanged
                (Content-Length kept) and only part of the body, then
                close the connection
  corrupt       (2xx GET with a body) flip one bit of the body, never the
                one the object's last corrupt body had (the same wrong
                body twice is rot's); length and headers unchanged
  rot           (2xx GET with a body) the rate is per object, not per
                request: a chosen object gets the same bit flipped in
                every GET, as if it were damaged in the bucket while its
                ETag still claims the good content

and latency: --delay S holds every forwarded response S seconds before
sending it, as a distant server answers (each connection has its own
thread, so requests in flight overlap their delays).

And outages: for N seconds every request is refused (the listening
socket is closed: connection refused), reset, or left hanging (accepted,
never answered), whichever the outage mode says.

Each rate (but rot's) is the probability that one request gets that
fault (their sum at most 1).  truncate and corrupt apply only to 2xx GET responses with a
body; chosen for another request they do nothing.  The choice for a
request is a function of (seed, method, request target, how many times
that same method and target were seen before), so the same requests get
the same faults in every run with the same seed, however threads
interleave.  max_in_a_row=N (0: no limit) lets the request through
unharmed after N faults in a row on the same method and target, so a
high rate still leaves a client that retries a way to succeed: a test
that must pass cannot then fail on a run of bad luck.

Usage:

  faultproxy.py serve --upstream http://127.0.0.1:7480 [--port 0]
        [--control-port 0] [--port-file FILE] [--seed N]
        [--rate KIND=P ...] [--all P] [--slow-seconds S] [--delay S]
        [--match RE]
        [--log FILE] [--log-requests] [--stats-file FILE]
     --all P spreads P evenly over every kind but rot.  --match RE limits the
     faults to requests whose "METHOD target" the regular expression
     matches (e.g. 'PUT .*/head$').  --port-file gets
     "PORT CONTROL_PORT" once the proxy listens.  Counts of the faults
     injected are printed (JSON) when it stops (SIGTERM, SIGINT), and
     written to --stats-file every second.  --no-etag strips the ETag
     header of 2xx GET responses (those --match matches), as from a
     server whose ETags are not MD5s: the client cannot check bodies
     against them, so corrupt bodies reach its own checks.
     --bucket-region R answers a request signed for another region than
     R (its Authorization's credential scope) as AWS does: 400
     AuthorizationHeaderMalformed naming R in <Region> and in
     x-amz-bucket-region; nothing forwarded.  --log-header NAME (again
     for more) adds the request's NAME header, or "-", to the line
     --log-requests logs for it.

  faultproxy.py ctl CONTROL_PORT stats              counts, as JSON
  faultproxy.py ctl CONTROL_PORT set KIND=P ... [all=P] [slow_seconds=S]
                                     [delay=S] [seed=N] [match=RE]
                                     [no_etag=0|1]
                                     [max_in_a_row=N]
  faultproxy.py ctl CONTROL_PORT clear              all rates to 0
  faultproxy.py ctl CONTROL_PORT outage SECONDS [refuse|reset|hang]
  faultproxy.py ctl CONTROL_PORT end-outage

The control port speaks plain HTTP too (GET /stats, POST /set with a
JSON object, POST /outage with {"seconds": N, "mode": M}), and the
module's Control class does the same from Python.

Standard library only.
"""

import argparse
import hashlib
import http.server
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

TRANSIENT = ("500", "503", "reset_before", "reset_after", "slow", "stall",
             "truncate", "corrupt")
KINDS = TRANSIENT + ("rot",)
OUTAGE_MODES = ("refuse", "reset", "hang")

ERROR_500 = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
             b'<Code>InternalError</Code><Message>We encountered an internal '
             b'error. Please try again. (injected by faultproxy)</Message>'
             b'<RequestId>faultproxy</RequestId></Error>')
ERROR_503 = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
             b'<Code>SlowDown</Code><Message>Please reduce your request rate. '
             b'(injected by faultproxy)</Message>'
             b'<RequestId>faultproxy</RequestId></Error>')


class Abort(Exception):
    """End this connection (the client or upstream went away)."""


class Config:
    def __init__(self, seed=0):
        self.lock = threading.RLock()   # set_all holds it around set
        self.rates = {k: 0.0 for k in KINDS}
        self.slow_seconds = 5.0
        self.delay = 0.0                # seconds every response is held
        self.seed = seed
        self.outage_until = 0.0
        self.outage_mode = "reset"
        self.match = None               # regex on "METHOD target", or None
        self.no_etag = False            # strip ETags of matching 2xx GETs
        self.seen = {}                  # (method, target) -> count
        self.max_in_a_row = 0           # 0: no limit
        self.in_a_row = {}              # (method, target) -> faults in a row
        self.last_flip = {}             # "METHOD target" -> (byte, bit)
        self.counts = {k: 0 for k in KINDS}
        self.counts.update(requests=0, forwarded=0, outage_rejected=0,
                           outages=0, connections=0, bytes_up=0,
                           bytes_down=0, upstream_errors=0,
                           not_applicable=0, wrong_region=0)
        self.log = None
        self.log_requests = False       # log every request, not just faults
        self.log_headers = []           # request headers those lines show
        self.bucket_region = None       # refuse requests signed for another

    def set(self, key, value):
        with self.lock:
            if key in self.rates:
                p = float(value)
                if not 0 <= p <= 1:
                    raise ValueError("rate %s=%s: not in [0, 1]" % (key, value))
                self.rates[key] = p
            elif key == "all":
                for k in TRANSIENT:
                    self.rates[k] = float(value) / len(TRANSIENT)
            elif key == "slow_seconds":
                self.slow_seconds = float(value)
            elif key == "delay":
                d = float(value)
                if not 0 <= d <= 60:
                    raise ValueError("delay=%s: not in [0, 60]" % value)
                self.delay = d
            elif key == "seed":
                self.seed = int(value)
                self.seen = {}
            elif key == "match":
                self.match = re.compile(value) if value else None
            elif key == "max_in_a_row":
                n = int(value)
                if n < 0:
                    raise ValueError("max_in_a_row=%s: negative" % value)
                self.max_in_a_row = n
                self.in_a_row = {}
            elif key == "no_etag":
                self.no_etag = str(value).lower() in ("1", "true", "yes")
            else:
                raise ValueError("unknown setting %r (kinds: %s)"
                                 % (key, ", ".join(KINDS)))
            if sum(self.rates[k] for k in TRANSIENT) > 1 + 1e-9:
                raise ValueError("the rates add up to more than 1")

    def set_all(self, settings):
        """Apply settings (a dict, in its order) at once: no request sees
        some of them and not the others (e.g. slow=0 then reset_after=1)."""
        with self.lock:
            for k, v in settings.items():
                self.set(k, v)

    def outage(self, seconds, mode):
        if mode not in OUTAGE_MODES:
            raise ValueError("outage mode %r: one of %s"
                             % (mode, ", ".join(OUTAGE_MODES)))
        with self.lock:
            self.outage_until = time.monotonic() + float(seconds)
            self.outage_mode = mode
            if float(seconds) > 0:
                self.counts["outages"] += 1
        self.note("outage for %.1f s (%s)" % (float(seconds), mode)
                  if float(seconds) > 0 else "outage ended")

    def in_outage(self):
        with self.lock:
            if time.monotonic() < self.outage_until:
                return self.outage_mode
        return None

    def choose(self, method, target):
        """(the fault for this request or None, a random.Random for its
        details), both functions of the seed and the request's identity."""
        with self.lock:
            self.counts["requests"] += 1
            key = (method, target)
            n = self.seen.get(key, 0)
            self.seen[key] = n + 1
            ident = "%d %s %s %d" % (self.seed, method, target, n)
            if not any(self.rates.values()):
                return None, None
            if self.match and not self.match.search(method + " " + target):
                return None, None
            if self.rates["rot"] and method == "GET":
                # Per object, not per request: the same object, the same
                # damage, every time.
                r = "%d rot %s" % (self.seed, target)
                h = hashlib.sha256(r.encode()).digest()
                if int.from_bytes(h[:8], "big") / 2.0 ** 64 < self.rates["rot"]:
                    return "rot", random.Random(r)
            h = hashlib.sha256(ident.encode()).digest()
            u = int.from_bytes(h[:8], "big") / 2.0 ** 64
            for k in TRANSIENT:
                if u < self.rates[k]:
                    break
                u -= self.rates[k]
            else:
                self.in_a_row.pop(key, None)
                return None, None
            n = self.in_a_row.get(key, 0)
            if self.max_in_a_row and n >= self.max_in_a_row:
                self.in_a_row.pop(key, None)
                return None, None
            self.in_a_row[key] = n + 1
            return k, random.Random(ident)

    def new_flip(self, what, pos, bit, size):
        """(pos, bit) for a corrupt body of request what ("METHOD
        target"), moved to the next bit if it is the flip this object's
        last corrupt body had: corrupt damage is new every time, and the
        same wrong body twice in a row is what rot means (a client may
        rightly take it for damage in the bucket).  By chance that was one
        pair of corrupt bodies in 8 * size."""
        with self.lock:
            if self.last_flip.get(what) == (pos, bit):
                pos, bit = (pos + (bit + 1) // 8) % size, (bit + 1) % 8
            self.last_flip[what] = (pos, bit)
            return pos, bit

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def note(self, msg):
        if self.log:
            with self.lock:
                self.log.write("%.3f %s\n" % (time.time(), msg))
                self.log.flush()

    def snapshot(self):
        with self.lock:
            d = dict(self.counts)
            d["injected"] = sum(self.counts[k] for k in KINDS)
            d["rates"] = dict(self.rates)
            d["slow_seconds"] = self.slow_seconds
            d["delay"] = self.delay
            d["seed"] = self.seed
            d["match"] = self.match.pattern if self.match else None
            d["no_etag"] = self.no_etag
            d["outage_left"] = max(0.0, self.outage_until - time.monotonic())
            return d


def reset(sock):
    """Close sock with a TCP RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def read_head(f):
    """Read a message head (start line + headers) from the buffered reader
    f: (raw bytes, start line, [(name-lower, value)]), or None at a clean
    end of stream before any byte."""
    lines = []
    raw = bytearray()
    while True:
        line = f.readline(65537)
        if not line:
            if not raw:
                return None
            raise Abort("end of stream inside a message head")
        if len(line) > 65536 or len(raw) > 1 << 20:
            raise Abort("message head too long")
        raw += line
        if line in (b"\r\n", b"\n"):
            if not lines:           # blank lines before a message: skip
                raw.clear()
                continue
            break
        lines.append(line.rstrip(b"\r\n"))
    headers = []
    for h in lines[1:]:
        name, _, value = h.partition(b":")
        headers.append((name.strip().lower().decode("latin-1"),
                        value.strip().decode("latin-1")))
    return bytes(raw), lines[0].decode("latin-1"), headers


def header(headers, name):
    for n, v in headers:
        if n == name:
            return v
    return None


def read_exact(f, n):
    data = f.read(n)
    if data is None or len(data) != n:
        raise Abort("end of stream inside a body")
    return data


def read_chunked(f):
    """A chunked body, raw (to forward as is)."""
    out = bytearray()
    while True:
        line = f.readline(1024)
        if not line:
            raise Abort("end of stream inside a chunked body")
        out += line
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:             # trailers, up to the blank line
                t = f.readline(65537)
                if not t:
                    raise Abort("end of stream inside chunked trailers")
                out += t
                if t in (b"\r\n", b"\n"):
                    return bytes(out)
        out += read_exact(f, size + 2)


class Upstream:
    """One kept-alive connection to the S3 server."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sock = None
        self.f = None

    def connect(self):
        self.close()
        self.sock = socket.create_connection((self.host, self.port), 30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(300)
        self.f = self.sock.makefile("rb", buffering=65536)

    def close(self):
        if self.sock:
            try:
                self.f.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.f = None

    def exchange(self, request, method):
        """Send request, read one final response: (head raw, status, headers,
        body raw, keep-alive).  Retries once on a fresh connection if a
        reused one was closed before anything came back."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.connect()
            try:
                self.sock.sendall(request)
                resp = self.read_response(method)
            except (OSError, Abort):
                self.close()
                if fresh or attempt == 1:
                    raise
                continue
            if resp is None:
                self.close()
                if fresh or attempt == 1:
                    raise Abort("upstream closed without a response")
                continue
            return resp
        raise Abort("unreachable")

    def read_response(self, method):
        while True:
            head = read_head(self.f)
            if head is None:
                return None
            raw, start, headers = head
            parts = start.split(" ", 2)
            status = int(parts[1])
            if 100 <= status < 200:
                continue            # 100 Continue: the client got ours
            break
        keep = True
        conn = (header(headers, "connection") or "").lower()
        if "close" in conn or parts[0] == "HTTP/1.0":
            keep = False
        te = (header(headers, "transfer-encoding") or "").lower()
        cl = header(headers, "content-length")
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in te:
            body = read_chunked(self.f)
        elif cl is not None:
            body = read_exact(self.f, int(cl))
        else:
            body = self.f.read()    # until the server closes
            keep = False
        if not keep:
            self.close()
        return raw, status, headers, body, keep


class Proxy:
    def __init__(self, config, upstream, port, bind="127.0.0.1"):
        self.config = config
        u = upstream
        if u.startswith("http://"):
            u = u[7:]
        u = u.rstrip("/")
        host, _, p = u.rpartition(":")
        self.up_host, self.up_port = (host, int(p)) if host else (u, 80)
        self.bind = bind
        self.listener = None
        self.port = port
        self.stop = False
        self.listen()
        self.port = self.listener.getsockname()[1]

    def listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.bind, self.port))
        s.listen(128)
        s.settimeout(0.2)
        self.listener = s

    def serve(self):
        while not self.stop:
            mode = self.config.in_outage()
            if mode == "refuse":
                if self.listener:
                    self.listener.close()
                    self.listener = None
                time.sleep(0.05)
                continue
            if self.listener is None:
                try:
                    self.listen()
                except OSError:
                    time.sleep(0.1)
                    continue
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                continue
            self.config.count("connections")
            threading.Thread(target=self.connection, args=(c,),
                             daemon=True).start()

    def connection(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.settimeout(300)
        f = c.makefile("rb", buffering=65536)
        up = Upstream(self.up_host, self.up_port)
        try:
            while self.handle_one(c, f, up):
                pass
        except (Abort, OSError, ValueError) as e:
            self.config.note("connection ended: %s" % e)
            reset(c)
        finally:
            up.close()
            try:
                f.close()
                c.close()
            except OSError:
                pass

    def outage_reject(self, c, mode, what):
        self.config.count("outage_rejected")
        self.config.note("outage (%s): %s" % (mode, what))
        if mode == "hang":
            while self.config.in_outage() and not self.stop:
                time.sleep(0.1)
        reset(c)

    def handle_one(self, c, f, up):
        """One request; False to end the connection."""
        cfg = self.config
        head = read_head(f)
        if head is None:
            return False
        raw, start, headers = head
        method, target = start.split(" ", 2)[:2]
        what = "%s %s" % (method, target)
        mode = cfg.in_outage()
        if mode:
            self.outage_reject(c, mode, what)
            return False
        kind, rng = cfg.choose(method, target)
        if cfg.log_requests:
            shown = "".join(" [%s: %s]" % (n, header(headers, n) or "-")
                            for n in cfg.log_headers)
            cfg.note("request: %s -> %s%s" % (what, kind or "no fault", shown))
        if kind == "reset_before":
            cfg.count(kind)
            cfg.note("reset_before: %s" % what)
            reset(c)
            return False
        if "100-continue" in (header(headers, "expect") or "").lower():
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        te = (header(headers, "transfer-encoding") or "").lower()
        cl = header(headers, "content-length")
        if "chunked" in te:
            body = read_chunked(f)
        elif cl is not None:
            body = read_exact(f, int(cl))
        else:
            body = b""
        cfg.count("bytes_up", len(body))
        signed = re.search(r"Credential=[^/]*/[^/]*/([^/]*)/",
                           header(headers, "authorization") or "")
        if (cfg.bucket_region and signed
                and signed.group(1) != cfg.bucket_region):
            cfg.count("wrong_region")
            cfg.note("wrong region %s: %s" % (signed.group(1), what))
            xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
                   '<Code>AuthorizationHeaderMalformed</Code><Message>The '
                   'authorization header is malformed; the region \'%s\' '
                   'is wrong; expecting \'%s\'</Message><Region>%s</Region>'
                   '<RequestId>faultproxy</RequestId></Error>'
                   % (signed.group(1), cfg.bucket_region,
                      cfg.bucket_region)).encode()
            c.sendall(("HTTP/1.1 400 Bad Request\r\nContent-Type: "
                       "application/xml\r\nx-amz-bucket-region: %s\r\n"
                       "Content-Length: %d\r\n\r\n"
                       % (cfg.bucket_region,
                          0 if method == "HEAD" else len(xml))).encode()
                      + (b"" if method == "HEAD" else xml))
            return True
        if kind in ("500", "503"):
            cfg.count(kind)
            cfg.note("%s: %s" % (kind, what))
            xml = ERROR_500 if kind == "500" else ERROR_503
            reason = ("Internal Server Error" if kind == "500"
                      else "Slow Down")
            c.sendall(("HTTP/1.1 %s %s\r\nContent-Type: application/xml\r\n"
                       "Content-Length: %d\r\nx-amz-request-id: faultproxy\r\n"
                       "\r\n" % (kind, reason, len(xml))).encode() + xml)
            return True
        mode = cfg.in_outage()
        if mode:
            self.outage_reject(c, mode, what)
            return False
        try:
            rhead, status, rheaders, rbody, keep = up.exchange(raw + body,
                                                               method)
        except (OSError, Abort, ValueError) as e:
            cfg.count("upstream_errors")
            cfg.note("upstream failed for %s: %s" % (what, e))
            reset(c)
            return False
        cfg.count("forwarded")
        cfg.count("bytes_down", len(rbody))
        if cfg.delay:
            time.sleep(cfg.delay)
        has_body = (method == "GET" and 200 <= status < 300 and len(rbody) > 0
                    and header(rheaders, "content-length") is not None)
        if (cfg.no_etag and method == "GET" and 200 <= status < 300
                and (cfg.match is None or cfg.match.search(what))):
            # As from a server whose ETags are not MD5s of the content
            # (SSE-KMS, multipart): the client cannot check the body.
            rhead = re.sub(rb"(?im)^etag:[^\r\n]*\r\n", b"", rhead)
        if kind == "reset_after":
            cfg.count(kind)
            cfg.note("reset_after: %s -> %d (applied, response dropped)"
                     % (what, status))
            reset(c)
            return False
        if kind == "slow":
            cfg.count(kind)
            cfg.note("slow: %s -> %d held %.1f s"
                     % (what, status, cfg.slow_seconds))
            time.sleep(cfg.slow_seconds)
            c.sendall(rhead + rbody)
            return keep
        if kind == "stall":
            cfg.count(kind)
            cfg.note("stall: %s -> %d, %d body bytes, stalled %.1f s"
                     % (what, status, len(rbody), cfg.slow_seconds))
            c.sendall(rhead + rbody[:len(rbody) // 2])
            time.sleep(cfg.slow_seconds)
            reset(c)
            return False
        if kind == "truncate":
            if has_body:
                cut = rng.randrange(len(rbody))
                cfg.count(kind)
                cfg.note("truncate: %s -> %d, %d of %d body bytes sent"
                         % (what, status, cut, len(rbody)))
                c.sendall(rhead + rbody[:cut])
                c.shutdown(socket.SHUT_WR)
                return False
            cfg.count("not_applicable")
        if kind in ("corrupt", "rot"):
            if has_body:
                pos = rng.randrange(len(rbody))
                bit = rng.randrange(8)
                if kind == "corrupt":
                    pos, bit = cfg.new_flip(what, pos, bit, len(rbody))
                b = bytearray(rbody)
                b[pos] ^= 1 << bit
                rbody = bytes(b)
                cfg.count(kind)
                cfg.note("%s: %s -> %d, byte %d of %d flipped"
                         % (kind, what, status, pos, len(rbody)))
            else:
                cfg.count("not_applicable")
        c.sendall(rhead + rbody)
        return keep


class Control(object):
    """Client of the control port."""

    def __init__(self, port, host="127.0.0.1"):
        self.base = "http://%s:%d" % (host, int(port))

    def _call(self, path, obj=None):
        data = None if obj is None else json.dumps(obj).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def stats(self):
        return self._call("/stats")

    def set(self, **settings):
        return self._call("/set", {k: v for k, v in settings.items()})

    def clear(self):
        d = {k: 0 for k in KINDS}
        d["match"] = ""
        d["max_in_a_row"] = 0
        return self._call("/set", d)

    def outage(self, seconds, mode="reset"):
        return self._call("/outage", {"seconds": seconds, "mode": mode})

    def end_outage(self):
        return self._call("/outage", {"seconds": 0, "mode": "reset"})


def control_server(config, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, obj):
            data = json.dumps(obj, indent=1, sort_keys=True).encode() + b"\n"
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/stats":
                self.reply(200, config.snapshot())
            else:
                self.reply(404, {"error": "GET /stats"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                obj = json.loads(self.rfile.read(n) or b"{}")
                if self.path == "/set":
                    config.set_all(obj)
                    config.note("set %s" % json.dumps(obj, sort_keys=True))
                elif self.path == "/outage":
                    config.outage(obj.get("seconds", 0),
                                  obj.get("mode", "reset"))
                else:
                    self.reply(404, {"error": "POST /set or /outage"})
                    return
            except (ValueError, TypeError) as e:
                self.reply(400, {"error": str(e)})
                return
            self.reply(200, config.snapshot())

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def summary(snap):
    kinds = ", ".join("%s %d" % (k, snap[k]) for k in KINDS if snap[k])
    return ("faultproxy: %d requests, %d forwarded, %d faults injected (%s), "
            "%d outages (%d requests rejected), %.1f MiB up, %.1f MiB down"
            % (snap["requests"], snap["forwarded"], snap["injected"],
               kinds or "none", snap["outages"], snap["outage_rejected"],
               snap["bytes_up"] / 2 ** 20, snap["bytes_down"] / 2 ** 20))


def cmd_serve(args):
    config = Config(args.seed)
    if args.log:
        config.log = open(args.log, "a")
    config.log_requests = args.log_requests
    config.log_headers = args.log_header
    config.bucket_region = args.bucket_region
    if args.all:
        config.set("all", args.all)
    for r in args.rate:
        k, _, v = r.partition("=")
        config.set(k, v)
    config.set("slow_seconds", args.slow_seconds)
    config.set("delay", args.delay)
    if args.match:
        config.set("match", args.match)
    if args.no_etag:
        config.set("no_etag", "1")
    proxy = Proxy(config, args.upstream, args.port)
    ctl = control_server(config, args.control_port)
    done = threading.Event()

    def write_stats():
        if args.stats_file:
            tmp = args.stats_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(config.snapshot(), f, indent=1, sort_keys=True)
            os.rename(tmp, args.stats_file)

    def stats_loop():
        while not done.wait(1):
            write_stats()

    def on_signal(signum, frame):
        proxy.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (proxy.port, ctl.server_address[1]))
        os.rename(tmp, args.port_file)
    config.note("listening on %d (control %d), upstream %s, seed %d"
                % (proxy.port, ctl.server_address[1], args.upstream,
                   args.seed))
    threading.Thread(target=stats_loop, daemon=True).start()
    proxy.serve()
    done.set()
    write_stats()
    snap = config.snapshot()
    print(summary(snap), file=sys.stderr)
    print(json.dumps({k: snap[k] for k in snap if k != "rates"},
                     sort_keys=True), file=sys.stderr)
    return 0


def cmd_ctl(args):
    ctl = Control(args.control_port)
    op = args.op
    if op == "stats":
        r = ctl.stats()
    elif op == "set":
        settings = {}
        for a in args.args:
            k, _, v = a.partition("=")
            settings[k] = v
        r = ctl.set(**settings)
    elif op == "clear":
        r = ctl.clear()
    elif op == "outage":
        r = ctl.outage(float(args.args[0]),
                       args.args[1] if len(args.args) > 1 else "reset")
    elif op == "end-outage":
        r = ctl.end_outage()
    else:
        sys.exit("faultproxy: unknown ctl operation %r" % op)
    print(json.dumps(r, indent=1, sort_keys=True))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--upstream", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--control-port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--rate", action="append", default=[],
                   metavar="KIND=P")
    s.add_argument("--all", type=float, default=0)
    s.add_argument("--slow-seconds", type=float, default=5.0)
    s.add_argument("--delay", type=float, default=0.0)
    s.add_argument("--match", metavar="RE")
    s.add_argument("--no-etag", action="store_true",
                   help="strip the ETag of 2xx GET responses (of --match)")
    s.add_argument("--log")
    s.add_argument("--log-requests", action="store_true",
                   help="log every request, not only the faults")
    s.add_argument("--stats-file")
    s.add_argument("--bucket-region", metavar="REGION",
                   help="refuse requests signed for another region")
    s.add_argument("--log-header", action="append", default=[],
                   metavar="NAME", help="show this request header")
    c = sub.add_parser("ctl")
    c.add_argument("control_port", type=int)
    c.add_argument("op")
    c.add_argument("args", nargs="*")
    args = ap.parse_args()
    try:
        return cmd_serve(args) if args.cmd == "serve" else cmd_ctl(args)
    except ValueError as e:
        sys.exit("faultproxy: %s" % e)


if __name__ == "__main__":
    sys.exit(main())
