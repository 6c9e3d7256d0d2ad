#!/usr/bin/python3
"""S3 GETs in flight over time, from s3cow's HTTP debug lines.

  nbdkit -f -v ... s3cow ... -D s3cow.http=1 2>&1 \\
    | scripts/http-inflight.py [--log FILE] [--step SECONDS]
  scripts/http-inflight.py --stamped [--step SECONDS] < FILE   # again

Each line read is stamped with the time it arrived (nbdkit's debug lines
carry no time) and, with --log, written to FILE.  A line
"GET <what> -> <status>, <n> bytes, <ms> ms" ends a request that started
<ms> earlier.  At the end of the input it prints the number of GETs, the
mean number in flight over the span from the first start to the last end,
the share of time spent at each count, the GET times (p50, p90), and with
--step the mean in flight per step.  --stamped reads a FILE that --log
wrote (each line starts with its time).  For benchmarks only: stamping costs a
little CPU per line.
"""

import argparse
import re
import sys
import time

GET = re.compile(r"debug: GET \S+ -> \d+.*, ([\d.]+) ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", help="write the stamped lines here")
    ap.add_argument("--step", type=float, help="print in flight per step (s)")
    ap.add_argument("--stamped", action="store_true",
                    help="the input is a --log file: times are in it")
    args = ap.parse_args()
    log = open(args.log, "w", buffering=1) if args.log else None
    events, times = [], []
    for line in sys.stdin:
        if args.stamped:
            stamp, _, line = line.partition(" ")
            t = float(stamp)
        else:
            t = time.monotonic()
        if log:
            log.write(f"{t:.6f} {line}")
        m = GET.search(line)
        if m:
            ms = float(m.group(1))
            times.append(ms)
            events.append((t - ms / 1000, +1))
            events.append((t, -1))
    if not events:
        sys.exit("http-inflight: no GET lines (run with -v -D s3cow.http=1)")
    events.sort()
    t0, span = events[0][0], events[-1][0] - events[0][0]
    share, steps = {}, {}
    n, last = 0, t0
    for t, d in events:
        share[n] = share.get(n, 0.0) + (t - last)
        if args.step and n:
            k = int((last - t0) / args.step)
            a = last
            while a < t:  # spread n over the steps from last to t
                b = min(t, t0 + (k + 1) * args.step)
                if b > a:
                    steps[k] = steps.get(k, 0.0) + n * (b - a)
                    a = b
                k += 1
        n += d
        last = t
    mean = sum(k * v for k, v in share.items()) / span if span > 0 else 0
    times.sort()
    print(f"GETs {len(times)} in {span:.2f} s; mean in flight {mean:.2f}; "
          f"GET ms p50 {times[len(times) // 2]:.1f} "
          f"p90 {times[int(len(times) * 0.9)]:.1f}")
    print("share of time at each count in flight: " + "  ".join(
        f"{k}:{v / span * 100:.0f}%" for k, v in sorted(share.items())
        if span > 0 and v / span >= 0.01))
    if args.step:
        print(f"mean in flight per {args.step} s: " + " ".join(
            f"{steps.get(k, 0.0) / args.step:.1f}"
            for k in range(int(span / args.step) + 1)))


if __name__ == "__main__":
    main()
