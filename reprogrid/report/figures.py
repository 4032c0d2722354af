"""The report's figures drawn by matplotlib, from their descriptions (``figdata``): the
overview (every environment's value per workload), the determinism matrix and the k-curve,
as matplotlib Figures, PNG/SVG bytes and files. The report page draws its figures as SVG
text (``svgfigures``); matplotlib is imported only here, on first use: ``report --png`` and
notebooks.

Notebook API::

    from reprogrid.report.figures import overview_figure, determinism_figure, export_figures
    fig = overview_figure(df)                 # a matplotlib Figure (display it in a notebook)
    paths = export_figures(df, "figures/")    # overview.png/.svg, determinism.png/.svg

Each figure is drawn once per format (no ``bbox_inches="tight"``, which draws twice; the
layout is the figure's own constrained layout).
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from reprogrid import analysis
from reprogrid.core.files import write_bytes_atomic
from reprogrid.report import figdata
from reprogrid.report.figdata import LEGEND_HARDWARE, LEVEL_COLOURS, MARKERS, colours  # noqa: F401  (their home)

PathLike = Union[str, "os.PathLike[str]"]


def new_figure(width: float, height: float):
    """A matplotlib Figure on an Agg canvas, constrained layout (no pyplot global state)."""
    # matplotlib is imported here: the report is its only user, and the CLI starts faster without it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def fix_layout(fig):
    """Run the constrained layout once and keep it, so that each format's save draws once."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    return fig


def to_bytes(fig, fmt: str = "png") -> bytes:
    """The figure as PNG or SVG bytes (one draw)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Software": None} if fmt == "png" else {"Date": None})
    return buf.getvalue()


def overview_figure(df: pd.DataFrame, workloads: Optional[Sequence[str]] = None):
    """Every run's value of every environment, one row per workload (its own axis): colour =
    software environment, marker = hardware environment; repeats are drawn side by side
    (a little apart vertically) so that identical repeats stay visible. None without runs."""
    return draw_overview(figdata.overview(analysis.prepare(df), workloads=workloads))


def draw_overview(fig_data: Optional[figdata.Overview]):
    """The overview description as a matplotlib Figure (None for None)."""
    if fig_data is None:
        return None
    fig = new_figure(12.0, 0.55 + 0.95 * len(fig_data.rows))
    axes = fig.subplots(len(fig_data.rows), 1, squeeze=False)[:, 0]
    for ax, row in zip(axes, fig_data.rows):
        hardware = np.array(row.hardware)
        for hw in sorted(set(row.hardware)):  # one collection per marker: few artists to draw
            sel = hardware == hw
            ax.scatter(row.x[sel], row.y[sel], s=24, marker=fig_data.marker[hw],
                       c=[fig_data.colour[sw] for sw, keep in zip(row.software, sel) if keep],
                       alpha=0.75, edgecolors="black", linewidths=0.3)
        ax.set_yticks([0])
        ax.set_yticklabels([row.workload], fontsize=9)
        ax.set_ylim(-0.5, 0.5)
        ax.set_xlabel(row.xlabel, fontsize=8, labelpad=1)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.05)
    _overview_legend(fig, fig_data)
    return fig


def _overview_legend(fig, d: figdata.Overview) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=d.colour[s], label=s) for s in d.software]
    handles += [Line2D([], [], ls="", marker=d.marker[h], color="#555555", markerfacecolor="white", label=h)
                for h in d.hardware[:LEGEND_HARDWARE]]
    if len(d.hardware) > LEGEND_HARDWARE:
        handles.append(Line2D([], [], ls="", label=f"... {len(d.hardware) - LEGEND_HARDWARE} more hardware"))
    rows = max(4, int(fig.get_figheight() / 0.15))  # entries that fit the figure's height, per column
    fig.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False, ncols=-(-len(handles) // rows),
               title="colour = software, marker = hardware", title_fontsize=7.5, handletextpad=0.2, columnspacing=0.8,
               labelspacing=0.25)


def determinism_figure(det: pd.DataFrame, workloads: Union[str, Sequence[str], None] = None):
    """Do the repeats agree? One panel per workload (all of them by default, or the one or
    ones named), hardware (rows, shared) x software (columns), the worst level per cell,
    colour-coded (``det``: ``analysis.determinism``). None when there is no cell."""
    return draw_determinism(figdata.determinism(det, workloads))


def draw_determinism(d: Optional[figdata.Determinism]):
    """The determinism description as a matplotlib Figure (None for None)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if d is None:
        return None
    levels = list(LEVEL_COLOURS)
    columns = sum(len(p.columns) for p in d.panels)
    fig = new_figure(3.4 + 0.5 * columns + 0.3 * len(d.panels), 1.9 + 0.26 * len(d.hardware))
    axes = fig.subplots(1, len(d.panels), sharey=True, squeeze=False,
                        gridspec_kw={"width_ratios": [len(p.columns) for p in d.panels]})[0]
    cmap = ListedColormap(list(LEVEL_COLOURS.values()))
    for ax, panel in zip(axes, d.panels):
        codes = np.array([[levels.index(v) if v is not None else np.nan for v in row] for row in panel.levels],
                         dtype=float)
        ax.imshow(np.ma.masked_invalid(codes), aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(levels) - 0.5,
                  interpolation="nearest")
        ax.set_xticks(range(len(panel.columns)))
        ax.set_xticklabels(panel.columns, rotation=40, ha="right", fontsize=7)
        ax.set_title(panel.workload, fontsize=8)
    axes[0].set_yticks(range(len(d.hardware)))
    axes[0].set_yticklabels(d.hardware, fontsize=7)
    axes[0].set_ylabel("hardware environment", fontsize=8)
    fig.supxlabel("software environment", fontsize=8)
    fig.suptitle(d.title, fontsize=9)
    fig.legend(handles=[Patch(color=LEVEL_COLOURS[lvl], label=lvl) for lvl in d.present], fontsize=7,
               loc="outside right upper", frameon=False)
    return fig


def draw_k_curve(d: Optional[figdata.KCurve]):
    """How many environments are enough: P(k random environments reveal the full range), per
    workload (solid), and P(they include a nondeterministic environment) (dashed), over k."""
    if d is None:
        return None
    fig = new_figure(8.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    cmap = colours(len(d.lines))
    for i, (workload, k, full, nondet) in enumerate(d.lines):
        # lines that coincide stay visible: wider lines under narrower ones, each with its own marker
        width = 1.2 + 2.2 * (len(d.lines) - 1 - i)
        ax.plot(k, full, "-", color=cmap[i], lw=width, alpha=0.8, marker="osd^v"[i % 5],
                ms=3 + 1.5 * (len(d.lines) - 1 - i), label=f"{workload}: full range")
        if nondet is not None:
            ax.plot(k, nondet, "--", color=cmap[i], lw=width, alpha=0.8,
                    label=f"{workload}: a nondeterministic environment")
    ax.axhline(0.95, color="#999999", lw=0.8, ls=":")
    ax.set_xlabel(d.xlabel)
    ax.set_ylabel(d.ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(d.title)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def draw(d: object):
    """Any figure description as a laid-out matplotlib Figure (None for None)."""
    if d is None:
        return None
    drawer = {figdata.Overview: draw_overview, figdata.Determinism: draw_determinism}.get(type(d), draw_k_curve)
    return fix_layout(drawer(d))


def label_grid(ax, table: pd.DataFrame, title: str) -> None:
    """Ticks, axis labels and title of a hardware (rows) x software (columns) grid."""
    ax.set_xticks(range(table.shape[1]))
    ax.set_xticklabels([str(c) for c in table.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]))
    ax.set_yticklabels([str(i) for i in table.index], fontsize=8)
    ax.set_xlabel("software environment", fontsize=8)
    ax.set_ylabel("hardware environment", fontsize=8)
    ax.set_title(title, fontsize=9)


def export_figures(df: pd.DataFrame, out_dir: PathLike, *, det: Optional[pd.DataFrame] = None,
                   formats: Sequence[str] = ("png", "svg")) -> List[Path]:
    """Write the overview and the determinism matrix (a panel per workload) into ``out_dir`` in
    each format (``overview.png``, ``determinism.svg``...); returns the paths written."""
    det = analysis.determinism(df) if det is None else det
    figures = {"overview": overview_figure(df), "determinism": determinism_figure(det)}
    return write_figures({k: fix_layout(v) for k, v in figures.items() if v is not None}, out_dir, formats)


def write_figures(figures: Dict[str, object], out_dir: PathLike, formats: Sequence[str] = ("png", "svg")) -> List[Path]:
    """Each figure in each format, atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            write_bytes_atomic(path, to_bytes(fig, fmt))
            paths.append(path)
    return paths
