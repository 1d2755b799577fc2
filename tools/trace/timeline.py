#!/usr/bin/env python3
"""brisk timeline CSV [-o OUT.svg|OUT.png] [--x time|record]: a line chart of a replay's
timeline (`brisk trace replay FILE --timeline CSV`): live bytes, committed bytes and RSS over
the trace's time, and the live bytes of each size range when the CSV has them (columns
live_*). Empty cells (committed bytes under an allocator other than brisk) are left out."""

import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svgkit import Svg, default_output, die, human, nice_step, write_output  # noqa: E402

WIDTH, HEIGHT = 1000, 440          # the plot's frame; the legend adds rows below
LEFT, RIGHT, TOP, BOTTOM = 90, 30, 70, 60
MAIN = [("live_bytes", "live", "#1f77b4"), ("committed_bytes", "committed", "#ff7f0e"),
        ("rss_bytes", "RSS", "#2ca02c")]
RANGE_COLOURS = ["#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        die(f"{path}: no rows")
    return rows


def number(s):
    s = (s or "").strip()
    return int(s) if s else None


def series_of(rows):
    cols = list(rows[0].keys())
    out = [(c, label, colour, False) for c, label, colour in MAIN if c in cols]
    ranges = [c for c in cols if c.startswith("live_") and c != "live_bytes"]
    for i, c in enumerate(ranges):
        label = "live " + c[5:].replace("_", " ")
        out.append((c, label, RANGE_COLOURS[i % len(RANGE_COLOURS)], True))
    result = []
    for col, label, colour, dashed in out:
        pts = [(i, number(r[col])) for i, r in enumerate(rows)]
        pts = [(i, v) for i, v in pts if v is not None]
        if pts:
            result.append((col, label, colour, dashed, pts))
    return result


def y_unit(top):
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if top >= unit:
            return unit, name
    return 1, "B"


def render(rows, path, xkind):
    if xkind == "time" and "time_ns" in rows[0]:
        xs = [number(r["time_ns"]) or 0 for r in rows]
        xscale, xlabel = 1e9, "trace time (s)"
    else:
        xs = [number(r["record"]) or 0 for r in rows]
        xscale, xlabel = 1, "trace record"
    series = series_of(rows)
    if not series:
        die(f"{path}: no column to draw (live_bytes, committed_bytes, rss_bytes, live_*)")
    top = max(v for s in series for _, v in s[4]) or 1
    unit, uname = y_unit(top)
    ystep = nice_step(top / unit) * unit
    ymax = ystep * (int(top / ystep) + 1)
    xmin, xmax = min(xs), max(xs)
    xspan = (xmax - xmin) or 1
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + (x - xmin) / xspan * pw

    def py(v):
        return TOP + ph - v / ymax * ph

    svg = Svg(WIDTH, f"brisk timeline of {os.path.basename(path)}")
    svg.text(LEFT, 26, f"brisk timeline: {os.path.basename(path)} ({len(rows)} samples)", size=16,
             weight="bold", cls="title")
    peaks = [f"peak {label} {human(max(v for _, v in pts))}"
             for _, label, _, dashed, pts in series if not dashed]
    svg.text(LEFT, 48, " \u00b7 ".join(peaks), size=13, cls="peaks")
    v = 0
    while v <= ymax:
        svg.line(LEFT, py(v), LEFT + pw, py(v), stroke="#e4e4e4")
        svg.text(LEFT - 6, py(v) + 4, f"{v / unit:g} {uname}", size=10, anchor="end",
                 cls="ytick")
        v += ystep
    xstep = nice_step(xspan / xscale) * xscale
    x = (xmin // xstep) * xstep
    while x <= xmax:
        if x >= xmin:
            svg.line(px(x), TOP + ph, px(x), TOP + ph + 4, stroke="#555")
            svg.text(px(x), TOP + ph + 16, f"{x / xscale:g}", size=10, anchor="middle",
                     cls="xtick")
        x += xstep
    svg.line(LEFT, TOP + ph, LEFT + pw, TOP + ph, stroke="#555")
    svg.line(LEFT, TOP, LEFT, TOP + ph, stroke="#555")
    svg.text(LEFT + pw / 2, TOP + ph + 36, xlabel, size=12, anchor="middle", cls="xlabel")
    for col, label, colour, dashed, pts in series:
        points = " ".join(f"{px(xs[i]):.1f},{py(v):.1f}" for i, v in pts)
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        svg.raw(f'<polyline class="series" data-name="{col}" fill="none" stroke="{colour}" '
                f'stroke-width="{1.2 if dashed else 2}"{dash} points="{points}"/>')
    y = HEIGHT
    for i, (col, label, colour, dashed, pts) in enumerate(series):
        r, c = divmod(i, 3)
        lx, ly = LEFT + c * 290, y + r * 18
        svg.line(lx, ly - 4, lx + 24, ly - 4, stroke=colour, width=2,
                 extra='stroke-dasharray="5,3"' if dashed else "")
        svg.text(lx + 30, ly, f"{label} (max {human(max(v for _, v in pts))})", size=11,
                 cls="legend")
    return svg.render(y + ((len(series) + 2) // 3) * 18 + 10)


def main():
    ap = argparse.ArgumentParser(prog="brisk timeline", description=__doc__.split("\n\n")[0])
    ap.add_argument("csv")
    ap.add_argument("-o", "--output", help="OUT.svg or OUT.png (default: CSV with .svg)")
    ap.add_argument("--x", choices=["time", "record"], default="time",
                    help="the horizontal axis: trace time (default) or record number")
    a = ap.parse_args()
    try:
        rows = load(a.csv)
        svg = render(rows, a.csv, a.x)
    except OSError as e:
        die(f"{a.csv}: {e.strerror}")
    except (KeyError, ValueError) as e:
        die(f"{a.csv}: not a timeline CSV ({e!r})")
    out = a.output or default_output(a.csv)
    write_output(svg, out)
    print(f"wrote {out}: {len(rows)} samples, {len(series_of(rows))} series")


if __name__ == "__main__":
    main()
