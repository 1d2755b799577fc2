#!/usr/bin/env python3
"""Assertions on brisk's pictures, for tests/suites/insight.sh.

  check_svg.py heapmap SVG DUMP     the map has what the dump has (see heapmap())
  check_svg.py timeline SVG CSV     one line per series, one point per sample
  check_svg.py png PNG SVG          rsvg-convert's PNG: the SVG's size, and at the centre of
                                    each wide enough filled rect, that rect's colour
Prints what it checked; exit 1 with the first failure.
"""

import csv
import json
import re
import struct
import sys
import zlib
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


def svg_root(path):
    root = ET.parse(path).getroot()
    if root.tag != NS + "svg":
        fail(f"{path}: the root element is {root.tag}, not svg")
    return root


def by_class(root, tag, cls):
    return [e for e in root.iter(NS + tag) if e.get("class") == cls]


def texts(root, cls):
    return [e.text or "" for e in by_class(root, "text", cls)]


def heapmap(svg_path, dump_path):
    lines = [json.loads(line) for line in open(dump_path) if line.strip()]
    pages = [o for o in lines if o["type"] == "page"]
    segs = [o for o in lines if o["type"] == "segment"]
    large = [o for o in lines if o["type"] == "large"]
    stats = next(o for o in lines if o["type"] == "stats")
    root = svg_root(svg_path)
    page_rects = by_class(root, "rect", "page")
    if len(page_rects) != len(pages):
        fail(f"{len(page_rects)} page rects for {len(pages)} page lines")
    fills = by_class(root, "rect", "fill")
    want_fills = sum(1 for p in pages if p["used"] > 0 and p["capacity"] > 0)
    if len(fills) != want_fills:
        fail(f"{len(fills)} fill rects for {want_fills} pages with blocks in use")
    # each fill's width against its page's: used / capacity (fills follow their page)
    fi = iter(fills)
    for rect, p in zip(page_rects, pages):
        if p["used"] > 0 and p["capacity"] > 0:
            f = next(fi)
            want = float(rect.get("width")) * min(p["used"] / p["capacity"], 1.0)
            if abs(float(f.get("width")) - max(want, 1.0)) > 0.11 or f.get("x") != rect.get("x"):
                fail(f"page at slot {p['slot']}: fill {f.get('width')} px, expected {want:.1f}")
    if len(by_class(root, "text", "seglabel")) != len(segs):
        fail(f"{len(by_class(root, 'text', 'seglabel'))} segment labels for {len(segs)} segments")
    groups = [g for g in root.iter(NS + "g") if g.get("class") == "large"]
    if len(groups) != len(large):
        fail(f"{len(groups)} large-block groups for {len(large)} large lines")
    totals = " ".join(texts(root, "totals"))
    live, committed = stats["live_bytes"], stats["committed_bytes"]
    for want in (f"live {live} B", f"committed {committed} B",
                 f"fragmentation {committed / live:.2f}" if live else "fragmentation n/a"):
        if want not in totals:
            fail(f"header '{totals}' lacks '{want}'")
    # segments' bytes in RAM (the dump's `resident`, mincore): their sum in the counts line
    res = [sg.get("resident", -1) for sg in segs]
    counts = " ".join(texts(root, "counts"))
    if res and min(res) >= 0 and "of the segments in RAM" not in counts:
        fail(f"counts '{counts}' lack the segments' bytes in RAM")
    classes = {p["class"] for p in pages}
    legend = texts(root, "legend")
    if len(legend) != len(classes):
        fail(f"{len(legend)} legend entries for {len(classes)} size classes")
    for c in classes:
        size = next(p["block_size"] for p in pages if p["class"] == c)
        if not any(t.startswith(f"class {c}: {size} B") for t in legend):
            fail(f"no legend entry for class {c} ({size} B)")
    print(f"heapmap ok: {len(pages)} pages, {len(fills)} fills, {len(segs)} segments, "
          f"{len(large)} large blocks, {len(classes)} classes; totals '{totals}'")


def timeline(svg_path, csv_path):
    rows = list(csv.DictReader(open(csv_path, newline="")))
    root = svg_root(svg_path)
    lines = {p.get("data-name"): p for p in by_class(root, "polyline", "series")}
    want = [c for c in rows[0] if c not in ("record", "time_ns") and any(r[c] for r in rows)]
    if sorted(lines) != sorted(want):
        fail(f"series drawn {sorted(lines)}, columns with values {sorted(want)}")
    for name, pl in lines.items():
        n = len(pl.get("points").split())
        have = sum(1 for r in rows if r[name])
        if n != have:
            fail(f"{name}: {n} points for {have} samples")
    peaks = " ".join(texts(root, "peaks"))
    if "peak live" not in peaks or len(by_class(root, "text", "legend")) != len(want):
        fail(f"peaks '{peaks}', legend {texts(root, 'legend')}")
    print(f"timeline ok: {len(lines)} series of {len(rows)} samples; {peaks}")


def png_pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, head = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = head
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail(f"{path}: PNG of depth {depth}, colour type {ctype}: not read here")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def png(png_path, svg_path):
    root = svg_root(svg_path)
    w, h, bpp, rows = png_pixels(png_path)
    sw, sh = int(root.get("width")), int(root.get("height"))
    if (w, h) != (sw, sh):
        fail(f"PNG is {w}x{h}, the SVG says {sw}x{sh}")
    checked = 0
    # segment headers are drawn over the page that shares slot 0: a rect's centre under one
    # shows the header's colour
    hdrs = [tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
            for r in by_class(root, "rect", "hdr")]
    for r in root.iter(NS + "rect"):
        fill, width, height = r.get("fill"), float(r.get("width")), float(r.get("height"))
        if r.get("class") in ("fill", "large-piece", "hdr") and width >= 4 and height >= 4 \
                and re.fullmatch(r"#[0-9a-f]{6}", fill or ""):
            x = int(float(r.get("x")) + width / 2)
            y = int(float(r.get("y")) + height / 2)
            if r.get("class") != "hdr" and any(hx <= x < hx + hw + 1 and hy <= y < hy + hh
                                               for hx, hy, hw, hh in hdrs):
                continue
            px = rows[y][x * bpp:x * bpp + 3]
            want = bytes.fromhex(fill[1:])
            if any(abs(a - b) > 2 for a, b in zip(px, want)):
                fail(f"pixel ({x},{y}) is #{bytes(px).hex()}, the rect there is {fill}")
            checked += 1
    colours = {bytes(rows[y][x * bpp:x * bpp + 3]) for y in range(0, h, 3) for x in range(0, w, 3)}
    if checked == 0 and len(colours) < 4:
        fail(f"the PNG looks blank ({len(colours)} colours)")
    print(f"png ok: {w}x{h} as the SVG says; {checked} rect colours found at their centres; "
          f"{len(colours)} colours")


if __name__ == "__main__":
    {"heapmap": heapmap, "timeline": timeline, "png": png}[sys.argv[1]](*sys.argv[2:])
