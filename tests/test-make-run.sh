#!/usr/bin/env bash
# test-make-run.sh: `make run` serves the bucket of S3COW_BUCKET with the
# plugin of the build tree, and a client's first open of an unknown export
# name creates that disk with RUN_SIZE (the nbd-client -N workflow); a
# clean stop leaves the disk in the bucket.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdinfo make s3cow
use_store dir

make -s -C "$abs_top_builddir" run RUN_SIZE=4M \
  RUN_OPTS="-U $sock -P $sock.pid" >"$tmpdir/run.log" 2>&1 &
make_pid=$!
stop_make_run ()
{
  kill "$make_pid" 2>/dev/null || true
}
cleanup_fn stop_make_run
wait_for 60 "{ [ -S $sock ] && [ -s $sock.pid ]; } || ! is_running $make_pid"
is_running "$make_pid" || {
  cat "$tmpdir/run.log"
  fail "make run exited before it listened"
}
nbdkit_pid="$(cat "$sock.pid")"
cleanup_fn _s3cow_kill_nbdkit "$nbdkit_pid"

size="$(nbdinfo --size "nbd+unix:///my_device?socket=$sock")" || {
  cat "$tmpdir/run.log"
  fail "nbdinfo on a new export name failed"
}
[ "$size" = 4194304 ] || fail "size $size, expected 4194304"
kill -TERM "$nbdkit_pid"
wait "$make_pid" || fail "make run exited with status $? after SIGTERM"
_s3cow_reaped+=" $nbdkit_pid "
s3cow ls | grep -q '^my_device ' || {
  s3cow ls
  fail "disk my_device is not in the bucket after make run"
}
