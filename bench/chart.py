#!/usr/bin/python3
"""Draws brisk's ratios to each peer as an SVG (Python standard library only, plain SVG text).

    chart.py RATIOS META OUT_SVG

RATIOS: "workload<TAB>peer<TAB>time ratio<TAB>RSS ratio" lines from report.py ("-" where a
figure is missing), the geometric mean last. Two panels side by side, wall time and peak RSS;
one row per workload, one bar per peer, drawn from 1.0 on a log scale: a bar to the left means
brisk is faster (or smaller) than that peer, to the right slower (or bigger).
"""
import math
import sys
from html import escape

COLORS = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377"]
LABEL_W, PANEL_W, GAP, BAR_H, ROW_GAP, TOP = 150, 380, 80, 7, 10, 92


def main():
    ratios_path, meta_path, out = sys.argv[1:4]
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(meta_path) if "=" in line)
    rows, peers, data = [], [], {}
    for line in open(ratios_path):
        w, p, t, r = line.rstrip("\n").split("\t")
        if w not in rows:
            rows.append(w)
        if p not in peers:
            peers.append(p)
        data[w, p] = (None if t == "-" else float(t), None if r == "-" else float(r))

    values = [v for pair in data.values() for v in pair if v]
    lo = 2.0 ** max(-4, min(-2, math.floor(math.log2(min(values, default=1)))))
    hi = 2.0 ** min(4, max(2, math.ceil(math.log2(max(values, default=1)))))
    row_h = len(peers) * BAR_H + ROW_GAP
    height = TOP + len(rows) * row_h + 50
    width = LABEL_W + 2 * PANEL_W + GAP + 20
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">brisk / peer, median of '
           f'{meta.get("runs", "?")} runs: below 1 (left of the line) brisk is faster or smaller</text>',
           f'<text x="10" y="38" fill="#555">{escape(meta.get("date", ""))}; {escape(meta.get("cpu", ""))}, '
           f'{meta.get("nproc", "?")} CPUs; {escape(meta.get("make", ""))}</text>']
    for k, p in enumerate(peers):  # legend
        x = 10 + k * 130
        svg.append(f'<rect x="{x}" y="50" width="14" height="10" fill="{COLORS[k % len(COLORS)]}"/>'
                   f'<text x="{x + 18}" y="59">vs {escape(p)}</text>')

    def xpos(panel, v):
        v = min(max(v, lo), hi)
        x0 = LABEL_W + panel * (PANEL_W + GAP)
        return x0 + (math.log2(v) - math.log2(lo)) / (math.log2(hi) - math.log2(lo)) * PANEL_W

    for i, w in enumerate(rows):  # row backgrounds and labels
        y = TOP + i * row_h
        if i % 2 == 0 or w == "geometric mean":
            fill = "#e8e8e8" if w == "geometric mean" else "#f4f4f4"
            svg.append(f'<rect x="5" y="{y - ROW_GAP / 2}" width="{width - 10}" height="{row_h}" fill="{fill}"/>')
        weight = ' font-weight="bold"' if w == "geometric mean" else ""
        svg.append(f'<text x="{LABEL_W - 8}" y="{y + row_h / 2}" text-anchor="end"{weight}>{escape(w)}</text>')
    bottom = TOP + len(rows) * row_h - ROW_GAP / 2
    for panel, title in enumerate(["wall time", "peak RSS"]):
        x0 = LABEL_W + panel * (PANEL_W + GAP)
        svg.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 14}" text-anchor="middle" '
                   f'font-weight="bold">{title}</text>')
        e = math.log2(lo)
        while e <= math.log2(hi) + 1e-9:  # grid at powers of two
            v = 2.0 ** e
            x = xpos(panel, v)
            one = abs(v - 1) < 1e-9
            svg.append(f'<line x1="{x:.1f}" y1="{TOP - ROW_GAP}" x2="{x:.1f}" y2="{bottom}" '
                       f'stroke="{"#000" if one else "#bbb"}" stroke-width="{1.5 if one else 0.6}"/>')
            svg.append(f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{v:g}×</text>')
            e += 1
        svg.append(f'<text x="{x0 + PANEL_W / 2}" y="{bottom + 30}" text-anchor="middle" fill="#555">'
                   f'← brisk better · brisk worse →</text>')
        for i, w in enumerate(rows):
            for k, p in enumerate(peers):
                v = data.get((w, p), (None, None))[panel]
                y = TOP + i * row_h + k * BAR_H
                if v is None:
                    continue
                x1, x2 = sorted((xpos(panel, 1.0), xpos(panel, v)))
                svg.append(f'<rect x="{x1:.1f}" y="{y:.1f}" width="{max(x2 - x1, 1):.1f}" height="{BAR_H - 1}" '
                           f'fill="{COLORS[k % len(COLORS)]}"><title>{escape(w)}: brisk / {escape(p)} '
                           f'{title} = {v:.2f}</title></rect>')
                if w == "geometric mean" or v < lo or v > hi:
                    tx, anchor = (x2 + 3, "start") if v >= 1 else (x1 - 3, "end")
                    svg.append(f'<text x="{tx:.1f}" y="{y + BAR_H - 1:.1f}" font-size="8" '
                               f'text-anchor="{anchor}">{v:.2f}</text>')
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
