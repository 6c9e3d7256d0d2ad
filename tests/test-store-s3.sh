#!/usr/bin/env bash
# Checks the S3 store (plugin/store_s3.c) against store.h's contract on the
# real S3 server named by S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
# S3COW_TEST_SECRET_KEY and S3COW_TEST_REGION (unset: SKIP), in a fresh
# bucket:
#  - the whole test-store suite (put/get/range/head/delete, caps, conditional
#    puts, 4 MiB, listing > 1000 keys across pages in byte order, CAS from 32
#    threads);
#  - compare-and-swap from 4 concurrent processes loses no update;
#  - a wrong secret key fails with STORE_PERMANENT and a message naming the
#    S3 error (SignatureDoesNotMatch, ...);
#  - a missing bucket fails with STORE_PERMANENT and says NoSuchBucket;
#  - a refused connection fails with STORE_TRANSIENT after the retry time
#    (3 s), not forever;
#  - a call waiting for a connection that another call holds still ends
#    within retry time + timeout, and says why.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

test_store=./test-store
[ -x "$test_store" ] || fail "$test_store not built (run make check)"

use_store s3
tmp="$tmpdir"

export S3COW_TEST_STORE_ENDPOINT="$S3COW_TEST_ENDPOINT"
export S3COW_TEST_BUCKET="$bucket"

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

# 2. CAS from concurrent processes.
key=cas/processes
procs=4
per=25
pids=()
for i in $(seq 1 $procs); do
  "$test_store" cas-increment $per "$key" >"$tmp/cas.$i.out" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 $procs); do
  if ! wait "${pids[$((i - 1))]}"; then
    cat "$tmp/cas.$i.out" >&2
    fail "cas-increment process $i failed"
  fi
  cat "$tmp/cas.$i.out"
done
got="$(counter "$key")"
[ "$got" = $((procs * per)) ] ||
  fail "$procs processes x $per CAS increments: counter is $got," \
    "expected $((procs * per)) (lost updates)"
echo "$0: $procs processes x $per CAS increments: $got"

# 3. Error cases: test-store checks the status, we check the message.
expect_message ()
{
  local mode="$1" pattern="$2"
  if ! "$test_store" "$mode" >"$tmp/$mode.out" 2>"$tmp/$mode.err"; then
    cat "$tmp/$mode.out" "$tmp/$mode.err" >&2
    fail "test-store $mode failed"
  fi
  cat "$tmp/$mode.out" "$tmp/$mode.err"
  grep -qE "$pattern" "$tmp/$mode.err" ||
    fail "test-store $mode: no message matching /$pattern/ on stderr"
}
expect_message wrong-secret 'SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied'
expect_message missing-bucket 'NoSuchBucket'
expect_message refused '[Rr]efused|[Cc]onnect'
expect_message pool-wait 'no free connection within the retry time'

echo "$0: PASS"
