#!/usr/bin/python3
"""Markdown tables of scripts/bench-knobs.sh's TSV output.

  bench-knobs-table.py OUT.tsv

Per round: mode (P pinned, U unpinned), load, raw GETs and PUT; per mode
and kind (cold read, write) and setting: MiB/s per round and median, the
ratio to the same round's raw GET (mean of its two) or raw PUT, and the
medians of CPU seconds per GiB (nbdkit, nbdcopy, RGW) and the highest
peak RSS.
"""
import statistics as st
import sys
from collections import defaultdict

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rawget = defaultdict(list)
rawput = {}
loads = defaultdict(list)
data = defaultdict(list)  # (mode, kind, config) -> [(round, mibs, nbdkit, client, rgw, rss)]
modes = {}
for r in rows:
    rnd, mode, kind, config = r[0], r[1], r[2], r[3]
    modes[rnd] = mode
    if kind == "uptime":
        loads[rnd].append(r[4].split("load average: ")[1])
        continue
    if kind == "raw-get":
        rawget[rnd].append(float(r[4]))
        data[(mode, kind, config)].append((rnd, float(r[4]), None, float(r[6]), float(r[7]), None))
        continue
    if kind == "raw-put":
        rawput[rnd] = float(r[4])
        data[(mode, kind, config)].append((rnd, float(r[4]), None, float(r[6]), float(r[7]), None))
        continue
    data[(mode, kind, config)].append(
        (rnd, float(r[4]), float(r[5]), float(r[6]), float(r[7]), int(r[8])))

print("| round | mode | load (start; end) | raw GET (start, after the reads) | raw PUT |")
print("|---|---|---|---|---|")
for rnd in sorted(modes, key=int):
    print(f"| {rnd} | {modes[rnd]} | {'; '.join(loads[rnd])} | {', '.join(map(str, rawget[rnd]))} | {rawput.get(rnd, '-')} |")
print()


def ratio(kind, rnd, v):
    if kind == "read":
        g = rawget[rnd]
        return v / st.mean(g) if g else float("nan")
    if kind == "write":
        return v / rawput[rnd] if rnd in rawput else float("nan")
    return float("nan")


for mode in ["P", "U"]:
    for kind in ["read", "write"]:
        keys = [k for k in data if k[0] == mode and k[1] == kind]
        if not keys:
            continue
        keys.sort(key=lambda k: (k[2] != "defaults", k[2]))
        print(f"{mode} {kind}")
        print("| setting | MiB/s per round | median | ÷ the round's raw | median | ÷ the round's defaults | median | nbdkit CPU s/GiB (median, range) | nbdcopy CPU s/GiB | RGW CPU s/GiB | peak RSS MiB (max) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        dflt = {x[0]: x[1] for x in data.get((mode, kind, "defaults"), [])}
        for k in keys:
            v = sorted(data[k], key=lambda x: int(x[0]))
            mib = [x[1] for x in v]
            rat = [ratio(kind, x[0], x[1]) for x in v]
            nb = [x[2] for x in v]
            cl = [x[3] for x in v]
            rg = [x[4] for x in v]
            rss = max(x[5] for x in v)
            rd = [x[1] / dflt[x[0]] for x in v if x[0] in dflt]
            print(f"| {k[2]} | {' / '.join('%.1f' % m for m in mib)} | {st.median(mib):.1f} | "
                  f"{' / '.join('%.2f' % x for x in rat)} | {st.median(rat):.2f}× | "
                  f"{' / '.join('%.2f' % x for x in rd)} | {st.median(rd) if rd else float('nan'):.2f}× | "
                  f"{st.median(nb):.2f} ({min(nb):.2f}-{max(nb):.2f}) | {st.median(cl):.2f} | {st.median(rg):.2f} | {rss} |")
        print()
