"""The report's exportable figures: the overview (every environment's value per workload) and
the determinism matrix, as matplotlib Figures, PNG/SVG bytes and files.

Notebook API::

    from reprogrid.report.figures import overview_figure, determinism_figure, export_figures
    fig = overview_figure(df)                 # a matplotlib Figure (display it in a notebook)
    paths = export_figures(df, "figures/")    # overview.png/.svg, determinism-<workload>.png/.svg

Each figure is drawn once per format (no ``bbox_inches="tight"``, which draws twice; the
layout is the figure's own constrained layout).
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from reprogrid import analysis
from reprogrid.core.files import write_bytes_atomic

PathLike = Union[str, "os.PathLike[str]"]
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p", "d", "8")
#: the hardware environments named in the legend (markers repeat beyond MARKERS)
LEGEND_HARDWARE = 14


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


def colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def overview_figure(df: pd.DataFrame, workloads: Optional[Sequence[str]] = None):
    """Every run's value of every environment, one row per workload (its own axis): colour =
    software environment, marker = hardware environment; repeats are drawn side by side
    (a little apart vertically) so that identical repeats stay visible. None without runs."""
    ok = analysis.prepare(df)
    ok = ok[(ok["status"].astype(str) == "ok") & ok["value"].notna()]
    if ok.empty:
        return None
    names = list(workloads) if workloads else sorted(set(ok["workload"].astype(str)))
    software = sorted(set(ok["software_env"].astype(str)))
    hardware = sorted(set(ok["hardware_env"].astype(str)))
    colour = dict(zip(software, colours(len(software))))
    marker = {h: MARKERS[i % len(MARKERS)] for i, h in enumerate(hardware)}
    fig = new_figure(12.0, 0.55 + 0.95 * len(names))
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, workload in zip(axes, names):
        _overview_row(ax, ok[ok["workload"].astype(str) == workload], workload, software, colour, marker)
    _overview_legend(fig, axes[0], software, hardware, colour, marker)
    return fig


def _overview_row(ax, part: pd.DataFrame, workload: str, software: List[str], colour: Dict, marker: Dict) -> None:
    fraction = str(part["metric_name"].iloc[0]) in analysis.FRACTION_METRICS if len(part) else False
    scale = 100.0 if fraction else 1.0
    band = np.linspace(-0.28, 0.28, len(software)) if len(software) > 1 else np.zeros(1)
    for (sw, hw), runs in part.groupby(["software_env", "hardware_env"], observed=True, sort=True):
        values = runs["value"].to_numpy(dtype=float) * scale
        y = band[software.index(str(sw))] + (np.arange(len(values)) - (len(values) - 1) / 2) * 0.07
        ax.scatter(values, y, s=24, marker=marker[str(hw)], color=colour[str(sw)], alpha=0.75,
                   edgecolors="black", linewidths=0.3)
    ax.set_yticks([0])
    ax.set_yticklabels([workload], fontsize=9)
    ax.set_ylim(-0.5, 0.5)
    metric = str(part["metric_name"].iloc[0]) if len(part) else ""
    ax.set_xlabel(("test accuracy (%)" if metric == analysis.ACCURACY else f"{metric} (%)") if fraction else metric,
                  fontsize=8, labelpad=1)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.05)


def _overview_legend(fig, ax, software: List[str], hardware: List[str], colour: Dict, marker: Dict) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=colour[s], label=s) for s in software]
    handles += [Line2D([], [], ls="", marker=marker[h], color="#555555", markerfacecolor="white", label=h)
                for h in hardware[:LEGEND_HARDWARE]]
    if len(hardware) > LEGEND_HARDWARE:
        handles.append(Line2D([], [], ls="", label=f"... {len(hardware) - LEGEND_HARDWARE} more hardware"))
    rows = max(4, int(fig.get_figheight() / 0.15))  # entries that fit the figure's height, per column
    fig.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False, ncols=-(-len(handles) // rows),
               title="colour = software, marker = hardware", title_fontsize=7.5, handletextpad=0.2, columnspacing=0.8,
               labelspacing=0.25)


def determinism_figure(det: pd.DataFrame, workload: str):
    """Hardware (rows) x software (columns): do the repeats agree? The worst level per cell,
    colour-coded (``det``: ``analysis.determinism``). None when the workload has no cell."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    matrix = analysis.determinism_matrix(det, workload)
    if matrix.empty:
        return None
    matrix = matrix.iloc[:60]
    levels = list(LEVEL_COLOURS)
    codes = matrix.apply(lambda col: col.map(lambda v: levels.index(v) if v in levels else np.nan)).to_numpy(dtype=float)
    fig = new_figure(5.0 + 1.3 * matrix.shape[1], 1.6 + 0.3 * matrix.shape[0])
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(np.ma.masked_invalid(codes), aspect="auto", cmap=ListedColormap(list(LEVEL_COLOURS.values())),
              vmin=-0.5, vmax=len(levels) - 0.5)
    label_grid(ax, matrix, f"{workload}: do repeated runs agree?")
    present = [lvl for lvl in levels if (matrix == lvl).to_numpy().any()]
    fig.legend(handles=[Patch(color=LEVEL_COLOURS[lvl], label=lvl) for lvl in present], fontsize=7,
               loc="outside right upper", frameon=False)
    return fig


LEVEL_COLOURS = {
    analysis.LEVEL_BITWISE: "#1a9850",
    analysis.LEVEL_METRICS: "#91cf60",
    analysis.LEVEL_SINGLE: "#d9d9d9",
    analysis.LEVEL_ACCURACY: "#fc8d59",
    analysis.LEVEL_DIFFERENT: "#d73027",
}


def label_grid(ax, table: pd.DataFrame, title: str) -> None:
    """Ticks, axis labels and title of a hardware (rows) x software (columns) grid."""
    ax.set_xticks(range(table.shape[1]))
    ax.set_xticklabels([str(c) for c in table.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]))
    ax.set_yticklabels([str(i) for i in table.index], fontsize=8)
    ax.set_xlabel("software environment", fontsize=8)
    ax.set_ylabel("hardware environment", fontsize=8)
    ax.set_title(title, fontsize=9)


def slug(name: str) -> str:
    """A workload name as a file-name part."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "workload"


def export_figures(df: pd.DataFrame, out_dir: PathLike, *, det: Optional[pd.DataFrame] = None,
                   formats: Sequence[str] = ("png", "svg")) -> List[Path]:
    """Write the overview and each workload's determinism matrix into ``out_dir`` in each
    format (``overview.png``, ``determinism-<workload>.svg``...); returns the paths written."""
    det = analysis.determinism(df) if det is None else det
    figures = {"overview": overview_figure(df)}
    for workload in sorted(set(det["workload"].astype(str))) if not det.empty else []:
        figures[f"determinism-{slug(workload)}"] = determinism_figure(det, workload)
    return write_figures({k: fix_layout(v) for k, v in figures.items() if v is not None}, out_dir, formats)


def write_figures(figures: Dict[str, object], out_dir: PathLike, formats: Sequence[str] = ("png", "svg"),
                  done: Optional[Dict[str, bytes]] = None) -> List[Path]:
    """Each figure in each format, atomically; ``done`` maps ``name.fmt`` to bytes already drawn."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        for fmt in formats:
            data = (done or {}).get(f"{name}.{fmt}") or to_bytes(fig, fmt)
            path = out / f"{name}.{fmt}"
            write_bytes_atomic(path, data)
            paths.append(path)
    return paths
