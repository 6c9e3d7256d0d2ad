#!/usr/bin/env python3
"""A stand-in for the AWS credential services, for s3cow's tests.

One HTTP server on 127.0.0.1 answers as
  - EC2 instance metadata, IMDSv2 only:
      PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds)
      GET /latest/meta-data/iam/security-credentials/[ROLE]
          (X-aws-ec2-metadata-token)
    or, with --imds-v1-only, as an instance whose token PUT fails (403)
    and whose GETs need no token (IMDSv1)
  - the ECS / EKS Pod Identity container endpoint:
      GET /container/credentials (Authorization: --container-token)
  - STS AssumeRoleWithWebIdentity: POST /sts/ (form body)
  - STS AssumeRole: POST /sts/ (form body), whose SigV4 signature it checks
    with --source-key (the key of a profile's source_profile)

The keys it hands out are either one fixed key (--key AK:SK, for tests of
which source is used) or keys it makes on the test's Ceph RGW with
radosgw-admin (--rgw-conf, --uid): a new key every --mint-every seconds,
each valid --lifetime seconds and removed from the RGW at its Expiration,
so that a client that does not renew in time is refused.

Control, for tests:
  POST /control/rotate   make a new key now and revoke every older one
  --fail-file PATH       while PATH exists, every credential answer is 500

Every request and every key made or revoked is a line in --log.  Secrets
are never logged.
"""

import argparse
import fcntl
import hashlib
import hmac
import http.server
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

ROLE = "s3cow-standin-role"

args = None
lock = threading.Lock()  # guards keys, imds_tokens and log writes
# Serialises the key changes: radosgw-admin rewrites the whole user, so
# two at once can undo each other, and the minter and an early rotation
# (POST /rotate) may both revoke one key.
admin_lock = threading.Lock()
keys = []  # [access, secret, expires], newest last
imds_tokens = set()
stop = threading.Event()


def log(msg):
    with lock:
        with open(args.log, "a") as f:
            f.write("%.3f %s\n" % (time.time(), msg))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def admin(*cmd):
    # The same rewrite of the user can come from another stand-in on this
    # gateway (tests run in parallel): one at a time across processes too,
    # by a lock on the gateway's configuration file.
    with open(args.rgw_conf) as conf:
        fcntl.flock(conf, fcntl.LOCK_EX)
        subprocess.run(
            ["radosgw-admin", "-c", args.rgw_conf, "-n", "client.admin"]
            + list(cmd),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )


def mint():
    access = "STANDIN" + secrets.token_hex(7).upper()
    secret = secrets.token_urlsafe(30)
    with admin_lock:
        admin("key", "create", "--uid=" + args.uid, "--key-type=s3",
              "--access-key=" + access, "--secret-key=" + secret)
        expires = int(time.time()) + args.lifetime
        with lock:
            keys.append([access, secret, expires])
    log("mint %s expires %s" % (access, iso(expires)))


def revoke(access):
    with admin_lock:
        with lock:
            if access not in [k[0] for k in keys]:
                return  # revoked already
        admin("key", "rm", "--uid=" + args.uid, "--key-type=s3",
              "--access-key=" + access)
        with lock:
            keys[:] = [k for k in keys if k[0] != access]
    log("revoke %s" % access)


def rotate_now():
    with lock:
        old = [k[0] for k in keys]
    mint()
    for a in old:
        revoke(a)


def minter():
    """Make keys and revoke them at their expiration."""
    next_mint = time.time()
    while not stop.is_set():
        now = time.time()
        if now >= next_mint:
            mint()
            next_mint = now + args.mint_every
        with lock:
            due = [k[0] for k in keys if k[2] <= time.time()]
        for a in due:
            revoke(a)
        stop.wait(0.2)


def current():
    """(access, secret, expiration) to hand out now."""
    if args.key:
        access, secret = args.key.split(":", 1)
        return access, secret, int(time.time()) + args.lifetime
    with lock:
        if keys:
            return tuple(keys[-1])
    # Every key was revoked: make one now.
    mint()
    with lock:
        return tuple(keys[-1]) if keys else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def answer(self, status, body, ctype="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def failing(self):
        if args.fail_file and os.path.exists(args.fail_file):
            log("%s %s: failing on purpose" % (self.command, self.path))
            self.answer(500, "failing on purpose")
            return True
        return False

    def creds_json(self, source, token_field):
        cur = current()
        if cur is None:
            self.answer(503, "no key yet")
            return
        access, secret, expires = cur
        log("serve %s %s" % (source, access))
        doc = {
            "Code": "Success",
            "LastUpdated": iso(time.time()),
            "Type": "AWS-HMAC",
            "AccessKeyId": access,
            "SecretAccessKey": secret,
            token_field: "standin-token-" + source,
            "Expiration": iso(expires),
        }
        self.answer(200, json.dumps(doc), "application/json")

    def do_PUT(self):
        if self.path != "/latest/api/token":
            return self.answer(404, "not found")
        if args.imds_v1_only:
            log("imds token refused (--imds-v1-only)")
            return self.answer(403, "no IMDSv2 here")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            log("imds token: bad ttl header %r" % ttl)
            return self.answer(400, "bad ttl")
        if self.failing():
            return
        token = secrets.token_hex(16)
        with lock:
            imds_tokens.add(token)
        log("imds token ttl=%s" % ttl)
        self.answer(200, token)

    def do_GET(self):
        path = self.path
        prefix = "/latest/meta-data/iam/security-credentials/"
        if path.startswith("/latest/"):
            token = self.headers.get("X-aws-ec2-metadata-token")
            with lock:
                ok = token in imds_tokens
            if not ok:
                log("imds GET %s without a valid token (IMDSv1)" % path)
                if not args.imds_v1_only:
                    return self.answer(401, "IMDSv2 only")
            if self.failing():
                return
            if path == prefix:
                log("imds role")
                return self.answer(200, ROLE)
            if path == prefix + ROLE:
                return self.creds_json("imds", "Token")
            return self.answer(404, "not found")
        if path == "/container/credentials":
            want = args.container_token
            got = self.headers.get("Authorization")
            if want and got != want:
                log("container: wrong Authorization")
                return self.answer(401, "wrong token")
            if self.failing():
                return
            return self.creds_json("container", "Token")
        self.answer(404, "not found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        if self.path == "/control/rotate":
            rotate_now()
            return self.answer(200, "rotated")
        if not self.path.startswith("/sts"):
            return self.answer(404, "not found")
        form = urllib.parse.parse_qs(body)
        if form.get("Action") == ["AssumeRole"]:
            return self.assume_role(form, body)
        if (form.get("Action") != ["AssumeRoleWithWebIdentity"]
                or form.get("RoleArn") != [args.role_arn]
                or form.get("WebIdentityToken") != [args.web_token]):
            log("sts: refused (action %s, role %s)"
                % (form.get("Action"), form.get("RoleArn")))
            return self.answer(
                403,
                "<ErrorResponse><Error><Type>Sender</Type>"
                "<Code>AccessDenied</Code><Message>Not authorized to "
                "perform sts:AssumeRoleWithWebIdentity</Message></Error>"
                "</ErrorResponse>", "text/xml")
        if self.failing():
            return
        cur = current()
        if cur is None:
            return self.answer(503, "no key yet")
        access, secret, expires = cur
        log("serve sts %s session %s" % (access,
                                         form.get("RoleSessionName", [""])[0]))
        self.answer(
            200,
            '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.'
            'amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>'
            "<Credentials><AccessKeyId>%s</AccessKeyId>"
            "<SecretAccessKey>%s</SecretAccessKey>"
            "<SessionToken>standin-token-sts</SessionToken>"
            "<Expiration>%s</Expiration></Credentials>"
            "</AssumeRoleWithWebIdentityResult>"
            "</AssumeRoleWithWebIdentityResponse>" % (access, secret,
                                                      iso(expires)),
            "text/xml")

    def signature_ok(self, body):
        """Check the request's SigV4 signature with --source-key."""
        if not args.source_key:
            return False
        access, secret = args.source_key.split(":", 1)
        auth = self.headers.get("Authorization", "")
        try:
            algo, rest = auth.split(" ", 1)
            fields = dict(f.strip().split("=", 1) for f in rest.split(","))
            ak, day, region, service, _ = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
        except (ValueError, KeyError):
            return False
        if algo != "AWS4-HMAC-SHA256" or ak != access or service != "sts":
            return False
        canon = "\n".join([
            "POST", urllib.parse.urlsplit(self.path).path, "",
            "".join("%s:%s\n" % (h, " ".join(self.headers.get(h, "").split()))
                    for h in signed),
            ";".join(signed), hashlib.sha256(body.encode()).hexdigest()])
        amz_date = self.headers.get("x-amz-date", "")
        scope = "%s/%s/%s/aws4_request" % (day, region, service)
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canon.encode()).hexdigest()])
        key = ("AWS4" + secret).encode()
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        want = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, fields.get("Signature", ""))

    def assume_role(self, form, body):
        if form.get("RoleArn") != [args.role_arn] or not self.signature_ok(
                body):
            log("sts assume-role: refused (role %s)" % form.get("RoleArn"))
            return self.answer(
                403,
                "<ErrorResponse><Error><Type>Sender</Type>"
                "<Code>SignatureDoesNotMatch</Code><Message>refused"
                "</Message></Error></ErrorResponse>", "text/xml")
        cur = current()
        if cur is None:
            return self.answer(503, "no key yet")
        access, secret, expires = cur
        log("serve sts-assume-role %s session %s" % (
            access, form.get("RoleSessionName", [""])[0]))
        self.answer(
            200,
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/'
            '2011-06-15/"><AssumeRoleResult><Credentials>'
            "<AccessKeyId>%s</AccessKeyId>"
            "<SecretAccessKey>%s</SecretAccessKey>"
            "<SessionToken>standin-token-assume-role</SessionToken>"
            "<Expiration>%s</Expiration></Credentials>"
            "</AssumeRoleResult></AssumeRoleResponse>" % (access, secret,
                                                          iso(expires)),
            "text/xml")


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--lifetime", type=int, default=3600)
    p.add_argument("--mint-every", type=float, default=10)
    p.add_argument("--key", help="ACCESS:SECRET, handed out as is")
    p.add_argument("--rgw-conf")
    p.add_argument("--uid", default="s3cowtest")
    p.add_argument("--container-token")
    p.add_argument("--web-token", default="standin-web-identity-token")
    p.add_argument("--role-arn", default="arn:aws:iam::123456789012:role/s3cow")
    p.add_argument("--fail-file")
    p.add_argument("--imds-v1-only", action="store_true")
    p.add_argument("--source-key", help="ACCESS:SECRET that signs AssumeRole")
    args = p.parse_args()
    if not args.key and not args.rgw_conf:
        sys.exit("aws-standin: give --key or --rgw-conf")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.rgw_conf:
        threading.Thread(target=minter, daemon=True).start()
        while not keys:
            time.sleep(0.1)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        stop.set()
        if args.rgw_conf:
            with lock:
                left = [k[0] for k in keys]
            for a in left:
                revoke(a)


if __name__ == "__main__":
    main()
