#!/usr/bin/env bash
# test-plugin-ext4.sh: a real ext4 filesystem on a disk served by the plugin
# from the real S3 server, end to end:
#  - nbdfuse turns the export into a file, losetup makes it a block device,
#    mkfs.ext4 formats it, mount;
#  - write files (a 6 MiB and a 1 MiB random file, 200 small ones, a
#    directory tree), record their SHA-256, sync, umount, detach the loop
#    device, unmount nbdfuse, stop the server (exit status 0);
#  - start a new server, nbdfuse + losetup again: e2fsck -fn finds the
#    filesystem clean, it mounts, and every checksum matches.
# Needs root, /dev/fuse and a free loop device (SKIP otherwise).  Mounts,
# loop devices and nbdfuse are undone at exit, even on failure.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdfuse fusermount3 mkfs.ext4 e2fsck losetup mount umount \
  mountpoint sha256sum
if [ "$(id -u)" != 0 ]; then
  echo "$0: SKIP: needs root (losetup, mount)" >&2
  exit 77
fi
if [ ! -c /dev/fuse ]; then
  echo "$0: SKIP: needs /dev/fuse" >&2
  exit 77
fi
if ! losetup -f >/dev/null 2>&1; then
  echo "$0: SKIP: no free loop device" >&2
  exit 77
fi
use_store s3
fuse="$tmpdir/fuse"
mnt="$tmpdir/mnt"
mkdir "$fuse" "$mnt"

# State of what is set up, so that teardown undoes exactly that (a loop
# device number detached once may be someone else's a moment later).
loop=
fuse_pid=
mounted=

teardown ()
{
  local i
  if [ -n "$mounted" ]; then
    timeout 60 umount "$mnt" || umount -l "$mnt" ||
      echo "$0: cannot unmount $mnt" >&2
    mounted=
  fi
  if [ -n "$loop" ]; then
    losetup -d "$loop" || echo "$0: cannot detach $loop" >&2
    loop=
  fi
  if [ -n "$fuse_pid" ]; then
    # The loop device may let go of the file a moment after losetup -d.
    for ((i = 0; i < 50; i++)); do
      mountpoint -q "$fuse" || break
      fusermount3 -u "$fuse" 2>/dev/null && break
      sleep 0.2
    done
    if mountpoint -q "$fuse"; then
      echo "$0: nbdfuse mount $fuse busy: lazy unmount" >&2
      fusermount3 -u -z "$fuse" || true
    fi
    for ((i = 0; i < 100; i++)); do
      kill -0 "$fuse_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$fuse_pid" 2>/dev/null; then
      echo "$0: nbdfuse (PID $fuse_pid) still running: killing it" >&2
      kill -KILL "$fuse_pid" 2>/dev/null || true
    fi
    wait "$fuse_pid" 2>/dev/null || true
    fuse_pid=
  fi
}
# Cleanups run last-registered first, and teardown must run before the
# cleanup that stops nbdkit: register it after each start_nbdkit (it does
# nothing when nothing is set up).

attach ()
{
  local i
  rm -f "$tmpdir/nbdfuse.pid"
  nbdfuse -P "$tmpdir/nbdfuse.pid" "$fuse" "$uri" &
  fuse_pid=$!
  for ((i = 0; i < 300; i++)); do
    [ -s "$tmpdir/nbdfuse.pid" ] && [ -f "$fuse/nbd" ] && break
    kill -0 "$fuse_pid" 2>/dev/null || fail "nbdfuse exited before it was ready"
    sleep 0.1
  done
  [ -f "$fuse/nbd" ] || fail "nbdfuse: $fuse/nbd did not appear in 30 s"
  loop="$(losetup -f --show "$fuse/nbd")" ||
    fail "losetup -f --show $fuse/nbd failed"
  echo "$0: $fuse/nbd is $loop"
}

serve export=fs size=128M chunk-size=256K \
  cache-size=32M
cleanup_fn teardown
attach
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$loop" ||
  fail "mkfs.ext4 $loop failed"
mount "$loop" "$mnt" || fail "mount $loop $mnt failed"
mounted=1

head -c $((6 << 20)) /dev/urandom >"$mnt/big"
head -c $((1 << 20)) /dev/urandom >"$mnt/medium"
mkdir -p "$mnt/dir/sub/deeper"
for i in $(seq 1 200); do
  head -c $((RANDOM * 3 % 20000 + 1)) /dev/urandom >"$mnt/dir/small.$i"
done
echo "hello from s3cow" >"$mnt/dir/sub/deeper/hello.txt"
(cd "$mnt" && find . -type f | sort | xargs sha256sum) >"$tmpdir/sums"
files="$(wc -l <"$tmpdir/sums")"
[ "$files" = 203 ] || fail "wrote $files files, expected 203"
sync
teardown
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"

# A new server: the filesystem must be all there.
serve export=fs chunk-size=256K cache-size=32M
cleanup_fn teardown
attach
status=0
e2fsck -fn "$loop" >"$tmpdir/fsck" 2>&1 || status=$?
if [ "$status" != 0 ]; then
  cat "$tmpdir/fsck" >&2
  fail "e2fsck -fn $loop after restart: exit status $status, expected 0" \
    "(clean)"
fi
mount "$loop" "$mnt" || fail "mount $loop $mnt after restart failed"
mounted=1
(cd "$mnt" && sha256sum --quiet -c "$tmpdir/sums") ||
  fail "after restart, checksums differ (see above)"
echo "$0: $files files, $(du -sm "$mnt" | cut -f1) MiB: checksums match"
teardown
stop_nbdkit || fail "nbdkit exited with status $? after SIGTERM, expected 0"
echo "$0: PASS"
