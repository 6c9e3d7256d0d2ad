#!/bin/bash
# A/B of two s3cow builds (or of one build under two sets of parameters):
# N pairs of a cold sequential read and/or a durable sequential write,
# A and B alternating, a fresh server for every copy, on an RGW of its own.
# Prints every copy and, per build, medians, spreads (min-max) and the
# ratio of B's median to A's.  A script for people, not a test.
#
#   flock /tmp/s3cow-bench.lock env A=/tmp/build-main B=/tmp/build-new \
#     N=5 OPS="read write" PIN=1 BENCH_PORT=7691 scripts/bench-ab.sh
#
# Run the whole script under the bench lock: starting the RGW is part of
# it.  What one pair does, for each op of OPS (pair k runs A then B when k
# is odd, B then A when k is even, so that neither build always goes first):
#
#   read   nbdkit -U S s3cow.so export=rd ... (a fresh server), then
#          nbdcopy nbd+unix:///?socket=S null:   (SIZE bytes, written once
#          before the first pair, untimed, with build A)
#   write  nbdkit -U S s3cow.so export=wK... (a new empty disk), then
#          nbdcopy --flush SRC nbd+unix:///?socket=S   (WSIZE bytes; the
#          same random bytes as the read's disk, so the same chunks are PUT
#          again under the same keys: the RGW's memory does not grow)
#
# Per copy: MiB/s (nbdcopy's wall time), nbdkit's CPU seconds (utime +
# stime from /proc/PID/stat, over the copy only), minor faults (minflt)
# and futex system calls (perf stat -e syscalls:sys_enter_futex: contended
# locks and condition-variable waits and wakes; "-" without perf), each
# per GiB copied, the server's peak RSS since it started (VmHWM, MiB), and
# the 1-minute load average at the start of the copy.
#
# Environment:
#   A, B            build directories (required; may be the same one)
#   A_OPTS, B_OPTS  s3cow parameters for that side only (e.g. B_OPTS=
#                   "read-ahead-threads=8" to compare settings of one build)
#   S3COW_OPTS      s3cow parameters for both
#   N               pairs (default 3)
#   OPS             "read", "write" or "read write" (default)
#   SIZE, WSIZE     bytes read, written per copy (default 1G, 512M)
#   PIN             1: the RGW's daemons (every thread) on PIN_RGW_CPUS
#                   (default 0), this script and all it starts (nbdkit,
#                   nbdcopy) on PIN_CLIENT_CPUS (default 1), as bench.sh's
#                   PIN=1; 0 (default): no pinning
#   BENCH_PORT      the RGW's port (default 7690; monitor: +10000)
#   RGW_MEMSTORE_BYTES  RAM for the RGW's data (default 3 GiB)
#   OUT             results file (default /var/tmp/s3cow-ab-DATE.txt)
#   KEEP            1 keeps the work directory (logs)
#
# Everything it starts (RGW daemons, nbdkit, nbdcopy, perf) it stops by
# PID on exit, error or ^C.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say () { echo "bench-ab: $*" >&2; }
die () { say "$*"; exit 1; }

if [ -z "${A:-}" ] || [ -z "${B:-}" ]; then
  die "set A and B to build directories"
fi
declare -A plugin opts
plugin[A]="$(realpath "$A")/plugin/.libs/nbdkit-s3cow-plugin.so"
plugin[B]="$(realpath "$B")/plugin/.libs/nbdkit-s3cow-plugin.so"
opts[A]="${S3COW_OPTS:-} ${A_OPTS:-}"
opts[B]="${S3COW_OPTS:-} ${B_OPTS:-}"
for x in A B; do
  [ -f "${plugin[$x]}" ] || die "$x: no plugin at ${plugin[$x]}"
done
n="${N:-3}"
ops="${OPS:-read write}"
pin="${PIN:-0}"
pin_rgw="${PIN_RGW_CPUS:-0}"
pin_client="${PIN_CLIENT_CPUS:-1}"
port="${BENCH_PORT:-7690}"
out="${OUT:-/var/tmp/s3cow-ab-$(date -u +%Y%m%d-%H%M%S).txt}"
size="$(numfmt --from=iec "${SIZE:-1G}")"
wsize="$(numfmt --from=iec "${WSIZE:-512M}")"
tck="$(getconf CLK_TCK)"
for op in $ops; do
  case "$op" in read | write) ;; *) die "OPS: read and/or write, not $op" ;; esac
done
command -v nbdcopy >/dev/null || die "needs nbdcopy (libnbd-bin)"
command -v nbdkit >/dev/null || die "needs nbdkit"
futex=0
if command -v perf >/dev/null &&
  perf stat -e syscalls:sys_enter_futex -- true >/dev/null 2>&1; then
  futex=1
fi

work="$(mktemp -d /var/tmp/s3cow-ab.XXXXXX)"
rgw_dir="$work/rgw"
sock="$work/nbd.sock"
srv_pid=
perf_pid=

cleanup ()
{
  set +e
  [ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid"
  if [ -n "$srv_pid" ]; then
    kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid"
  fi
  [ -d "$rgw_dir" ] && S3COW_RGW_DIR="$rgw_dir" "$root/scripts/rgw-stop.sh" \
    >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the RGW, pinned if asked --------------------------------------------

rgw_pin=()
[ "$pin" = 1 ] && rgw_pin=(taskset -c "$pin_rgw")
say "RGW on port $port (state in $rgw_dir)"
S3COW_RGW_DIR="$rgw_dir" S3COW_RGW_PORT="$port" \
  RGW_MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-$((3 << 30))}" \
  timeout 300 "${rgw_pin[@]}" "$root/scripts/rgw-start.sh" \
  >"$work/rgw-start.log" 2>&1 || {
  cat "$work/rgw-start.log" >&2
  die "rgw-start.sh failed"
}
if [ "$pin" = 1 ]; then
  for d in mon osd rgw; do
    taskset -a -p -c "$pin_rgw" "$(cat "$rgw_dir/$d.pid")" >/dev/null ||
      die "cannot pin the RGW's $d to CPU $pin_rgw"
  done
  # Everything started from here on inherits the client CPU.
  taskset -p -c "$pin_client" $$ >/dev/null || die "cannot pin this shell"
fi
# shellcheck disable=SC1091 # written by rgw-start.sh
. "$rgw_dir/env"
printf '%s' "$S3COW_TEST_SECRET_KEY" >"$work/secret"
/usr/bin/python3 "$root/scripts/bench-s3.py" bucket-create s3cow-ab >/dev/null

# --- one server, one copy --------------------------------------------------

# srv_start SIDE EXPORT SIZE: a fresh server of build SIDE on $sock.
srv_start ()
{
  local i
  rm -f "$sock" "$work/nbdkit.pid"
  # shellcheck disable=SC2086 # opts are lists of parameters
  nbdkit -f -U "$sock" -P "$work/nbdkit.pid" "${plugin[$1]}" \
    bucket=s3cow-ab export="$2" size="$3" endpoint="$S3COW_TEST_ENDPOINT" \
    access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$work/secret" \
    ${opts[$1]} >>"$work/nbdkit.log" 2>&1 &
  srv_pid=$!
  for ((i = 0; i < 600; i++)); do
    [ -s "$work/nbdkit.pid" ] && [ -S "$sock" ] && return 0
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.05
  done
  tail -n 20 "$work/nbdkit.log" >&2
  die "the server of $1 did not start"
}

srv_stop ()
{
  kill -TERM "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" || die "the server exited with an error (see $work/nbdkit.log)"
  srv_pid=
}

# minflt utime+stime (ticks) of the server.
srv_stat ()
{
  sed 's/^.*) //' "/proc/$srv_pid/stat" | awk '{ print $8, $12 + $13 }'
}

# copy SIDE OP PAIR: one timed copy on a fresh server; appends a row.
copy ()
{
  local side="$1" op="$2" k="$3" bytes exp load t0 t1 s0 s1 fx=- hwm
  local cmd
  if [ "$op" = read ]; then
    bytes="$size" exp=rd
    cmd=(nbdcopy "nbd+unix:///?socket=$sock" null:)
  else
    bytes="$wsize" exp="w$k$side"
    cmd=(nbdcopy --flush "$work/src.w" "nbd+unix:///?socket=$sock")
  fi
  srv_start "$side" "$exp" "$bytes"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  if [ "$futex" = 1 ]; then
    perf stat -x, -o "$work/futex" -e syscalls:sys_enter_futex \
      -p "$srv_pid" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.3 # perf attaches
  fi
  s0="$(srv_stat)"
  t0="$(date +%s.%N)"
  timeout 600 "${cmd[@]}" || die "$side $op: nbdcopy failed"
  t1="$(date +%s.%N)"
  s1="$(srv_stat)"
  hwm="$(awk '/^VmHWM:/ { print $2 }' "/proc/$srv_pid/status")"
  if [ "$futex" = 1 ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true
    perf_pid=
    fx="$(awk -F, '/sys_enter_futex/ { print $1 }' "$work/futex")"
  fi
  srv_stop
  awk -v side="$side" -v op="$op" -v k="$k" -v b="$bytes" -v t0="$t0" \
    -v t1="$t1" -v s0="$s0" -v s1="$s1" -v tck="$tck" -v fx="$fx" \
    -v load="$load" -v hwm="$hwm" 'BEGIN {
      split(s0, a, " "); split(s1, z, " "); g = b / 2^30
      printf "%s\t%s\t%d\t%.1f\t%.3f\t%.0f\t%s\t%.0f\t%s\n", side, op,
        k, b / 2^20 / (t1 - t0), (z[2] - a[2]) / tck / g, (z[1] - a[1]) / g,
        fx == "-" ? "-" : sprintf("%.0f", fx / g), hwm / 1024, load }' |
    tee -a "$out"
}

# --- the pairs --------------------------------------------------------------

src_bytes=$((size > wsize ? size : wsize))
head -c "$src_bytes" /dev/urandom >"$work/src"
head -c "$wsize" "$work/src" >"$work/src.w"
{
  echo "# bench-ab.sh $(date -u '+%F %T') UTC, $(uptime)"
  echo "# A=$A (${plugin[A]}) A_OPTS=${A_OPTS:-} B=$B (${plugin[B]})" \
    "B_OPTS=${B_OPTS:-} S3COW_OPTS=${S3COW_OPTS:-}"
  echo "# N=$n OPS=$ops SIZE=$size WSIZE=$wsize PIN=$pin" \
    "(RGW on $pin_rgw, client on $pin_client)"
  printf 'side\top\tpair\tMiB/s\tcpu_s/GiB\tminflt/GiB\tfutex/GiB\tpeak_RSS_MiB\tload\n'
} | tee "$out"
if [[ " $ops " == *" read "* ]]; then
  say "writing the read's disk (untimed, with A)"
  srv_start A rd "$size"
  nbdcopy --flush "$work/src" "nbd+unix:///?socket=$sock" ||
    die "cannot write the read's disk"
  srv_stop
fi
for ((k = 1; k <= n; k++)); do
  for op in $ops; do
    if ((k % 2)); then order=(A B); else order=(B A); fi
    for side in "${order[@]}"; do copy "$side" "$op" "$k"; done
  done
done
echo "# end $(date -u '+%T') UTC, $(uptime)" | tee -a "$out"

# --- medians, spreads, ratios ---------------------------------------------------

/usr/bin/python3 - "$out" <<'EOF' | tee -a "$out"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])
        if l[0] in "AB" and "\t" in l]
cols = ["MiB/s", "cpu_s/GiB", "minflt/GiB", "futex/GiB", "peak_RSS_MiB"]
print("\nop\tcolumn\tA median (min-max)\tB median (min-max)\tB/A")
for op in ("read", "write"):
    for i, col in enumerate(cols):
        med = {}
        cells = []
        for side in "AB":
            v = [float(r[3 + i]) for r in rows
                 if r[0] == side and r[1] == op and r[3 + i] != "-"]
            if not v:
                break
            med[side] = statistics.median(v)
            cells.append("%.4g (%.4g-%.4g)" % (med[side], min(v), max(v)))
        if len(cells) == 2:
            ratio = med["B"] / med["A"] if med["A"] else float("nan")
            print("%s\t%s\t%s\t%s\t%.3f" % (op, col, cells[0], cells[1], ratio))
EOF
say "results in $out"
