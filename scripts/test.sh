#!/bin/bash
# Build s3cow and run all its tests, on a fresh Debian 12 machine or on a
# developer's: the one test command.
#
#   scripts/test.sh
#
# 1. installs the packages the build and the tests need (only those
#    missing: fast when all are there);
# 2. autoreconf, configure out of tree in build/ (--enable-werror, plus
#    $CONFIGURE_ARGS, e.g. CONFIGURE_ARGS=--enable-sanitizers), make;
# 3. starts a throw-away Ceph RADOS Gateway (scripts/rgw-start.sh), unless
#    S3COW_TEST_ENDPOINT names an S3 server already (e.g. MinIO, with
#    S3COW_TEST_ACCESS_KEY, S3COW_TEST_SECRET_KEY, S3COW_TEST_REGION);
# 4. make check, TEST_JOBS tests at a time (default 3: the tests spend
#    most of their time waiting, on servers, leases and timeouts, so even
#    2 cores run 3 at once well), prints the logs of the failed tests and
#    the slowest tests, stops the gateway it started;
# 5. ends with one line "N passed, N failed, N skipped" and fails if any
#    test failed or none passed.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build"
jobs="$(nproc 2>/dev/null || echo 2)"
test_jobs="${TEST_JOBS:-3}"

say ()
{
  echo "==> $*"
}

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"

# The gateway this script starts (lib_rgw_start), stopped however it exits.
summary_done=0
on_exit ()
{
  local status=$?
  lib_rgw_stop
  if [ "$summary_done" = 0 ] && [ "$status" -ne 0 ]; then
    echo "scripts/test.sh: stopped before the tests ran (status $status):" \
      "see above" >&2
  fi
}
trap on_exit EXIT

# --- 1, 2. Packages and build (scripts/build.sh) ---------------------------

"$root/scripts/build.sh"
cd "$build"
# The test programs too, in parallel (TESTS= runs none of the tests).
make -j"$jobs" check TESTS= >/dev/null

# --- 3. S3 server ---------------------------------------------------------

if [ -n "${S3COW_TEST_ENDPOINT:-}" ]; then
  say "S3 server: $S3COW_TEST_ENDPOINT (given)"
else
  # A port free for the gateway, its monitor (port + 10000) and HTTPS
  # (port + 20000): other gateways, a developer's for one, may be running
  # on this machine.
  port="${S3COW_RGW_PORT:-}"
  if [ -z "$port" ]; then
    port="$(lib_free_port "$(seq 7480 7499)" 10000 20000)" ||
      { echo "no free port in 7480-7499" >&2; exit 1; }
  fi
  rgw_dir="/tmp/s3cow-rgw-test.$$"
  say "starting Ceph RGW on port $port (state in $rgw_dir)"
  # HTTPS too, on port + 20000, for tests/test-security-https.sh.
  lib_rgw_start "$rgw_dir" "$port" \
    S3COW_RGW_TLS_PORT="${S3COW_RGW_TLS_PORT:-$((port + 20000))}"
fi

# --- 4. Tests -------------------------------------------------------------

# Results of earlier runs, of tests since removed included, must not count.
find "$build" -name '*.trs' -print | while read -r trs; do
  rm -f "$trs" "${trs%.trs}.log"
done

say "make check (-j$test_jobs)"
check_status=0
check_start=$SECONDS
make -j"$test_jobs" check || check_status=$?
check_seconds=$((SECONDS - check_start))

passed=0
failed=0
skipped=0
failed_logs=()
while read -r trs; do
  while read -r result; do
    case "$result" in
      PASS | XFAIL) passed=$((passed + 1)) ;;
      SKIP) skipped=$((skipped + 1)) ;;
      *)
        failed=$((failed + 1))
        case " ${failed_logs[*]} " in
          *" ${trs%.trs}.log "*) ;;
          *) failed_logs+=("${trs%.trs}.log") ;;
        esac
        ;;
    esac
  done < <(sed -n 's/^:test-result: *\([A-Z]*\).*/\1/p' "$trs")
done < <(find "$build" -name '*.trs' | sort)

for log in "${failed_logs[@]}"; do
  echo
  echo "======== ${log#"$build"/}"
  cat "$log"
done

# The slowest tests: each one's time from its .log's birth (the harness
# makes it as the test starts) to its .trs (written as it ends), where the
# file system records births.
slowest="$(find "$build/tests" -name '*.trs' -exec stat -c '%Y %n' {} + |
  while read -r end trs; do
    start="$(stat -c %W "${trs%.trs}.log" 2>/dev/null)" || continue
    [ "$start" -gt 0 ] 2>/dev/null || continue
    echo "$((end - start)) $(basename "${trs%.trs}")"
  done | sort -rn | head -n 5 |
  awk '{ printf "%s%s %d s", (NR > 1 ? ", " : ""), $2, $1 }')"
echo "make check (-j$test_jobs): $check_seconds s"
[ -z "$slowest" ] || echo "slowest tests: $slowest"

# --- 5. Summary -----------------------------------------------------------

if [ "$check_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "make check failed (status $check_status) outside any test" >&2
fi
if [ "$passed" -eq 0 ]; then
  echo "no test passed" >&2
fi
if [ -n "$lib_rgw_dir" ] && [ "$failed" -gt 0 ]; then
  echo "the gateway's logs are kept in $lib_rgw_dir/log"
  lib_rgw_stop --keep
fi
lib_rgw_stop
summary_done=1
echo "$passed passed, $failed failed, $skipped skipped"
[ "$check_status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
