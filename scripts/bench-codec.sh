#!/bin/bash
# What compression= saves and costs on realistic data: an ext4 image of
# real files (mkfs.ext4 -d over /usr/share/doc and /usr/include, IMAGE_SIZE
# bytes), written to a new disk with each codec in turn and read back from
# a cold server.  Not a test: it prints two tables (markdown).
#
#   scripts/bench.sh codec                   # or scripts/bench-codec.sh
#   CODECS="none zstd:1" IMAGE_SIZE=64M scripts/bench.sh codec
#
# Table 1, through the plugin, per codec: bytes stored per byte of the
# image and against compression=none (s3cow info's bytes_stored), seq
# write (`nbdcopy --flush IMAGE URI`) and cold read (`nbdcopy URI null:`,
# a fresh server) in MiB/s, and the server's CPU seconds per GiB of the
# image for each; every disk is read back by another fresh server
# (untimed) and compared with the image.  Table 2, the codec alone (tests/chunk-codec-bench, one
# thread, 1M chunks, zero chunks skipped): the ratio, and the CPU seconds
# per GiB of chunks to encode and to decode.
#
# Environment (all optional):
#   CODECS        compression= values, each also with +enc: on an
#                 encrypted disk (default "none lz4 zstd:1 zstd:3", each
#                 without and with +enc)
#   IMAGE         the image (default /var/tmp/s3cow-bench-ext4-SIZE.img,
#                 made once and kept)
#   IMAGE_SIZE    its size (default 400M)
#   BUILD         the build directory (default build/; make check TESTS=
#                 builds tests/chunk-codec-bench)
#   S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY, S3COW_TEST_SECRET_KEY,
#   S3COW_TEST_REGION  an S3 server (as rgw-start.sh writes them): a new
#                 bucket per codec there; unset: the directory store in
#                 the work directory
#   S3COW_OPTS    extra plugin parameters
#   KEEP          1 keeps the work directory
#
# Every process it starts is stopped by its PID at the end, also on ^C.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
build="$(realpath "${BUILD:-$root/build}")"
plugin="$build/plugin/.libs/nbdkit-s3cow-plugin.so"
s3cow="$build/cli/s3cow"
codec_bench="$build/tests/chunk-codec-bench"
codecs="${CODECS:-none none+enc lz4 lz4+enc zstd:1 zstd:1+enc zstd:3 zstd:3+enc}"
image_size="${IMAGE_SIZE:-400M}"
image="${IMAGE:-/var/tmp/s3cow-bench-ext4-$image_size.img}"
keep="${KEEP:-0}"
tck="$(getconf CLK_TCK)"

die ()
{
  echo "bench-codec: $*" >&2
  exit 1
}

for f in "$plugin" "$s3cow" "$codec_bench"; do
  [ -x "$f" ] || [ -f "$f" ] ||
    die "$f is missing: scripts/build.sh, then make -C build check TESTS="
done
for c in nbdkit nbdcopy mkfs.ext4 curl; do
  command -v "$c" >/dev/null || die "$c is not installed"
done

work="$(mktemp -d /var/tmp/s3cow-bench-codec.XXXXXX)"
srv_pid=
cleanup ()
{
  [ -z "$srv_pid" ] || lib_stop_pid "$srv_pid" 30
  srv_pid=
  if [ "$keep" = 1 ]; then
    echo "bench-codec: work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The image, made once.
if [ ! -s "$image" ]; then
  echo "==> making $image ($image_size: /usr/share/doc, /usr/include)" >&2
  mkdir -p "$work/root/usr/share"
  cp -a /usr/share/doc "$work/root/usr/share/"
  cp -a /usr/include "$work/root/usr/"
  mkfs.ext4 -q -F -d "$work/root" "$image.tmp" "$image_size" ||
    die "mkfs.ext4 failed (is $image_size enough for the files?)"
  mv "$image.tmp" "$image"
  rm -rf "$work/root"
fi
bytes="$(stat -c %s "$image")"

# store_for CODEC-INDEX: set store=(...) and the s3cow command's
# environment for a new, empty bucket.
store_for ()
{
  local b="bench-codec-$$-$1"
  if [ -n "${S3COW_TEST_ENDPOINT:-}" ]; then
    curl -fsS -X PUT --aws-sigv4 "aws:amz:${S3COW_TEST_REGION:-us-east-1}:s3" \
      --user "$S3COW_TEST_ACCESS_KEY:$S3COW_TEST_SECRET_KEY" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      "$S3COW_TEST_ENDPOINT/$b" >/dev/null || die "cannot create bucket $b"
    printf '%s' "$S3COW_TEST_SECRET_KEY" >"$work/secret"
    store=(bucket="$b" endpoint="$S3COW_TEST_ENDPOINT"
      region="${S3COW_TEST_REGION:-us-east-1}"
      access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$work/secret")
    export S3COW_ENDPOINT="$S3COW_TEST_ENDPOINT" S3COW_BUCKET="$b"
    export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
    export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
    export AWS_REGION="${S3COW_TEST_REGION:-us-east-1}"
  else
    mkdir -p "$work/store/$b"
    store=(bucket="$b" endpoint="file://$work/store")
    export S3COW_ENDPOINT="file://$work/store" S3COW_BUCKET="$b"
  fi
}

# drop_store CODEC-INDEX: delete that codec's bucket and have the RGW
# free its objects now, untimed (a memstore RGW fills up otherwise).
drop_store ()
{
  local b="bench-codec-$$-$1"
  if [ -n "${S3COW_TEST_ENDPOINT:-}" ]; then
    timeout 600 /usr/bin/python3 "$root/scripts/bench-s3.py" \
      bucket-delete "$b" >/dev/null || die "cannot delete bucket $b"
    if [ -n "${S3COW_TEST_RGW_CONF:-}" ]; then
      timeout 600 radosgw-admin -c "$S3COW_TEST_RGW_CONF" -n client.admin \
        gc process --include-all >/dev/null 2>&1 ||
        echo "bench-codec: radosgw-admin gc process failed" >&2
    fi
  else
    rm -rf "$work/store/$b"
  fi
}

# srv_start ARG...: nbdkit with the plugin on $work/sock.
srv_start ()
{
  local i
  rm -f "$work/sock" "$work/pid"
  # shellcheck disable=SC2086 # S3COW_OPTS is a list of parameters
  nbdkit -f -U "$work/sock" --pidfile "$work/pid" "$plugin" "${store[@]}" \
    ${S3COW_OPTS:-} "$@" 2>>"$work/nbdkit.log" &
  srv_pid=$!
  for ((i = 0; i < 600; i++)); do
    [ -s "$work/pid" ] && [ -S "$work/sock" ] && return 0
    lib_running "$srv_pid" || die "nbdkit exited (see $work/nbdkit.log)"
    sleep 0.1
  done
  die "nbdkit was not ready after 60 s"
}

srv_stop ()
{
  lib_stop_pid "$srv_pid" 120
  srv_pid=
}

uri="nbd+unix:///d?socket=$work/sock"
rate () { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1048576 / t }'; }
per_gib () { awk -v b="$bytes" -v k="$1" -v h="$tck" 'BEGIN { printf "%.2f", k / h / (b / 1073741824) }'; }

echo "==> image: $image ($bytes bytes); codecs: $codecs; store: ${S3COW_TEST_ENDPOINT:-directory}" >&2
rows=()
none_stored=
i=0
for c in $codecs; do
  i=$((i + 1))
  store_for "$i"
  # CODEC+enc: the same compression= on an encrypted disk.
  comp="${c%+enc}"
  key=()
  if [ "$comp" != "$c" ]; then
    [ -s "$work/key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/key"
    key=(encryption-key=+"$work/key")
  fi
  echo "==> compression=$c: write" >&2
  srv_start export=d size="$bytes" compression="$comp" "${key[@]}"
  t0=$EPOCHREALTIME
  nbdcopy --flush "$image" "$uri"
  t1=$EPOCHREALTIME
  wticks="$(lib_cpu_ticks "$srv_pid")"
  srv_stop
  stored="$("$s3cow" info d --json | /usr/bin/python3 -c '
import json, sys
print(json.load(sys.stdin)["bytes_stored"])')"
  [ -n "$none_stored" ] || [ "$c" != none ] || none_stored="$stored"
  echo "==> compression=$c: cold read" >&2
  srv_start export=d compression="$comp" "${key[@]}"
  t2=$EPOCHREALTIME
  nbdcopy "$uri" null:
  t3=$EPOCHREALTIME
  rticks="$(lib_cpu_ticks "$srv_pid")"
  srv_stop
  echo "==> compression=$c: check what a cold server reads back" >&2
  srv_start export=d compression="$comp" "${key[@]}"
  nbdcopy "$uri" - | cmp -s - "$image" ||
    die "compression=$c: the disk read back differs from the image"
  srv_stop
  drop_store "$i"
  rows+=("$c $stored $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(awk -v a="$t2" -v b="$t3" 'BEGIN { print b - a }') $wticks $rticks")
done

echo
echo "Image: $bytes bytes ($image_size ext4 of /usr/share/doc and /usr/include)"
echo
echo "| compression | stored / image | vs none | seq write MiB/s | cold read MiB/s | write CPU s/GiB | read CPU s/GiB |"
echo "|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  # shellcheck disable=SC2086 # six fields
  set -- $r
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
    "$(awk -v s="$2" -v b="$bytes" 'BEGIN { printf "%.3f", s / b }')" \
    "$([ -n "$none_stored" ] && awk -v s="$2" -v n="$none_stored" 'BEGIN { printf "%.3f", s / n }' || echo -)" \
    "$(rate "$3")" "$(rate "$4")" "$(per_gib "$5")" "$(per_gib "$6")"
done
echo
echo "The codec alone (one thread, 1M chunks, zero chunks skipped):"
echo
echo "| compression | stored / chunks | encode CPU s/GiB | decode CPU s/GiB |"
echo "|---|---|---|---|"
# shellcheck disable=SC2086 # a list of codecs
"$codec_bench" "$image" 1048576 $codecs |
  while read -r c _ _ ratio enc dec; do
    echo "| $c | $ratio | $enc | $dec |"
  done
