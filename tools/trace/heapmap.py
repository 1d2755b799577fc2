#!/usr/bin/env python3
"""brisk heapmap DUMP [-o OUT.svg|OUT.png]: draws a heap dump (docs/trace-format.md).

One row per segment, one cell per slot; each page spans its slots, coloured by size class,
filled from the left in proportion to used / capacity, outlined dashed when part of it is
purged. Large blocks follow as a band drawn at the same bytes-per-pixel scale (wrapping like
text). The header gives the totals of the dump's stats line: live, committed and their ratio.
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svgkit import Svg, class_colour, default_output, die, human, write_output  # noqa: E402

WIDTH = 1100
MARGIN = 20
LABEL_W = 190
CELL = 13                      # px per slot
ROW = 16                       # px per segment row
TOP = 96                       # where the first segment row starts
LEGEND_COLS = 4
STATE_COLOUR = {"owned": "#222", "orphan": "#b35900", "cache": "#888"}


def load(path):
    dump = {"process": {}, "segments": [], "pages": {}, "large": [], "stats": None}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                die(f"{path}:{n}: not JSON ({e.msg})")
            kind = obj.get("type")
            if kind == "process":
                dump["process"] = obj
            elif kind == "segment":
                dump["segments"].append(obj)
                dump["pages"].setdefault(obj["addr"], [])
            elif kind == "page":
                seg = obj["segment"]
                if seg not in dump["pages"]:   # a page of a segment with no line: still drawn
                    dump["segments"].append({"addr": seg, "heap": "?", "state": "?"})
                    dump["pages"][seg] = []
                dump["pages"][seg].append(obj)
            elif kind == "large":
                dump["large"].append(obj)
            elif kind == "stats":
                dump["stats"] = obj
            # other types: a later format's additions, not drawn
    return dump


def header(svg, dump, path):
    proc, stats = dump["process"], dump["stats"]
    t = proc.get("time_ns")
    when = f", clock {t / 1e9:.3f} s" if isinstance(t, (int, float)) else ""
    svg.text(MARGIN, 26, f"brisk heap map: pid {proc.get('pid', '?')}{when} "
             f"({os.path.basename(path)})", size=16, weight="bold", cls="title")
    if stats is None:
        svg.text(MARGIN, 48, "no stats line in the dump", cls="totals")
    else:
        live, committed = stats.get("live_bytes", 0), stats.get("committed_bytes", 0)
        frag = f"{committed / live:.2f}" if live else "n/a"
        svg.text(MARGIN, 48, f"live {live} B ({human(live)}) \u00b7 committed {committed} B "
                 f"({human(committed)}) \u00b7 fragmentation {frag} (committed / live)",
                 size=13, cls="totals")
    pages = [p for ps in dump["pages"].values() for p in ps]
    used = sum(p["used"] for p in pages)
    cap = sum(p["capacity"] for p in pages)
    in_blocks = sum(p["used"] * p["block_size"] for p in pages)
    pct = f"{100 * used / cap:.1f}%" if cap else "n/a"
    res = [sg.get("resident", -1) for sg in dump["segments"]]
    in_ram = f"; {human(sum(res))} of the segments in RAM" if res and min(res) >= 0 else ""
    svg.text(MARGIN, 66, f"{len(dump['segments'])} segments, {len(pages)} pages: {used} of {cap} "
             f"blocks used ({pct}, {human(in_blocks)} in blocks); {len(dump['large'])} large "
             f"blocks{in_ram}", size=12, cls="counts")


def segment_row(svg, y, seg, pages, proc):
    slot_size = proc.get("slot_size", 65536)
    nslots = proc.get("slots", 64)
    x0 = MARGIN + LABEL_W
    state = seg.get("state", "?")
    svg.text(MARGIN, y + CELL - 2, f"{seg['addr']} h{seg.get('heap', '?')} {state}", size=10,
             cls="seglabel", fill=STATE_COLOUR.get(state, "#222"))
    taken = [False] * nslots
    for p in pages:
        for s in range(p["slot"], min(p["slot"] + p["nslots"], nslots)):
            taken[s] = True
    for s in range(1, nslots):
        if not taken[s]:
            svg.rect(x0 + s * CELL, y, CELL - 1, CELL, "#f4f4f4", cls="free", stroke="#ddd")
    # the segment's header is drawn last, over the pages: the whole of slot 0 when no page
    # starts there (the format's layout), a bar at its left edge when a page shares the slot
    for p in pages:
        x = x0 + p["slot"] * CELL
        w = p["nslots"] * CELL - 1
        full = p["nslots"] * slot_size
        dashed = p.get("committed", full) < full
        res = f", {human(p['resident'])} resident" if p.get("resident", -1) >= 0 else ""
        tip = (f"slot {p['slot']}+{p['nslots']}: class {p['class']} ({p['block_size']} B), "
               f"{p['used']}/{p['capacity']} used, {human(p.get('committed', full))} committed{res}")
        svg.rect(x, y, w, CELL, class_colour(p["block_size"], light=True), cls="page",
                 stroke="#333" if dashed else class_colour(p["block_size"]),
                 extra='stroke-dasharray="2,2"' if dashed else "", tip=tip)
        frac = p["used"] / p["capacity"] if p["capacity"] else 0
        if frac > 0:
            svg.rect(x, y + 2, max(w * min(frac, 1.0), 1), CELL - 4,
                     class_colour(p["block_size"]), cls="fill")
    svg.rect(x0, y, 3 if taken[0] else CELL - 1, CELL, "#555", cls="hdr",
             tip="the segment's header (in slot 0)")


def large_band(svg, y, dump):
    """Large blocks at the segment rows' scale (a row of cells = one segment's bytes), coarser
    when they would take more than 32 rows. Returns the height used."""
    blocks = dump["large"]
    proc = dump["process"]
    row_bytes = proc.get("segment_size", 4 << 20)
    row_px = proc.get("slots", 64) * CELL
    total = sum(b.get("mapped", b["size"]) for b in blocks)
    if total > 32 * row_bytes:
        row_bytes = 1 << math.ceil(math.log2(total / 32))
    live = [b for b in blocks if not b.get("cached")]
    svg.text(MARGIN, y + 12, f"large blocks: {len(live)} live ({human(sum(b['size'] for b in live))}"
             f"), {len(blocks) - len(live)} cached; one row = {human(row_bytes)}", size=12,
             cls="largetitle")
    y += 20
    x0 = MARGIN + LABEL_W
    pos = 0.0                  # px along the wrapped strip
    for b in blocks:
        mapped = b.get("mapped", b["size"])
        w = max(3.0, mapped / row_bytes * row_px)
        colour = "#bbbbbb" if b.get("cached") else "#4a5a7a"
        tip = (f"{b['addr']}: {b['size']} B in {mapped} B mapped"
               f"{' (cached)' if b.get('cached') else ''}")
        svg.raw(f'<g class="large">')
        left = w
        while left > 0:
            row, col = divmod(pos, row_px)
            piece = min(left, row_px - col)
            svg.rect(x0 + col, y + row * ROW, piece, CELL, colour, cls="large-piece", tip=tip)
            pos += piece
            left -= piece
        svg.raw("</g>")
        pos += 3               # a gap between blocks
    rows = math.ceil(pos / row_px) if blocks else 0
    return 20 + rows * ROW + 8


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def legend(svg, y, dump):
    classes = {}
    for ps in dump["pages"].values():
        for p in ps:
            c = classes.setdefault(p["class"], {"size": p["block_size"], "pages": 0, "used": 0,
                                                "cap": 0})
            c["pages"] += 1
            c["used"] += p["used"]
            c["cap"] += p["capacity"]
    items = [(class_colour(c["size"]), f"class {k}: {c['size']} B, {plural(c['pages'], 'page')}, "
              f"{100 * c['used'] / c['cap'] if c['cap'] else 0:.0f}% used", "legend")
             for k, c in sorted(classes.items())]
    items += [("#555", "segment header (in slot 0)", "legend-key"),
              ("#f4f4f4", "free slot", "legend-key"),
              ("#4a5a7a", "large block (live)", "legend-key"),
              ("#bbbbbb", "large block (cached)", "legend-key")]
    colw = (WIDTH - 2 * MARGIN) / LEGEND_COLS
    svg.text(MARGIN, y + 12, "size classes (a dashed outline: part of the page not committed, "
             "purged or not yet touched)", size=12)
    y += 20
    for i, (colour, label, cls) in enumerate(items):
        r, c = divmod(i, LEGEND_COLS)
        svg.rect(MARGIN + c * colw, y + r * ROW, 10, 10, colour, stroke="#999")
        svg.text(MARGIN + c * colw + 14, y + r * ROW + 9, label, size=10, cls=cls)
    return 20 + math.ceil(len(items) / LEGEND_COLS) * ROW


def render(dump, path):
    svg = Svg(WIDTH, f"brisk heap map of {os.path.basename(path)}")
    header(svg, dump, path)
    proc = dump["process"]
    x0 = MARGIN + LABEL_W
    for s in range(0, proc.get("slots", 64), 8):
        svg.text(x0 + s * CELL, TOP - 6, str(s), size=9, fill="#777")
    y = TOP
    for seg in dump["segments"]:
        segment_row(svg, y, seg, dump["pages"][seg["addr"]], proc)
        y += ROW
    y += 10
    y += large_band(svg, y, dump)
    y += legend(svg, y, dump)
    return svg.render(y + MARGIN)


def main():
    ap = argparse.ArgumentParser(prog="brisk heapmap", description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("-o", "--output", help="OUT.svg or OUT.png (default: DUMP with .svg)")
    a = ap.parse_args()
    try:
        dump = load(a.dump)
        svg = render(dump, a.dump)
    except OSError as e:
        die(f"{a.dump}: {e.strerror}")
    except (KeyError, TypeError, ValueError) as e:
        die(f"{a.dump}: a line lacks a field the format requires, or has a bad value ({e!r})")
    out = a.output or default_output(a.dump)
    write_output(svg, out)
    npages = sum(len(p) for p in dump["pages"].values())
    print(f"wrote {out}: {len(dump['segments'])} segments, {npages} pages, "
          f"{len(dump['large'])} large blocks")


if __name__ == "__main__":
    main()
