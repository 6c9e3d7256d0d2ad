# shellcheck shell=bash
# The one harness of s3cow's shell tests (bash).  A test is one behaviour
# in one file, like nbdkit's tests/:
#
#   #!/usr/bin/env bash
#   # WHAT THIS TEST CHECKS, in a few lines.
#   source "${srcdir:-.}/functions.sh"
#   set -euo pipefail
#
#   requires nbdsh qemu-img     # SKIP (exit 77) unless these are installed
#   use_store                   # the directory store (or S3: see below)
#   serve export=d size=1M      # nbdkit + the plugin on $sock ($uri)
#   nbdsh -u "$uri" -c '...'
#   stop_nbdkit || fail "nbdkit exited with status $?"
#
# Which store.  use_store picks the object store and sets everything a
# test needs to reach it; call it once, near the top:
#
#   use_store        the directory store (endpoint=file://$tmpdir/store,
#                    plugin/store_dir.c): fast, no server.  Every test
#                    whose subject is not S3 itself uses this one.
#                    S3COW_TEST_STORE=s3 runs these tests on S3 instead.
#   use_store s3     the S3 test server (SKIP without one): only for tests
#                    of S3's own behaviour: conditional PUTs over HTTP,
#                    HTTP faults (faultproxy.py), LIST paging, the lease
#                    across servers, and the end-to-end client tests.
#
# It sets:
#   $tmpdir          a new directory, removed at exit (make_tmpdir)
#   $store_kind      "dir" or "s3"
#   $bucket          a fresh, empty bucket
#   store=(...)      the plugin's store arguments (bucket=, endpoint=, and
#                    on S3 region=, access-key=, secret-key=+FILE):
#                      start_nbdkit "$sock" "${store[@]}" export=d
#   $sock, $uri      a Unix socket in $tmpdir and its NBD URI
#   the environment of the s3cow command (S3COW_ENDPOINT, S3COW_BUCKET,
#   and on S3 the AWS_* keys), so that a plain "s3cow ls" works;
#   $tmpdir/secret   the secret key (S3) for --secret-key-file / secret-key=+
#
# Helpers, on either store:
#   serve [ARG...]              start_nbdkit "$sock" "${store[@]}" ARG...
#   start_nbdkit SOCK ARG...    nbdkit with the plugin on SOCK (any args)
#   stop_nbdkit [PID]           SIGTERM, wait, return nbdkit's exit status
#   nbd_py 'PYTHON'             Python talking to $sock, with helpers
#                               w(DISK, OFF, DATA), r(DISK, OFF, N),
#                               ro(DISK), pattern(TAG, N) (see below)
#   obj_list PREFIX             "KEY SIZE" of every object under PREFIX
#   obj_get KEY FILE            an object's bytes into FILE
#   obj_cat KEY                 an object's bytes on stdout
#   obj_put KEY FILE            write an object behind s3cow's back
#   obj_delete KEY              delete an object behind s3cow's back
#   sha256_of FILE              hex SHA-256 (a chunk's key is chunks/<it>)
#   wait_for SECONDS 'SHELL'    poll until SHELL succeeds (fail after it)
#   wait_released DISK          until no server holds DISK's lease
#   is_kept DISK GENERATION     does DISK's history hold that commit's kept
#                               head (disks/DISK/history/GEN-TIME)?
#   last_commit_time DISK       the TIME of DISK's last commit (DISK@TIME),
#                               once the next commit will be stamped later
#   is_running PID              is PID running (not a zombie)?
# S3 only (use_store s3):
#   s3curl CURL-ARG...          curl signed with the test server's keys
#   new_bucket                  create another bucket, print its name
#   start_proxy [ARG...]        tests/faultproxy.py between the plugin and
#                               S3: $proxy_endpoint, $proxy_ctl_port and
#                               store_proxy=(...) (store through the proxy)
#   proxy_ctl set|clear ...     change the proxy's faults
# Python-driven tests (tests/crash.py, tests/faultload.py):
#   setup_python_test [dir|s3]  SKIP without python3-libnbd; use_store;
#                               export tmpdir, bucket and store_args (the
#                               store's plugin arguments, one a line).
# Others: cleanup_fn CMD (run at exit), requires CMD..., requires_s3,
# fail MESSAGE, make_tmpdir, show_tail FILE LINES.
#
# make check runs several tests at once (scripts/test.sh: 3, TEST_JOBS):
# a test keeps to its own $tmpdir, buckets (new_bucket), Unix sockets and
# ports the kernel picks (port 0, as faultproxy.py and aws-standin.py
# do); it never stops processes by name (pkill), never uses a fixed port
# or path, and polls (wait_for) rather than sleeping for something that
# must have happened, which a loaded machine can delay.
#
# The S3 test server comes from the environment (scripts/test.sh starts a
# Ceph RGW and sets it): S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
# S3COW_TEST_SECRET_KEY, S3COW_TEST_REGION.  tests/Makefile.am sets
# S3COW_PLUGIN, the plugin .so.

# scripts/sanitize.sh: S3COW_TEST_PATH_FIRST names a directory put first on
# PATH, with an nbdkit that preloads the sanitizer runtime (a plugin built
# with --enable-sanitizers cannot be loaded otherwise).
if [ -n "${S3COW_TEST_PATH_FIRST:-}" ]; then
  PATH="$S3COW_TEST_PATH_FIRST:$PATH"
fi

# Without keys, s3cow asks the EC2 instance metadata service (IMDS) for
# some: no test may send that request anywhere but to its own stand-in
# (tests/aws-standin.py, which the credential tests point
# AWS_EC2_METADATA_SERVICE_ENDPOINT at, clearing this).
export AWS_EC2_METADATA_DISABLED=true

# ---- Cleanups ------------------------------------------------------------

# cleanup_fn CMD [ARG...]
# Run CMD ARG... when the test exits, however it exits.  Cleanups run in
# the reverse order of registration, and a failing one does not stop the
# others.  Call it in the test's own shell, not inside $(...): a cleanup
# registered in a subshell is lost when that subshell ends.
_s3cow_cleanups=()
cleanup_fn ()
{
  _s3cow_cleanups+=("$(printf '%q ' "$@")")
}

_s3cow_run_cleanups ()
{
  local status=$? i
  set +e
  trap '' INT TERM
  for ((i = ${#_s3cow_cleanups[@]} - 1; i >= 0; i--)); do
    eval "${_s3cow_cleanups[i]}"
  done
  exit "$status"
}
trap _s3cow_run_cleanups EXIT
# Turn signals into an exit, so that the EXIT trap runs the cleanups.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- Skips and failures --------------------------------------------------

# requires CMD...
# Skip the test (exit 77) unless every CMD is a command on PATH.
requires ()
{
  local c
  for c in "$@"; do
    if ! command -v "$c" >/dev/null 2>&1; then
      echo "$0: SKIP: needs $c" >&2
      exit 77
    fi
  done
}

# requires_s3
# Skip the test unless an S3 test server is given (see the top).
requires_s3 ()
{
  if [ -z "${S3COW_TEST_ENDPOINT:-}" ]; then
    echo "$0: SKIP: needs an S3 server in S3COW_TEST_ENDPOINT" \
      "(scripts/test.sh starts one)" >&2
    exit 77
  fi
  requires curl
}

# fail MESSAGE...
# Print MESSAGE and fail the test.
fail ()
{
  echo "$0: FAIL: $*" >&2
  exit 1
}

# ---- Temporary files -----------------------------------------------------

# make_tmpdir
# Set $tmpdir to a new directory that is removed when the test exits.
# Short, under /tmp: a Unix socket's path must fit in 108 bytes.
make_tmpdir ()
{
  tmpdir="$(mktemp -d /tmp/s3cow-test.XXXXXX)"
  cleanup_fn rm -rf "$tmpdir"
}

# ---- S3 ------------------------------------------------------------------

# s3curl CURL-ARGS...
# curl with the test server's keys (SigV4, unsigned payload), e.g.
#   s3curl -f "$S3COW_TEST_ENDPOINT/$bucket/some/key"
# RGW needs the x-amz-content-sha256 header; curl 7.88 signs it when set.
# Put query parameters in byte order (curl does not sort them) and
# percent-encode '/' in their values, or the signature will not match.
# Upload with -T FILE, or with --data-binary @- -X PUT from a pipe: -T -
# sends a chunked body, which RGW refuses (411 Length Required).
s3curl ()
{
  curl -sS --max-time 60 \
    --aws-sigv4 "aws:amz:${S3COW_TEST_REGION:-us-east-1}:s3" \
    --user "$S3COW_TEST_ACCESS_KEY:$S3COW_TEST_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# new_bucket
# Create a fresh bucket on the test server and print its name:
#   bucket=$(new_bucket)
# Buckets are not deleted afterwards: the test server is thrown away.
new_bucket ()
{
  local name code
  name="s3cow-test-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
  code="$(s3curl -o /dev/null -w '%{http_code}' -X PUT \
    "$S3COW_TEST_ENDPOINT/$name")" || code="curl error"
  [ "$code" = 200 ] ||
    fail "cannot create bucket $name on $S3COW_TEST_ENDPOINT: $code"
  echo "$name"
}

# setup_python_test [dir|s3]
# For a test driven by a Python script with libnbd (tests/faultload.py,
# tests/crash.py): skip unless nbdkit, Debian's python3 with libnbd's
# module (and, for s3, an S3 test server) are there; then use_store and
# export $tmpdir, $bucket and $store_args (the store's plugin arguments,
# one a line) for the script.
setup_python_test ()
{
  requires nbdkit /usr/bin/python3
  /usr/bin/python3 -c 'import nbd' 2>/dev/null || {
    echo "$0: SKIP: needs python3-libnbd" >&2
    exit 77
  }
  use_store "$@"
  store_args="$(printf '%s\n' "${store[@]}")"
  export tmpdir bucket store_args
}

# ---- The store -----------------------------------------------------------

# use_store [dir|s3]
# Pick the object store of the test and set $store_kind, $bucket, store=(),
# $sock, $uri and the s3cow command's environment (see the top).  Without
# an argument: the directory store, or S3 if S3COW_TEST_STORE=s3.
use_store ()
{
  store_kind="${1:-${S3COW_TEST_STORE:-dir}}"
  [ -n "${tmpdir:-}" ] || make_tmpdir
  sock="$tmpdir/sock"
  uri="nbd+unix:///?socket=$sock"
  unset S3COW_PREFIX AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN
  case "$store_kind" in
    dir)
      store_root="$tmpdir/store"
      bucket=bkt
      mkdir -p "$store_root/$bucket"
      store=(bucket="$bucket" endpoint="file://$store_root")
      export S3COW_ENDPOINT="file://$store_root" S3COW_BUCKET="$bucket"
      unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
      ;;
    s3)
      requires_s3
      bucket="$(new_bucket)"
      printf '%s' "$S3COW_TEST_SECRET_KEY" >"$tmpdir/secret"
      store=(bucket="$bucket" endpoint="$S3COW_TEST_ENDPOINT"
        region="${S3COW_TEST_REGION:-us-east-1}"
        access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/secret")
      export S3COW_ENDPOINT="$S3COW_TEST_ENDPOINT" S3COW_BUCKET="$bucket"
      export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
      export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
      export AWS_REGION="${S3COW_TEST_REGION:-us-east-1}"
      ;;
    *) fail "use_store: unknown store $store_kind (dir or s3)" ;;
  esac
}

# serve [PLUGIN-ARG...]
# nbdkit with the plugin on the test's store, on $sock.
serve ()
{
  start_nbdkit "$sock" "${store[@]}" "$@"
}

# The directory store's object files: a 64-byte header, then the bytes
# (plugin/store_dir.c).
_s3cow_dir_file ()
{
  echo "$store_root/$bucket/$1"
}

# obj_list PREFIX
# "KEY SIZE" for every object whose key starts with PREFIX, in byte order
# (on S3: every page of ListObjectsV2).
obj_list ()
{
  if [ "$store_kind" = dir ]; then
    (cd "$store_root/$bucket" && find . -type f ! -name '.*' -printf '%P %s\n') |
      awk -v p="$1" 'index($1, p) == 1 { print $1, $2 - 64 }' | LC_ALL=C sort
    return 0
  fi
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

# obj_get KEY FILE
obj_get ()
{
  if [ "$store_kind" = dir ]; then
    tail -c +65 "$(_s3cow_dir_file "$1")" >"$2" || fail "cannot get $1"
  else
    s3curl -f -o "$2" "$S3COW_TEST_ENDPOINT/$bucket/$1" || fail "cannot get $1"
  fi
}

# obj_cat KEY
obj_cat ()
{
  obj_get "$1" /dev/stdout
}

# obj_put KEY FILE
# Write an object behind s3cow's back (on the directory store with the
# header store_dir_write.c writes: its etag is the first half of the
# SHA-256).
obj_put ()
{
  if [ "$store_kind" = dir ]; then
    local f etag tmp
    f="$(_s3cow_dir_file "$1")"
    # A name starting with '.': the store never lists it.
    tmp="$(dirname "$f")/.tmp-test-$$"
    etag="$(sha256sum "$2" | cut -c1-32)"
    mkdir -p "$(dirname "$f")"
    { printf 'S3COWDIR1 %s%21s\n' "$etag" ''; cat "$2"; } >"$tmp" ||
      fail "cannot put $1"
    mv "$tmp" "$f" || fail "cannot put $1"
  else
    s3curl -f -o /dev/null -T "$2" "$S3COW_TEST_ENDPOINT/$bucket/$1" ||
      fail "cannot put $1"
  fi
}

# obj_delete KEY
obj_delete ()
{
  if [ "$store_kind" = dir ]; then
    rm "$(_s3cow_dir_file "$1")" || fail "cannot delete $1"
  else
    s3curl -f -o /dev/null -X DELETE "$S3COW_TEST_ENDPOINT/$bucket/$1" ||
      fail "cannot delete $1"
  fi
}

# sha256_of DATA-FILE: the hex SHA-256 (a chunk's key is chunks/<it>).
sha256_of ()
{
  sha256sum "$1" | cut -d' ' -f1
}

# wait_for SECONDS SHELL-CODE
# Poll SHELL-CODE every 0.1 s until it succeeds; fail after SECONDS.
# Instead of a sleep: as fast as the machine allows, and generous when it
# is loaded.
wait_for ()
{
  local i n=$(($1 * 10))
  for ((i = 0; i < n; i++)); do
    eval "$2" && return 0
    sleep 0.1
  done
  fail "not true after $1 s: $2"
}

# last_commit_time DISK
# Print the time of DISK's last commit, as the server stamped it (s3cow
# log): a TIME for DISK@TIME that names that commit.  Then wait until the
# next commit is sure to be stamped later: a server stamps with time (),
# which runs up to a clock tick (more on a loaded machine) behind the
# clock a test reads, so "this machine's second has passed" is not enough.
last_commit_time ()
{
  s3cow log "$1" --json | /usr/bin/python3 -c '
import json, sys, time
c = json.load(sys.stdin)["commits"][-1]
print(c["committed"])
while time.time() < c["committed_unix"] + 1.5:
    time.sleep(0.05)
'
}

# is_kept DISK GENERATION
# Does DISK's history hold the kept head of that generation?
is_kept ()
{
  local list
  list="$(obj_list "disks/$1/history/")"
  grep -q "^disks/$1/history/$(printf '%016x' "$2")-" <<<"$list"
}

# wait_released DISK
# Wait until no server holds DISK's lease.  A server closes a disk, and
# releases its lease, just after its last client has gone: a command that
# a held lease refuses (s3cow resize) waits for this first.
wait_released ()
{
  wait_for 30 "! _s3cow_lease_held '$1'"
}

_s3cow_lease_held ()
{
  obj_list "disks/$1/lease" | grep -q . &&
    obj_cat "disks/$1/lease" | grep -q '^state=held$'
}

# ---- NBD from Python -----------------------------------------------------

_s3cow_py_prelude='
import os, sys, hashlib, nbd
SOCK = os.environ["S3COW_TEST_SOCK"]
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

# nbd_py SCRIPT
# Python with these helpers, each connecting to $sock by export name,
# doing one thing and disconnecting (writes are flushed):
#   w(DISK, OFFSET, DATA)  write      r(DISK, OFFSET, COUNT)  read
#   ro(DISK)  read-only?              pattern(TAG, N)  N bytes from TAG
nbd_py ()
{
  S3COW_TEST_SOCK="$sock" /usr/bin/python3 -c "$_s3cow_py_prelude
$1"
}

# ---- Working-set hints ---------------------------------------------------

# stat_of FILE NAME: counter NAME in stats file FILE (stats=), 0 when absent.
stat_of ()
{
  awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }' \
    "$1" 2>/dev/null || echo 0
}

# golden_forks FORK...: disk gold (64 chunks of 64 KiB, chunk c holding
# pattern("gold/c")), its snapshot gold@v1, and forks of it.  No server
# left running.
golden_forks ()
{
  local f
  serve
  s3cow create gold 4M --chunk-size 64K
  nbd_py '
for c in range(64):
    w("gold", c * 65536, pattern("gold/%d" % c, 65536))
'
  stop_nbdkit || fail "nbdkit exited with status $?"
  s3cow snapshot gold v1
  for f in "$@"; do s3cow fork gold@v1 "$f"; done
}

# boot DISK CHUNK...: read a little of each chunk of a golden_forks disk,
# in order, and check it.
boot ()
{
  local d="$1"
  shift
  PICKS="$*" nbd_py "
for c in map(int, os.environ['PICKS'].split()):
    assert r('$d', c * 65536 + 100, 512) == pattern('gold/%d' % c, 65536)[100:612], c
"
}

# ---- Fault proxy (S3 only) -----------------------------------------------

# start_proxy [FAULTPROXY-SERVE-ARG...]
# tests/faultproxy.py between the plugin and the S3 test server, stopped at
# exit: sets $proxy_endpoint, $proxy_ctl_port, and store_proxy=(...), the
# store arguments through the proxy.  Its log: $tmpdir/proxy.log.
start_proxy ()
{
  local pf="$tmpdir/proxy.ports" i a
  [ "${store_kind:-}" = s3 ] || fail "start_proxy needs use_store s3"
  rm -f "$pf"
  /usr/bin/python3 "$srcdir/faultproxy.py" serve \
    --upstream "$S3COW_TEST_ENDPOINT" --port-file "$pf" \
    --log "$tmpdir/proxy.log" "$@" >>"$tmpdir/proxy.out" 2>&1 &
  proxy_pid=$!
  cleanup_fn _s3cow_stop_proxy "$proxy_pid"
  for ((i = 0; i < 200; i++)); do
    [ -s "$pf" ] && break
    kill -0 "$proxy_pid" 2>/dev/null || fail "faultproxy.py exited early"
    sleep 0.05
  done
  [ -s "$pf" ] || fail "faultproxy.py did not start"
  read -r proxy_port proxy_ctl_port <"$pf"
  proxy_endpoint="http://127.0.0.1:$proxy_port"
  store_proxy=()
  for a in "${store[@]}"; do
    case "$a" in
      endpoint=*) store_proxy+=("endpoint=$proxy_endpoint") ;;
      *) store_proxy+=("$a") ;;
    esac
  done
}

_s3cow_stop_proxy ()
{
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# proxy_ctl set|clear [ARG...]: change the faults of the running proxy.
proxy_ctl ()
{
  /usr/bin/python3 "$srcdir/faultproxy.py" ctl "$proxy_ctl_port" "$@" \
    >/dev/null || fail "faultproxy.py ctl $*"
}

# show_tail FILE LINES
# After a failure: the last LINES lines of FILE under a heading, on stderr.
show_tail ()
{
  echo "---- tail of ${1##*/}" >&2
  tail -n "$2" "$1" >&2 || true
}

# ---- nbdkit --------------------------------------------------------------

# start_nbdkit SOCKET [PLUGIN-ARG...]
# Start nbdkit with the s3cow plugin in the background, serving on the Unix
# socket SOCKET, and wait until it is ready (at most 60 s).  Its PID goes
# into $nbdkit_pid; it is killed at exit if still running.  Extra nbdkit
# options (before the plugin) may be given in $NBDKIT_OPTS, split on
# spaces, e.g. NBDKIT_OPTS="-v -D s3cow.http=1".  nbdkit's messages go to
# the test's log.
start_nbdkit ()
{
  local sock="$1" pidfile="$1.pid" i
  shift
  [ -n "${S3COW_PLUGIN:-}" ] || fail "S3COW_PLUGIN is not set"
  rm -f "$sock" "$pidfile"
  # shellcheck disable=SC2086 # NBDKIT_OPTS is a list of options
  nbdkit ${NBDKIT_OPTS:-} -f -U "$sock" --pidfile "$pidfile" \
    "$S3COW_PLUGIN" "$@" &
  nbdkit_pid=$!
  cleanup_fn _s3cow_kill_nbdkit "$nbdkit_pid"
  # nbdkit writes the PID file once it listens on the socket.
  for ((i = 0; i < 600; i++)); do
    if [ -s "$pidfile" ] && [ -S "$sock" ]; then
      return 0
    fi
    if ! _s3cow_running "$nbdkit_pid"; then
      local status=0
      wait "$nbdkit_pid" || status=$?
      _s3cow_reaped+=" $nbdkit_pid "
      fail "nbdkit exited with status $status before it was ready: $*"
    fi
    sleep 0.1
  done
  fail "nbdkit was not ready after 60 s: $*"
}

# stop_nbdkit [PID]
# Stop nbdkit ($nbdkit_pid by default) with SIGTERM, wait for it to exit
# (SIGKILL after 60 s: a clean stop may have data to write back), and
# return its exit status, so a test can check that it stopped cleanly:
#   stop_nbdkit || fail "nbdkit exited with status $?"
stop_nbdkit ()
{
  local pid="${1:-$nbdkit_pid}" i status=0
  case "$_s3cow_reaped" in *" $pid "*) return 0 ;; esac
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    _s3cow_running "$pid" || break
    sleep 0.1
  done
  if _s3cow_running "$pid"; then
    echo "$0: nbdkit (PID $pid) did not exit 60 s after SIGTERM: killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  _s3cow_reaped+=" $pid "
  return "$status"
}

# PIDs of nbdkits already waited for: their PIDs may belong to other
# processes by now, so they must never be signalled again.
_s3cow_reaped=" "

# Is PID running?  (An exited child that has not been waited for is a
# zombie, which kill -0 still finds.)
_s3cow_running ()
{
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat:0:1}" != Z ]
}

# is_running PID
# Is PID running?  Unlike kill -0, false for a child that has exited but
# has not been waited for.
is_running ()
{
  _s3cow_running "$1"
}

# The cleanup of start_nbdkit: stop it if the test has not.
_s3cow_kill_nbdkit ()
{
  case "$_s3cow_reaped" in *" $1 "*) return 0 ;; esac
  stop_nbdkit "$1" || true
}
