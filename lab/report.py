#!/usr/bin/python3
"""make lab's report: lab/run.sh's raw measurements -> results.md and SVG charts.

Medians per workload and allocator of wall time and peak RSS; a run that failed (out of memory
under the address-space cap, timeout, wrong output) makes the cell show that instead. The
fragmentation of a single-threaded workload is (peak RSS - baseline RSS) / peak live bytes, with
the baseline the peak RSS of a near-empty run under the same allocator and the live bytes the
workload's own count of what it had allocated and not freed. Standard library only."""
import argparse
import datetime
import math
import os
import platform
import statistics
import subprocess

DESCRIPTIONS = {
    "pairs": "malloc(64), write, free, 2 million times: the cost of one call",
    "hold": "1 million blocks of 16 bytes, all live at once, then freed: what each block costs "
            "besides its bytes",
    "mixed": "5,000 live blocks of 16..1024 bytes, a random one replaced 300,000 times",
    "frag": "6 rounds of 1 MiB of one size (64 B..2 KiB), every other block of the round before "
            "freed: holes that only splitting or merging can reuse",
    "grow": "128 buffers grown by realloc in steps of 1..512 bytes up to 128 KiB, 100,000 steps",
    "threads": "2 threads, 500,000 replacements each over 2,000 blocks; 1 in 16 freed by the "
               "other thread",
    "python": "lab/bench/job.py under python3 with PYTHONMALLOC=malloc: JSON round trip, "
              "grouping, sorting, string building, 200,000 small objects",
    "sqlite": "lab/bench/job.sql under sqlite3: 40,000 rows in memory, indexes, updates, "
              "deletes, joins, window functions, VACUUM",
}
FRAG_WORKLOADS = ["hold", "mixed", "frag", "grow"]
COLORS = ["#4d4d4d", "#d62728", "#8c564b", "#1f77b4", "#6baed6", "#9ecae1", "#ff7f0e",
          "#2ca02c", "#9467bd", "#e377c2"]
STATUS_LABEL = {"oom": "OOM", "timeout": "timeout", "wrong-output": "wrong"}


def read_raw(path):
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return rows


class Cell:
    """The runs of one workload under one allocator."""

    def __init__(self, runs):
        self.runs = runs
        bad = [r["status"] for r in runs if r["status"] != "ok"]
        self.failed = STATUS_LABEL.get(bad[0], "FAIL") if bad else None
        self.nbad = len(bad)

    def median(self, key):
        if self.failed or not self.runs:
            return None
        return statistics.median(float(r[key]) for r in self.runs)

    def live_peak(self):
        values = [int(r["live_peak"]) for r in self.runs if r["live_peak"] not in ("", "-")]
        return max(values) if values else None


def cells(rows):
    table = {}
    for r in rows:
        table.setdefault((r["workload"], r["allocator"]), []).append(r)
    return {k: Cell(v) for k, v in table.items()}


def fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def show(cell, value, digits):
    if cell is None:
        return "-"
    if cell.failed:
        return f"{cell.failed} ({cell.nbad}/{len(cell.runs)})"
    return fmt(value, digits)


def fragmentation(table, workload, alloc):
    cell, base = table.get((workload, alloc)), table.get(("baseline", alloc))
    if not cell or not base or cell.failed or base.failed or not cell.live_peak():
        return None
    return (cell.median("maxrss_kb") - base.median("maxrss_kb")) * 1024 / cell.live_peak()


# ---- SVG ----------------------------------------------------------------------------------

def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def log_ticks(lo, hi):
    ticks, p = [], 10.0 ** math.floor(math.log10(lo))
    while p <= hi * 1.0001:
        for m in (1, 2, 5):
            if lo / 1.0001 <= p * m <= hi * 1.0001:
                ticks.append(p * m)
        p *= 10
    return ticks


def bar_chart(path, title, ylabel, groups, series, value):
    """Grouped bars on a log scale around 1 (the reference): value(g, s) -> (float or None,
    label when failed)."""
    vals = [value(g, s)[0] for g in groups for s in series]
    vals = [v for v in vals if v]
    lo = min(vals + [1.0]) / 1.3
    hi = max(vals + [1.0]) * 1.3
    bw, gap, left, top, plot_h = 11, 22, 70, 60, 300
    width = max(left + len(groups) * (len(series) * bw + gap) + 20, 780)
    height = top + plot_h + 80

    def y(v):
        return top + plot_h * (math.log10(hi) - math.log10(v)) / (math.log10(hi) - math.log10(lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">{esc(title)}</text>']
    for t in log_ticks(lo, hi):
        out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(1):.1f}" y2="{y(1):.1f}" '
               f'stroke="black"/>')
    out.append(f'<text transform="translate(16,{top + plot_h / 2}) rotate(-90)" '
               f'text-anchor="middle">{esc(ylabel)}</text>')
    group_w = (width - left - 20) / len(groups)
    for gi, g in enumerate(groups):
        x0 = left + gi * group_w + (group_w - len(series) * bw) / 2
        for si, s in enumerate(series):
            v, label = value(g, s)
            x = x0 + si * bw
            if v:
                y1, y2 = sorted((y(v), y(1)))
                out.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bw - 1}" '
                           f'height="{max(y2 - y1, 1):.1f}" fill="{COLORS[si % len(COLORS)]}">'
                           f'<title>{esc(s)} {esc(g)}: {v:.3g}</title></rect>')
            elif label:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{top + 10}" font-size="9" '
                           f'fill="{COLORS[si % len(COLORS)]}" text-anchor="middle" '
                           f'transform="rotate(-90 {x + bw / 2:.1f} {top + 10})">'
                           f'{esc(label)}</text>')
        out.append(f'<text x="{x0 + len(series) * bw / 2:.1f}" y="{top + plot_h + 16}" '
                   f'text-anchor="middle" font-weight="bold">{esc(g)}</text>')
    for si, s in enumerate(series):
        lx = left + (si % 4) * 170
        ly = top + plot_h + 40 + (si // 4) * 18
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" '
                   f'fill="{COLORS[si % len(COLORS)]}"/><text x="{lx + 14}" y="{ly}">{esc(s)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ---- the report ---------------------------------------------------------------------------

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def commit():
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"]).returncode != 0
        return c + (" (with local changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "none"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--cap-mib", type=int, required=True)
    ap.add_argument("--allocators", required=True)
    a = ap.parse_args()
    allocs = a.allocators.split()
    rows = read_raw(a.raw)
    table = cells(rows)
    workloads = [w for w in dict.fromkeys(r["workload"] for r in rows) if w != "baseline"]
    os.makedirs(os.path.join(a.out, "charts"), exist_ok=True)

    def ratio(key):
        def value(w, s):
            c, g = table.get((w, s)), table.get((w, "glibc"))
            if c is None or c.failed:
                return None, c.failed if c else None
            gv = g.median(key) if g else None
            return (c.median(key) / gv if gv else None), None
        return value

    bar_chart(os.path.join(a.out, "charts", "time.svg"),
              "Wall time relative to glibc (median; log scale, below 1 is faster)",
              "time / glibc's time", workloads, allocs, ratio("seconds"))
    bar_chart(os.path.join(a.out, "charts", "rss.svg"),
              "Peak RSS relative to glibc (median; log scale, below 1 is smaller)",
              "peak RSS / glibc's", workloads, allocs, ratio("maxrss_kb"))
    frag_w = [w for w in FRAG_WORKLOADS if w in workloads]

    def frag_value(w, s):
        c = table.get((w, s))
        return fragmentation(table, w, s), (c.failed if c else None)
    bar_chart(os.path.join(a.out, "charts", "frag.svg"),
              "Fragmentation: (peak RSS - baseline) / peak live bytes (1 = no overhead)",
              "RSS per live byte", frag_w, allocs, frag_value)

    lines = ["# The lab: classic allocator designs measured against brisk and glibc", "",
             f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; commit {commit()}",
             f"- machine: {machine()} (shared: read ratios, not absolute times)",
             f"- {a.runs} runs per workload and allocator, allocators taking turns; medians below",
             f"- the lab designs ran under an address-space limit of {a.cap_mib} MiB "
             "(`ulimit -v`): OOM means the design ran out there",
             "- made by `make lab` (lab/run.sh, lab/report.py); the designs are explained in "
             "[docs/lab.md](../docs/lab.md)", ""]

    def section(title, key, digits, scale=1.0):
        lines.extend([f"## {title}", "", "| workload | " + " | ".join(allocs) + " |",
                      "|---|" + "---:|" * len(allocs)])
        for w in workloads:
            cols = []
            for s in allocs:
                c = table.get((w, s))
                m = c.median(key) if c else None
                cols.append(show(c, m * scale if m is not None else None, digits))
            lines.append(f"| {w} | " + " | ".join(cols) + " |")
        lines.append("")

    section("Wall time, median (seconds)", "seconds", 3)
    section("Peak RSS, median (MiB)", "maxrss_kb", 1, 1 / 1024)
    lines.extend(["## Fragmentation: (peak RSS - baseline RSS) / peak live bytes", "",
                  "Baseline: the peak RSS of `work pairs 1 16` (a near-empty run) under the same "
                  "allocator; live bytes: what the workload had asked for and not yet freed, at "
                  "its peak. 1.00 would be no overhead at all.", "",
                  "| workload | live peak MiB | " + " | ".join(allocs) + " |",
                  "|---|---:|" + "---:|" * len(allocs)])
    for w in frag_w:
        live = next((c.live_peak() for (ww, _), c in table.items() if ww == w and c.live_peak()),
                    None)
        cols = []
        for s in allocs:
            c = table.get((w, s))
            cols.append(show(c, fragmentation(table, w, s), 2) if c else "-")
        lines.append(f"| {w} | {fmt(live / 2**20 if live else None, 2)} | " + " | ".join(cols)
                     + " |")
    lines.extend(["", "## Charts", "", "![wall time](charts/time.svg)", "",
                  "![peak RSS](charts/rss.svg)", "", "![fragmentation](charts/frag.svg)", "",
                  "(PNG copies next to the SVGs when rsvg-convert was available.)", "",
                  "## Workloads", ""])
    for w in workloads:
        lines.append(f"- `{w}`: {DESCRIPTIONS.get(w, '')}")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[lines.index("## Wall time, median (seconds)"):
                         lines.index("## Charts")]))


if __name__ == "__main__":
    main()
