#!/bin/bash
# The long version of the fault-injection tests (tests/test-fault-*.sh):
# more data, more faults, longer outages, every outage mode.  For people,
# not CI: it takes about 15 minutes on a small machine.
#
#   scripts/fault-long.sh
#
# Every run goes through tests/faultproxy.py in front of a real S3 server
# and checks every byte against a model (tests/faultload.py):
#
#   random   1 GiB of random writes, reads and flushes on a 256 MiB disk
#            (256K chunks, 16M cache) under 15% injected faults of every
#            kind (2% of requests each; about 13% of all requests get one);
#            60 flushes whose head and lease PUTs land with their
#            responses lost; the whole disk read back through the faults
#            and again, after a restart, straight from S3
#   random   the same with 1M chunks, 64M cache, 512 MiB, 10% faults
#   outage   three times, 30 s outages past a 3 s retry budget, with the
#            outage modes reset / refuse / hang: flush gives EIO, nothing
#            is lost, writers into a full write-back buffer get EIO and
#            memory stays bounded
#   corrupt  64 MiB read 8 times with 20% truncated and 20% corrupted
#            GET bodies; then 10% of the chunks damaged "in the bucket"
#            (the same bit flipped in every GET): EIO, never bad data
#   lease    a lease renewal that landed with its response lost: the
#            server keeps its lease (it recognises its own renewal)
#
# It ends with the RESULT line of each run: faults injected, bytes moved
# and verified.  Logs stay in $FAULT_LOGS (default /tmp/s3cow-fault-long).
#
# Environment:
#   S3COW_PLUGIN        the plugin .so (default: build it with
#                       scripts/build.sh and use build/)
#   S3COW_TEST_ENDPOINT an S3 server (+ _ACCESS_KEY, _SECRET_KEY, _REGION);
#                       default: start a throw-away Ceph RGW
#   FAULT_SEED          seed of every run (default: the time)
#   FAULT_LONG_MOVED    bytes moved by the first random run (default 1G)

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seed="${FAULT_SEED:-$(date +%s)}"
logs="${FAULT_LOGS:-/tmp/s3cow-fault-long}"
moved="${FAULT_LONG_MOVED:-1G}"
export PATH="/usr/bin:$PATH" # nbdsh and python3-libnbd: Debian's python3

say ()
{
  echo "==> $*"
}

# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
trap lib_rgw_stop EXIT

if [ -z "${S3COW_PLUGIN:-}" ]; then
  "$root/scripts/build.sh"
  export S3COW_PLUGIN="$root/build/plugin/.libs/nbdkit-s3cow-plugin.so"
fi
[ -f "$S3COW_PLUGIN" ] || {
  echo "fault-long: no plugin at $S3COW_PLUGIN" >&2
  exit 1
}
/usr/bin/python3 -c 'import nbd' || {
  echo "fault-long: needs python3-libnbd (Debian's /usr/bin/python3)" >&2
  exit 1
}

lib_test_s3 fault || exit 1

rm -rf "$logs"
mkdir -p "$logs"
results=()
failed=0

s3curl ()
{
  curl -sS --max-time 60 \
    --aws-sigv4 "aws:amz:$S3COW_TEST_REGION:s3" \
    --user "$S3COW_TEST_ACCESS_KEY:$S3COW_TEST_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# run NAME -- FAULTLOAD-ARGS...
run ()
{
  local name="$1" status=0 t0
  shift
  shift # --
  export tmpdir="$logs/$name"
  mkdir -p "$tmpdir"
  export bucket="s3cow-fault-$$-$name"
  s3curl -f -o /dev/null -X PUT "$S3COW_TEST_ENDPOINT/$bucket"
  say "$name: faultload.py $* --seed $seed"
  t0=$(date +%s)
  /usr/bin/python3 "$root/tests/faultload.py" "$@" --seed "$seed" \
    2>&1 | tee "$tmpdir/out" || status=$?
  local result
  result="$(grep -E 'RESULT|FAIL' "$tmpdir/out" | tail -n 1 || true)"
  if [ "$status" -eq 0 ]; then
    results+=("PASS  $name: ${result#faultload: }")
  else
    results+=("FAIL  $name ($(($(date +%s) - t0)) s): ${result#faultload: }")
    failed=$((failed + 1))
  fi
}

run random-256k -- random --moved "$moved" --fault-rate 0.15 \
  --disk 256M --chunk 256K --cache 16M --threads 8 --timeout 2 \
  --retry-time 30 --verify-through-proxy --cas-rounds 60
run random-1m -- random --moved 512M --fault-rate 0.10 \
  --disk 512M --chunk 1M --cache 64M --threads 8 --timeout 2 \
  --retry-time 30 --cas-rounds 20
run outage-reset -- outage --disk 128M --chunk 256K --cache 32M \
  --timeout 2 --retry-time 3 --outage 30 --outage-mode reset \
  --fill-mode refuse --fill-seconds 20
run outage-refuse -- outage --disk 128M --chunk 256K --cache 32M \
  --timeout 2 --retry-time 3 --outage 30 --outage-mode refuse \
  --fill-mode hang --fill-seconds 20
run outage-hang -- outage --disk 128M --chunk 1M --cache 64M \
  --timeout 2 --retry-time 3 --outage 30 --outage-mode hang \
  --fill-mode reset --fill-seconds 20
run corrupt -- corrupt --disk 64M --chunk 256K --cache 8M --timeout 2 \
  --retry-time 30 --passes 8 --truncate 0.2 --corrupt 0.2 --rot 0.1
run lease -- lease --disk 16M --chunk 256K --cache 8M \
  --timeout 1 --retry-time 2 --lease 9

echo
echo "fault-long: seed $seed (FAULT_SEED=$seed reruns it); logs in $logs"
for r in "${results[@]}"; do
  echo "  $r"
done
[ "$failed" -eq 0 ]
