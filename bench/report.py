#!/usr/bin/python3
"""Writes bench/results/latest.md from the runs of bench/run.sh (Python standard library only).

    report.py RAW META WORKLOADS MICRO_MD FAILURES OUT_MD OUT_RATIOS

RAW: one line per run, "workload allocator run seconds rss_kb peak_live_bytes|-" (FAIL for a
failed run). META: key=value lines (machine, date, ...). WORKLOADS: name, description, command,
tab-separated, in table order. MICRO_MD: the micro view's table (included when it exists).
FAILURES: one line per failed run, with the reason.
OUT_RATIOS: brisk's time and RSS ratios to each peer per workload, tab-separated, for chart.py.

A cell is the median of the runs with its spread: +-x% is half the min-max range relative to
the median. Ratios are brisk / peer on the medians: below 1 brisk is faster or smaller. A
workload with a failed run has no figure for that allocator, and is left out of the geometric
means of the ratios that need it.
"""
import math
import os
import statistics
import sys
from collections import defaultdict

BRISK = "brisk"


def load_runs(path):
    runs = defaultdict(list)  # (workload, allocator) -> [(secs, kb, live)] or None if one failed
    for line in open(path):
        f = line.split()
        if len(f) != 6:
            continue
        key = (f[0], f[1])
        if f[3] == "FAIL" or runs.get(key, []) is None:
            runs[key] = None
            continue
        runs[key].append((float(f[3]), float(f[4]), None if f[5] == "-" else int(f[5])))
    return runs


def cell(values):
    """(median, spread in per cent) of a list of numbers."""
    m = statistics.median(values)
    return m, (max(values) - min(values)) / 2 / m * 100 if m > 0 else 0.0


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


class Results:
    def __init__(self, runs, workloads, allocs):
        self.workloads, self.allocs = workloads, allocs
        self.peers = [a for a in allocs if a != BRISK]
        self.med = {}  # (workload, alloc, field) -> (median, spread); field 0 time, 1 rss
        self.live = {}  # (workload, alloc) -> peak live bytes (median)
        self.failed = {key for key, rs in runs.items() if rs is None}
        for w in workloads:
            for a in allocs:
                rs = runs.get((w, a))
                if not rs:
                    continue
                for field in (0, 1):
                    self.med[w, a, field] = cell([r[field] for r in rs])
                lives = [r[2] for r in rs if r[2] is not None]
                if lives:
                    self.live[w, a] = statistics.median(lives)

    def value(self, w, a, field):
        m = self.med.get((w, a, field))
        return m[0] if m else None

    def ratio(self, w, peer, field):
        b, p = self.value(w, BRISK, field), self.value(w, peer, field)
        return b / p if b is not None and p else None

    def best_peer_ratio(self, w, field):
        vals = [self.value(w, p, field) for p in self.peers]
        vals = [v for v in vals if v]
        b = self.value(w, BRISK, field)
        return b / min(vals) if b is not None and vals else None

    def geo(self, peer, field):
        return geomean([self.ratio(w, peer, field) for w in self.workloads])


def figures_table(res, field, title, scale, digits):
    out = [f"## {title}", "", "| workload | " + " | ".join(res.allocs) + " |",
           "|---|" + "---:|" * len(res.allocs)]
    for w in res.workloads:
        cells = []
        for a in res.allocs:
            m = res.med.get((w, a, field))
            if m is None:
                cells.append("FAIL" if (w, a) in res.failed else "-")
            else:
                cells.append(f"{m[0] * scale:.{digits}f} ±{m[1]:.0f}%")
        out.append(f"| {w} | " + " | ".join(cells) + " |")
    return out + [""]


def ratio_table(res):
    head = [f"time/{p}" for p in res.peers] + ["time/best"] + \
           [f"RSS/{p}" for p in res.peers] + ["RSS/leanest"]
    out = ["## brisk / each peer (medians; below 1: brisk faster or smaller)", "",
           "`best` is the fastest peer on that workload, `leanest` the peer with the smallest "
           "peak RSS.", "", "| workload | " + " | ".join(head) + " |",
           "|---|" + "---:|" * len(head)]
    for w in res.workloads:
        row = [res.ratio(w, p, 0) for p in res.peers] + [res.best_peer_ratio(w, 0)] + \
              [res.ratio(w, p, 1) for p in res.peers] + [res.best_peer_ratio(w, 1)]
        out.append(f"| {w} | " + " | ".join(fmt(x) for x in row) + " |")
    geo = [res.geo(p, 0) for p in res.peers] + \
          [geomean([res.best_peer_ratio(w, 0) for w in res.workloads])] + \
          [res.geo(p, 1) for p in res.peers] + \
          [geomean([res.best_peer_ratio(w, 1) for w in res.workloads])]
    out.append("| **geometric mean** | " + " | ".join(f"**{fmt(x)}**" for x in geo) + " |")
    return out + [""]


def frag_table(res):
    ws = [w for w in res.workloads if any((w, a) in res.live for a in res.allocs)]
    out = []
    for w in ws:
        out += [f"## Peak RSS against peak live bytes ({w})", "",
                "| allocator | peak live MiB | peak RSS MiB | RSS / live |", "|---|---:|---:|---:|"]
        for a in res.allocs:
            live, rss = res.live.get((w, a)), res.value(w, a, 1)
            if live is None or rss is None:
                out.append(f"| {a} | - | - | {'FAIL' if (w, a) in res.failed else '-'} |")
                continue
            out.append(f"| {a} | {live / 2**20:.1f} | {rss / 1024:.1f} | {rss * 1024 / live:.2f} |")
        out.append("")
    return out


def micro_counts(path):
    """{allocator: (same, random)} from the micro view's table, or {} without one."""
    counts = {}
    if not os.path.exists(path):
        return counts
    for line in open(path):
        f = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(f) == 3:
            try:
                counts[f[0]] = (float(f[1]), float(f[2]))
            except ValueError:
                pass
    return counts


def targets(res, micro):
    """The targets of issue 3, each with the measured figure and met / MISSED."""
    out = ["## Targets (issue 3)", "", "| target | measured | |", "|---|---:|---|"]

    def row(what, value, ok):
        out.append(f"| {what} | {value} | {'-' if ok is None else 'met' if ok else 'MISSED'} |")

    timed = [(res.geo(p, 0), p) for p in res.peers if res.geo(p, 0) is not None]
    if timed:
        g, p = max(timed)
        row(f"time, geomean vs the fastest peer ({p}) <= 0.95", fmt(g), g <= 0.95)
    if "glibc" in res.peers:
        g = res.geo("glibc", 0)
        row("time, geomean vs glibc <= 0.7", fmt(g), g is not None and g <= 0.7)
        g = res.geo("glibc", 1)
        row("peak RSS, geomean vs glibc <= 1.0", fmt(g), g is not None and g <= 1.0)
    for w in res.workloads:
        live, rss = res.live.get((w, BRISK)), res.value(w, BRISK, 1)
        if live and rss:
            row(f"{w}: brisk's peak RSS / peak live <= 1.25", fmt(rss * 1024 / live), rss * 1024 / live <= 1.25)
    for field, limit, what in ((0, 1.3, "time vs the best peer"), (1, 1.5, "peak RSS vs the leanest peer")):
        worst = [(res.best_peer_ratio(w, field), w) for w in res.workloads
                 if res.best_peer_ratio(w, field) is not None]
        if worst:
            r, w = max(worst)
            row(f"no workload worse than {limit}x in {what}", f"{fmt(r)} ({w})", r <= limit)
    if BRISK in micro and len(micro) > 1:
        for k, what in ((0, "one size"), (1, "random sizes")):
            peers = [micro[a][k] for a in micro if a != BRISK]
            row(f"fewer instructions per pair than every peer ({what})",
                f"{micro[BRISK][k]:.1f} vs {min(peers):.1f}", micro[BRISK][k] < min(peers))
    return out + [""]


def main():
    raw, meta_path, wl_path, micro_path, failures_path, out_md, out_ratios = sys.argv[1:8]
    failures = [line.strip() for line in open(failures_path) if line.strip()]
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(meta_path) if "=" in line)
    workloads = [line.rstrip("\n").split("\t") for line in open(wl_path) if line.strip()]
    allocs = meta["allocators"].split()
    res = Results(load_runs(raw), [w[0] for w in workloads], allocs)
    micro = micro_counts(micro_path)

    quick = meta.get("quick") == "1"
    md = ["# brisk benchmark results", "",
          f"- date: {meta['date']}; commit: {meta['commit']}",
          f"- machine: {meta['cpu']}, {meta['nproc']} CPUs (nproc), Linux {meta['kernel']}, "
          f"{meta['compiler']}; load average {meta['load']}",
          f"- allocators: {meta['versions']}",
          f"- {meta['runs']} runs per allocator and workload, allocators taking turns"
          + (f"; QUICK=1: 1/{meta.get('work_divisor', '?')} of the work per run, not for figures to quote"
             if quick else ""),
          f"- made by `{meta['make']}` (bench/run.sh); chart: latest.svg"]
    if meta.get("brisk_lib"):
        md.append(f"- brisk: BRISK_LIB={meta['brisk_lib']}")
    if meta.get("brisk_options"):
        md.append(f"- BRISK_OPTIONS={meta['brisk_options']}")
    md += ["- cells: median, ±half the min-max range of the runs; "
           "ratios: brisk / peer, below 1 means brisk was faster or smaller", ""]
    if BRISK in allocs and res.peers:
        md += ratio_table(res)
        md += targets(res, micro)
    md += figures_table(res, 0, "Wall time, median (seconds)", 1, 3)
    md += figures_table(res, 1, "Peak RSS, median (MiB)", 1 / 1024, 1)
    md += frag_table(res)
    if micro:
        md += [line.rstrip("\n") for line in open(micro_path)] + [""]
    if failures:
        md += ["## Failed runs (left out of the figures)", ""] + [f"- {f}" for f in failures] + [""]
    md += ["## Workloads", ""]
    md += [f"- `{w[0]}`: {w[1]} (`{w[2]}`)" for w in workloads]
    with open(out_md, "w") as f:
        f.write("\n".join(md) + "\n")

    with open(out_ratios, "w") as f:
        for w in res.workloads + ["geometric mean"]:
            for p in res.peers:
                if w == "geometric mean":
                    t, r = res.geo(p, 0), res.geo(p, 1)
                else:
                    t, r = res.ratio(w, p, 0), res.ratio(w, p, 1)
                f.write(f"{w}\t{p}\t{fmt(t, 4)}\t{fmt(r, 4)}\n")


if __name__ == "__main__":
    main()
