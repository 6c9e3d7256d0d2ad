#!/bin/bash
# bench-knobs.sh: alternating rounds of raw 1 MiB GET/PUT (8 curl streams,
# scripts/bench-s3.py) against s3cow cold sequential reads (`nbdcopy URI
# null:`) and durable writes (`nbdcopy --flush`) with several parameter
# settings, each on a fresh server, with the RGW on CPU 0 and this script
# with all it runs on CPU 1 (rounds P) or both on CPUs 0-1 (rounds U).
#
# Usage (an RGW started under taskset, as root):
#   S3COW_RGW_DIR=/tmp/rgw-X S3COW_RGW_PORT=P taskset -c 0 scripts/rgw-start.sh
#   flock /tmp/s3cow-bench.lock env BUILD=B S3COW_RGW_DIR=/tmp/rgw-X \
#     scripts/bench-knobs.sh OUT.tsv "P U P U P"
#   scripts/bench-knobs-table.py OUT.tsv
#
# Each round: `uptime`; raw GET; a write that makes the export the reads
# read; the cold reads (READS, order rotated by round); raw GET; raw PUT;
# two more writes (WRITES: three settings, order rotated by round, each
# to a fresh export of fresh random data, since chunks are
# content-addressed); `uptime`; the round's bucket is deleted.  Every
# setting runs on a fresh nbdkit.  Out: one TSV line per row, "round mode
# kind setting MiB/s nbdkit-CPU-s/GiB client-CPU-s/GiB RGW-CPU-s/GiB
# peak-RSS-MiB load" (client: nbdcopy, or python + curl).
#
# Environment: BUILD (s3cow build directory), S3COW_RGW_DIR (a running
# RGW of scripts/rgw-start.sh; needs 3 * SIZE + SIZE of memstore), SIZE
# (bytes, default 1 GiB), BUDGET (seconds after which no round starts,
# default 1140), READS and WRITES (settings separated by ";", "defaults"
# for none; WRITES has exactly three), WORK (default /tmp/bench-knobs.$$).
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD:?set BUILD to an s3cow build directory}"
plugin=$build/plugin/.libs/nbdkit-s3cow-plugin.so
rgw_dir="${S3COW_RGW_DIR:?set S3COW_RGW_DIR to a running RGW}"
out="${1:?usage: bench-knobs.sh OUT.tsv ROUNDS}"
rounds="${2:?usage: bench-knobs.sh OUT.tsv ROUNDS (e.g. "P U P")}"
budget="${BUDGET:-1140}"
work="${WORK:-/tmp/bench-knobs.$$}"
mkdir -p "$work"
py=/usr/bin/python3
[ -f "$plugin" ] || { echo "bench-knobs: $plugin is not built" >&2; exit 1; }
# shellcheck disable=SC1091 # written by rgw-start.sh
. "$rgw_dir/env"
export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
export AWS_DEFAULT_REGION="$S3COW_TEST_REGION"
printf '%s' "$S3COW_TEST_SECRET_KEY" >"$work/secret"
chmod 600 "$work/secret"
size="${SIZE:-$((1 << 30))}"
sock="$work/nbd.sock"
uri="nbd+unix:///?socket=$sock"
hz="$(getconf CLK_TCK)"
rgw_pids=("$(cat "$rgw_dir/mon.pid")" "$(cat "$rgw_dir/osd.pid")" "$(cat "$rgw_dir/rgw.pid")")
say () { echo "bench-knobs: $(date -u +%T) $*" >&2; }
s3py () { timeout 600 "$py" "$root/scripts/bench-s3.py" "$@"; }
cpu_ticks ()
{
  local p n=0 v
  for p in "$@"; do
    v="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')"
    n=$((n + ${v:-0}))
  done
  echo "$n"
}
child_ticks () { sed 's/.*) //' /proc/$$/stat | awk '{ print $14 + $15 }'; }
per_gib () { awk -v n="$1" -v hz="$hz" -v s="$size" 'BEGIN { printf "%.2f", n / hz / (s / 1073741824) }'; }
mibs () { awk -v s="$size" -v t="$1" 'BEGIN { printf "%.1f", s / 1048576 / t }'; }
load () { cut -d' ' -f1 /proc/loadavg; }
pin_check ()
{
  # one awk over every thread's status (radosgw has ~600 threads)
  local what="$1" want="$2" p bad=0 n
  shift 2
  for p in "$@"; do
    n="$(awk -v w="$want" '/^Cpus_allowed_list:/ && $2 != w { n++ } END { print n + 0 }' \
      /proc/"$p"/task/*/status 2>/dev/null)"
    [ "${n:-0}" = 0 ] && continue
    bad=$((bad + n))
    say "PIN: $what: $n threads of $p not on $want"
  done
  return $((bad > 0))
}
mode_rgw=0
mode_cli=1
set_mode ()
{
  local p
  if [ "$1" = P ]; then mode_rgw=0 mode_cli=1; else mode_rgw=0-1 mode_cli=0-1; fi
  for p in "${rgw_pids[@]}"; do
    taskset -a -p -c "$mode_rgw" "$p" >/dev/null || { say "taskset rgw $p failed"; exit 1; }
  done
  taskset -p -c "$mode_cli" $$ >/dev/null || { say "taskset self failed"; exit 1; }
  pin_check rgw "$mode_rgw" "${rgw_pids[@]}" || exit 1
  pin_check driver "$mode_cli" $$ || exit 1
}

srv=
srv_start ()
{
  local bucket="$1" export="$2" i
  shift 2
  rm -f "$sock" "$work/nbdkit.pid"
  nbdkit -f -U "$sock" -P "$work/nbdkit.pid" "$plugin" \
    bucket="$bucket" export="$export" size="$size" \
    endpoint="$S3COW_TEST_ENDPOINT" access-key="$S3COW_TEST_ACCESS_KEY" \
    secret-key=+"$work/secret" "$@" >>"$work/nbdkit.log" 2>&1 &
  srv=$!
  for ((i = 0; i < 600; i++)); do
    [ -s "$work/nbdkit.pid" ] && [ -S "$sock" ] && break
    kill -0 "$srv" 2>/dev/null || { say "nbdkit died"; return 1; }
    sleep 0.1
  done
  pin_check nbdkit "$mode_cli" "$srv" || say "PIN: nbdkit not pinned"
  pin_check rgw "$mode_rgw" "${rgw_pids[@]}" || say "PIN: rgw not pinned"
}
srv_stop ()
{
  local i
  [ -n "$srv" ] || return 0
  kill -TERM "$srv" 2>/dev/null
  for ((i = 0; i < 1200; i++)); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$srv" 2>/dev/null
  wait "$srv" 2>/dev/null
  srv=
}
trap 'srv_stop; rm -f "$work/src"' EXIT

# emit ROUND MODE KIND CONFIG MIBS NBDKIT CLIENT RGW RSS LOAD
emit () { printf '%s\t' "$@" | sed 's/\t$//' >>"$out"; echo >>"$out"; say "$*"; }

# s3cow_row ROUND MODE KIND(read|write) CONFIG BUCKET EXPORT OPTS...
s3cow_row ()
{
  local round="$1" mode="$2" kind="$3" config="$4" bucket="$5" export="$6"
  shift 6
  local opts=()
  [ "$config" = defaults ] || read -r -a opts <<<"$config"
  if [ "$kind" = write ]; then
    # fresh data: the chunks are content-addressed
    openssl enc -aes-128-ctr -nosalt -pass pass:"$export-$RANDOM$RANDOM" \
      </dev/zero 2>/dev/null | head -c "$size" >"$work/src"
  fi
  srv_start "$bucket" "$export" "${opts[@]}" || return 1
  local s0 s1 k0 k1 r0 r1 t0 t1 rss src dst flush=()
  if [ "$kind" = write ]; then src="$work/src" dst="$uri" flush=(--flush)
  else src="$uri" dst=null:; fi
  s0="$(cpu_ticks "$srv")"; r0="$(cpu_ticks "${rgw_pids[@]}")"; k0="$(child_ticks)"
  t0="$EPOCHREALTIME"
  timeout 600 nbdcopy "${flush[@]}" "$src" "$dst" || { say "nbdcopy failed"; srv_stop; return 1; }
  t1="$EPOCHREALTIME"
  k1="$(child_ticks)"; r1="$(cpu_ticks "${rgw_pids[@]}")"; s1="$(cpu_ticks "$srv")"
  rss=$(($(awk '/^VmHWM:/ { print $2 }' "/proc/$srv/status") / 1024))
  srv_stop
  emit "$round" "$mode" "$kind" "$config" \
    "$(mibs "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")" \
    "$(per_gib $((s1 - s0)))" "$(per_gib $((k1 - k0)))" "$(per_gib $((r1 - r0)))" \
    "$rss" "$(load)"
}

raw_row ()
{
  local round="$1" mode="$2" op="$3" o k0 k1 r0 r1
  r0="$(cpu_ticks "${rgw_pids[@]}")"; k0="$(child_ticks)"
  o="$(s3py raw "$op" knobs-raw 1M "$size" 8 2>>"$work/raw.log")" || { say "raw $op failed"; return 1; }
  k1="$(child_ticks)"; r1="$(cpu_ticks "${rgw_pids[@]}")"
  emit "$round" "$mode" "raw-$op" "8 streams" "$(mibs "${o% *}")" "-" \
    "$(per_gib $((k1 - k0)))" "$(per_gib $((r1 - r0)))" "-" "$(load)"
}

IFS=';' read -r -a reads <<<"${READS:-defaults;read-ahead-threads=2;read-ahead-threads=8;connections=8;connections=32;read-ahead=32M;read-ahead=16M}"
IFS=';' read -r -a writes <<<"${WRITES:-defaults;connections=8;connections=32}"
[ ${#writes[@]} = 3 ] || { say "WRITES needs three settings"; exit 1; }
t_start=$SECONDS
set_mode P
s3py bucket-create knobs-raw >/dev/null 2>&1
say "untimed warm-up: raw PUT of 1 GiB"
s3py raw put knobs-raw 1M "$size" 8 >/dev/null 2>>"$work/raw.log"
n=0
for mode in $rounds; do
  if [ $((SECONDS - t_start)) -gt "$budget" ]; then
    say "budget used: no round $((n + 1))"; break
  fi
  n=$((n + 1))
  set_mode "$mode"
  bucket="knobs-r$n"
  s3py bucket-create "$bucket" >/dev/null 2>&1
  emit "$n" "$mode" uptime "start" "$(uptime)" - - - - "$(load)"
  raw_row "$n" "$mode" get
  # three writes, order rotated by round; the first makes the export
  # that the reads read (its chunks are the same whatever wrote them)
  s3cow_row "$n" "$mode" write "${writes[$(((n - 1) % 3))]}" "$bucket" "w0"
  # reads of w0, order rotated by round
  for ((i = 0; i < ${#reads[@]}; i++)); do
    c="${reads[$(((i + n - 1) % ${#reads[@]}))]}"
    s3cow_row "$n" "$mode" read "$c" "$bucket" "w0"
  done
  raw_row "$n" "$mode" get
  raw_row "$n" "$mode" put
  for ((i = 1; i < 3; i++)); do
    c="${writes[$(((i + n - 1) % 3))]}"
    s3cow_row "$n" "$mode" write "$c" "$bucket" "w$i"
  done
  emit "$n" "$mode" uptime "end" "$(uptime)" - - - - "$(load)"
  s3py bucket-delete "$bucket" >/dev/null 2>&1
done
s3py bucket-delete knobs-raw >/dev/null 2>&1
say "done in $((SECONDS - t_start)) s"
