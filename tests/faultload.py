#!/usr/bin/python3
"""faultload.py: workloads that drive s3cow through faultproxy.py and
check every byte against a model.  Used by tests/test-fault-*.sh and
scripts/fault-long.sh.

  faultload.py random  [options]   random writes, reads and flushes under
                                   injected faults; no client-visible error
  faultload.py outage  [options]   an outage longer than the retry budget:
                                   flush fails with EIO, nothing is lost,
                                   memory stays bounded
  faultload.py corrupt [options]   truncated and corrupted GET bodies are
                                   retried, never returned nor cached
  faultload.py readahead [options] sequential reads served by read-ahead:
                                   right under faults, racing writes, and
                                   failing only where their own chunk does
  faultload.py lost-commit         a commit that landed but whose answers
                                   were all lost: the next commit finds it

Settings come from the environment, as for the other tests:
S3COW_PLUGIN, S3COW_TEST_ENDPOINT, S3COW_TEST_ACCESS_KEY,
S3COW_TEST_SECRET_KEY, S3COW_TEST_REGION, tmpdir (a scratch directory)
and bucket (a fresh bucket).  Logs (nbdkit's and the proxy's) go to
$tmpdir.  Every failure ends with one line "faultload: FAIL: ...".
Run with -h after a scenario for its options.

This file is the command line; the scenarios are in faultload_data.py
and faultload_durability.py, over faultload_harness.py (the proxy and
nbdkit processes) and faultload_model.py (what the disk must hold).
"""

import argparse
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import faultproxy  # noqa: E402
from faultload_data import (scenario_corrupt, scenario_random,  # noqa: E402
                            scenario_readahead)
from faultload_durability import (scenario_lease,  # noqa: E402
                                  scenario_lost_commit, scenario_outage)
from faultload_harness import MiB, die, say, size  # noqa: E402
from faultload_model import Mismatch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="scenario", required=True)

    def common(p, disk, chunk, cache):
        p.add_argument("--seed", type=int,
                       default=int(os.environ.get("FAULT_SEED",
                                                  int(time.time()))))
        p.add_argument("--disk", type=size, default=disk)
        p.add_argument("--chunk", type=size, default=chunk)
        p.add_argument("--cache", type=size, default=cache)
        p.add_argument("--timeout", type=float, default=2)

    p = sub.add_parser("random")
    common(p, 64 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--moved", type=size, default=256 * MiB,
                   help="bytes written + read by the workload")
    p.add_argument("--fault-rate", type=float, default=0.10,
                   help="share of requests that get a fault (all kinds)")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--retry-time", type=float, default=30)
    p.add_argument("--slow-seconds", type=float, default=3)
    p.add_argument("--verify-through-proxy", action="store_true",
                   help="also read the whole disk through the faults")
    p.add_argument("--cas-rounds", type=int, default=10,
                   help="flushes whose head PUT responses get lost")

    p = sub.add_parser("outage")
    common(p, 64 * MiB, 256 * 1024, 32 * MiB)
    p.add_argument("--retry-time", type=float, default=3)
    p.add_argument("--outage", type=float, default=10)
    p.add_argument("--end-outage-early", action="store_true",
                   help="end the first outage once the checks made during "
                   "it are done, not after --outage seconds")
    p.add_argument("--outage-mode", default="reset",
                   choices=faultproxy.OUTAGE_MODES)
    p.add_argument("--fill-seconds", type=float, default=8,
                   help="how long to keep writing once writes fail")
    p.add_argument("--fill-mode", default="refuse",
                   choices=faultproxy.OUTAGE_MODES,
                   help="outage mode while the write-back buffer fills")
    p.add_argument("--lease", type=int, default=120)
    p.add_argument("--commit-interval", type=float, default=5)

    p = sub.add_parser("corrupt")
    common(p, 16 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--retry-time", type=float, default=30)
    p.add_argument("--passes", type=int, default=4)
    p.add_argument("--truncate", type=float, default=0.15)
    p.add_argument("--corrupt", type=float, default=0.15)
    p.add_argument("--rot", type=float, default=0.1,
                   help="share of chunks damaged in the bucket (0: skip)")

    p = sub.add_parser("readahead")
    common(p, 32 * MiB, 256 * 1024, 16 * MiB)
    p.add_argument("--retry-time", type=float, default=30)
    p.add_argument("--read-ahead", type=size, default=4 * MiB)
    p.add_argument("--truncate", type=float, default=0.1)
    p.add_argument("--corrupt", type=float, default=0.1)
    p.add_argument("--rot", type=float, default=0.1,
                   help="share of chunks damaged in the bucket")

    p = sub.add_parser("lease")
    common(p, 16 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--retry-time", type=float, default=2)
    p.add_argument("--lease", type=int, default=9)

    p = sub.add_parser("lost-commit")
    common(p, 16 * MiB, 256 * 1024, 8 * MiB)
    p.add_argument("--retry-time", type=float, default=2)

    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    say("%s: seed %d (FAULT_SEED=%d reruns it)" % (a.scenario, a.seed,
                                                    a.seed))
    try:
        {"random": scenario_random, "outage": scenario_outage,
         "corrupt": scenario_corrupt, "lease": scenario_lease,
         "readahead": scenario_readahead,
         "lost-commit": scenario_lost_commit}[a.scenario](a)
    except Mismatch as e:
        die(str(e))


if __name__ == "__main__":
    main()
