#!/bin/bash
# Benchmark s3cow against its peers, side by side, on one local Ceph RGW,
# and print one table (markdown) of medians with the ratio of s3cow to each.
# A script for people, not a test.  docs/benchmarks.md says what each row
# means and how each system is driven.
#
#   scripts/bench.sh                       # SIZE=1G N=3: about 40 min
#   SIZE=256M N=1 RUNTIME=10 scripts/bench.sh   # a quick check
#   A=BUILD-A B=BUILD-B scripts/bench.sh ab     # A/B of two builds
#   scripts/bench.sh codec        # compression= on an ext4 image of real
#                                 # files: scripts/bench-codec.sh
#   scripts/bench.sh boot         # boot-like replay from forks of a
#                                 # snapshot: scripts/bench-boot.sh
#
# Mode "ab" (A/B of two s3cow builds, or of one build under two sets of
# parameters): N pairs of a cold sequential read (`nbdcopy URI null:` of
# SIZE bytes written once, untimed, with build A) and/or a durable
# sequential write (`nbdcopy --flush SRC URI` of WSIZE bytes, to a new
# disk: the same random bytes each time, so the same chunks are PUT again
# and the RGW's memory does not grow), A and B alternating (pair k runs A
# first when k is odd), a fresh server for every copy.  Per copy: MiB/s,
# the server's CPU seconds, minor faults and futex calls (perf; "-"
# without) per GiB, its peak RSS and the load average; then per op and
# column the medians, spreads and B/A.  Its own variables:
#   A, B          build directories (required; may be the same one)
#   A_OPTS, B_OPTS  s3cow parameters of that side only (S3COW_OPTS: both)
#   OPS           "read", "write" or "read write" (default)
#   WSIZE         bytes of each write (default 512M)
#   OUT           results file (default /var/tmp/s3cow-ab-DATE.txt)
# and SIZE, N, PIN, BENCH_PORT, RGW_MEMSTORE_BYTES, KEEP, BENCH_TIMEOUT as
# below.  Run it under the bench lock, as the table:
#   flock /tmp/s3cow-bench.lock env A=/tmp/build-main B=build N=5 PIN=1 \
#     scripts/bench.sh ab
#
# Environment (all optional):
#   SIZE          bytes written and read per system and run (default 1G;
#                 K, M, G suffixes); also the fio region and the disk size
#   N             runs per system; the table gives medians (default 3)
#   RUNTIME       seconds of each fio run (default 20)
#   FIO_SIZE      the region of the disk that fio reads and writes at
#                 random: its first FIO_SIZE bytes (default 128M, or SIZE if
#                 smaller): it fits in every system's default cache, so that
#                 "warm" means warm
#   SYSTEMS       what to measure, in this order (default
#                 "memory raw s3plugin s3backer s3cow"); also s3cow-tier:
#                 s3cow with a local disk tier (cache-dir=), empty at
#                 every server start, so cold rows are cold and the warm
#                 re-read comes from the tier; and s3cow-4m: s3cow with
#                 disks of chunk-size=4M (the default is 1M)
#   FORK          1 (default) runs scripts/bench-fork.sh if it exists; 0 not
#   BENCH_TIMEOUT seconds for the whole run; then it stops, cleans up and
#                 prints what it has (default 5400)
#   BUILD         an s3cow build directory to use as it is; unset: run
#                 scripts/build.sh and use build/
#   RESULTS       the results file (default
#                 /var/tmp/s3cow-bench-results-DATE.md)
#   BENCH_PORT    RGW port (default: the first free of 7650, 7660, ...)
#   RGW_MEMSTORE_BYTES  RAM for the RGW's OSD (default 8 GiB, less when
#                 the machine has less available)
#   S3BACKER_OPTS extra s3backer options (e.g. --blockCacheSize=64)
#   S3COW_OPTS    extra s3cow parameters (e.g. "read-ahead-threads=8")
#   KEEP          1 keeps the work directory (logs) and the RGW's state
#   LATENCY       1: the RGW delays every OSD operation by up to 20 ms
#                 (Ceph's fault injection: scripts/rgw-start.sh,
#                 S3COW_RGW_LATENCY), as a remote S3 answers; or that
#                 maximum in seconds (e.g. 0.05).  Default: no added latency
#   PIN           1 pins the RGW's daemons (ceph-mon, ceph-osd, radosgw,
#                 every thread) to the CPUs PIN_RGW_CPUS (default 0) and
#                 everything else the harness runs, for every system
#                 (nbdkit, s3backer, nbdcopy, fio, curl, python), to
#                 PIN_CLIENT_CPUS (default 1), with taskset: the S3 server
#                 gets its own core, as on its own machine, and each system
#                 the same other core.  0 (default): no pinning
#
# Every row also records CPU seconds per GiB of the sequential rows: the
# client side (the servers' processes + nbdcopy, or the raw test's python
# and curl) and the RGW's three daemons.
#
# Every process it starts is stopped by its PID at the end, also on ^C, an
# error, or the time limit.  It installs what is missing with apt-get.

set -uo pipefail

mode="${1:-table}"
case "$mode" in
  table | ab) ;;
  codec) exec "$(dirname "${BASH_SOURCE[0]}")/bench-codec.sh" ;;
  boot) exec "$(dirname "${BASH_SOURCE[0]}")/bench-boot.sh" ;;
  *)
    echo "usage: scripts/bench.sh [table | ab | codec | boot] (see the top of the script)" >&2
    exit 2
    ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH" # Debian's python3 for nbdsh
py=/usr/bin/python3
t_start=$EPOCHREALTIME
cmdline="$(for v in LATENCY PIN PIN_RGW_CPUS PIN_CLIENT_CPUS SIZE N RUNTIME FIO_SIZE SYSTEMS FORK BUILD S3BACKER_OPTS S3COW_OPTS; do
  [ -n "${!v:-}" ] && printf '%s=%q ' "$v" "${!v}"; done)scripts/bench.sh"

size_arg="${SIZE:-1G}"
runs="${N:-3}"
runtime="${RUNTIME:-20}"
fio_size_arg="${FIO_SIZE:-128M}"
systems="${SYSTEMS:-memory raw s3plugin s3backer s3cow}"
fork="${FORK:-1}"
limit="${BENCH_TIMEOUT:-5400}"
keep="${KEEP:-0}"
pin="${PIN:-0}"
pin_rgw="${PIN_RGW_CPUS:-0}"
pin_client="${PIN_CLIENT_CPUS:-1}"
results="${RESULTS:-/var/tmp/s3cow-bench-results-$(date +%Y%m%d-%H%M%S).md}"
case "${LATENCY:-}" in
  "" | 0) latency= ;;
  1) latency=0.02 ;;
  *) latency="$LATENCY" ;;
esac

say ()
{
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}
die ()
{
  say "bench: $*"
  exit 1
}

size="$(numfmt --from=iec "$size_arg" 2>/dev/null)" ||
  die "SIZE=$size_arg: not a size"
if [ $((size % (4 << 20))) != 0 ] || [ "$size" -lt $((16 << 20)) ]; then
  die "SIZE must be a multiple of 4 MiB, at least 16M"
fi
fio_size="$(numfmt --from=iec "$fio_size_arg" 2>/dev/null)" ||
  die "FIO_SIZE=$fio_size_arg: not a size"
[ "$fio_size" -le "$size" ] || fio_size="$size"
if [ $((fio_size % 4096)) != 0 ] || [ "$fio_size" -le 0 ]; then
  die "FIO_SIZE must be a multiple of 4K"
fi
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "N=$runs: not a count"
[ -z "$latency" ] || [[ "$latency" =~ ^[0-9]*\.?[0-9]+$ ]] ||
  die "LATENCY=$LATENCY: 1, or seconds"
[[ "$runtime" =~ ^[1-9][0-9]*$ ]] || die "RUNTIME=$runtime: not seconds"
for s in $systems; do
  case "$s" in memory | raw | s3plugin | s3backer | s3cow | s3cow-tier | s3cow-4m) ;;
    *) die "SYSTEMS: unknown system $s" ;; esac
done
case "$pin" in
  0) pinning="none" ;;
  1)
    command -v taskset >/dev/null || die "PIN=1 needs taskset (util-linux)"
    for c in "$pin_rgw" "$pin_client"; do
      taskset -c "$c" true 2>/dev/null ||
        die "PIN: CPU list $c is not usable here (CPUs: $(nproc --all))"
    done
    pinning="RGW (ceph-mon, ceph-osd, radosgw) on CPU $pin_rgw; harness and every system (nbdkit, s3backer, nbdcopy, fio, curl, python) on CPU $pin_client"
    ;;
  *) die "PIN=$pin: 0 or 1" ;;
esac
has () { case " $systems " in *" $1 "*) return 0 ;; esac; return 1; }

# --- 1. What it needs -------------------------------------------------------

packages=(fio nbdkit nbdkit-plugin-python python3-boto3 s3backer fuse3
  libnbd-bin python3-libnbd curl procps util-linux coreutils)
lib_install "${packages[@]}" || die "cannot install ${packages[*]}"
[ "$(id -u)" = 0 ] || die "run as root (s3backer mounts FUSE; RSS reset)"
[ -e /dev/fuse ] || [ "$mode" = ab ] || ! has s3backer ||
  die "no /dev/fuse for s3backer"

if [ "$mode" = ab ]; then
  if [ -z "${A:-}" ] || [ -z "${B:-}" ]; then
    die "ab: set A and B to build directories"
  fi
  declare -A ab_plugin ab_opts
  ab_plugin[A]="$(realpath "$A")/plugin/.libs/nbdkit-s3cow-plugin.so"
  ab_plugin[B]="$(realpath "$B")/plugin/.libs/nbdkit-s3cow-plugin.so"
  ab_opts[A]="${S3COW_OPTS:-} ${A_OPTS:-}"
  ab_opts[B]="${S3COW_OPTS:-} ${B_OPTS:-}"
  for x in A B; do
    [ -f "${ab_plugin[$x]}" ] || die "ab: $x: no plugin at ${ab_plugin[$x]}"
  done
  ab_ops="${OPS:-read write}"
  for op in $ab_ops; do
    case "$op" in
      read | write) ;;
      *) die "OPS: read and/or write, not $op" ;;
    esac
  done
  wsize="$(numfmt --from=iec "${WSIZE:-512M}" 2>/dev/null)" ||
    die "WSIZE=${WSIZE:-}: not a size"
  ab_out="${OUT:-/var/tmp/s3cow-ab-$(date -u +%Y%m%d-%H%M%S).txt}"
  build="$(realpath "$A")"
elif [ -n "${BUILD:-}" ]; then
  build="$(realpath "$BUILD")"
else
  say "building s3cow (scripts/build.sh)"
  timeout 1800 "$root/scripts/build.sh" >&2 || die "scripts/build.sh failed"
  build="$root/build"
fi
plugin="$build/plugin/.libs/nbdkit-s3cow-plugin.so"
cli="$build/cli/s3cow"
[ -f "$plugin" ] || die "$plugin is not built"

# --- 2. Work directory, clean-up, time limit --------------------------------

work="$(mktemp -d /var/tmp/s3cow-bench.XXXXXX)"
mkdir -p "$work/log"
rgw_dir="$work/rgw"
data="$work/data.tsv" # system metric run value
: >"$data"
step_pid=   # the command being run under `timeout`
watchdog=
declare -A srv_pids=() # name -> PID of each server process running
mnt="$work/mnt"        # s3backer's mount point
rgw_started=0

cleanup ()
{
  local rc=$? k
  trap - EXIT INT TERM
  [ -z "$step_pid" ] || lib_stop_pid "$step_pid" 10
  for k in "${!srv_pids[@]}"; do
    [ "$k" = s3backer ] && continue
    lib_stop_pid "${srv_pids[$k]}" 60
  done
  if [ -n "${srv_pids[s3backer]:-}" ]; then
    mountpoint -q "$mnt" && { fusermount -u "$mnt" 2>/dev/null ||
      umount -l "$mnt" 2>/dev/null; }
    lib_stop_pid "${srv_pids[s3backer]}" 60
  fi
  mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt"
  if [ "$rgw_started" = 1 ]; then
    if [ "$keep" = 1 ]; then
      S3COW_RGW_DIR="$rgw_dir" timeout 60 "$root/scripts/rgw-stop.sh" --keep \
        >/dev/null 2>&1
    else
      S3COW_RGW_DIR="$rgw_dir" timeout 60 "$root/scripts/rgw-stop.sh" \
        >/dev/null 2>&1
    fi
  fi
  [ -z "$watchdog" ] || lib_stop_pid "$watchdog" 5
  rm -f "$work/src"
  if [ "$keep" = 1 ] || [ "$rc" != 0 ]; then
    say "work directory (logs) kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
# At the time limit: stop what runs, print what was measured, clean up.
on_term ()
{
  trap - TERM
  say "stopped (time limit of ${limit}s, or SIGTERM): the table has what" \
    "was measured so far"
  [ -z "$step_pid" ] || lib_stop_pid "$step_pid" 10
  step_pid=
  srv_stop 2>/dev/null
  [ -s "$data" ] && report
  exit 124
}
trap on_term TERM

# The time limit: a watchdog sends us SIGTERM; `wait` below is interrupted
# by it at once, and cleanup() stops whatever runs.
bash -c 'sleep "$1" & s=$!; trap "kill $s; exit 0" TERM; wait $s;
  kill -TERM "$2"' _ "$limit" $$ &
watchdog=$!

# step SECONDS LOG CMD...: run CMD with a time limit, output to LOG.
step ()
{
  local t="$1" log="$2" rc
  shift 2
  timeout -k 5 "$t" "$@" >>"$log" 2>&1 &
  step_pid=$!
  wait "$step_pid"
  rc=$?
  step_pid=
  return $rc
}

# record SYSTEM METRIC RUN VALUE
record ()
{
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$data"
}

now () { echo "$EPOCHREALTIME"; }
# elapsed T0 T1 -> seconds (float)
elapsed () { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
# mibs SECONDS -> MiB/s of SIZE
mibs () { awk -v s="$size" -v t="$1" 'BEGIN { printf "%.1f", s / 1048576 / t }'; }

# CPU time, in clock ticks (lib_cpu_ticks, lib_child_ticks).
hz="$(getconf CLK_TCK)"
# cpu_per_gib TICKS -> CPU seconds per GiB of SIZE
cpu_per_gib ()
{
  awk -v n="$1" -v hz="$hz" -v s="$size" \
    'BEGIN { printf "%.2f", n / hz / (s / 1073741824) }'
}

# --- 3. The S3 server ---------------------------------------------------------

if [ -n "${BENCH_PORT:-}" ]; then
  port="$BENCH_PORT"
else
  port="$(lib_free_port "$(seq 7650 10 7990)" 10000)" ||
    die "no free port for RGW in 7650-7990; set BENCH_PORT"
fi

avail_kib="$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)"
if [ -n "${RGW_MEMSTORE_BYTES:-}" ]; then
  memstore="$RGW_MEMSTORE_BYTES"
else
  memstore=$((8 << 30))
  # Leave 3 GiB (servers' caches, page cache of the source file) free.
  room=$((avail_kib * 1024 - (3 << 30)))
  [ "$room" -ge "$memstore" ] || memstore="$room"
fi
[ "$memstore" -ge $((3 * size)) ] ||
  die "only $((memstore >> 20)) MiB of RAM for the RGW: SIZE=$size_arg" \
    "needs about $((3 * size >> 20)) MiB; free memory or lower SIZE"
say "RGW on port $port, memstore $((memstore >> 20)) MiB, state in" \
  "$rgw_dir${latency:+; OSD operations delayed by up to $latency s}"
rgw_started=1
rgw_pin=()
[ "$pin" = 1 ] && rgw_pin=(taskset -c "$pin_rgw")
S3COW_RGW_DIR="$rgw_dir" S3COW_RGW_PORT="$port" RGW_MEMSTORE_BYTES="$memstore" \
  S3COW_RGW_LATENCY="$latency" timeout 300 "${rgw_pin[@]}" "$root/scripts/rgw-start.sh" \
  >"$work/log/rgw-start.log" 2>&1 || {
  cat "$work/log/rgw-start.log" >&2
  die "rgw-start.sh failed"
}
mapfile -t rgw_pids < <(lib_rgw_pids "$rgw_dir")

if [ "$pin" = 1 ]; then
  # Started under taskset, every daemon and thread inherited CPU
  # $pin_rgw; set it again for every thread in case, then check.
  lib_pin_rgw "$rgw_dir" "$pin_rgw" ||
    die "cannot pin every thread of the RGW to CPU $pin_rgw"
  # This shell: everything started from now on inherits CPU $pin_client.
  lib_pin_self "$pin_client" || die "cannot pin the harness to CPU $pin_client"
  say "pinning: $pinning"
fi
# shellcheck disable=SC1091 # written by rgw-start.sh
. "$rgw_dir/env"
endpoint="$S3COW_TEST_ENDPOINT"
asok="$rgw_dir/run/client.rgw.asok"
export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
export AWS_DEFAULT_REGION="$S3COW_TEST_REGION" AWS_REGION="$S3COW_TEST_REGION"
printf '%s' "$S3COW_TEST_SECRET_KEY" >"$work/secret"
printf '%s:%s\n' "$S3COW_TEST_ACCESS_KEY" "$S3COW_TEST_SECRET_KEY" \
  >"$work/s3backer.passwd"
chmod 600 "$work/secret" "$work/s3backer.passwd"

s3py () { timeout 600 "$py" "$root/scripts/bench-s3.py" "$@"; }
# RGW's request counters: "req failed get get_bytes put put_bytes".
rgw_counters () { s3py rgw-counters "$asok" 2>/dev/null || echo "0 0 0 0 0 0"; }
# counter_delta "C0" "C1" FIELD(1-6)
counter_delta ()
{
  awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN {
    split(a, x, " "); split(b, y, " "); print y[f] - x[f] }'
}

# --- 3b. Mode ab: pairs of copies, two builds ------------------------------

# ab_srv_start SIDE EXPORT SIZE: a fresh server of build SIDE on $sock.
ab_srv_start ()
{
  local i
  rm -f "$sock" "$work/nbdkit.pid"
  # shellcheck disable=SC2086 # opts are lists of parameters
  nbdkit -f -U "$sock" -P "$work/nbdkit.pid" "${ab_plugin[$1]}" \
    bucket=s3cow-ab export="$2" size="$3" endpoint="$endpoint" \
    access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$work/secret" \
    ${ab_opts[$1]} >>"$work/log/nbdkit.log" 2>&1 &
  srv_pids[nbdkit]=$!
  for ((i = 0; i < 600; i++)); do
    [ -s "$work/nbdkit.pid" ] && [ -S "$sock" ] && return 0
    kill -0 "${srv_pids[nbdkit]}" 2>/dev/null || break
    sleep 0.05
  done
  tail -n 20 "$work/log/nbdkit.log" >&2
  die "the server of $1 did not start"
}

ab_srv_stop ()
{
  kill -TERM "${srv_pids[nbdkit]}" 2>/dev/null
  wait "${srv_pids[nbdkit]}" ||
    die "the server exited with an error (see $work/log/nbdkit.log)"
  unset 'srv_pids[nbdkit]'
}

# minflt utime+stime (ticks) of the server.
ab_srv_stat ()
{
  sed 's/^.*) //' "/proc/${srv_pids[nbdkit]}/stat" |
    awk '{ print $8, $12 + $13 }'
}

# ab_copy SIDE OP PAIR: one timed copy on a fresh server; appends a row.
ab_copy ()
{
  local side="$1" op="$2" k="$3" bytes exp load t0 t1 s0 s1 fx=- hwm
  local cmd perf_pid=
  if [ "$op" = read ]; then
    bytes="$size" exp=rd
    cmd=(nbdcopy "nbd+unix:///?socket=$sock" null:)
  else
    bytes="$wsize" exp="w$k$side"
    cmd=(nbdcopy --flush "$work/src.w" "nbd+unix:///?socket=$sock")
  fi
  ab_srv_start "$side" "$exp" "$bytes"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  if [ "$ab_futex" = 1 ]; then
    perf stat -x, -o "$work/futex" -e syscalls:sys_enter_futex \
      -p "${srv_pids[nbdkit]}" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.3 # perf attaches
  fi
  s0="$(ab_srv_stat)"
  t0="$(now)"
  step 600 "$work/log/nbdcopy.log" "${cmd[@]}" ||
    die "$side $op: nbdcopy failed"
  t1="$(now)"
  s1="$(ab_srv_stat)"
  hwm="$(awk '/^VmHWM:/ { print $2 }' "/proc/${srv_pids[nbdkit]}/status")"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null
    wait "$perf_pid"
    fx="$(awk -F, '/sys_enter_futex/ { print $1 }' "$work/futex")"
  fi
  ab_srv_stop
  awk -v side="$side" -v op="$op" -v k="$k" -v b="$bytes" -v t0="$t0" \
    -v t1="$t1" -v s0="$s0" -v s1="$s1" -v tck="$hz" -v fx="${fx:--}" \
    -v load="$load" -v hwm="$hwm" 'BEGIN {
      split(s0, a, " "); split(s1, z, " "); g = b / 2^30
      printf "%s\t%s\t%d\t%.1f\t%.3f\t%.0f\t%s\t%.0f\t%s\n", side, op,
        k, b / 2^20 / (t1 - t0), (z[2] - a[2]) / tck / g, (z[1] - a[1]) / g,
        fx == "-" ? "-" : sprintf("%.0f", fx / g), hwm / 1024, load }' |
    tee -a "$ab_out"
}

# ab_run: the pairs, then medians, spreads and ratios.
ab_run ()
{
  local k op side order src_bytes
  ab_futex=0
  if command -v perf >/dev/null &&
    perf stat -e syscalls:sys_enter_futex -- true >/dev/null 2>&1; then
    ab_futex=1
  fi
  s3py bucket-create s3cow-ab >/dev/null || die "cannot create the bucket"
  src_bytes=$((size > wsize ? size : wsize))
  head -c "$src_bytes" /dev/urandom >"$work/src" ||
    die "cannot write $work/src"
  head -c "$wsize" "$work/src" >"$work/src.w" ||
    die "cannot write $work/src.w"
  {
    echo "# scripts/bench.sh ab $(date -u '+%F %T') UTC, $(uptime)"
    echo "# A=$A (${ab_plugin[A]}) A_OPTS=${A_OPTS:-} B=$B (${ab_plugin[B]})" \
      "B_OPTS=${B_OPTS:-} S3COW_OPTS=${S3COW_OPTS:-}"
    echo "# N=$runs OPS=$ab_ops SIZE=$size WSIZE=$wsize PIN=$pin" \
      "(RGW on $pin_rgw, client on $pin_client)"
    printf 'side\top\tpair\tMiB/s\tcpu_s/GiB\tminflt/GiB\tfutex/GiB\tpeak_RSS_MiB\tload\n'
  } | tee "$ab_out"
  if [[ " $ab_ops " == *" read "* ]]; then
    say "writing the read's disk (untimed, with A)"
    ab_srv_start A rd "$size"
    step 600 "$work/log/nbdcopy.log" nbdcopy --flush "$work/src" \
      "nbd+unix:///?socket=$sock" || die "cannot write the read's disk"
    ab_srv_stop
  fi
  for ((k = 1; k <= runs; k++)); do
    for op in $ab_ops; do
      if ((k % 2)); then order=(A B); else order=(B A); fi
      for side in "${order[@]}"; do ab_copy "$side" "$op" "$k"; done
    done
  done
  echo "# end $(date -u '+%T') UTC, $(uptime)" | tee -a "$ab_out"
  "$py" - "$ab_out" <<'EOF' | tee -a "$ab_out"
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
  say "results in $ab_out"
}

if [ "$mode" = ab ]; then
  sock="$work/nbd.sock"
  ab_run
  exit 0
fi

# --- 4. Servers ---------------------------------------------------------------

sock="$work/nbd.sock"
uri="nbd+unix:///?socket=$sock"

# wait_server NAME PID PIDFILE LOG: until nbdkit wrote its pidfile (it is
# then listening), or it died, or 60 s.
wait_server ()
{
  local name="$1" pid="$2" pidfile="$3" log="$4" i
  for ((i = 0; i < 600; i++)); do
    [ -s "$pidfile" ] && [ -S "$sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  say "$name did not start; end of $log:"
  tail -n 20 "$log" >&2
  return 1
}

# srv_start SYSTEM RUN BUCKET: start SYSTEM's server on $sock, serving the
# disk of this run (made empty on first start).
srv_start ()
{
  local sys="$1" run="$2" bucket="$3" log="$work/log/$1-$2.log" pid i
  rm -f "$sock" "$work/nbdkit.pid"
  case "$sys" in
    memory)
      nbdkit -f -U "$sock" -P "$work/nbdkit.pid" memory size="$size" \
        >>"$log" 2>&1 &
      ;;
    s3plugin)
      # nbdkit 1.32 refuses the plugin's 4M minimum block size: the
      # blocksize-policy filter advertises 4096..4M instead (writes smaller
      # than 4M are then read-modify-write of the 4M object).
      nbdkit -f -U "$sock" -P "$work/nbdkit.pid" \
        --filter=blocksize-policy S3 \
        blocksize-minimum=4096 blocksize-preferred=4M blocksize-maximum=4M \
        endpoint-url="$endpoint" bucket="$bucket" key="disk$run" \
        size="$size" object-size=4M >>"$log" 2>&1 &
      ;;
    s3backer)
      mkdir -p "$mnt"
      # No --region: it turns on --vhost (BUCKET.127.0.0.1 does not
      # resolve); s3backer's default region is us-east-1 anyway.
      # shellcheck disable=SC2086 # S3BACKER_OPTS is a list of options
      s3backer -f --blockSize=4M --size="$size" --baseURL="$endpoint/" \
        --accessFile="$work/s3backer.passwd" \
        --prefix="disk$run/" ${S3BACKER_OPTS:-} \
        "$bucket" "$mnt" >>"$log" 2>&1 &
      pid=$!
      srv_pids[s3backer]=$pid
      for ((i = 0; i < 300; i++)); do
        mountpoint -q "$mnt" && [ -f "$mnt/file" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      [ -f "$mnt/file" ] || {
        say "s3backer did not mount; end of $log:"
        tail -n 20 "$log" >&2
        return 1
      }
      nbdkit -f -U "$sock" -P "$work/nbdkit.pid" file "$mnt/file" \
        >>"$log" 2>&1 &
      ;;
    s3cow | s3cow-tier | s3cow-4m)
      local extra=()
      case "$sys" in
        s3cow-tier)
          # Empty at every start: each start is followed by a cold row.
          rm -rf "$work/tier"
          extra=(cache-dir="$work/tier")
          ;;
        s3cow-4m) extra=(chunk-size=4M) ;; # used when the disk is created
      esac
      # shellcheck disable=SC2086 # S3COW_OPTS is a list of parameters
      nbdkit -f -U "$sock" -P "$work/nbdkit.pid" "$plugin" \
        bucket="$bucket" export="disk$run" size="$size" \
        endpoint="$endpoint" access-key="$S3COW_TEST_ACCESS_KEY" \
        secret-key=+"$work/secret" stats="$work/stats" "${extra[@]}" \
        ${S3COW_OPTS:-} >>"$log" 2>&1 &
      ;;
  esac
  pid=$!
  srv_pids[nbdkit]=$pid
  wait_server "$sys" "$pid" "$work/nbdkit.pid" "$log" || return 1
  if [ "$pin" = 1 ]; then
    # shellcheck disable=SC2046 # a list of PIDs
    if ! lib_pin_check "$sys" "$pin_client" $(srv_pid_list) ||
      ! lib_pin_check rgw "$pin_rgw" "${rgw_pids[@]}"; then
      say "PIN: pinning does not hold (see above); going on"
    fi
  fi
}

srv_stop ()
{
  if [ -n "${srv_pids[nbdkit]:-}" ]; then
    lib_stop_pid "${srv_pids[nbdkit]}" 120
    unset 'srv_pids[nbdkit]'
  fi
  if [ -n "${srv_pids[s3backer]:-}" ]; then
    # Unmounting makes s3backer write its dirty blocks and exit.
    if mountpoint -q "$mnt"; then
      timeout 120 fusermount -u "$mnt" 2>/dev/null ||
        timeout 120 umount "$mnt" 2>/dev/null || umount -l "$mnt"
    fi
    local i
    for ((i = 0; i < 1200; i++)); do
      lib_running "${srv_pids[s3backer]}" || break
      sleep 0.1
    done
    lib_stop_pid "${srv_pids[s3backer]}" 10
    unset 'srv_pids[s3backer]'
  fi
  rm -f "$sock"
}

srv_pid_list () { echo "${srv_pids[@]}"; }

# Peak RSS: reset the high-water mark of the server processes (clear_refs
# 5), and read it back (VmHWM, summed: s3backer + nbdkit file).
rss_reset ()
{
  local p
  for p in $(srv_pid_list); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null; done
}
rss_peak_mib ()
{
  local p kib=0 v
  for p in $(srv_pid_list); do
    v="$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)"
    kib=$((kib + ${v:-0}))
  done
  echo $((kib / 1024))
}

# s3cow's own counters (stats=): the sum of requests of every kind, from a
# copy written after this moment (the file is rewritten every second).
s3cow_requests ()
{
  local f="$work/stats" t i
  t="$(date +%s.%N)"
  for ((i = 0; i < 40; i++)); do
    [ -f "$f" ] && [ "$(stat -c %.9Y "$f")" \> "$t" ] && break
    sleep 0.1
  done
  awk '/^s3cow_store_requests_total/ { n += $2 } END { print n + 0 }' "$f" \
    2>/dev/null || echo 0
}

# --- 5. Measurements ------------------------------------------------------------

# seq_copy SYS RUN METRIC SRC DST: time nbdcopy, record MiB/s, peak RSS and
# the S3 requests per GiB (RGW's counters; s3cow's own too).
seq_copy ()
{
  local sys="$1" run="$2" metric="$3" src="$4" dst="$5" c0 c1 t0 t1 q0=0 q1=0
  local flush=()
  [ "$metric" = seqw ] && flush=(--flush)
  [ "${sys#s3cow}" != "$sys" ] && q0="$(s3cow_requests)"
  rss_reset
  c0="$(rgw_counters)"
  local r0 r1 s0 s1 k0 k1
  r0="$(lib_cpu_ticks "${rgw_pids[@]}")"
  # shellcheck disable=SC2046 # a list of PIDs
  s0="$(lib_cpu_ticks $(srv_pid_list))"
  k0="$(lib_child_ticks)"
  t0="$(now)"
  step $((600 + size / (1 << 20))) "$work/log/$sys-$run.log" \
    nbdcopy "${flush[@]}" "$src" "$dst" || {
    say "$sys: nbdcopy for $metric failed (see $work/log/$sys-$run.log)"
    return 1
  }
  t1="$(now)"
  k1="$(lib_child_ticks)"
  # shellcheck disable=SC2046 # a list of PIDs
  s1="$(lib_cpu_ticks $(srv_pid_list))"
  r1="$(lib_cpu_ticks "${rgw_pids[@]}")"
  c1="$(rgw_counters)"
  # Before the check below, which reads the disk again through the server.
  [ "${sys#s3cow}" != "$sys" ] && q1="$(s3cow_requests)"
  record "$sys" "cpuc_$metric" "$run" "$(cpu_per_gib $((s1 - s0 + k1 - k0)))"
  record "$sys" "cpur_$metric" "$run" "$(cpu_per_gib $((r1 - r0)))"
  local rate
  rate="$(mibs "$(elapsed "$t0" "$t1")")"
  if [ "$dst" = null: ] && ! verify_read "$sys" "$run"; then
    # The row is dropped from the table (bench-table.py): a rate of wrong
    # data means nothing.  A bad cold read also condemns the write.
    record "$sys" "bad_$metric" "$run" 1
    [ "$metric" = seqr_cold ] && record "$sys" bad_seqw "$run" 1
    record "$sys" "unverified_$metric" "$run" "$rate"
    say "$sys run $run: $metric: what was read back differs from what was" \
      "written: row dropped"
  else
    record "$sys" "$metric" "$run" "$rate"
  fi
  record "$sys" "rss_$metric" "$run" "$(rss_peak_mib)"
  local gib
  gib="$(awk -v s="$size" 'BEGIN { print s / 1073741824 }')"
  local f k
  for f in 1:req 3:reqget 5:reqput; do
    k="${f#*:}"
    record "$sys" "${k}_$metric" "$run" \
      "$(awk -v n="$(counter_delta "$c0" "$c1" "${f%%:*}")" -v g="$gib" \
        'BEGIN { printf "%.0f", n / g }')"
  done
  if [ "${sys#s3cow}" != "$sys" ]; then
    record "$sys" "stats_req_$metric" "$run" \
      "$(awk -v n=$((q1 - q0)) -v g="$gib" 'BEGIN { printf "%.0f", n / g }')"
  fi
  say "$sys run $run: $metric $rate MiB/s"
}

# verify_read SYS RUN: read the whole disk again (untimed) and compare it
# with the source file: every sequential row reads back what was written.
verify_read ()
{
  # shellcheck disable=SC2016 # expanded by the inner shell
  step $((600 + size / (1 << 20))) "$work/log/$1-$2.log" \
    bash -c 'nbdcopy "$1" - | cmp -s - "$2"' _ "$uri" "$work/src"
}

# rgw_gc: let the RGW free the objects of deleted buckets now, untimed;
# else its garbage collector does it during the next system's rows.
rgw_gc ()
{
  timeout 600 radosgw-admin -c "$S3COW_TEST_RGW_CONF" -n client.admin gc \
    process --include-all >>"$work/log/rgw-gc.log" 2>&1 ||
    say "radosgw-admin gc process failed (see $work/log/rgw-gc.log)"
}

# fio_warmup SYS RUN: read the fio region once, sequentially (not timed),
# so that a cache that holds it has it all: the sequential read of SIZE
# before may have pushed its start out of a smaller cache.
fio_warmup ()
{
  step $((600 + fio_size / (1 << 20))) "$work/log/$1-$2.log" \
    fio --name=warmup --ioengine=nbd --uri="$uri" --rw=read --bs=1M \
    --iodepth=8 --size="$fio_size" --output=/dev/null ||
    say "$1: fio warm-up failed (see $work/log/$1-$2.log)"
}

# fio_run SYS RUN METRIC RW: 4k random I/O, iodepth 32, over the first
# FIO_SIZE bytes written, for RUNTIME seconds; records IOPS and peak RSS.
fio_run ()
{
  local sys="$1" run="$2" metric="$3" rw="$4" out="$work/fio-$1-$2-$3.json"
  local iops dir=read
  [ "$rw" = randwrite ] && dir="write"
  rss_reset
  step $((runtime + 120)) "$work/log/$sys-$run.log" \
    fio --name="$metric" --ioengine=nbd --uri="$uri" --rw="$rw" --bs=4k \
    --iodepth=32 --size="$fio_size" --runtime="$runtime" --time_based \
    --output-format=json --output="$out" || {
    say "$sys: fio $metric failed (see $work/log/$sys-$run.log)"
    return 1
  }
  iops="$("$py" -c 'import json, sys
d = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
print("%.0f %d" % (d["iops"], d["io_bytes"]))' "$out" "$dir")" || return 1
  record "$sys" "$metric" "$run" "${iops% *}"
  record "$sys" "rss_$metric" "$run" "$(rss_peak_mib)"
  fio_bytes="${iops#* }"
  say "$sys run $run: $metric ${iops% *} IOPS"
}

# write_amp SYS RUN METRIC C0: S3 bytes PUT since counters C0 per byte that
# fio wrote (taken after the server stopped: write-back is included).
write_amp ()
{
  local c1
  c1="$(rgw_counters)"
  [ "${fio_bytes:-0}" -gt 0 ] || return 0
  record "$1" "amp_$3" "$2" "$(awk -v p="$(counter_delta "$4" "$c1" 6)" \
    -v b="$fio_bytes" 'BEGIN { printf "%.1f", p / b }')"
}

# s3cow: S3 requests and time of one flush after one 4k write to a cached
# chunk (read first, so that the write needs no download).  The requests
# leave out history's kept copies of heads, which are written in the
# background, off the flush path (s3cow_history_keeps_total).
flush_one ()
{
  local run="$1" out
  out="$(SOCK="$sock" STATS="$work/stats" timeout 60 nbdsh -c '
import os, time
def requests():
    # the stats file is rewritten every second: wait for a newer copy
    t = time.time()
    for _ in range(40):
        try:
            if os.stat(os.environ["STATS"]).st_mtime > t:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    # kept copies of heads (history) are written after the flush returned
    n = 0
    for line in open(os.environ["STATS"]):
        if line.startswith("s3cow_store_requests_total"):
            n += int(line.split()[-1])
        elif line.startswith("s3cow_history_keeps_total"):
            n -= int(line.split()[-1])
    return n
h = nbd.NBD()
h.connect_uri("nbd+unix:///?socket=" + os.environ["SOCK"])
off = 3 << 20
h.pread(4096, off)
h.flush()
q0 = requests()
t0 = time.monotonic()
h.pwrite(os.urandom(4096), off)
h.flush()
t1 = time.monotonic()
q1 = requests()
h.shutdown()
print(q1 - q0, "%.1f" % ((t1 - t0) * 1000))
' 2>>"$work/log/s3cow-$run.log")" || {
    say "s3cow: flush measurement failed"
    return 1
  }
  record s3cow flush_req "$run" "${out% *}"
  record s3cow flush_ms "$run" "${out#* }"
  say "s3cow run $run: flush of one dirty chunk: ${out% *} requests, ${out#* } ms"
}

# s3cow only: drop the chunks that random writes replaced (no server runs
# then), so that RAM of the RGW holds only live data.
s3cow_gc ()
{
  [ -x "$cli" ] || return 0
  step 300 "$work/log/s3cow-gc.log" "$cli" --endpoint "$endpoint" \
    --bucket "$1" --access-key "$S3COW_TEST_ACCESS_KEY" \
    --secret-key-file "$work/secret" -q gc --force --grace 1s ||
    say "s3cow gc failed (see $work/log/s3cow-gc.log); going on"
}

# run_system SYS RUN: every row for one system, one run.
run_system ()
{
  local sys="$1" run="$2" bucket="bench-$1-$2" c0
  local restart=1
  [ "$sys" = memory ] && restart=0 # a restart would lose the data
  if [ "$sys" != memory ]; then
    s3py bucket-create "$bucket" >>"$work/log/$sys-$run.log" 2>&1 ||
      { say "cannot create bucket $bucket"; return 1; }
  fi
  srv_start "$sys" "$run" "$bucket" || return 1
  if [ "$sys" = memory ]; then
    # Untimed first write: the memory plugin's first write of a page is
    # the page's allocation (95 against 536 MiB/s for the second pass,
    # measured), not the NBD path this column stands for.
    step $((600 + size / (1 << 20))) "$work/log/$sys-$run.log" \
      nbdcopy "$work/src" "$uri" ||
      say "memory: untimed first write failed (see $work/log/$sys-$run.log)"
  fi
  seq_copy "$sys" "$run" seqw "$work/src" "$uri" || return 1
  if [ $restart = 1 ]; then
    srv_stop
    srv_start "$sys" "$run" "$bucket" || return 1
    seq_copy "$sys" "$run" seqr_cold "$uri" null: || return 1
  fi
  seq_copy "$sys" "$run" seqr_warm "$uri" null: || return 1
  fio_warmup "$sys" "$run"
  fio_run "$sys" "$run" rr_warm randread || return 1
  c0="$(rgw_counters)"
  fio_run "$sys" "$run" rw_warm randwrite || return 1
  if [ $restart = 1 ]; then
    srv_stop
    write_amp "$sys" "$run" rw_warm "$c0"
    [ "${sys#s3cow}" != "$sys" ] && s3cow_gc "$bucket"
    srv_start "$sys" "$run" "$bucket" || return 1
    fio_run "$sys" "$run" rr_cold randread || return 1
    srv_stop
    srv_start "$sys" "$run" "$bucket" || return 1
    c0="$(rgw_counters)"
    fio_run "$sys" "$run" rw_cold randwrite || return 1
    srv_stop
    write_amp "$sys" "$run" rw_cold "$c0"
  fi
  if [ "$sys" = s3cow ]; then
    srv_start "$sys" "$run" "$bucket" || return 1
    flush_one "$run"
  fi
  srv_stop
  return 0
}

run_raw ()
{
  local run="$1" bucket="bench-raw-$1" objsize out
  s3py bucket-create "$bucket" >>"$work/log/raw-$run.log" 2>&1 || return 1
  local r0 r1 k0 k1
  for objsize in 1M 4M; do
    for op in put get; do
      r0="$(lib_cpu_ticks "${rgw_pids[@]}")"
      k0="$(lib_child_ticks)"
      out="$(s3py raw "$op" "$bucket" "$objsize" "$size" 8 \
        2>>"$work/log/raw-$run.log")" || {
        say "raw $op of $objsize objects failed (see $work/log/raw-$run.log)"
        return 1
      }
      k1="$(lib_child_ticks)"
      r1="$(lib_cpu_ticks "${rgw_pids[@]}")"
      local m=seqw
      [ "$op" = get ] && m=seqr_cold
      record "raw$objsize" "$m" "$run" "$(mibs "${out% *}")"
      record "raw$objsize" "cpuc_$m" "$run" "$(cpu_per_gib $((k1 - k0)))"
      record "raw$objsize" "cpur_$m" "$run" "$(cpu_per_gib $((r1 - r0)))"
      say "raw S3 run $run: $op $objsize objects: $(mibs "${out% *}") MiB/s"
    done
  done
}

# report: the results file from what was measured so far, and stdout.
load_start="?"
load_end="?"
fork_out="$work/fork.txt"
report ()
{
  local secs
  secs="$(elapsed "$t_start" "$(now)")"
  [ "$load_end" != "?" ] || load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
  "$py" "$root/scripts/bench-table.py" "$data" "$fork_out" \
    --size "$size" --runs "$runs" --runtime "$runtime" \
    --fio-size "$fio_size" --command "$cmdline" --seconds "$secs" \
    --load "$load_start" --load-end "$load_end" --pinning "$pinning" \
    --rev "$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')" \
    >"$results" || { say "bench-table.py failed"; return 1; }
  cat "$results"
  say "results in $results (took $(printf '%.0f' "$secs") s)"
}

# --- 6. Run -----------------------------------------------------------------------

say "source data: $((size >> 20)) MiB of random bytes"
head -c "$size" /dev/urandom >"$work/src" || die "cannot write $work/src"

# Warm the S3 server up (untimed): its first SIZE of PUTs after start runs
# slower (the OSD touches fresh memory), which would fall on whichever
# system comes first in run 1.
case " $systems " in
  *" raw "* | *" s3plugin "* | *" s3backer "* | *" s3cow "*)
    say "warming the S3 server up: $((size >> 20)) MiB of untimed PUTs"
    { s3py bucket-create bench-warmup && s3py raw put bench-warmup 1M "$size" 8 &&
      s3py bucket-delete bench-warmup; } >>"$work/log/warmup.log" 2>&1 ||
      say "warm-up failed (see $work/log/warmup.log)"
    rgw_gc
    ;;
esac

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for ((run = 1; run <= runs; run++)); do
  for sys in $systems; do
    say "== run $run of $runs: $sys"
    if [ "$sys" = raw ]; then
      run_raw "$run" || say "raw S3 run $run failed"
      s3py bucket-delete "bench-raw-$run" >/dev/null 2>&1
      rgw_gc
      continue
    fi
    if ! run_system "$sys" "$run"; then
      say "$sys run $run failed; its rows stay incomplete"
      srv_stop
    fi
    if [ "$sys" != memory ]; then
      s3py bucket-delete "bench-$sys-$run" >/dev/null 2>&1
      rgw_gc
    fi
  done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

: >"$fork_out"
if [ "$fork" = 1 ] && has s3cow && [ -x "$root/scripts/bench-fork.sh" ]; then
  if [ -x "$cli" ]; then
    say "== fork times (scripts/bench-fork.sh)"
    # Every dense disk synthesised ("fill"): fork time does not depend on
    # how the map was made, and this saves a 1 GiB upload.
    step 1200 "$fork_out" env BUILD="$build" \
      BENCH_DENSE_1G="${BENCH_DENSE_1G:-fill}" "$root/scripts/bench-fork.sh" ||
      say "bench-fork.sh failed (see $fork_out)"
  else
    say "no $cli: skipping fork times"
  fi
fi

# --- 7. The table ----------------------------------------------------------------

report
