#!/usr/bin/python3
"""S3 helpers for scripts/bench.sh (run with Debian's /usr/bin/python3).

  bench-s3.py bucket-create BUCKET
  bench-s3.py bucket-delete BUCKET          # empties it first
  bench-s3.py raw put|get BUCKET OBJSIZE TOTAL PARALLEL
        # raw throughput of the server: TOTAL bytes in objects of OBJSIZE,
        # PARALLEL curl processes, each one keeping its connection alive;
        # prints "seconds requests"; PUT bodies are sent with
        # x-amz-content-sha256: UNSIGNED-PAYLOAD (the server hashes
        # nothing), or with their SHA-256 signed as s3cow sends chunks
        # (the server checks it) when BENCH_RAW_SIGNED=1
  bench-s3.py rgw-counters ASOK             # RGW's perf counters, one line:
        # "req failed_req get get_b put put_b"

The endpoint and keys come from S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
S3COW_TEST_SECRET_KEY and S3COW_TEST_REGION (written by rgw-start.sh).
"""

import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time


def env(name, default=None):
    v = os.environ.get(name, default)
    if v is None:
        sys.exit(f"bench-s3: {name} is not set")
    return v


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def client():
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3",
        endpoint_url=env("S3COW_TEST_ENDPOINT"),
        aws_access_key_id=env("S3COW_TEST_ACCESS_KEY"),
        aws_secret_access_key=env("S3COW_TEST_SECRET_KEY"),
        region_name=env("S3COW_TEST_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 5},
                      s3={"addressing_style": "path"}))


def bucket_create(bucket):
    s3 = client()
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass


def bucket_delete(bucket):
    s3 = client()
    n = 0
    try:
        while True:
            resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=1000)
            keys = [{"Key": o["Key"]} for o in resp.get("Contents", [])]
            if not keys:
                break
            r = s3.delete_objects(Bucket=bucket,
                                  Delete={"Objects": keys, "Quiet": True})
            if r.get("Errors"):
                sys.exit(f"bench-s3: delete failed: {r['Errors'][:3]}")
            n += len(keys)
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass
    print(n)


def raw(op, bucket, objsize, total, parallel):
    endpoint = env("S3COW_TEST_ENDPOINT").rstrip("/")
    region = env("S3COW_TEST_REGION", "us-east-1")
    user = f'{env("S3COW_TEST_ACCESS_KEY")}:{env("S3COW_TEST_SECRET_KEY")}'
    count = max(1, total // objsize)
    tag = f"raw-{objsize >> 10}k"
    with tempfile.TemporaryDirectory(prefix="s3cow-bench-raw.") as tmp:
        src = os.path.join(tmp, "object")
        payload = "UNSIGNED-PAYLOAD"
        if op == "put":
            body = os.urandom(objsize)
            with open(src, "wb") as f:
                f.write(body)
            if os.environ.get("BENCH_RAW_SIGNED") == "1":
                payload = hashlib.sha256(body).hexdigest()
        procs = []
        for p in range(parallel):
            mine = range(p, count, parallel)
            if not mine:
                continue
            cfg = os.path.join(tmp, f"curl-{p}.conf")
            with open(cfg, "w") as f:
                f.write('silent\nshow-error\nfail\n'
                        f'aws-sigv4 = "aws:amz:{region}:s3"\n'
                        f'user = "{user}"\n'
                        f'header = "x-amz-content-sha256: {payload}"\n'
                        'max-time = 120\n')
                for i in mine:
                    f.write(f'url = "{endpoint}/{bucket}/{tag}/{i:06d}"\n')
                    if op == "put":
                        f.write(f'upload-file = "{src}"\n')
                    else:
                        f.write('output = "/dev/null"\n')
            procs.append(cfg)
        t0 = time.monotonic()
        running = [subprocess.Popen(["curl", "-K", c]) for c in procs]
        rc = [p.wait() for p in running]
        dt = time.monotonic() - t0
        if any(rc):
            sys.exit(f"bench-s3: curl failed: exit codes {rc}")
    print(f"{dt:.6f} {count}")


def rgw_counters(asok):
    """Ask RGW's admin socket for 'perf dump' (what `ceph --admin-daemon
    ASOK perf dump` does, without its 0.4 s start)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(asok)
    s.sendall(json.dumps({"prefix": "perf dump"}).encode() + b"\0")
    hdr = b""
    while len(hdr) < 4:
        b = s.recv(4 - len(hdr))
        if not b:
            sys.exit("bench-s3: admin socket closed")
        hdr += b
    (n,) = struct.unpack(">I", hdr)
    data = b""
    while len(data) < n:
        b = s.recv(n - len(data))
        if not b:
            break
        data += b
    s.close()
    rgw = json.loads(data)["rgw"]
    print(" ".join(str(rgw.get(k, 0)) for k in
                   ("req", "failed_req", "get", "get_b", "put", "put_b")))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "bucket-create" and len(argv) == 3:
        bucket_create(argv[2])
    elif cmd == "bucket-delete" and len(argv) == 3:
        bucket_delete(argv[2])
    elif cmd == "raw" and len(argv) == 7 and argv[2] in ("put", "get"):
        raw(argv[2], argv[3], parse_size(argv[4]), parse_size(argv[5]),
            int(argv[6]))
    elif cmd == "rgw-counters" and len(argv) == 3:
        rgw_counters(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
