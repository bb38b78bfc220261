"""Audience charts as SVG: pure functions from figures to a self-contained <svg> document
(no scripts, no external files), readable by a screen reader through its <title> and <desc>,
printable, and small enough to inline in the monthly report.

- `bars`: labelled horizontal bars (top programmes by listening hours);
- `columns`: a value per hour (listeners over a day);
- `heat_map`: a grid of days × hours (a week by hour);
- `world`: proportional circles at countries' centres on an equirectangular map."""

from __future__ import annotations

from collections.abc import Sequence
from math import sqrt
from xml.sax.saxutils import escape, quoteattr

from audience.world import CENTRES

INK = "#1f2937"
FAINT = "#d1d5db"
ACCENT = "#0f766e"
FONT = "font-family='system-ui, sans-serif' font-size='12'"


def _doc(width: int, height: int, title: str, desc: str, body: Sequence[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-labelledby='t d' {FONT}>"
        f"<title id='t'>{escape(title)}</title><desc id='d'>{escape(desc)}</desc>"
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>" + "".join(body) + "</svg>"
    )


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


def bars(title: str, items: Sequence[tuple[str, float]], unit: str) -> str:
    """One bar per item, longest first as given."""
    width, row, left = 640, 26, 220
    height = 40 + row * max(len(items), 1)
    top = max((v for _, v in items), default=0) or 1
    body = [f"<text x='10' y='22' fill='{INK}' font-weight='bold'>{escape(title)}</text>"]
    for i, (label, value) in enumerate(items):
        y = 34 + i * row
        w = (width - left - 90) * value / top
        name = label if len(label) <= 32 else label[:31] + "…"
        body.append(
            f"<text x='{left - 8}' y='{y + 15}' text-anchor='end' fill='{INK}'>"
            f"{escape(name)}</text>"
            f"<rect class='bar' x='{left}' y='{y}' width='{w:.1f}' height='{row - 8}' "
            f"fill='{ACCENT}'><title>{escape(label)}: {_num(value)} {escape(unit)}</title></rect>"
            f"<text x='{left + w + 6:.1f}' y='{y + 15}' fill='{INK}'>{_num(value)}</text>"
        )
    if not items:
        body.append(f"<text x='10' y='52' fill='{INK}'>—</text>")
    desc = "; ".join(f"{label}: {_num(v)} {unit}" for label, v in items) or "no listening"
    return _doc(width, height, title, desc, body)


def columns(title: str, values: Sequence[tuple[str, float]], unit: str) -> str:
    """A column per value (the hours of a day), labelled below every third."""
    width, height, left, bottom = 640, 240, 50, 200
    n = max(len(values), 1)
    step = (width - left - 10) / n
    top = max((v for _, v in values), default=0) or 1
    body = [
        f"<text x='10' y='22' fill='{INK}' font-weight='bold'>{escape(title)}</text>",
        f"<line x1='{left}' y1='{bottom}' x2='{width - 10}' y2='{bottom}' stroke='{FAINT}'/>",
        f"<text x='{left - 6}' y='44' text-anchor='end' fill='{INK}'>{_num(top)}</text>",
    ]
    for i, (label, value) in enumerate(values):
        h = (bottom - 40) * value / top
        x = left + i * step
        body.append(
            f"<rect class='bar' x='{x + 1:.1f}' y='{bottom - h:.1f}' width='{step - 2:.1f}' "
            f"height='{h:.1f}' fill='{ACCENT}'><title>{escape(label)}: {_num(value)} "
            f"{escape(unit)}</title></rect>"
        )
        if i % 3 == 0:
            body.append(
                f"<text x='{x + step / 2:.1f}' y='{bottom + 16}' text-anchor='middle' "
                f"fill='{INK}'>{escape(label)}</text>"
            )
    desc = f"{unit} by hour: " + ", ".join(f"{k} {_num(v)}" for k, v in values)
    return _doc(width, height, title, desc, body)


def heat_map(
    title: str, rows: Sequence[str], cols: Sequence[str], grid: Sequence[Sequence[float]], unit: str
) -> str:
    """A cell per row and column (days of the week × hours), darker for more."""
    cell, left, top_y = 24, 50, 40
    width = left + cell * len(cols) + 10
    height = top_y + cell * len(rows) + 30
    top = max((v for r in grid for v in r), default=0) or 1
    body = [f"<text x='10' y='22' fill='{INK}' font-weight='bold'>{escape(title)}</text>"]
    for i, name in enumerate(rows):
        y = top_y + i * cell
        body.append(
            f"<text x='{left - 6}' y='{y + 16}' text-anchor='end' fill='{INK}'>"
            f"{escape(name)}</text>"
        )
        for j, value in enumerate(grid[i]):
            shade = value / top
            body.append(
                f"<rect class='cell' x='{left + j * cell}' y='{y}' width='{cell - 2}' "
                f"height='{cell - 2}' fill='{ACCENT}' fill-opacity='{0.06 + 0.94 * shade:.3f}'>"
                f"<title>{escape(name)} {escape(cols[j])}: {_num(value)} {escape(unit)}"
                "</title></rect>"
            )
    for j, name in enumerate(cols):
        if j % 3 == 0:
            body.append(
                f"<text x='{left + j * cell + cell / 2 - 1}' y='{height - 12}' "
                f"text-anchor='middle' fill='{INK}'>{escape(name)}</text>"
            )
    desc = f"{unit} by day of the week and hour; the most: {_num(top)}"
    return _doc(width, height, title, desc, body)


def world(title: str, countries: Sequence[tuple[str, float]], unit: str) -> str:
    """A circle per country with an area proportional to its value, at its centre on an
    equirectangular map (longitude → x, latitude → y), over a 30° graticule."""
    width, height, top_y = 720, 400, 30
    scale = width / 360

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (lon + 180) * scale, top_y + (90 - lat) * scale

    body = [f"<text x='10' y='20' fill='{INK}' font-weight='bold'>{escape(title)}</text>"]
    for lon in range(-180, 181, 30):
        x, _ = xy(0, lon)
        body.append(
            f"<line class='graticule' x1='{x:.1f}' y1='{top_y}' x2='{x:.1f}' "
            f"y2='{top_y + 180 * scale:.1f}' stroke='{FAINT}' stroke-width='0.5'/>"
        )
    for lat in range(-90, 91, 30):
        _, y = xy(lat, 0)
        body.append(
            f"<line class='graticule' x1='0' y1='{y:.1f}' x2='{width}' y2='{y:.1f}' "
            f"stroke='{FAINT}' stroke-width='0.5'/>"
        )
    top = max((v for _, v in countries), default=0) or 1
    placed = [(c, v) for c, v in countries if c in CENTRES and v > 0]
    for code, value in sorted(placed, key=lambda cv: -cv[1]):
        x, y = xy(*CENTRES[code])
        r = 2 + 28 * sqrt(value / top)
        body.append(
            f"<circle class='country' data-country={quoteattr(code)} cx='{x:.1f}' cy='{y:.1f}' "
            f"r='{r:.1f}' fill='{ACCENT}' fill-opacity='0.55' stroke='{ACCENT}'>"
            f"<title>{escape(code)}: {_num(value)} {escape(unit)}</title></circle>"
        )
        if r > 8:
            body.append(
                f"<text x='{x:.1f}' y='{y + 4:.1f}' text-anchor='middle' fill='#ffffff' "
                f"font-size='10'>{escape(code)}</text>"
            )
    unplaced = [c for c, v in countries if c not in CENTRES and v > 0]
    if unplaced:
        body.append(
            f"<text x='10' y='{height - 6}' fill='{INK}'>not on the map: "
            f"{escape(', '.join(unplaced))}</text>"
        )
    desc = "; ".join(f"{c}: {_num(v)} {unit}" for c, v in countries) or "no listening"
    return _doc(width, height, title, desc, body)
