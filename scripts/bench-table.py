#!/usr/bin/python3
"""Turn the measurements of scripts/bench.sh into its markdown results.

  bench-table.py DATA.tsv FORK.txt --size BYTES --runs N --runtime SECS
                 --command CMD --seconds SECS --load L --load-end L --rev REV
                 [--pinning TEXT]

DATA.tsv has one measurement a line: system, metric, run, value.  FORK.txt
is the output of scripts/bench-fork.sh (may be empty).
"""

import argparse
import re
import statistics
import sys

SYSTEMS = [
    ("memory", "nbdkit memory"),
    ("raw1M", "raw S3, 1 MiB objects"),
    ("raw4M", "raw S3, 4 MiB objects"),
    ("s3plugin", "nbdkit S3 plugin"),
    ("s3backer", "s3backer"),
    ("s3cow", "s3cow"),
    ("s3cow-tier", "s3cow, cache-dir="),
    ("s3cow-4m", "s3cow, chunk-size=4M"),
]
PEERS = [("memory", "memory"), ("raw", "raw S3 (best)"),
         ("s3plugin", "S3 plugin"), ("s3backer", "s3backer")]

# metric, label, has an RSS companion
ROWS = [
    ("seqw", "sequential write, `nbdcopy --flush`, MiB/s", True),
    ("seqr_cold", "sequential read, cold, MiB/s", True),
    ("seqr_warm", "sequential read, warm, MiB/s", True),
    ("rr_warm", "4k random read, warm, IOPS (fio)", True),
    ("rw_warm", "4k random write, warm, IOPS (fio)", True),
    ("rr_cold", "4k random read, cold, IOPS (fio)", True),
    ("rw_cold", "4k random write, cold, IOPS (fio)", True),
    ("req_seqw", "S3 requests per GiB written ↓", False),
    ("req_seqr_cold", "S3 requests per GiB read (cold) ↓", False),
    ("amp_rw_warm", "bytes PUT to S3 per byte of 4k random write, warm ↓",
     False),
    ("amp_rw_cold", "bytes PUT to S3 per byte of 4k random write, cold ↓",
     False),
    ("rss_max", "peak RSS of the server over all rows, MiB ↓", False),
    ("cpuc_seqw", "CPU s per GiB written, client side (server + nbdcopy; "
     "raw: python + curl) ↓", False),
    ("cpur_seqw", "CPU s per GiB written, RGW (radosgw + ceph-osd + "
     "ceph-mon) ↓", False),
    ("cpuc_seqr_cold", "CPU s per GiB read cold, client side (server + "
     "nbdcopy; raw: python + curl) ↓", False),
    ("cpur_seqr_cold", "CPU s per GiB read cold, RGW ↓", False),
]
RSS_METRICS = [m for m, _, r in ROWS if r]


def fmt(v):
    if v is None:
        return "—"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("fork")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--runtime", type=int, required=True)
    ap.add_argument("--fio-size", type=int, default=0)
    ap.add_argument("--command", default="scripts/bench.sh")
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--load", default="?")
    ap.add_argument("--load-end", default="?")
    ap.add_argument("--rev", default="?")
    ap.add_argument("--pinning", default="none")
    a = ap.parse_args()

    vals = {}  # (system, metric) -> [values by run]
    for line in open(a.data):
        f = line.rstrip("\n").split("\t")
        if len(f) != 4:
            continue
        try:
            vals.setdefault((f[0], f[1]), []).append(float(f[3]))
        except ValueError:
            pass
    # Rows whose data did not read back equal to what was written: dropped.
    bad = sorted((k[0], k[1][4:]) for k in vals if k[1].startswith("bad_"))
    for k in bad:
        vals.pop(k, None)
    # The largest peak RSS of any row, per run.
    for sysname, _ in SYSTEMS:
        per_run = {}
        for line in open(a.data):
            f = line.rstrip("\n").split("\t")
            if len(f) == 4 and f[0] == sysname and f[1].startswith("rss_"):
                per_run[f[2]] = max(per_run.get(f[2], 0), float(f[3]))
        if per_run:
            vals[(sysname, "rss_max")] = list(per_run.values())

    def med(s, m):
        v = vals.get((s, m))
        return statistics.median(v) if v else None

    def best_raw(m):
        c = [x for x in (med("raw1M", m), med("raw4M", m)) if x is not None]
        if not c:
            return None
        return min(c) if m.startswith("cpu") else max(c)

    def peer(p, m):
        return best_raw(m) if p == "raw" else med(p, m)

    present = [(s, n) for s, n in SYSTEMS
               if any(k[0] == s for k in vals)]
    out = []
    w = out.append
    size_mib = a.size >> 20
    w(f"## s3cow benchmark: {size_mib} MiB, medians of {a.runs} run(s)")
    w("")
    w(f"Command: `{a.command}` (SIZE={size_mib}M, N={a.runs}, "
      f"RUNTIME={a.runtime}, FIO_SIZE={a.fio_size >> 20}M: fio works on the "
      f"first {a.fio_size >> 20} MiB); source {a.rev}; "
      f"took {a.seconds / 60:.1f} min; "
      f"load average {a.load} at the start, {a.load_end} at the end of the "
      f"measurements; CPU pinning (PIN): {a.pinning}.  Cells: the median value (and the server's peak RSS in "
      "MiB during that row); ↓ marks rows where lower is better; S3 "
      "requests are counted by the RGW (PUT and GET of objects among them), "
      "for s3cow also by its stats= file.")
    w("")
    hdr = ["row"] + [n for _, n in present]
    ratios = [(p, n) for p, n in PEERS
              if (p == "raw" and any(s.startswith("raw") for s, _ in present))
              or any(s == p for s, _ in present)]
    hdr += [f"s3cow ÷ {n}" for _, n in ratios]
    w("| " + " | ".join(hdr) + " |")
    w("|" + "---|" * len(hdr))
    for m, label, has_rss in ROWS:
        cells = [label]
        anyv = False
        for s, _ in present:
            v = med(s, m)
            c = fmt(v)
            if v is not None:
                anyv = True
                if has_rss and med(s, "rss_" + m) is not None:
                    c += f" ({med(s, 'rss_' + m):.0f})"
                if m.startswith("req_") and med(s, "reqput_" + m[4:]) \
                        is not None:
                    c += (f" (PUT {fmt(med(s, 'reqput_' + m[4:]))}, "
                          f"GET {fmt(med(s, 'reqget_' + m[4:]))})")
                if s.startswith("s3cow") and med(s, "stats_" + m) \
                        is not None:
                    c += f" (stats: {fmt(med(s, 'stats_' + m))})"
            cells.append(c)
        if not anyv:
            continue
        for p, _ in ratios:
            cells.append(fmt_ratio(ratio(med("s3cow", m), peer(p, m))))
        w("| " + " | ".join(cells) + " |")

    # s3cow-only rows: flush and fork.
    fork = {}
    fork_text = ""
    try:
        fork_text = open(a.fork).read()
    except OSError:
        pass
    for line in fork_text.splitlines():
        # name size chunks median min max [more columns...] requests
        t = line.split()
        if len(t) >= 7 and re.match(r"^1[GT]-\w+$", t[0]):
            try:
                fork[t[0]] = (float(t[3]), t[-1])
            except ValueError:
                pass
    extra = []
    fr, fm = med("s3cow", "flush_req"), med("s3cow", "flush_ms")
    if fr is not None:
        extra.append(("flush after one 4k write: S3 requests but kept heads, ms ↓",
                      f"{fr:.0f} req, {fm:.1f} ms"))
    for k, label in (("1G-dense", "fork of a 1 GiB disk (all chunks used)"),
                     ("1T-dense", "fork of a 1 TiB disk (all chunks used)"),
                     ("1T-sparse", "fork of a 1 TiB disk (16 chunks used)")):
        if k in fork:
            extra.append((label + ": ms, requests ↓",
                          f"{fork[k][0]:.1f} ms, {fork[k][1]} req"))
    for label, c in extra:
        cells = [label] + ["—"] * len(present) + ["—"] * len(ratios)
        if any(s == "s3cow" for s, _ in present):
            cells[1 + [s for s, _ in present].index("s3cow")] = c
        w("| " + " | ".join(cells) + " |")

    # Targets.
    w("")
    w("### Targets")
    w("")
    w("| target | measured | met |")
    w("|---|---|---|")

    def target(text, r, goal, higher=True):
        if r is None:
            w(f"| {text} | not measured | — |")
            return
        ok = r >= goal if higher else r <= goal
        w(f"| {text} | {r:.2f}× | {'yes' if ok else '**no**'} |")

    s = lambda m: med("s3cow", m)  # noqa: E731
    target("seq write (durable) ≥ 1.5× nbdkit S3 plugin",
           ratio(s("seqw"), med("s3plugin", "seqw")), 1.5)
    target("seq write (durable) ≥ 0.85× raw parallel PUT (best object size)",
           ratio(s("seqw"), best_raw("seqw")), 0.85)
    cold_ref = [x for x in (best_raw("seqr_cold"), med("s3plugin", "seqr_cold"))
                if x is not None]
    target("seq read cold ≥ 0.9× best of raw parallel GET and S3 plugin",
           ratio(s("seqr_cold"), max(cold_ref) if cold_ref else None), 0.9)
    target("seq read warm ≥ 0.6× memory plugin",
           ratio(s("seqr_warm"), med("memory", "seqr_warm")), 0.6)
    if med("s3cow-tier", "seqr_warm") is not None:
        target("seq read warm, with cache-dir=, ≥ 0.6× memory plugin",
               ratio(med("s3cow-tier", "seqr_warm"),
                     med("memory", "seqr_warm")), 0.6)
    target("4k random read warm ≥ 0.8× memory plugin",
           ratio(s("rr_warm"), med("memory", "rr_warm")), 0.8)
    target("4k random write (warm) ≥ 0.5× memory plugin",
           ratio(s("rw_warm"), med("memory", "rw_warm")), 0.5)
    target("4k random write (warm) ≥ 5× s3backer",
           ratio(s("rw_warm"), med("s3backer", "rw_warm")), 5)
    target("4k random read cold ≥ nbdkit S3 plugin",
           ratio(s("rr_cold"), med("s3plugin", "rr_cold")), 1)
    rss = s("rss_max")
    if rss is not None:
        ok = rss <= 256 + 64
        w(f"| peak RSS ≤ cache-size + 64 MiB (320 MiB) in every row | "
          f"{rss:.0f} MiB | {'yes' if ok else '**no**'} |")
    if fr is not None:
        w(f"| flush with one dirty chunk ≤ 3 S3 round trips | {fr:.0f} "
          f"requests, {fm:.1f} ms | {'yes' if fr <= 3 else '**no**'} |")
    if "1G-dense" in fork and "1T-dense" in fork:
        g, t = fork["1G-dense"], fork["1T-dense"]
        w(f"| fork: a few round trips, the same for 1 GiB and 1 TiB | "
          f"{g[1]} / {t[1]} requests, {g[0]:.1f} / {t[0]:.1f} ms | "
          f"{'yes' if g[1] == t[1] else '**no**'} |")
    else:
        w("| fork: a few round trips, the same for 1 GiB and 1 TiB | "
          "not measured | — |")

    w("")
    w("### Data check")
    w("")
    if bad:
        w("**Read back differs from what was written** (rows dropped): "
          + ", ".join(f"{s} {m}" for s, m in bad))
    else:
        w("Every sequential row read back, untimed, equal to what was "
          "written.")
    # Every run, to show the noise.
    w("")
    w("### Every run")
    w("")
    w("| system | metric | values by run |")
    w("|---|---|---|")
    for sname, _ in SYSTEMS:
        for (s2, m), v in sorted(vals.items()):
            if s2 == sname and m != "rss_max":
                w(f"| {sname} | {m} | {', '.join(fmt(x) for x in v)} |")
    if fork_text.strip():
        w("")
        w("### scripts/bench-fork.sh")
        w("")
        w("```")
        w(fork_text.rstrip())
        w("```")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
