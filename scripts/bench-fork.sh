#!/bin/bash
# Measure s3cow fork on small and huge disks, empty, sparse and dense: a
# fork should cost the same few S3 requests (3) whatever the disk's size
# and however much of it is written.  Not a test: it prints a table.
#
#   scripts/rgw-start.sh && . /tmp/s3cow-rgw/env     # or any S3 server
#   scripts/bench-fork.sh
#
# Disks (chunk size 1M):
#   1G-empty    1 GiB, nothing written
#   1G-sparse   1 GiB, 16 chunks written through the plugin
#   1G-dense    1 GiB, every chunk written through the plugin (nbdcopy of
#               1 GiB of random data; BENCH_DENSE_1G=fill synthesizes it
#               like 1T-dense instead, to save the upload)
#   1T-sparse   1 TiB, 16 chunks written through the plugin
#   1T-dense    1 TiB, every chunk in use: a full map of 1048576 entries
#               (40 MiB) committed by the hidden "s3cow debug-fill" (no
#               chunk objects: uploading 1 TiB is not practical here)
# Each is forked BENCH_RUNS times (default 5); the table gives the median,
# minimum and maximum wall time of the s3cow process (start-up included),
# the median of the summed time of its S3 requests, and the number of S3
# requests each fork made (from --debug=http).
#
# Environment: S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
# S3COW_TEST_SECRET_KEY (as written by rgw-start.sh): a fresh bucket is
# made there.  Or S3COW_ENDPOINT, S3COW_BUCKET (existing) and AWS_* keys:
# disks named bench-* are made in it and removed at the end.
# BUILD: the build directory (default build/).

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(realpath "${BUILD:-$root/build}")"
runs="${BENCH_RUNS:-5}"
s3cow="$build/cli/s3cow"
plugin="$build/plugin/.libs/nbdkit-s3cow-plugin.so"
export PATH="/usr/bin:$PATH"     # nbdsh needs Debian's python3

die ()
{
  echo "bench-fork: $*" >&2
  exit 1
}

[ -x "$s3cow" ] || die "$s3cow not built (make, or set BUILD=)"
[ -f "$plugin" ] || die "$plugin not built"
for c in nbdkit nbdsh nbdcopy curl; do
  command -v "$c" >/dev/null || die "needs $c"
done

tmp="$(mktemp -d /tmp/s3cow-bench.XXXXXX)"
nbdkit_pid=
cleanup ()
{
  [ -z "$nbdkit_pid" ] || kill "$nbdkit_pid" 2>/dev/null || true
  [ -z "$nbdkit_pid" ] || wait "$nbdkit_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "${S3COW_TEST_ENDPOINT:-}" ]; then
  export S3COW_ENDPOINT="$S3COW_TEST_ENDPOINT"
  export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
  export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
  export AWS_REGION="${S3COW_TEST_REGION:-us-east-1}"
  export S3COW_BUCKET="s3cow-bench-$$"
  curl -sSf -o /dev/null -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$S3COW_ENDPOINT/$S3COW_BUCKET" || die "cannot create a bucket"
  fresh=1
else
  [ -n "${S3COW_ENDPOINT:-}" ] && [ -n "${S3COW_BUCKET:-}" ] ||
    die "set S3COW_TEST_ENDPOINT (scripts/rgw-start.sh), or S3COW_ENDPOINT and S3COW_BUCKET"
  fresh=0
fi
p=bench-$$-
printf '%s' "${AWS_SECRET_ACCESS_KEY:-}" >"$tmp/secret"

# A server for the writes: every disk of the bucket by export name.
sock="$tmp/sock"
nbdkit -f -U "$sock" --pidfile "$tmp/pid" "$plugin" bucket="$S3COW_BUCKET" \
  endpoint="$S3COW_ENDPOINT" access-key="${AWS_ACCESS_KEY_ID:-}" \
  secret-key=+"$tmp/secret" 2>"$tmp/nbdkit.log" &
nbdkit_pid=$!
for ((i = 0; i < 100; i++)); do
  [ -S "$sock" ] && [ -s "$tmp/pid" ] && break
  sleep 0.1
done
[ -S "$sock" ] || die "nbdkit did not start: $(cat "$tmp/nbdkit.log")"

# write_sparse DISK: 16 chunks spread over the disk.
write_sparse ()
{
  DISK="$1" SOCK="$sock" nbdsh -c '
import os
h = nbd.NBD()
h.set_export_name(os.environ["DISK"])
h.connect_unix(os.environ["SOCK"])
size = h.get_size()
for k in range(16):
    h.pwrite(os.urandom(1 << 20), (size // 16) * k)
h.flush()
h.shutdown()
'
}

echo "bench-fork: making the disks in bucket $S3COW_BUCKET ..." >&2
t0=$(date +%s)
"$s3cow" create "${p}1G-empty" 1G
"$s3cow" create "${p}1G-sparse" 1G
write_sparse "${p}1G-sparse"
"$s3cow" create "${p}1G-dense" 1G
if [ "${BENCH_DENSE_1G:-real}" = fill ]; then
  "$s3cow" debug-fill "${p}1G-dense" 1024 >/dev/null
else
  head -c 1G /dev/urandom >"$tmp/1g"
  nbdcopy --flush "$tmp/1g" "nbd+unix:///${p}1G-dense?socket=$sock"
  rm -f "$tmp/1g"
fi
"$s3cow" create "${p}1T-sparse" 1T
write_sparse "${p}1T-sparse"
"$s3cow" create "${p}1T-dense" 1T
"$s3cow" debug-fill "${p}1T-dense" 1M >/dev/null
echo "bench-fork: disks ready in $(($(date +%s) - t0)) s" >&2
kill "$nbdkit_pid"
wait "$nbdkit_pid" 2>/dev/null || true
nbdkit_pid=

# fork_stats DISK: over $runs forks: the median, min and max wall time of
# the s3cow process (ms), the median of the summed S3 request times (ms),
# and the request counts seen.
fork_stats ()
{
  local disk="$1" i t1 t2 n reqs=
  : >"$tmp/times"
  : >"$tmp/s3times"
  for ((i = 0; i < runs; i++)); do
    t1=$(date +%s%N)
    "$s3cow" --debug=http fork "$disk" "$disk-f$i" 2>"$tmp/debug"
    t2=$(date +%s%N)
    echo $(((t2 - t1) / 1000)) >>"$tmp/times"
    sed -n 's/.*debug: [A-Z]* .* -> .*, \([0-9.]*\) ms.*/\1/p' "$tmp/debug" |
      awk '{ s += $1 } END { print s }' >>"$tmp/s3times"
    n="$(grep -c -E 'debug: (GET|PUT|HEAD|DELETE|POST|LIST) ' "$tmp/debug")" || true
    case " $reqs " in *" $n "*) ;; *) reqs="${reqs:+$reqs,}$n" ;; esac
  done
  s3="$(sort -n "$tmp/s3times" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
  sort -n "$tmp/times" | awk -v reqs="$reqs" -v s3="$s3" '
    { v[NR] = $1 }
    END { printf "%9.1f %9.1f %9.1f %9.1f %9s\n", v[int((NR + 1) / 2)] / 1000,
          v[1] / 1000, v[NR] / 1000, s3, reqs }'
}

printf '\n%-10s %6s %10s %9s %9s %9s %9s %9s\n' disk size "chunks" \
  "median" "min" "max" "S3 time" "requests"
printf '%-10s %6s %10s %9s %9s %9s %9s %9s\n' "" "" "in use" "ms" "ms" "ms" \
  "ms" "per fork"
for d in 1G-empty 1G-sparse 1G-dense 1T-sparse 1T-dense; do
  used="$("$s3cow" info "$p$d" --json | sed -n 's/.*"chunks_in_use": \([0-9]*\).*/\1/p')"
  printf '%-10s %6s %10s %s\n' "$d" "${d%%-*}" "$used" "$(fork_stats "$p$d")"
done
printf '(median/min/max: wall time of the s3cow process, start-up included;\n'
printf ' S3 time: median of the summed times of its S3 requests)\n'

# Leave nothing behind: the bench disks go; in a bucket of our own, their
# data too (gc with no grace: nobody else writes there), and the bucket.
for d in 1G-empty 1G-sparse 1G-dense 1T-sparse 1T-dense; do
  for ((i = 0; i < runs; i++)); do "$s3cow" rm "$p$d-f$i"; done
  "$s3cow" rm --snapshots --force "$p$d"
done
if [ "$fresh" = 1 ]; then
  "$s3cow" -q gc --force --grace 0s >/dev/null
  curl -sS -o /dev/null -X DELETE --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$S3COW_ENDPOINT/$S3COW_BUCKET/gc/clock" || true
  curl -sS -o /dev/null -X DELETE --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$S3COW_ENDPOINT/$S3COW_BUCKET" || true
else
  echo "bench-fork: removed the bench disks; run s3cow gc to free their data" >&2
fi
