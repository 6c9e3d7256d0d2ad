#!/bin/bash
# Stop the test gateway started by scripts/rgw-start.sh, by the PIDs it
# recorded (never by process name: other gateways may be running), wait
# for the daemons to exit, and remove the state directory.
#
#   scripts/rgw-stop.sh [--keep]
#
# --keep (or S3COW_RGW_KEEP=1) keeps the state directory, logs included.
# Environment: S3COW_RGW_DIR, the state directory (default /tmp/s3cow-rgw).

set -euo pipefail

dir="$(realpath -m "${S3COW_RGW_DIR:-/tmp/s3cow-rgw}")"
keep="${S3COW_RGW_KEEP:-0}"
case "${1:-}" in
  --keep) keep=1 ;;
  "") ;;
  *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

if [ ! -d "$dir" ]; then
  echo "rgw-stop: nothing in $dir"
  exit 0
fi

# The PID of daemon $1 if it is still running and is really ours: a
# recorded PID may have been reused by another process since.
our_pid ()
{
  local f="$dir/$1.pid" pid
  [ -s "$f" ] || return 1
  pid="$(cat "$f")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf" ||
    return 1
  echo "$pid"
}

# One at a time, gateway first, the monitor last: a daemon whose server
# has gone waits for it before exiting (the OSD for the monitor, 5 s).
# Each gets 10 s after SIGTERM, then SIGKILL: its data is in RAM and
# thrown away anyway.  Takes about 5 s in all.
stopped=0
for d in rgw osd mon; do
  pid="$(our_pid "$d")" || continue
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "rgw-stop: $d (PID $pid) ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  stopped=$((stopped + 1))
done
echo "rgw-stop: stopped $stopped daemon(s) of $dir"

if [ "$keep" = 1 ]; then
  echo "rgw-stop: kept $dir"
  exit 0
fi

# Remove the directory only if it holds nothing but what rgw-start.sh
# makes: S3COW_RGW_DIR might point somewhere precious by mistake.
for f in "$dir"/* "$dir"/.[!.]*; do
  [ -e "$f" ] || continue
  case "${f##*/}" in
    ceph.conf | keyring | monmap | env | env.tmp | *.pid | log | run | \
      crash | mon.a | osd.0 | tls) ;;
    *)
      echo "rgw-stop: $dir holds $f, which is not ours: not removing it" >&2
      exit 1
      ;;
  esac
done
rm -rf -- "$dir"
echo "rgw-stop: removed $dir"
