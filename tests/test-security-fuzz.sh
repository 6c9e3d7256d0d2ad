#!/usr/bin/env bash
# test-security-fuzz.sh: the libFuzzer targets of tests/fuzz/, briefly.
# SKIPs unless configure found clang with libFuzzer.
#  1. every input of tests/fuzz/regress-TARGET/ (crashes found before) and
#     of the seed corpus tests/fuzz/corpus-TARGET/ runs through its target
#     without a crash;
#  2. each target fuzzes for S3COW_FUZZ_SECONDS (default 1) seconds from
#     its seeds, in a scratch corpus (nothing is written to the source
#     tree).  A crash fails the test; its input is kept in
#     tests/fuzz/crashes/ of the build tree: add it to
#     tests/fuzz/regress-TARGET/ with the fix.
# Longer runs: scripts/fuzz-long.sh.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

fuzzdir="${abs_top_builddir:-..}/tests/fuzz"
src="${srcdir:-.}/fuzz"
targets=(head map lease xml names config params creds chunk seal)
for t in "${targets[@]}"; do
  if [ ! -x "$fuzzdir/fuzz-$t" ]; then
    echo "$0: SKIP: $fuzzdir/fuzz-$t is not built (configure found no" \
      "clang with libFuzzer: apt-get install clang, or --enable-fuzzing)" >&2
    exit 77
  fi
done
make_tmpdir
seconds="${S3COW_FUZZ_SECONDS:-1}"
# Leaks are errors too; keep memory bounded on a shared machine.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1"
crashes="$fuzzdir/crashes"

# 1. Replay.
nreplayed=0
for t in "${targets[@]}"; do
  inputs=()
  for d in "$src/regress-$t" "$src/corpus-$t"; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
      [ -f "$f" ] && inputs+=("$f")
    done
  done
  [ ${#inputs[@]} -gt 0 ] || continue
  "$fuzzdir/fuzz-$t" -rss_limit_mb=1024 "${inputs[@]}" \
    >"$tmpdir/replay-$t.log" 2>&1 ||
    fail "fuzz-$t crashes on a kept input:" \
      "$(grep -m1 -B2 -A12 'ERROR\|invariant failed' "$tmpdir/replay-$t.log")"
  nreplayed=$((nreplayed + ${#inputs[@]}))
done
echo "$0: replayed $nreplayed kept inputs: no crash"

# 2. A short run of each target.
total=0
for t in "${targets[@]}"; do
  mkdir -p "$tmpdir/corpus-$t" "$tmpdir/art-$t"
  [ -d "$src/corpus-$t" ] && cp "$src/corpus-$t"/* "$tmpdir/corpus-$t/"
  status=0
  "$fuzzdir/fuzz-$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=1024 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$tmpdir/art-$t/" "$tmpdir/corpus-$t" \
    >"$tmpdir/fuzz-$t.log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' \
    "$tmpdir/fuzz-$t.log" | tail -n 1)"
  if [ "$status" -ne 0 ]; then
    mkdir -p "$crashes"
    cp "$tmpdir/art-$t"/* "$crashes/" 2>/dev/null || true
    fail "fuzz-$t found a crash (inputs kept in $crashes):" \
      "$(grep -m1 -B2 -A20 'ERROR\|invariant failed' "$tmpdir/fuzz-$t.log")"
  fi
  echo "$0: fuzz-$t: ${runs:-?} inputs in ${seconds}s, no crash"
  total=$((total + ${runs:-0}))
done
echo "$0: OK: $total inputs fuzzed"
