#!/usr/bin/env bash
# s3cow gc running again and again (--grace 8s) while a server writes and
# flushes disk d, and snapshots, forks and removals happen:
#  - for GC_SECONDS (15) a client writes random chunks and partial blocks
#    of d and flushes (each flush acknowledged is recorded in a model);
#    d commits often, so it compacts its maps (old maps and overwritten
#    chunks become garbage while it runs); cache-size is 32 chunks, so
#    reads go to the bucket too;
#  - every 3 s: s3cow snapshot d and s3cow fork d (the model at that
#    flush), a write to the new fork, and removal of the snapshot and fork
#    before the last two;
#  - meanwhile gc runs in a loop, and must delete something;
#  - then: d, the remaining snapshots and forks read as their models
#    through the running server, and again from a new server after a stop;
#    fsck is clean; gc --grace 0s with no server running, then all read
#    right again and fsck is clean.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3
requires nbdkit nbdsh s3cow
use_store
GRACE=8

s3cow create d 2M --chunk-size 64K
serve gc-grace=$GRACE retry-time=1 timeout=1 commit-interval=1 \
  cache-size=2M 2>"$tmpdir/log"

(
  while [ ! -e "$tmpdir/stop-gc" ]; do
    if s3cow -q gc --grace ${GRACE}s >>"$tmpdir/gc.out" 2>&1; then
      echo ok >>"$tmpdir/gc.runs"
    else
      echo "gc failed" >>"$tmpdir/gc.out"
    fi
    sleep 0.3
  done
) &
gc_pid=$!
stop_gc_loop ()
{
  kill "$1" 2>/dev/null || true
}
cleanup_fn stop_gc_loop "$gc_pid"

SECS="${GC_SECONDS:-15}" CLI_TMP="$tmpdir" nbd_py '
import json, random, subprocess, time
CS = 65536
SIZE = 32 * CS
rng = random.Random(int(os.environ.get("GC_SEED", "1")))
model = bytearray(SIZE)
models = {}              # export name -> bytes (what it must read as)
h = _conn("d")
n = 0
def cli(*args):
    subprocess.run(["s3cow"] + list(args), check=True,
                   stdout=subprocess.DEVNULL)
def check(name, h2=None):
    got = (h2 or h).pread(SIZE, 0) if name == "d" else r(name, 0, SIZE)
    if got != models[name]:
        bad = next(i for i in range(SIZE) if got[i] != models[name][i])
        sys.exit("%s: wrong byte at %d (chunk %d)" % (name, bad, bad // CS))
end = time.monotonic() + float(os.environ["SECS"])
last_snap = time.monotonic()
k = 0
live = []
while time.monotonic() < end:
    for _ in range(rng.randrange(1, 4)):
        n += 1
        if rng.random() < 0.5:
            i = rng.randrange(32)
            data = pattern("w%d" % n, CS)
            h.pwrite(data, i * CS)
            model[i * CS:(i + 1) * CS] = data
        else:
            off = rng.randrange(SIZE // 4096) * 4096
            data = pattern("p%d" % n, 4096)
            h.pwrite(data, off)
            model[off:off + 4096] = data
    h.flush()
    models["d"] = bytes(model)
    if rng.random() < 0.2:
        check("d")
    if time.monotonic() - last_snap > 3:
        last_snap = time.monotonic()
        k += 1
        cli("snapshot", "d", "s%d" % k)
        models["d@s%d" % k] = bytes(model)
        cli("fork", "d", "f%d" % k)
        fm = bytearray(model)
        data = pattern("f%d" % k, CS)
        w("f%d" % k, (k % 32) * CS, data)
        fm[(k % 32) * CS:(k % 32 + 1) * CS] = data
        models["f%d" % k] = bytes(fm)
        live.append(k)
        if len(live) > 2:
            old = live.pop(0)
            cli("rm", "d@s%d" % old)
            cli("rm", "f%d" % old)
            del models["d@s%d" % old], models["f%d" % old]
for name in sorted(models):
    check(name)
h.shutdown()
json.dump({k: v.hex() for k, v in models.items()},
          open(os.path.join(os.environ["CLI_TMP"], "models.json"), "w"))
print("%d writes, %d snapshots and forks; %s read right"
      % (n, k, ", ".join(sorted(models))))
' || {
  tail -n 20 "$tmpdir/log"
  fail "data wrong while gc ran (above)"
}
touch "$tmpdir/stop-gc"
wait "$gc_pid" || true
runs=$(wc -l <"$tmpdir/gc.runs")
deleted=$(sed -n 's/.*deleted \([0-9]*\) maps and \([0-9]*\) chunks.*/\1 \2/p' \
  "$tmpdir/gc.out" | awk '{ m += $1; c += $2 } END { print m + 0, c + 0 }')
echo "gc: $runs runs, deleted (maps chunks): $deleted"
grep "gc failed\|error" "$tmpdir/gc.out" | sort | uniq -c | head -5 || true
[ "$runs" -ge 5 ] || fail "gc ran only $runs times"
[ "$deleted" != "0 0" ] || fail "gc deleted nothing: the test did not test"
stop_nbdkit || fail "nbdkit exited with status $?"

check_all ()
{
  serve cache-size=2M
  CLI_TMP="$tmpdir" nbd_py '
import json
models = json.load(open(os.path.join(os.environ["CLI_TMP"], "models.json")))
for name, want in sorted(models.items()):
    got = r(name, 0, len(want) // 2)
    if got != bytes.fromhex(want):
        sys.exit("%s reads wrong" % name)
' || fail "data wrong $1"
  stop_nbdkit || fail "nbdkit exited with status $?"
  s3cow fsck >"$tmpdir/fsck" || { cat "$tmpdir/fsck"; fail "fsck $1"; }
}
check_all "after the run, from a new server"
s3cow gc --force --grace 0s
check_all "after gc --grace 0s"
echo "$0: PASS"
