# shellcheck shell=bash
# Helpers for the tests of the s3cow command (issue 4), on top of
# functions.sh.  A test starts with:
#
#   source "${srcdir:-.}/functions.sh"
#   source "${srcdir:-.}/cli-functions.sh"
#   set -euo pipefail
#   cli_setup                 # SKIPs without S3, nbdkit, nbdsh; makes
#                             # $tmpdir and a fresh $bucket; exports the
#                             # S3COW_* / AWS_* variables s3cow reads
#   cli_serve                 # nbdkit serving every disk of the bucket by
#                             # export name on $sock (extra plugin args ok)
#   nbd_py 'w("d1", 0, b"x" * 65536); assert r("d1", 0, 1) == b"x"'
#   s3_sizes chunks/          # "KEY SIZE" per object under a prefix
#
# nbd_py runs Python with these helpers (each connects, does one thing,
# disconnects; writes are flushed):
#   w(DISK, OFFSET, DATA)     write
#   r(DISK, OFFSET, COUNT)    read
#   ro(DISK)                  is the export read-only?
#   pattern(TAG, N)           N bytes that depend on TAG (a string)

cli_setup ()
{
  requires nbdkit nbdsh s3cow
  requires_s3
  make_tmpdir
  bucket="$(new_bucket)"
  export S3COW_ENDPOINT="$S3COW_TEST_ENDPOINT" S3COW_BUCKET="$bucket"
  export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
  export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
  export AWS_REGION="${S3COW_TEST_REGION:-us-east-1}"
  unset S3COW_PREFIX AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN
  printf '%s' "$S3COW_TEST_SECRET_KEY" >"$tmpdir/secret"
  sock="$tmpdir/sock"
  s3args=(bucket="$bucket" endpoint="$S3COW_TEST_ENDPOINT" region="$AWS_REGION"
    access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/secret")
}

# cli_serve [PLUGIN-ARG...]
cli_serve ()
{
  start_nbdkit "$sock" "${s3args[@]}" "$@"
}

_cli_py_prelude='
import os, sys, hashlib, nbd
SOCK = os.environ["CLI_SOCK"]
def _conn(name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(SOCK)
    return h
def w(name, off, data):
    h = _conn(name)
    h.pwrite(data, off)
    h.flush()
    h.shutdown()
def r(name, off, n):
    h = _conn(name)
    try:
        return h.pread(n, off)
    finally:
        h.shutdown()
def ro(name):
    h = _conn(name)
    try:
        return h.is_read_only()
    finally:
        h.shutdown()
def pattern(tag, n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("%s/%d" % (tag, i)).encode()).digest()
        i += 1
    return bytes(out[:n])
'

# nbd_py SCRIPT: Python with the helpers above, talking to $sock.
nbd_py ()
{
  CLI_SOCK="$sock" /usr/bin/python3 -c "$_cli_py_prelude
$1"
}

# s3_sizes PREFIX: "KEY SIZE" for every object whose key starts with PREFIX,
# in byte order (all pages of ListObjectsV2).
s3_sizes ()
{
  S3_BUCKET="$bucket" S3_PREFIX="$1" /usr/bin/python3 -c '
import os, subprocess, sys, urllib.parse, xml.etree.ElementTree as ET
e = os.environ
token = None
while True:
    # Parameters in byte order: curl signs the query string as given.
    q = []
    if token:
        q.append("continuation-token=" + urllib.parse.quote(token, safe=""))
    q.append("list-type=2")
    q.append("prefix=" + urllib.parse.quote(e["S3_PREFIX"], safe=""))
    url = "%s/%s?%s" % (e["S3COW_TEST_ENDPOINT"], e["S3_BUCKET"], "&".join(q))
    page = subprocess.run(
        ["curl", "-sSf", "--max-time", "60", "--aws-sigv4",
         "aws:amz:%s:s3" % e.get("S3COW_TEST_REGION", "us-east-1"),
         "--user", "%s:%s" % (e["S3COW_TEST_ACCESS_KEY"],
                              e["S3COW_TEST_SECRET_KEY"]),
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url],
        check=True, capture_output=True).stdout
    root = ET.fromstring(page)
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    for c in root.findall(ns + "Contents"):
        print(c.find(ns + "Key").text, c.find(ns + "Size").text)
    t = root.find(ns + "IsTruncated")
    if t is None or t.text != "true":
        break
    token = root.find(ns + "NextContinuationToken").text
' || fail "cannot list $1 in $bucket"
}

# s3_put KEY FILE / s3_delete KEY: change an object behind s3cow's back.
s3_put ()
{
  s3curl -f -o /dev/null -T "$2" "$S3COW_TEST_ENDPOINT/$bucket/$1" ||
    fail "cannot put $1"
}
s3_delete ()
{
  s3curl -f -o /dev/null -X DELETE "$S3COW_TEST_ENDPOINT/$bucket/$1" ||
    fail "cannot delete $1"
}

# sha256_of DATA-FILE: the hex SHA-256 (a chunk's key is chunks/<it>).
sha256_of ()
{
  sha256sum "$1" | cut -d' ' -f1
}
