#!/bin/bash
# Boot-like replay: what a VM booting from a fork of a golden snapshot
# reads, at queue depth 1, on a fresh server each time: the first fork of
# the snapshot (nothing learned yet), a second fork (prefetching the
# working-set hint the first one left, prefetch=), and nbdkit's S3 plugin
# reading the same image.  Not a test: it prints a table.  Meant for an S3
# server with latency (each miss is a round trip):
#
#   S3COW_RGW_DIR=/tmp/rgw-lat S3COW_RGW_PORT=7480 S3COW_RGW_LATENCY=0.02 \
#     scripts/rgw-start.sh && . /tmp/rgw-lat/env
#   scripts/bench-boot.sh
#   (also: scripts/bench.sh boot)
#
# The trace: READS reads of 4 to 128 KiB (4 KiB aligned), clustered in
# REGIONS random 1 MiB regions of the SIZE image (READS / REGIONS reads in
# each, regions visited in a random order), from a fixed seed: about
# REGIONS MiB of working set.  Every replay checks the SHA-256 of all it
# read against the image written (untimed).
#
# Environment: S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
# S3COW_TEST_SECRET_KEY (rgw-start.sh's env file): a fresh bucket is made
# there.  SIZE (default 1G), REGIONS (default 200), READS (default 4000),
# SEED (default 1), N (replays of each kind, each on its own new pair of
# forks; default 3), SYSTEMS (default "s3cow s3plugin"), BUILD (the build
# directory, default build/), S3COW_OPTS (extra plugin parameters).

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(realpath "${BUILD:-$root/build}")"
s3cow="$build/cli/s3cow"
plugin="$build/plugin/.libs/nbdkit-s3cow-plugin.so"
size_arg="${SIZE:-1G}"
regions="${REGIONS:-200}"
reads="${READS:-4000}"
seed="${SEED:-1}"
runs="${N:-3}"
systems="${SYSTEMS:-s3cow s3plugin}"
export PATH="/usr/bin:$PATH" # nbdsh and python3-libnbd: Debian's python3
py=/usr/bin/python3

die ()
{
  echo "bench-boot: $*" >&2
  exit 1
}
say ()
{
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

size="$(numfmt --from=iec "$size_arg" 2>/dev/null)" || die "SIZE: not a size"
[ $((size % (4 << 20))) = 0 ] || die "SIZE must be a multiple of 4 MiB"
if [ "$regions" -lt 1 ] || [ "$regions" -gt $((size >> 20)) ]; then
  die "REGIONS must be 1 to SIZE in MiB"
fi
[ "$reads" -ge "$regions" ] || die "READS must be at least REGIONS"
[ -x "$s3cow" ] || die "$s3cow not built (or set BUILD=)"
[ -f "$plugin" ] || die "$plugin not built"
for c in nbdkit nbdcopy curl; do
  command -v "$c" >/dev/null || die "needs $c"
done
[ -n "${S3COW_TEST_ENDPOINT:-}" ] ||
  die "set S3COW_TEST_ENDPOINT and keys (. RGW_DIR/env after rgw-start.sh)"
case " $systems " in
  *" s3plugin "*)
    nbdkit S3 --dump-plugin >/dev/null 2>&1 ||
      die "nbdkit's S3 plugin is missing (nbdkit-plugin-python, python3-boto3)"
    ;;
esac

tmp="$(mktemp -d /var/tmp/s3cow-bench-boot.XXXXXX)"
sock="$tmp/sock"
uri="nbd+unix:///?socket=$sock"
srv_pid=
cleanup ()
{
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

export S3COW_ENDPOINT="$S3COW_TEST_ENDPOINT"
export AWS_ACCESS_KEY_ID="$S3COW_TEST_ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$S3COW_TEST_SECRET_KEY"
export AWS_REGION="${S3COW_TEST_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export S3COW_BUCKET="s3cow-boot-$$"
curl -sSf -o /dev/null -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  "$S3COW_ENDPOINT/$S3COW_BUCKET" || die "cannot create a bucket"
printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$tmp/secret"

# srv_start ARGS...: nbdkit on $sock; srv_stop: stop it (a clean stop:
# s3cow writes the working-set hint at close).
srv_start ()
{
  local i
  rm -f "$sock" "$tmp/pid"
  nbdkit -f -U "$sock" -P "$tmp/pid" "$@" >>"$tmp/nbdkit.log" 2>&1 &
  srv_pid=$!
  for ((i = 0; i < 600; i++)); do
    [ -s "$tmp/pid" ] && [ -S "$sock" ] && return 0
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$tmp/nbdkit.log" >&2
  die "nbdkit did not start: $*"
}
srv_stop ()
{
  kill "$srv_pid"
  wait "$srv_pid" || die "nbdkit exited with an error (above)"
  srv_pid=
}
s3cow_srv ()
{
  # shellcheck disable=SC2086 # S3COW_OPTS is a list of parameters
  srv_start "$plugin" bucket="$S3COW_BUCKET" endpoint="$S3COW_ENDPOINT" \
    access-key="$AWS_ACCESS_KEY_ID" secret-key=+"$tmp/secret" \
    stats="$tmp/stats" "$@" ${S3COW_OPTS:-}
}
s3plugin_srv ()
{
  # As scripts/bench.sh: nbdkit 1.32 refuses the plugin's own 4M minimum.
  srv_start --filter=blocksize-policy S3 blocksize-minimum=4096 \
    blocksize-preferred=4M blocksize-maximum=4M \
    endpoint-url="$S3COW_ENDPOINT" bucket="$S3COW_BUCKET" key=golden \
    size="$size" object-size=4M
}

# The trace, and the SHA-256 of what it reads from the image.
say "image: $((size >> 20)) MiB of random bytes; trace: $reads reads in" \
  "$regions regions of 1 MiB (seed $seed)"
head -c "$size" /dev/urandom >"$tmp/image"
"$py" - "$size" "$regions" "$reads" "$seed" "$tmp/image" "$tmp/trace" \
  >"$tmp/expect" <<'EOF'
import hashlib, random, sys
size, regions, reads, seed = map(int, sys.argv[1:5])
rnd = random.Random(seed)
starts = rnd.sample(range(size >> 20), regions)
h = hashlib.sha256()
with open(sys.argv[5], "rb") as img, open(sys.argv[6], "w") as out:
    for k, r in enumerate(starts):
        n = reads // regions + (1 if k < reads % regions else 0)
        for _ in range(n):
            length = rnd.randrange(1, 33) * 4096
            off = (r << 20) + rnd.randrange(0, (1 << 20) - length + 1, 4096)
            out.write("%d %d\n" % (off, length))
            img.seek(off)
            h.update(img.read(length))
print(h.hexdigest())
EOF

# replay EXPORT: the trace at queue depth 1; prints seconds, checks data.
replay ()
{
  "$py" - "$uri" "$1" "$tmp/trace" "$(cat "$tmp/expect")" <<'EOF'
import hashlib, sys, time, nbd
uri, export, trace, expect = sys.argv[1:5]
ops = [tuple(map(int, l.split())) for l in open(trace)]
h = nbd.NBD()
h.set_export_name(export)
h.connect_uri(uri)
got = []
t0 = time.monotonic()
for off, length in ops:
    got.append(h.pread(length, off))
t1 = time.monotonic()
h.shutdown()
d = hashlib.sha256()
for b in got:
    d.update(b)
if d.hexdigest() != expect:
    sys.exit("bench-boot: %s: what was read differs from the image" % export)
print("%.2f" % (t1 - t0))
EOF
}

# stat NAME: an s3cow counter from the last stats file.
stat ()
{
  awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }' "$tmp/stats" \
    2>/dev/null || echo 0
}

# The golden image, once per system.
case " $systems " in
  *" s3cow "*)
    say "s3cow: writing the golden disk, snapshot golden@v1"
    "$s3cow" create golden "$size" >/dev/null
    s3cow_srv
    nbdcopy --flush "$tmp/image" "nbd+unix:///golden?socket=$sock"
    srv_stop
    "$s3cow" snapshot golden v1 >/dev/null
    ;;
esac
case " $systems " in
  *" s3plugin "*)
    say "S3 plugin: writing the image (4 MiB objects)"
    s3plugin_srv
    nbdcopy --flush "$tmp/image" "$uri"
    srv_stop
    ;;
esac

: >"$tmp/results"
for ((run = 1; run <= runs; run++)); do
  case " $systems " in
    *" s3cow "*)
      # A new snapshot per run, so that each first fork learns from nothing.
      "$s3cow" snapshot golden "r$run" >/dev/null
      "$s3cow" fork "golden@r$run" "a$run" >/dev/null
      "$s3cow" fork "golden@r$run" "b$run" >/dev/null
      for f in a b; do
        s3cow_srv export="$f$run"
        t="$(replay "$f$run")"
        sleep 1.2 # one more write of the stats file
        loads="$(stat s3cow_prefetch_loads_total)"
        hits="$(stat s3cow_prefetch_hits_total)"
        srv_stop
        kind=first
        [ "$f" = b ] && kind=second
        printf 's3cow-%s\t%s\t%s\t%s\n' "$kind" "$t" "$loads" "$hits" \
          >>"$tmp/results"
        say "run $run: s3cow $kind fork: $t s ($loads chunks prefetched," \
          "$hits reads found them)"
      done
      ;;
  esac
  case " $systems " in
    *" s3plugin "*)
      s3plugin_srv
      t="$(replay "")"
      srv_stop
      printf 's3plugin\t%s\t-\t-\n' "$t" >>"$tmp/results"
      say "run $run: S3 plugin: $t s"
      ;;
  esac
done

"$py" - "$tmp/results" "$size" "$regions" "$reads" "$runs" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
size, regions, reads, runs = map(int, sys.argv[2:6])
med = {}
print("## Boot-like replay: %d reads (4-128 KiB) in %d MiB of a %d MiB image, "
      "queue depth 1, medians of %d" % (reads, regions, size >> 20, runs))
print()
print("| system | seconds (median) | min-max | prefetched chunks |")
print("|---|---|---|---|")
names = {"s3cow-first": "s3cow, first fork of a snapshot",
         "s3cow-second": "s3cow, second fork (prefetch=on)",
         "s3plugin": "nbdkit S3 plugin"}
for k in ("s3cow-first", "s3cow-second", "s3plugin"):
    v = [float(r[1]) for r in rows if r[0] == k]
    if not v:
        continue
    med[k] = statistics.median(v)
    pf = [r[2] for r in rows if r[0] == k]
    print("| %s | %.2f | %.2f-%.2f | %s |" % (names[k], med[k], min(v),
          max(v), ", ".join(pf)))
print()
if "s3cow-first" in med and "s3cow-second" in med:
    print("second fork against first fork: %.2f× the speed"
          % (med["s3cow-first"] / med["s3cow-second"]))
if "s3cow-first" in med and "s3plugin" in med:
    print("first fork against the S3 plugin: %.2f× the speed"
          % (med["s3plugin"] / med["s3cow-first"]))
EOF
