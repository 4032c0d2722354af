"""Plots of the report as PNG bytes (matplotlib, Agg canvas; no pyplot global state).

Each function takes the analysis tables (``reprogrid.analysis``) for one workload and
returns PNG bytes, or None when there is nothing to draw. Axes carry labels and units.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from reprogrid import analysis
from reprogrid.report.figures import LEVEL_COLOURS  # noqa: F401 - the colours of the levels, kept here too
from reprogrid.report.figures import colours as _colours, determinism_figure, label_grid, new_figure, to_bytes

_MAX_ROWS = 60


def _figure(width: float, height: float):
    return new_figure(width, height)


def _png(fig) -> bytes:
    return to_bytes(fig, "png")


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
    fig = _figure(9.5, 1.5 + 0.32 * len(hardware))
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
    ax.set_ylabel("hardware env (requested)", fontsize=8)
    ax.set_xlabel("test accuracy (%)" if metric in analysis.FRACTION_METRICS else metric)
    ax.set_title(f"{workload}: every run (marker area ~ runs with that value)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(title="software environment", fontsize=7, title_fontsize=8, loc="outside right upper", frameon=False)
    return _png(fig)



def accuracy_heatmap(cell_means: pd.DataFrame, workload: str) -> Optional[bytes]:
    """Hardware (rows) x software (columns) mean test accuracy (%), values written in the cells."""
    part = cell_means[cell_means["workload"].astype(str) == workload]
    if part.empty:
        return None
    table = part.pivot_table(index="hardware_env", columns="software_env", values="mean", observed=True) * 100
    table = table.iloc[:_MAX_ROWS]
    fig = _figure(3.6 + 1.35 * table.shape[1], 1.6 + 0.32 * table.shape[0])
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
    label_grid(ax, table, f"{workload}: mean test accuracy (%)")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("mean test accuracy (%)")
    return _png(fig)


def plot_determinism_matrix(det: pd.DataFrame, workload: str) -> Optional[bytes]:
    """Hardware x software: do the repeats agree? (``figures.determinism_figure`` as PNG)."""
    fig = determinism_figure(det, workload)
    return None if fig is None else _png(fig)


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
        # lines that coincide stay visible: wider lines under narrower ones, each with its own marker
        width = 1.2 + 2.2 * (len(workloads) - 1 - i)
        ax.plot(part["k"], part["p_full_range"], "-", color=cmap[i], lw=width, alpha=0.8,
                marker="osd^v"[i % 5], ms=3 + 1.5 * (len(workloads) - 1 - i), label=f"{workload}: full range")
        if part["p_nondeterministic"].notna().any():
            ax.plot(part["k"], part["p_nondeterministic"], "--", color=cmap[i], lw=width, alpha=0.8,
                    label=f"{workload}: a nondeterministic environment")
    ax.axhline(0.95, color="#999999", lw=0.8, ls=":")
    ax.set_xlabel("k = environments drawn at random (without replacement)")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("How many environments are enough?")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)
