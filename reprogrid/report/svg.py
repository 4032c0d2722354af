"""A small SVG writer for the report's figures: escaped text, lines, boxes, the markers of
the overview, axes with readable ticks, legends, and an accessible root (``role="img"``,
``<title>`` and ``<desc>`` referenced by ``aria-labelledby``/``aria-describedby``).

No drawing library: the page's figures are written as text, so that ``reprogrid report``
needs no matplotlib (which ``figures`` still uses for PNG export and notebooks).
"""
from __future__ import annotations

import math
from html import escape
from typing import Iterable, List, Optional, Sequence, Tuple

FONT = "system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"
#: average advance of a character, in font sizes (for laying out labels without measuring them)
CHAR_WIDTH = 0.56


def esc(text: object) -> str:
    """Text for an SVG element or attribute (quotes escaped too)."""
    return escape(str(text), quote=True)


def num(value: float) -> str:
    """A coordinate, short: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` at font size ``size`` (px)."""
    return len(text) * size * CHAR_WIDTH


class Svg:
    """An SVG document built element by element; ``str()`` gives the markup."""

    def __init__(self, width: float, height: float, title: str, desc: str, ident: str) -> None:
        self.width, self.height, self.title, self.desc, self.ident = width, height, title, desc, ident
        self.parts: List[str] = []

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, x: float, y: float, text: object, size: float = 11, anchor: str = "start", weight: str = "",
             rotate: float = 0, fill: str = "#222", baseline: str = "") -> None:
        extra = f" font-weight='{weight}'" if weight else ""
        extra += f" transform='rotate({num(rotate)} {num(x)} {num(y)})'" if rotate else ""
        extra += f" dominant-baseline='{baseline}'" if baseline else ""
        extra += f" fill='{fill}'" if fill != "#222" else ""
        self.add(f"<text x='{num(x)}' y='{num(y)}' font-size='{num(size)}' text-anchor='{anchor}'{extra}>"
                 f"{esc(text)}</text>")

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#222", width: float = 1,
             dash: str = "", opacity: float = 1) -> None:
        extra = f" stroke-dasharray='{dash}'" if dash else ""
        extra += f" stroke-opacity='{num(opacity)}'" if opacity != 1 else ""
        self.add(f"<line x1='{num(x1)}' y1='{num(y1)}' x2='{num(x2)}' y2='{num(y2)}' stroke='{stroke}' "
                 f"stroke-width='{num(width)}'{extra}/>")

    def rect(self, x: float, y: float, w: float, h: float, fill: str = "none", stroke: str = "", tip: str = "") -> None:
        extra = f" stroke='{stroke}'" if stroke else ""
        inner = f"<title>{esc(tip)}</title>" if tip else ""
        close = f">{inner}</rect>" if tip else "/>"
        self.add(f"<rect x='{num(x)}' y='{num(y)}' width='{num(w)}' height='{num(h)}' fill='{fill}'{extra}{close}")

    def polyline(self, points: Iterable[Tuple[float, float]], stroke: str, width: float = 1.5, dash: str = "",
                 opacity: float = 1) -> None:
        coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        extra = f" stroke-dasharray='{dash}'" if dash else ""
        extra += f" stroke-opacity='{num(opacity)}'" if opacity != 1 else ""
        self.add(f"<polyline points='{coords}' fill='none' stroke='{stroke}' stroke-width='{num(width)}'{extra}/>")

    def __str__(self) -> str:
        ident = esc(self.ident)
        return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {num(self.width)} {num(self.height)}' "
                f"width='{num(self.width)}' height='{num(self.height)}' role='img' id='{ident}' "
                f"aria-labelledby='{ident}-title' aria-describedby='{ident}-desc' font-family=\"{FONT}\">"
                f"<title id='{ident}-title'>{esc(self.title)}</title><desc id='{ident}-desc'>{esc(self.desc)}</desc>"
                + "".join(self.parts) + "</svg>")

    def document(self) -> str:
        """A standalone .svg file."""
        return "<?xml version='1.0' encoding='utf-8'?>\n" + str(self) + "\n"


# --------------------------------------------------------------------------- markers

def _polygon(n: int, r: float, turn: float = 0.0) -> List[Tuple[float, float]]:
    return [(r * math.sin(turn + 2 * math.pi * i / n), -r * math.cos(turn + 2 * math.pi * i / n)) for i in range(n)]


def _star(r: float) -> List[Tuple[float, float]]:
    return [(rr * math.sin(math.pi * i / 5), -rr * math.cos(math.pi * i / 5)) for i, rr in
            zip(range(10), [r, r * 0.42] * 5)]


def _plus(r: float, w: float = 0.36) -> List[Tuple[float, float]]:
    a = r * w
    return [(-a, -r), (a, -r), (a, -a), (r, -a), (r, a), (a, a), (a, r), (-a, r), (-a, a), (-r, a), (-r, -a), (-a, -a)]


def _rotate(points: List[Tuple[float, float]], degrees: float) -> List[Tuple[float, float]]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return [(x * c - y * s, x * s + y * c) for x, y in points]


def marker_shape(marker: str, r: float) -> List[Tuple[float, float]]:
    """The outline of a matplotlib marker (``o s ^ D v P X * h < > p d 8``) of radius ``r``
    around (0, 0); a circle is a 24-gon."""
    shapes = {
        "o": lambda: _polygon(24, r), "s": lambda: _polygon(4, r * 1.2, math.pi / 4),
        "^": lambda: _polygon(3, r * 1.2), "v": lambda: _polygon(3, r * 1.2, math.pi),
        "<": lambda: _polygon(3, r * 1.2, -math.pi / 2), ">": lambda: _polygon(3, r * 1.2, math.pi / 2),
        "D": lambda: _polygon(4, r * 1.1), "d": lambda: [(x * 0.6, y) for x, y in _polygon(4, r * 1.2)],
        "P": lambda: _plus(r * 1.1), "X": lambda: _rotate(_plus(r * 1.1), 45), "*": lambda: _star(r * 1.35),
        "h": lambda: _polygon(6, r * 1.1), "p": lambda: _polygon(5, r * 1.1), "8": lambda: _polygon(8, r * 1.05),
    }
    return shapes.get(marker, shapes["o"])()


def marker_symbol(ident: str, marker: str, r: float) -> str:
    """A ``<symbol>``-like reusable path (``<path id=...>`` inside ``<defs>``) for ``marker``."""
    pts = marker_shape(marker, r)
    d = "M" + " L".join(f"{num(x)} {num(y)}" for x, y in pts) + " Z"
    return f"<path id='{esc(ident)}' d='{d}'/>"


def use(ident: str, x: float, y: float, fill: str, stroke: str = "#000", width: float = 0.4,
        opacity: float = 1, tip: str = "") -> str:
    """A placed copy of a marker defined with :func:`marker_symbol`."""
    extra = f" fill-opacity='{num(opacity)}'" if opacity != 1 else ""
    inner = f"<title>{esc(tip)}</title></use>" if tip else "/>"
    return (f"<use href='#{esc(ident)}' x='{num(x)}' y='{num(y)}' fill='{fill}' stroke='{stroke}' "
            f"stroke-width='{num(width)}'{extra}" + (">" + inner if tip else inner))


# --------------------------------------------------------------------------- axes

def nice_ticks(lo: float, hi: float, target: int = 6) -> List[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 x 10^k), about ``target`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """A tick's text with as many decimals as the step needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-6:
        decimals += 1
    return f"{value:.{decimals}f}"


class Scale:
    """A linear map from data to pixels, with some margin around the data."""

    def __init__(self, lo: float, hi: float, px_lo: float, px_hi: float, margin: float = 0.0) -> None:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = 0.0, 1.0
        if hi <= lo:
            pad = abs(lo) * 0.05 or 0.5
            lo, hi = lo - pad, hi + pad
        span = hi - lo
        self.lo, self.hi = lo - span * margin, hi + span * margin
        self.px_lo, self.px_hi = px_lo, px_hi

    def __call__(self, value: float) -> float:
        return self.px_lo + (value - self.lo) / (self.hi - self.lo) * (self.px_hi - self.px_lo)


def x_axis(svg: Svg, scale: Scale, y: float, top: float, label: str, size: float = 10,
           grid: bool = True, target: int = 6) -> None:
    """Ticks and tick labels under a plot (``y``: its bottom edge), a light grid up to ``top``, the label."""
    ticks = nice_ticks(scale.lo, scale.hi, target)
    for t in ticks:
        x = scale(t)
        if grid:
            svg.line(x, top, x, y, stroke="#000", width=0.6, opacity=0.15)
        svg.line(x, y, x, y + 4, width=0.8)
        svg.text(x, y + 4 + size, tick_label(t, ticks), size=size, anchor="middle")
    if label:
        svg.text((scale.px_lo + scale.px_hi) / 2, y + 8 + 2.1 * size, label, size=size, anchor="middle")


def y_axis(svg: Svg, scale: Scale, x: float, label: str, size: float = 10, ticks: Optional[List[float]] = None,
           right: float = 0.0) -> None:
    """Ticks and labels left of a plot (``x``: its left edge); a light grid to ``right`` when given."""
    ticks = nice_ticks(scale.lo, scale.hi, 5) if ticks is None else ticks
    for t in ticks:
        y = scale(t)
        if right:
            svg.line(x, y, right, y, stroke="#000", width=0.6, opacity=0.15)
        svg.line(x - 4, y, x, y, width=0.8)
        svg.text(x - 6, y + size * 0.35, tick_label(t, ticks), size=size, anchor="end")
    if label:
        mid = (scale.px_lo + scale.px_hi) / 2
        svg.text(x - 12 - 3.2 * size, mid, label, size=size, anchor="middle", rotate=-90)
