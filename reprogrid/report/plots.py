"""Plots of the report that are not exported as figures, as PNG bytes (matplotlib, Agg
canvas; no pyplot global state): the k-curve, and the determinism matrix as PNG for callers
that want bytes. Each returns None when there is nothing to draw. Axes carry labels and units.
(Every environment's value is the overview figure, ``figures.overview_figure``; the mean per
cell is an HTML table, ``sections.heat_table``: no figure is drawn twice.)
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from reprogrid.report.figures import colours as _colours, determinism_figure, new_figure, to_bytes


def _figure(width: float, height: float):
    return new_figure(width, height)


def _png(fig) -> bytes:
    return to_bytes(fig, "png")


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
