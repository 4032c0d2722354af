"""Plots of the report as PNG bytes (matplotlib, Agg canvas; no pyplot global state).

Each function takes the analysis tables (``reprogrid.analysis``) for one workload and
returns PNG bytes, or None when there is nothing to draw. Axes carry labels and units.
"""
from __future__ import annotations

import io
from typing import Optional

import numpy as np
import pandas as pd

from reprogrid import analysis

LEVEL_COLOURS = {
    analysis.LEVEL_BITWISE: "#1a9850",
    analysis.LEVEL_METRICS: "#91cf60",
    analysis.LEVEL_SINGLE: "#d9d9d9",
    analysis.LEVEL_ACCURACY: "#fc8d59",
    analysis.LEVEL_DIFFERENT: "#d73027",
}
_MAX_ROWS = 60


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def accuracy_strip(prepared: pd.DataFrame, workload: str, metric: str = analysis.ACCURACY) -> Optional[bytes]:
    """Every run's accuracy (%) per hardware environment, one colour per software environment.

    Identical values are drawn once, the marker area growing with the number of runs.
    """
    part = prepared[(prepared["workload"].astype(str) == workload) & (prepared["status"].astype(str) == "ok")]
    part = part[["software_env", "hardware_env", metric]].dropna()
    if part.empty:
        return None
    points = part.groupby(["software_env", "hardware_env", metric], observed=True).size().rename("n").reset_index()
    hardware = sorted(points["hardware_env"].astype(str).unique())[:_MAX_ROWS]
    software = sorted(points["software_env"].astype(str).unique())
    fig = _figure(8.5, 1.2 + 0.32 * len(hardware))
    ax = fig.add_subplot(1, 1, 1)
    cmap = _colours(len(software))
    ypos = {h: i for i, h in enumerate(hardware)}
    offsets = np.linspace(-0.3, 0.3, len(software)) if len(software) > 1 else [0.0]
    for k, sw in enumerate(software):
        sel = points[(points["software_env"].astype(str) == sw) & points["hardware_env"].astype(str).isin(hardware)]
        y = sel["hardware_env"].astype(str).map(ypos).to_numpy(dtype=float) + offsets[k]
        scale = 100 if metric in analysis.FRACTION_METRICS else 1
        ax.scatter(sel[metric].to_numpy() * scale, y, s=14 + 10 * np.sqrt(sel["n"].to_numpy()), color=cmap[k],
                   label=sw, alpha=0.85, edgecolors="black", linewidths=0.3)
    ax.set_yticks(range(len(hardware)))
    ax.set_yticklabels(hardware, fontsize=8)
    ax.invert_yaxis()
    ax.set_ylabel("hardware environment (requested)")
    ax.set_xlabel("test accuracy (%)" if metric in analysis.FRACTION_METRICS else metric)
    ax.set_title(f"{workload}: every run, by environment (marker area ~ runs with that value)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(title="software environment", fontsize=7, title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig)



def _label_grid(ax, table: pd.DataFrame, title: str) -> None:
    """Ticks, axis labels and title of a hardware (rows) x software (columns) grid."""
    ax.set_xticks(range(table.shape[1]))
    ax.set_xticklabels([str(c) for c in table.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(table.shape[0]))
    ax.set_yticklabels([str(i) for i in table.index], fontsize=8)
    ax.set_xlabel("software environment")
    ax.set_ylabel("hardware environment")
    ax.set_title(title, fontsize=10)

def accuracy_heatmap(cell_means: pd.DataFrame, workload: str) -> Optional[bytes]:
    """Hardware (rows) x software (columns) mean test accuracy (%), values written in the cells."""
    part = cell_means[cell_means["workload"].astype(str) == workload]
    if part.empty:
        return None
    table = part.pivot_table(index="hardware_env", columns="software_env", values="mean", observed=True) * 100
    table = table.iloc[:_MAX_ROWS]
    fig = _figure(1.6 + 1.35 * table.shape[1], 1.2 + 0.32 * table.shape[0])
    ax = fig.add_subplot(1, 1, 1)
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, aspect="auto", cmap="viridis")
    finite = values[np.isfinite(values)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if values[i, j] < mid else "black")
    _label_grid(ax, table, f"{workload}: mean test accuracy (%)")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("mean test accuracy (%)")
    return _png(fig)


def plot_determinism_matrix(det: pd.DataFrame, workload: str) -> Optional[bytes]:
    """Hardware x software: do the repeats agree? (worst level per cell, colour-coded)."""
    matrix = analysis.determinism_matrix(det, workload)
    if matrix.empty:
        return None
    matrix = matrix.iloc[:_MAX_ROWS]
    levels = list(LEVEL_COLOURS)
    codes = matrix.apply(lambda col: col.map(lambda v: levels.index(v) if v in levels else np.nan)).to_numpy(dtype=float)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    fig = _figure(1.6 + 1.35 * matrix.shape[1], 1.2 + 0.32 * matrix.shape[0])
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(np.ma.masked_invalid(codes), aspect="auto", cmap=ListedColormap(list(LEVEL_COLOURS.values())),
              vmin=-0.5, vmax=len(levels) - 0.5)
    _label_grid(ax, matrix, f"{workload}: do repeated runs agree?")
    present = [lvl for lvl in levels if (matrix == lvl).to_numpy().any()]
    ax.legend(handles=[Patch(color=LEVEL_COLOURS[lvl], label=lvl) for lvl in present], fontsize=7,
              loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig)


def _colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def k_curve(curve: pd.DataFrame) -> Optional[bytes]:
    """How many environments are enough: P(k random environments reveal the full range), per
    workload (solid), and P(they include a nondeterministic environment) (dashed), over k."""
    if curve is None or curve.empty:
        return None
    workloads = sorted(curve["workload"].astype(str).unique())
    fig = _figure(8.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    cmap = _colours(len(workloads))
    for i, workload in enumerate(workloads):
        part = curve[curve["workload"].astype(str) == workload].sort_values("k")
        ax.plot(part["k"], part["p_full_range"], "-", color=cmap[i], label=f"{workload}: full range")
        if part["p_nondeterministic"].notna().any():
            ax.plot(part["k"], part["p_nondeterministic"], "--", color=cmap[i],
                    label=f"{workload}: a nondeterministic environment")
    ax.axhline(0.95, color="#999999", lw=0.8, ls=":")
    ax.set_xlabel("k = environments drawn at random (without replacement)")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("How many environments are enough?")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)
