"""The report's exportable figures: the overview (every environment's value per workload) and
the determinism matrix, as matplotlib Figures, PNG/SVG bytes and files.

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
    runs = part.assign(_sw=part["software_env"].astype(str), _hw=part["hardware_env"].astype(str))
    runs = runs.sort_values(["_sw", "_hw"], kind="stable")
    rank = runs.groupby(["_sw", "_hw"], sort=False).cumcount().to_numpy()
    size = runs.groupby(["_sw", "_hw"], sort=False)["value"].transform("size").to_numpy()
    # repeats of one environment side by side (a little apart vertically), each stack its own band
    y = band[[software.index(sw) for sw in runs["_sw"]]] + (rank - (size - 1) / 2) * 0.07
    values = runs["value"].to_numpy(dtype=float) * scale
    for hw in sorted(set(runs["_hw"])):  # one collection per marker: few artists to draw
        sel = (runs["_hw"] == hw).to_numpy()
        ax.scatter(values[sel], y[sel], s=24, marker=marker[hw], c=[colour[sw] for sw in runs["_sw"][sel]],
                   alpha=0.75, edgecolors="black", linewidths=0.3)
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


def determinism_figure(det: pd.DataFrame, workloads: Union[str, Sequence[str], None] = None):
    """Do the repeats agree? One panel per workload (all of them by default, or the one or
    ones named), hardware (rows, shared) x software (columns), the worst level per cell,
    colour-coded (``det``: ``analysis.determinism``). None when there is no cell."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = [workloads] if isinstance(workloads, str) else list(workloads or sorted(set(det["workload"].astype(str))))
    matrices = [(w, analysis.determinism_matrix(det, w)) for w in names]
    matrices = [(w, m.iloc[:60]) for w, m in matrices if not m.empty]
    if not matrices:
        return None
    hardware = sorted(set().union(*(set(m.index.astype(str)) for _, m in matrices)))
    levels = list(LEVEL_COLOURS)
    columns = sum(m.shape[1] for _, m in matrices)
    fig = new_figure(3.4 + 0.5 * columns + 0.3 * len(matrices), 1.9 + 0.26 * len(hardware))
    axes = fig.subplots(1, len(matrices), sharey=True, squeeze=False,
                        gridspec_kw={"width_ratios": [m.shape[1] for _, m in matrices]})[0]
    cmap = ListedColormap(list(LEVEL_COLOURS.values()))
    present = set()
    for ax, (workload, matrix) in zip(axes, matrices):
        matrix = matrix.reindex(hardware)
        codes = matrix.apply(lambda col: col.map(lambda v: levels.index(v) if v in levels else np.nan))
        ax.imshow(np.ma.masked_invalid(codes.to_numpy(dtype=float)), aspect="auto", cmap=cmap, vmin=-0.5,
                  vmax=len(levels) - 0.5, interpolation="nearest")
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_xticklabels([str(c) for c in matrix.columns], rotation=40, ha="right", fontsize=7)
        ax.set_title(workload, fontsize=8)
        present |= {lvl for lvl in levels if (matrix == lvl).to_numpy().any()}
    axes[0].set_yticks(range(len(hardware)))
    axes[0].set_yticklabels(hardware, fontsize=7)
    axes[0].set_ylabel("hardware environment", fontsize=8)
    fig.supxlabel("software environment", fontsize=8)
    fig.suptitle("Do repeated runs agree? (worst level per cell)", fontsize=9)
    fig.legend(handles=[Patch(color=LEVEL_COLOURS[lvl], label=lvl) for lvl in levels if lvl in present], fontsize=7,
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


def export_figures(df: pd.DataFrame, out_dir: PathLike, *, det: Optional[pd.DataFrame] = None,
                   formats: Sequence[str] = ("png", "svg")) -> List[Path]:
    """Write the overview and the determinism matrix (a panel per workload) into ``out_dir`` in
    each format (``overview.png``, ``determinism.svg``...); returns the paths written."""
    det = analysis.determinism(df) if det is None else det
    figures = {"overview": overview_figure(df), "determinism": determinism_figure(det)}
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
