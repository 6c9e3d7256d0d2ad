#!/bin/bash
# Fuzz s3cow's parsers for a long time: the libFuzzer targets of
# tests/fuzz/, one after the other, each for SECONDS, from a corpus that
# grows across runs.  The short version runs in make check
# (tests/test-security-fuzz.sh).
#
#   scripts/fuzz-long.sh [SECONDS] [TARGET...]
#
#   SECONDS   per target (default 600)
#   TARGET    head map lease xml names config params (default: all)
#
# Environment:
#   S3COW_BUILD         build directory with the fuzz targets (default:
#                       build/ of the source tree, as scripts/test.sh
#                       makes it; configure finds clang with libFuzzer, or
#                       give --enable-fuzzing).  Built here if missing.
#   S3COW_FUZZ_WORK     corpora, crashes and logs (default
#                       $S3COW_BUILD/tests/fuzz/work): keep it between runs
#   S3COW_FUZZ_JOBS     parallel fuzzing processes per target (default 1)
#
# Prints one line per target (inputs run, corpus size, coverage, crashes)
# and a total, and fails if any target crashed.  A crash's input is in
# WORK/crashes-TARGET/: reproduce with  BUILD/tests/fuzz/fuzz-TARGET FILE,
# and keep it in tests/fuzz/regress-TARGET/ with the fix.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(head map lease xml names config params creds chunk seal)
build="${S3COW_BUILD:-$root/build}"
work="${S3COW_FUZZ_WORK:-$build/tests/fuzz/work}"
jobs="${S3COW_FUZZ_JOBS:-1}"

case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

if [ ! -f "$build/tests/Makefile" ]; then
  echo "fuzz-long: no configured build in $build (run scripts/build.sh, or" \
    "set S3COW_BUILD)" >&2
  exit 1
fi
mkdir -p "$work"
if ! make -C "$build/tests" "${targets[@]/#/fuzz/fuzz-}" >"$work/build.log" 2>&1
then
  tail -n 20 "$work/build.log" >&2
  echo "fuzz-long: cannot build the fuzz targets (clang with libFuzzer?" \
    "configure --enable-fuzzing says)" >&2
  exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
echo "fuzz-long: ${#targets[@]} target(s), ${seconds}s each, work in $work"

total=0
failed=0
for t in "${targets[@]}"; do
  corpus="$work/corpus-$t"
  crashes="$work/crashes-$t"
  log="$work/fuzz-$t.log"
  mkdir -p "$corpus" "$crashes"
  for d in "$root/tests/fuzz/corpus-$t" "$root/tests/fuzz/regress-$t"; do
    if [ -d "$d" ]; then
      cp -n "$d"/* "$corpus/" 2>/dev/null || true
    fi
  done
  before="$(find "$crashes" -type f | wc -l)"
  status=0
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/")
  if [ "$jobs" -gt 1 ]; then
    args+=(-fork="$jobs" -ignore_crashes=1)
  fi
  "$build/tests/fuzz/fuzz-$t" "${args[@]}" "$corpus" >"$log" 2>&1 ||
    status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
    awk '{ s += $1 } END { print s + 0 }')"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
  ncorpus="$(find "$corpus" -type f | wc -l)"
  ncrash=$(($(find "$crashes" -type f | wc -l) - before))
  total=$((total + runs))
  printf 'fuzz-long: %-7s %12s inputs  corpus %6s  coverage %5s  %s\n' \
    "$t" "$runs" "$ncorpus" "${cov:-?}" \
    "$([ "$status" = 0 ] && [ "$ncrash" -le 0 ] && echo "no crash" ||
      echo "CRASH: $ncrash new in $crashes (log $log)")"
  if [ "$status" != 0 ] || [ "$ncrash" -gt 0 ]; then
    failed=$((failed + 1))
    grep -m1 -A8 'ERROR\|invariant failed' "$log" | sed 's/^/    /' || true
  fi
done
echo "fuzz-long: $total inputs in all, $failed target(s) crashed"
[ "$failed" -eq 0 ]
