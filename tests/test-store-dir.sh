#!/usr/bin/env bash
# Checks the directory store (endpoint=file:///DIR, plugin/store_dir.c)
# against store.h's contract, in a fresh temporary directory:
#  - the whole test-store suite (put/get/range/head/delete, caps, conditional
#    puts, 4 MiB, listing > 1000 keys in byte order, CAS from 32 threads);
#  - a missing bucket directory is a clear error (NoSuchBucket), not
#    "not found";
#  - compare-and-swap from 4 concurrent PROCESSES loses no update; a process
#    killed (SIGKILL) in the middle of its increments leaves an intact
#    counter and blocks nobody;
#  - no temporary file is left behind, and none is ever listed.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

test_store=./test-store
[ -x "$test_store" ] || fail "$test_store not built (run make check)"

make_tmpdir
dir="$tmpdir"
mkdir "$dir/bucket"

export S3COW_TEST_STORE_ENDPOINT="file://$dir"
export S3COW_TEST_BUCKET=bucket
unset S3COW_TEST_ACCESS_KEY S3COW_TEST_SECRET_KEY S3COW_TEST_REGION

# The value of a counter written by test-store cas-increment: its content
# is "VALUE TOKEN".
counter ()
{
  local content
  content="$("$test_store" get "$1")" || fail "test-store get $1 failed"
  echo "${content%% *}"
}

# 1. The suite.
"$test_store"

# 2. A missing bucket: STORE_PERMANENT (checked by test-store) with a
# message that says so.
if ! "$test_store" missing-bucket 2>"$dir/missing.err"; then
  cat "$dir/missing.err" >&2
  fail "test-store missing-bucket failed"
fi
cat "$dir/missing.err"
grep -q "NoSuchBucket" "$dir/missing.err" ||
  fail "missing bucket: the message does not say NoSuchBucket"

# 3. CAS from $procs concurrent processes x $per increments from 0: exactly
# $procs x $per at the end, no update lost.
key=cas/exact
procs=4
per=50
pids=()
for i in $(seq 1 $procs); do
  "$test_store" cas-increment $per "$key" >"$dir/exact.$i.out" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 $procs); do
  if ! wait "${pids[$((i - 1))]}"; then
    cat "$dir/exact.$i.out" >&2
    fail "cas-increment process $i failed"
  fi
done
got="$(counter "$key")"
[ "$got" = $((procs * per)) ] ||
  fail "$procs processes x $per CAS increments: counter is $got," \
    "expected $((procs * per)) (lost updates)"
echo "$0: $procs processes x $per CAS increments: $got"

# 4. The same with one more process, killed (SIGKILL) in the middle of its
# increments.
key=cas/processes
"$test_store" cas-increment 200000 "$key" >"$dir/victim.out" 2>&1 &
victim=$!
pids=()
for i in $(seq 1 $procs); do
  "$test_store" cas-increment $per "$key" >"$dir/cas.$i.out" 2>&1 &
  pids+=($!)
done
sleep 0.3
kill -KILL "$victim" 2>/dev/null || fail "the victim process ended too early"
wait "$victim" 2>/dev/null || true
# The counter is intact: a whole number, never a torn write.
content="$("$test_store" get "$key")"
[[ "$content" =~ ^[0-9]+( [0-9]+\.[0-9]+\.[0-9]+)?$ ]] ||
  fail "counter after SIGKILL: \"$content\""
for i in $(seq 1 $procs); do
  if ! wait "${pids[$((i - 1))]}"; then
    cat "$dir/cas.$i.out" >&2
    fail "cas-increment process $i failed"
  fi
  cat "$dir/cas.$i.out"
done
# A process killed in the middle (perhaps holding the bucket's flock, which
# the kernel then releases) blocks nobody: CAS goes on, counting exactly.
"$test_store" cas-increment 1 "$key" >/dev/null
after="$(counter "$key")"
"$test_store" cas-increment 10 "$key" >/dev/null
final="$(counter "$key")"
[ "$final" = $((after + 10)) ] ||
  fail "counter went from $after to $final after 10 increments"

# 5. Temporary files: the killed process may have left one (its name starts
# with '.', so it is never a key); the others none.
left="$(find "$dir/bucket" -name '.tmp-*' | wc -l)"
[ "$left" -le 1 ] || fail "$left temporary files left behind"
echo "$0: PASS"
