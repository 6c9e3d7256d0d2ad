#!/bin/bash
# The long version of tests/test-crash.sh: SIGKILL the server at random
# moments of a write/trim/flush loop CRASH_ITERATIONS times (default 200;
# CI does 20), checking after each restart the whole disk against the
# model (every acknowledged flush there, nothing torn) and `s3cow fsck`.
# For people, not CI: about 2.5 s per iteration on a small machine.
#
#   scripts/crash-long.sh
#
# Environment:
#   CRASH_ITERATIONS    kills (default 200)
#   CRASH_SEED          seed (default: the time; printed at the end)
#   S3COW_PLUGIN        the plugin .so (default: build with scripts/build.sh)
#   S3COW_TEST_ENDPOINT an S3 server (+ _ACCESS_KEY, _SECRET_KEY, _REGION);
#                       default: start a throw-away Ceph RGW

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
trap lib_rgw_stop EXIT

if [ -z "${S3COW_PLUGIN:-}" ]; then
  "$root/scripts/build.sh"
  export S3COW_PLUGIN="$root/build/plugin/.libs/nbdkit-s3cow-plugin.so"
fi
cli_dir="$(cd "$(dirname "$S3COW_PLUGIN")/../../cli" && pwd)"
[ -x "$cli_dir/s3cow" ] || {
  echo "crash-long: no s3cow command next to $S3COW_PLUGIN" >&2
  exit 1
}

lib_test_s3 crash || exit 1

start=$(date +%s)
PATH="/usr/bin:$cli_dir:$PATH" srcdir="$root/tests" \
  CRASH_ITERATIONS="${CRASH_ITERATIONS:-200}" bash "$root/tests/test-crash.sh"
echo "crash-long: $(($(date +%s) - start)) s"
