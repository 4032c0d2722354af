"""The report's figures drawn as SVG text from their descriptions (``figdata``): the
overview, the determinism matrices and the k-curve, for the page (inline) and
``figures/*.svg``. Each carries its title, what it was computed from (``<desc>``), axis
labels and a legend; each point or square has its own tooltip.
"""
from __future__ import annotations

import math
from typing import List, Optional

from reprogrid.report.figdata import LEGEND_HARDWARE, LEVEL_COLOURS, Determinism, KCurve, Overview, colours
from reprogrid.report.svg import Scale, Svg, esc, marker_symbol, num, text_width, use, x_axis, y_axis

ROW_HEIGHT = 98
LEGEND_WIDTH = 250


def overview_svg(fig: Overview, ident: str = "overview-figure") -> Svg:
    """One row per workload (its own x axis), colour = software, marker = hardware."""
    label_w = max(text_width(r.workload, 11) for r in fig.rows) + 16
    left, right = label_w, 1200 - LEGEND_WIDTH
    top, plot_h = 8, 56
    height = top + ROW_HEIGHT * len(fig.rows) + 4
    svg = Svg(1200, max(height, _legend_height(fig) + 16), fig.title, fig.desc(), ident)
    svg.add("<defs>" + "".join(marker_symbol(f"{ident}-m{i}", fig.marker[h], 4.2) for i, h in enumerate(fig.hardware))
            + "</defs>")
    mark = {h: f"{ident}-m{i}" for i, h in enumerate(fig.hardware)}
    for i, row in enumerate(fig.rows):
        y0 = top + i * ROW_HEIGHT
        finite = [v for v in row.x if math.isfinite(v)]
        xs = Scale(min(finite, default=0.0), max(finite, default=1.0), left, right, margin=0.05)
        ys = Scale(-0.5, 0.5, y0 + plot_h, y0)
        svg.add(f"<g aria-label='{esc(row.workload)}: {esc(row.spread)}'>")
        svg.rect(left, y0, right - left, plot_h, fill="#fff", stroke="#444")
        x_axis(svg, xs, y0 + plot_h, y0, row.xlabel, size=9.5, target=9)
        svg.text(left - 8, ys(0) + 4, row.workload, size=11, anchor="end")
        svg.line(left - 4, ys(0), left, ys(0), width=0.8)
        for x, y, sw, hw in zip(row.x, row.y, row.software, row.hardware):
            if math.isfinite(x):
                svg.add(use(mark[hw], xs(x), ys(y), fig.colour[sw], opacity=0.75,
                            tip=f"{row.workload}: {x:.4g} ({sw} on {hw})"))
        svg.add("</g>")
    _overview_legend(svg, fig, right + 14, mark)
    return svg


def _legend_height(fig: Overview) -> float:
    return 26 + 12.5 * (len(fig.software) + min(len(fig.hardware), LEGEND_HARDWARE + 1))


def _overview_legend(svg: Svg, fig: Overview, x: float, mark: dict) -> None:
    y = 14
    svg.text(x, y, "colour = software, marker = hardware", size=10, weight="600")
    entries = [(s, f"<circle cx='0' cy='0' r='4.2' fill='{fig.colour[s]}' stroke='#000' stroke-width='0.4'/>")
               for s in fig.software]
    entries += [(h, use(mark[h], 0, 0, "#fff", stroke="#555", width=0.9)) for h in fig.hardware[:LEGEND_HARDWARE]]
    if len(fig.hardware) > LEGEND_HARDWARE:
        entries.append((f"... {len(fig.hardware) - LEGEND_HARDWARE} more hardware", ""))
    rows = max(4, int((svg.height - 24) // 12.5))
    per_col = max(rows, -(-len(entries) // 2))
    for i, (label, glyph) in enumerate(entries):
        col, r = divmod(i, per_col)
        cx, cy = x + 6 + col * 120, y + 14 + r * 12.5
        if glyph:
            svg.add(f"<g transform='translate({num(cx)} {num(cy)})'>{glyph}</g>")
        svg.text(cx + 9, cy + 3.5, label, size=9)


def determinism_svg(fig: Determinism, ident: str = "determinism-figure") -> Svg:
    """Hardware (rows, shared) x software (columns) per workload panel; a square per cell."""
    cell_w, cell_h = 26, 17
    label_w = max(text_width(h, 9) for h in fig.hardware) + 30
    col_label_h = max(text_width(c, 8.5) for p in fig.panels for c in p.columns) * 0.72 + 16
    top = 34
    width = label_w + sum(len(p.columns) * cell_w + 18 for p in fig.panels) + 190
    height = top + cell_h * len(fig.hardware) + col_label_h + 18
    svg = Svg(width, max(height, 40 + 16 * len(fig.present)), fig.title, fig.desc(), ident)
    svg.text(width / 2, 14, fig.title, size=11.5, anchor="middle", weight="600")
    svg.text(14, top + cell_h * len(fig.hardware) / 2, "hardware environment", size=10, anchor="middle", rotate=-90)
    for j, hw in enumerate(fig.hardware):
        svg.text(label_w - 5, top + j * cell_h + cell_h / 2 + 3, hw, size=9, anchor="end")
    x0 = label_w
    for panel in fig.panels:
        svg.text(x0 + len(panel.columns) * cell_w / 2, top - 6, panel.workload, size=10, anchor="middle")
        for j, levels in enumerate(panel.levels):
            for k, level in enumerate(levels):
                if level is not None:
                    svg.rect(x0 + k * cell_w, top + j * cell_h, cell_w - 1, cell_h - 1, fill=LEVEL_COLOURS[level],
                             tip=f"{panel.workload}, {fig.hardware[j]} x {panel.columns[k]}: {level}")
        svg.rect(x0 - 0.5, top - 0.5, len(panel.columns) * cell_w, len(fig.hardware) * cell_h, stroke="#444")
        base = top + len(fig.hardware) * cell_h + 4
        for k, column in enumerate(panel.columns):
            cx = x0 + k * cell_w + cell_w / 2
            svg.text(cx + 3, base + 4, column, size=8.5, anchor="end", rotate=-40)
        x0 += len(panel.columns) * cell_w + 18
    svg.text((label_w + x0) / 2, height - 4, "software environment", size=10, anchor="middle")
    for i, level in enumerate(fig.present):  # the legend
        svg.rect(x0 + 6, top + i * 16, 12, 12, fill=LEVEL_COLOURS[level], stroke="#888")
        svg.text(x0 + 24, top + i * 16 + 10, level, size=9.5)
    return svg


def k_curve_svg(fig: KCurve, ident: str = "k-curve-figure") -> Svg:
    """P(full range) solid and P(a nondeterministic environment) dashed, per workload, over k."""
    width, height = 850, 400
    left, right, top, bottom = 64, width - 16, 30, height - 50
    ks = [k for _, kk, _, _ in fig.lines for k in kk]
    xs = Scale(min(ks), max(ks), left, right, margin=0.04)
    ys = Scale(-0.02, 1.02, bottom, top)
    svg = Svg(width, height, fig.title, fig.desc(), ident)
    svg.text((left + right) / 2, 18, fig.title, size=12.5, anchor="middle", weight="600")
    svg.rect(left, top, right - left, bottom - top, fill="#fff", stroke="#444")
    x_axis(svg, xs, bottom, top, fig.xlabel, size=10, grid=False)
    y_axis(svg, ys, left, fig.ylabel, size=10, ticks=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    svg.line(left, ys(0.95), right, ys(0.95), stroke="#999", width=0.9, dash="2 3")
    palette = colours(len(fig.lines))
    legend: List[tuple] = []
    for i, (workload, k, full, nondet) in enumerate(fig.lines):
        width_px = 1.2 + 2.2 * (len(fig.lines) - 1 - i)  # lines that coincide stay visible: wider ones under
        for values, dash, what in ((full, "", "full range"), (nondet, "6 4", "a nondeterministic environment")):
            if values is None:
                continue
            dash = dash and f"{num(3 * width_px + 4)} {num(2 * width_px + 3)}"  # dashes that stay dashes when wide
            for segment in _segments(k, values):
                svg.polyline([(xs(a), ys(b)) for a, b in segment], palette[i], width=width_px, dash=dash, opacity=0.8)
            for a, b in zip(k, values):
                if math.isfinite(b):
                    svg.add(f"<circle cx='{num(xs(a))}' cy='{num(ys(b))}' r='{num(1.5 + 0.75 * (len(fig.lines) - 1 - i))}'"
                            f" fill='{palette[i]}'><title>{esc(workload)}, k = {a}: P({esc(what)}) = {b:.3f}"
                            f"</title></circle>")
            legend.append((f"{workload}: {what}", palette[i], dash, width_px))
    lx = right - 8 - max((text_width(t[0], 9) for t in legend), default=0) - 44
    if legend:  # lower right, inside the axes, on white
        svg.rect(lx - 6, bottom - 20 - (len(legend) - 1) * 15, right - lx, len(legend) * 15 + 6, fill="#fff",
                 stroke="#ccc")
    for j, (label, colour, dash, width_px) in enumerate(legend):
        y = bottom - 10 - (len(legend) - 1 - j) * 15
        svg.line(lx, y - 3, lx + 34, y - 3, stroke=colour, width=width_px, dash=dash, opacity=0.8)
        svg.text(lx + 40, y, label, size=9)
    return svg


def _segments(k: List[int], values: List[float]) -> List[List[tuple]]:
    """Runs of finite points (a missing value breaks the line, as in matplotlib)."""
    out: List[List[tuple]] = [[]]
    for a, b in zip(k, values):
        if math.isfinite(b):
            out[-1].append((a, b))
        elif out[-1]:
            out.append([])
    return [s for s in out if s]


def draw(fig: Optional[object], ident: str) -> Optional[Svg]:
    """The SVG of any figure description (None for None)."""
    if fig is None:
        return None
    if isinstance(fig, Overview):
        return overview_svg(fig, ident)
    if isinstance(fig, Determinism):
        return determinism_svg(fig, ident)
    return k_curve_svg(fig, ident)
