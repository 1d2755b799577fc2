"""What brisk's two pictures (heapmap.py, timeline.py) share: number formats, colours, SVG
elements, and writing the result as SVG or, through rsvg-convert, PNG. Standard library only."""

import colorsys
import math
import os
import shutil
import subprocess
import sys
import tempfile
from xml.sax.saxutils import escape, quoteattr

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"


def die(msg):
    print(f"brisk: {msg}", file=sys.stderr)
    sys.exit(2)


def human(n):
    """Bytes as "1.5 MiB" (binary units)."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def class_colour(block_size, light=False):
    """Small blocks blue, large ones red: the hue follows log2 of the block size from 16 B to
    256 KiB, so neighbouring classes look alike and distant ones differ."""
    t = (math.log2(max(block_size, 16)) - 4) / (18 - 4)
    t = min(max(t, 0.0), 1.0)
    hue = (230 - 230 * t) / 360
    r, g, b = colorsys.hls_to_rgb(hue, 0.85 if light else 0.5, 0.75)
    return "#%02x%02x%02x" % (round(r * 255), round(g * 255), round(b * 255))


def nice_step(span, ticks=5):
    """A round step (1, 2 or 5 times a power of 2^10-friendly 10) giving about TICKS ticks."""
    if span <= 0:
        return 1
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


class Svg:
    def __init__(self, width, title):
        self.width = width
        self.parts = []
        self.title = title

    def rect(self, x, y, w, h, fill, cls=None, stroke=None, extra="", tip=None):
        a = f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"'
        if cls:
            a += f' class="{cls}"'
        if stroke:
            a += f' stroke="{stroke}"'
        a += (" " + extra if extra else "")
        if tip:
            self.parts.append(a + f"><title>{escape(tip)}</title></rect>")
        else:
            self.parts.append(a + "/>")

    def text(self, x, y, s, size=12, anchor="start", cls=None, weight=None, fill="#222"):
        a = f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
        if cls:
            a += f' class="{cls}"'
        if weight:
            a += f' font-weight="{weight}"'
        self.parts.append(a + f">{escape(s)}</text>")

    def line(self, x1, y1, x2, y2, stroke="#999", width=1, extra=""):
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                          f'stroke="{stroke}" stroke-width="{width}" {extra}/>')

    def raw(self, s):
        self.parts.append(s)

    def render(self, height):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
                f'height="{int(math.ceil(height))}" viewBox="0 0 {self.width} '
                f'{int(math.ceil(height))}" font-family={quoteattr(FONT)}>\n'
                f"<title>{escape(self.title)}</title>\n"
                f'<rect x="0" y="0" width="{self.width}" height="{int(math.ceil(height))}" '
                f'fill="#ffffff"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def write_output(svg_text, out):
    """Writes SVG to OUT, or a PNG when OUT ends in .png (rsvg-convert, Debian package
    librsvg2-bin, draws it at the SVG's own size)."""
    if not out.lower().endswith(".png"):
        with open(out, "w") as f:
            f.write(svg_text)
        return
    conv = shutil.which("rsvg-convert")
    if not conv:
        die("PNG output needs rsvg-convert: apt-get install librsvg2-bin (or write .svg)")
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as f:
        f.write(svg_text)
        tmp = f.name
    try:
        r = subprocess.run([conv, "-f", "png", "-o", out, tmp], capture_output=True, text=True)
        if r.returncode != 0:
            die(f"rsvg-convert failed: {r.stderr.strip()}")
    finally:
        os.unlink(tmp)


def default_output(path, ext=".svg"):
    base = os.path.basename(path)
    for old in (".jsonl", ".json", ".csv"):
        if base.endswith(old):
            base = base[: -len(old)]
            break
    return os.path.join(os.path.dirname(path), base + ext)
