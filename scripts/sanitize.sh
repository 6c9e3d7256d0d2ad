#!/bin/bash
# Run s3cow's tests under the sanitizers and valgrind:
#
#   scripts/sanitize.sh [asan] [tsan] [valgrind]     (default: all three)
#
#   asan      build with --enable-sanitizers (AddressSanitizer and
#             UndefinedBehaviorSanitizer) and run the whole make check,
#             TEST_JOBS tests at a time (default 1)
#   tsan      build with --enable-sanitizers=thread and run the concurrency
#             tests: the lease tests, the crash test, multi-connection
#   valgrind  memcheck, no error and no leak allowed, on the C unit tests
#             and on nbdkit serving the plugin through a short workload
#             (write, flush, read, zero, trim, background commits, lease
#             renewals, on the S3 test server and on the directory store)
#
# nbdkit is not built with the sanitizers, so it cannot load a plugin that
# is (the runtime must come first): the tests find, first on PATH
# (S3COW_TEST_PATH_FIRST, see tests/functions.sh), an nbdkit that preloads
# the runtime (libasan / libtsan of the compiler).  Leak detection is off
# in that nbdkit (its --run children, Python and bash, would report their
# own "leaks"); the s3cow command and the unit tests, which are built with
# the sanitizers, keep it on; valgrind checks the plugin's leaks.
# Sanitizer reports go to files (log_path) and are counted at the end.
#
# Builds go to $S3COW_SANITIZE_DIR (default build-sanitize/ in the source
# tree).  A throw-away Ceph RGW is started as in scripts/test.sh unless
# S3COW_TEST_ENDPOINT names an S3 server (port S3COW_RGW_PORT, else the
# first free one of 7500-7519).  CI (.ci/run) runs it after
# scripts/test.sh; about 25 minutes on 2 cores.
#
# Prints a summary: per mode, tests passed/failed/skipped and sanitizer or
# valgrind reports, then one line "sanitize: N passed, N failed, N skipped"
# (each sanitizer report and each valgrind run with errors counts as a
# failure); fails if any test failed or any report was written.

# shellcheck disable=SC2317 # functions called as run_$mode, and by trap
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(realpath -m "${S3COW_SANITIZE_DIR:-$root/build-sanitize}")"
jobs="$(nproc 2>/dev/null || echo 2)"
# Tests at a time in the asan pass (make -j): one unless TEST_JOBS says
# more.  The tsan pass runs one at a time: its tests time leases and
# takeovers, and ThreadSanitizer slows the server down many times over.
test_jobs="${TEST_JOBS:-1}"
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(asan tsan valgrind)
for m in "${modes[@]}"; do
  case "$m" in
    asan | tsan | valgrind) ;;
    *) echo "usage: $0 [asan] [tsan] [valgrind]" >&2; exit 2 ;;
  esac
done
export PATH="/usr/bin:$PATH" LC_ALL=C
mkdir -p "$work"

say ()
{
  echo "==> $*"
}

summary=()
bad=0
total_pass=0
total_fail=0
total_skip=0

# ---- S3 server -----------------------------------------------------------

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
trap lib_rgw_stop EXIT

start_s3 ()
{
  local port
  [ -z "${S3COW_TEST_ENDPOINT:-}" ] || return 0
  [ -z "$lib_rgw_dir" ] || return 0
  port="$(lib_free_port "${S3COW_RGW_PORT:-$(seq 7500 7519)}" 10000 20000)" || {
    echo "no free port in ${S3COW_RGW_PORT:-7500-7519} (and +10000," \
      "+20000)" >&2
    exit 1
  }
  say "starting Ceph RGW on port $port"
  lib_rgw_start "/tmp/s3cow-rgw-sanitize.$$" "$port" \
    S3COW_RGW_TLS_PORT=$((port + 20000)) >/dev/null || exit 1
  export S3COW_TEST_TLS_ENDPOINT S3COW_TEST_CA_FILE
}

# ---- Builds --------------------------------------------------------------

# build NAME CONFIGURE-ARG...: configure and build in $work/NAME (again only
# when the sources changed: make decides).
build ()
{
  local name="$1" dir="$work/$1"
  shift
  mkdir -p "$dir"
  [ -f "$root/configure" ] || (cd "$root" && autoreconf -i >/dev/null)
  if [ ! -f "$dir/Makefile" ] ||
    [ "$(cat "$dir/.configure-args" 2>/dev/null)" != "$*" ]; then
    say "configure $name: $*"
    (cd "$dir" && "$root/configure" --enable-werror --disable-fuzzing "$@" \
      >configure.log 2>&1) ||
      { tail -n 30 "$dir/configure.log"; exit 1; }
    echo "$*" >"$dir/.configure-args"
  fi
  say "build $name"
  if ! make -C "$dir" -j"$jobs" >"$dir/make.log" 2>&1 ||
    ! make -C "$dir" -j"$jobs" check TESTS= >>"$dir/make.log" 2>&1; then
    tail -n 30 "$dir/make.log"
    exit 1
  fi
}

# An nbdkit that preloads the runtime: wrapper DIR RUNTIME ENV-ASSIGNMENT...
# Also preloaded: exit-shim.so, which makes nbdkit exit without running the
# libraries' destructors.  Seen with glibc 2.36, gcc 12 and clang 14
# runtimes alike): under a preloaded ASan runtime, glibc's locale lock can
# be left held (curl(1) itself then hangs at its first setlocale), and
# nbdkit, after libcurl reported a connection error, hung forever at exit
# in p11-kit's destructor (freelocale).  Not the plugin's doing: the plain
# plugin hangs the same way under the preload.
wrapper ()
{
  local dir="$1" runtime="$2"
  shift 2
  mkdir -p "$dir"
  cat >"$dir/exit-shim.c" <<'EOF'
/* Preloaded after the sanitizer runtime into nbdkit by scripts/sanitize.sh:
 * exit without running the libraries' destructors.  (Under a preloaded
 * ASan runtime, glibc's locale lock can be left held, and p11-kit's
 * destructor then waits for it forever at exit.)  nbdkit has unloaded the
 * plugin and cleaned up before it exits; stdio is flushed here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int (*real_main) (int, char **, char **);

void
exit (int status)
{
  fflush (NULL);
  _exit (status);
}

static int
main_then_exit (int argc, char **argv, char **envp)
{
  exit (real_main (argc, argv, envp));
}

int
__libc_start_main (int (*main) (int, char **, char **), int argc,
                   char **argv, void (*init) (void), void (*fini) (void),
                   void (*rtld_fini) (void), void *stack_end)
{
  int (*real) (int (*) (int, char **, char **), int, char **, void (*) (void),
               void (*) (void), void (*) (void), void *)
      = dlsym (RTLD_NEXT, "__libc_start_main");

  real_main = main;
  return real (main_then_exit, argc, argv, init, fini, rtld_fini, stack_end);
}
EOF
  gcc -shared -fPIC -O2 -o "$dir/exit-shim.so" "$dir/exit-shim.c" -ldl
  {
    echo '#!/bin/sh'
    echo "# nbdkit with $runtime preloaded (scripts/sanitize.sh)"
    echo "LD_PRELOAD=\"$runtime:$dir/exit-shim.so\${LD_PRELOAD:+:\$LD_PRELOAD}\""
    echo "export LD_PRELOAD"
    for a in "$@"; do
      echo "export $a"
    done
    echo 'exec /usr/bin/nbdkit "$@"'
  } >"$dir/nbdkit"
  chmod +x "$dir/nbdkit"
}

# check NAME DIR REPORTS-DIR JOBS [TESTS]: make check in DIR, JOBS tests at
# a time, count results and the sanitizer report files written in
# REPORTS-DIR.
check ()
{
  local name="$1" dir="$2" reports="$3" jobs="$4" tests="${5:-}" status=0
  local pass=0 fail=0 skip=0 trs r nrep failed_tests=()
  find "$dir" -name '*.trs' -delete
  if [ -n "$tests" ]; then
    make -C "$dir/tests" -j"$jobs" check TESTS="$tests" \
      >"$dir/check.log" 2>&1 || status=$?
  else
    make -C "$dir" -j"$jobs" check >"$dir/check.log" 2>&1 || status=$?
  fi
  while read -r trs; do
    while read -r r; do
      case "$r" in
        PASS | XFAIL) pass=$((pass + 1)) ;;
        SKIP) skip=$((skip + 1)) ;;
        *)
          fail=$((fail + 1))
          failed_tests+=("$(basename "${trs%.trs}")")
          ;;
      esac
    done < <(sed -n 's/^:test-result: *\([A-Z]*\).*/\1/p' "$trs")
  done < <(find "$dir" -name '*.trs' | sort)
  nrep="$(find "$reports" -type f | wc -l)"
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail + nrep))
  total_skip=$((total_skip + skip))
  summary+=("$(printf '%-9s %3d passed, %d failed, %d skipped; %d sanitizer report(s)%s' \
    "$name" "$pass" "$fail" "$skip" "$nrep" \
    "${failed_tests[*]:+; failed: ${failed_tests[*]}}")")
  if [ "$fail" -gt 0 ] || [ "$nrep" -gt 0 ] || [ "$pass" -eq 0 ]; then
    bad=1
    find "$reports" -type f | sort | while read -r f; do
      echo "---- $f"
      head -n 40 "$f"
    done
    for t in "${failed_tests[@]}"; do
      echo "---- $dir/tests/$t.log (tail)"
      tail -n 30 "$dir/tests/$t.log"
    done
  fi
}

# ---- ASan + UBSan --------------------------------------------------------

run_asan ()
{
  local dir="$work/asan" logs="$work/asan/reports"
  build asan --enable-sanitizers
  start_s3
  rm -rf "$logs"
  mkdir -p "$logs"
  wrapper "$dir/wrap" "$(gcc -print-file-name=libasan.so)" \
    "ASAN_OPTIONS=detect_leaks=0:log_path=$logs/asan-nbdkit" \
    "UBSAN_OPTIONS=print_stacktrace=1:log_path=$logs/ubsan-nbdkit"
  say "asan: make check (all tests)"
  S3COW_TEST_PATH_FIRST="$dir/wrap" \
    ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan" \
    UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan" \
    check asan "$dir" "$logs" "$test_jobs"
}

# ---- TSan ----------------------------------------------------------------

run_tsan ()
{
  local dir="$work/tsan" logs="$work/tsan/reports" tests
  build tsan --enable-sanitizers=thread
  start_s3
  rm -rf "$logs"
  mkdir -p "$logs"
  # Known and harmless (not bugs): cache.c's entry_create() takes a brand-new
  # entry's rw lock while holding cache->lock, the one exception to its lock
  # order that cache.c documents (nobody else can hold that lock yet); the
  # lock-order detector cannot know it.
  cat >"$dir/tsan.supp" <<'EOF'
deadlock:^entry_create$
EOF
  wrapper "$dir/wrap" "$(gcc -print-file-name=libtsan.so)" \
    "TSAN_OPTIONS=second_deadlock_stack=1:suppressions=$dir/tsan.supp:log_path=$logs/tsan-nbdkit"
  tests="$(cd "$root/tests" && echo test-lease-*.sh test-crash.sh \
    test-plugin-multiconn.sh) test-cache"
  say "tsan: $tests"
  S3COW_TEST_PATH_FIRST="$dir/wrap" \
    TSAN_OPTIONS="second_deadlock_stack=1:suppressions=$dir/tsan.supp:log_path=$logs/tsan" \
    check tsan "$dir" "$logs" 1 "$tests"
}

# ---- valgrind ------------------------------------------------------------

run_valgrind ()
{
  local dir="$work/valgrind" logs="$work/valgrind/reports" t status n=0
  local errors=0 tmp
  command -v valgrind >/dev/null ||
    { summary+=("valgrind  SKIPPED: valgrind is not installed"); return; }
  build valgrind CFLAGS="-g -O1"
  start_s3
  rm -rf "$logs"
  mkdir -p "$logs"
  tmp="$(mktemp -d /tmp/s3cow-vg.XXXXXX)"
  # nbdkit 1.32 may leak its own connection object when SIGTERM comes while
  # a connection is still closing: not ours, suppressed (malloc called
  # from nbdkit itself).
  cat >"$tmp/nbdkit.supp" <<'EOF'
{
   nbdkit-own-allocation
   Memcheck:Leak
   match-leak-kinds: definite,indirect,possible
   fun:*alloc
   obj:/usr/bin/nbdkit
}
EOF
  # shellcheck disable=SC2054 # commas inside option values
  local vg=(valgrind -q --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --keep-debuginfo=yes
    --num-callers=30 --suppressions="$tmp/nbdkit.supp")

  # 1. The unit tests.
  mkdir -p "$tmp/store/bucket"
  for t in "test-format" "test-sigv4" "test-store" "test-chunk-codec"; do
    [ -x "$dir/tests/$t" ] || continue
    n=$((n + 1))
    status=0
    (cd "$dir/tests" &&
      S3COW_TEST_STORE_ENDPOINT="file://$tmp/store" S3COW_TEST_BUCKET=bucket \
        "${vg[@]}" --log-file="$logs/$t.%p" "./$t" >"$logs/$t.out" 2>&1) ||
      status=$?
    if [ "$status" != 0 ]; then
      errors=$((errors + 1))
      echo "---- valgrind $t: status $status"
      cat "$logs/$t".* | head -n 60
    fi
  done

  # 2. nbdkit + the plugin, on S3 and on the directory store.
  local plugin="$dir/plugin/.libs/nbdkit-s3cow-plugin.so" where bucket
  for where in s3 dir; do
    local args=() sock="$tmp/sock"
    if [ "$where" = s3 ]; then
      bucket="s3cow-vg-$$-$RANDOM"
      curl -sS -f -o /dev/null --aws-sigv4 \
        "aws:amz:${S3COW_TEST_REGION:-us-east-1}:s3" \
        --user "$S3COW_TEST_ACCESS_KEY:$S3COW_TEST_SECRET_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT \
        "$S3COW_TEST_ENDPOINT/$bucket" || { errors=$((errors + 1)); continue; }
      printf '%s' "$S3COW_TEST_SECRET_KEY" >"$tmp/secret"
      args=(bucket="$bucket" endpoint="$S3COW_TEST_ENDPOINT"
        access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmp/secret")
    else
      args=(bucket=bucket endpoint="file://$tmp/store")
    fi
    n=$((n + 1))
    rm -f "$sock" "$sock.pid"
    "${vg[@]}" --log-file="$logs/nbdkit-$where.%p" nbdkit -f -U "$sock" \
      --pidfile "$sock.pid" "$plugin" "${args[@]}" export=d size=8M \
      chunk-size=64K cache-size=4M commit-interval=1 lease=3 \
      stats="$tmp/stats" >"$logs/nbdkit-$where.out" 2>&1 &
    local vpid=$! i
    for ((i = 0; i < 900; i++)); do
      [ -s "$sock.pid" ] && break
      kill -0 "$vpid" 2>/dev/null || break
      sleep 0.1
    done
    status=0
    nbdsh -u "nbd+unix:///?socket=$sock" -c '
import os, time
d = os.urandom(1 << 20)
h.pwrite(d, 12345)
h.flush()
assert h.pread(len(d), 12345) == d
h.zero(3 * 65536, 65536)
h.trim(65536, 0)
h.flush()
time.sleep(2.5)                  # background commits, lease renewals
h.pwrite(b"x" * 4096, 7 << 20)   # committed by the clean stop
' >>"$logs/nbdkit-$where.out" 2>&1 || status=$?
    sleep 2 # let the connection close before SIGTERM
    kill -TERM "$vpid" 2>/dev/null || true
    wait "$vpid" || status=$?
    if [ "$status" != 0 ]; then
      errors=$((errors + 1))
      echo "---- valgrind nbdkit ($where): status $status"
      tail -n 20 "$logs/nbdkit-$where.out"
      cat "$logs/nbdkit-$where".[0-9]* | head -n 80
    fi
  done
  rm -rf "$tmp"
  summary+=("$(printf '%-9s %3d runs under memcheck, %d with errors or leaks' \
    valgrind "$n" "$errors")")
  total_pass=$((total_pass + n - errors))
  total_fail=$((total_fail + errors))
  [ "$errors" -eq 0 ] && [ "$n" -gt 0 ] || bad=1
}

for m in "${modes[@]}"; do
  "run_$m"
done

echo
echo "==== sanitize.sh summary ($work)"
printf '%s\n' "${summary[@]}"
echo "sanitize: $total_pass passed, $total_fail failed, $total_skip skipped"
exit "$bad"
