# shellcheck shell=bash
# Helpers for s3cow's shell tests (bash).  Each test starts with:
#
#   #!/usr/bin/env bash
#   source "${srcdir:-.}/functions.sh"
#   set -euo pipefail
#
# and then, for example:
#
#   requires nbdsh qemu-img     # SKIP (exit 77) unless these are installed
#   requires_s3                 # SKIP unless an S3 test server is given
#   make_tmpdir                 # $tmpdir, removed on exit
#   bucket=$(new_bucket)        # a fresh, empty bucket on the test server
#   start_nbdkit "$tmpdir/sock" bucket="$bucket" export=d1 size=1M ...
#   nbdsh -u "nbd+unix:///?socket=$tmpdir/sock" -c '...'
#   stop_nbdkit                 # SIGTERM; returns nbdkit's exit status
#
# The S3 test server comes from the environment (scripts/test.sh sets it):
# S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY, S3COW_TEST_SECRET_KEY,
# S3COW_TEST_REGION.  tests/Makefile.am sets S3COW_PLUGIN, the plugin .so.

# scripts/sanitize.sh: S3COW_TEST_PATH_FIRST names a directory put first on
# PATH, with an nbdkit that preloads the sanitizer runtime (a plugin built
# with --enable-sanitizers cannot be loaded otherwise).
if [ -n "${S3COW_TEST_PATH_FIRST:-}" ]; then
  PATH="$S3COW_TEST_PATH_FIRST:$PATH"
fi

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

# setup_python_test
# For a test driven by a Python script with libnbd (tests/faultload.py,
# tests/crash.py): skip unless nbdkit, Debian's python3 with libnbd's
# module and an S3 test server are there; then make and export $tmpdir
# and a fresh $bucket for the script.
setup_python_test ()
{
  requires nbdkit /usr/bin/python3
  /usr/bin/python3 -c 'import nbd' 2>/dev/null || {
    echo "$0: SKIP: needs python3-libnbd" >&2
    exit 77
  }
  requires_s3
  make_tmpdir
  export tmpdir
  bucket=$(new_bucket)
  export bucket
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

# The cleanup of start_nbdkit: stop it if the test has not.
_s3cow_kill_nbdkit ()
{
  case "$_s3cow_reaped" in *" $1 "*) return 0 ;; esac
  stop_nbdkit "$1" || true
}
