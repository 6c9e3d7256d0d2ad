#!/bin/bash
# The main job: build s3cow and serve a disk on NBD port 10809.
#
#   scripts/serve.sh                 # a local Ceph RGW (S3) holds the data
#   scripts/serve.sh --dir /var/tmp/s3cow   # a local directory holds it
#
# With S3COW_ENDPOINT, S3COW_BUCKET and AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY set, it serves from that S3 service instead.
# DISK (default disk1) and SIZE (default 10G) choose the disk; it is
# created if missing.  PORT overrides 10809.  Ctrl-C stops the server,
# which commits what was written; the local RGW keeps running (data in
# RAM) until scripts/rgw-stop.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
disk="${DISK:-disk1}"
size="${SIZE:-10G}"
port="${PORT:-10809}"
dir=
if [ "${1:-}" = "--dir" ]; then
  dir="$(realpath -m "${2:?--dir needs a directory}")"
fi

"$root/scripts/build.sh"
plugin="$root/build/plugin/.libs/nbdkit-s3cow-plugin.so"

args=()
if [ -n "$dir" ]; then
  bucket=s3cow
  mkdir -p "$dir/$bucket"
  args+=(endpoint="file://$dir")
elif [ -n "${S3COW_ENDPOINT:-}" ]; then
  bucket="${S3COW_BUCKET:?set S3COW_BUCKET too}"
  args+=(endpoint="$S3COW_ENDPOINT")
else
  export S3COW_RGW_DIR="${S3COW_RGW_DIR:-/tmp/s3cow-rgw}"
  "$root/scripts/rgw-start.sh"
  # shellcheck disable=SC1091 # written by rgw-start.sh
  . "$S3COW_RGW_DIR/env"
  bucket=s3cow
  # Create the bucket (an existing one answers 409, which is fine).
  curl -s -o /dev/null --aws-sigv4 "aws:amz:$S3COW_TEST_REGION:s3" \
    --user "$S3COW_TEST_ACCESS_KEY:$S3COW_TEST_SECRET_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    -X PUT "$S3COW_TEST_ENDPOINT/$bucket"
  export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
  export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
  args+=(endpoint="$S3COW_TEST_ENDPOINT")
fi

cat <<MSG

Serving disk '$disk' ($size) of bucket '$bucket' on port $port.  Connect with:
  nbdinfo nbd://localhost:$port
  qemu-img info nbd://localhost:$port
  nbdfuse /mnt/disk1 nbd://localhost:$port      # then mkfs / losetup / mount
  nbd-client localhost $port /dev/nbd0 -N $disk  # where the kernel has nbd
Ctrl-C stops it.

MSG
exec nbdkit -f -p "$port" "$plugin" bucket="$bucket" export="$disk" \
  size="$size" "${args[@]}"
