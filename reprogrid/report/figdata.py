"""What each figure of the report shows, described once: its points, axes, labels, colours
and markers, and the sentence saying what it was computed from (and how sure it is).

Two drawers read these descriptions: ``svgfigures`` (the page and ``figures/*.svg``, no
matplotlib) and ``figures`` (matplotlib: ``report --png`` and the notebook API). Neither
decides anything about the data.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from reprogrid import analysis

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p", "d", "8")
#: the hardware environments named in the legend (markers repeat beyond MARKERS)
LEGEND_HARDWARE = 14
#: matplotlib's tab10 and tab20 colours (the software environments)
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
TAB20 = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5",
         "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5")
LEVEL_COLOURS = {
    analysis.LEVEL_BITWISE: "#1a9850",
    analysis.LEVEL_METRICS: "#91cf60",
    analysis.LEVEL_SINGLE: "#d9d9d9",
    analysis.LEVEL_ACCURACY: "#fc8d59",
    analysis.LEVEL_DIFFERENT: "#d73027",
}


def colours(n: int) -> List[str]:
    """``n`` distinct colours (tab10, or tab20 beyond ten; repeating beyond twenty)."""
    table = TAB10 if n <= 10 else TAB20
    return [table[i % len(table)] for i in range(n)]


@dataclass(frozen=True)
class OverviewRow:
    """One workload's runs: x = value (in % for fractions), y = offset within the row (each
    software stack its own band, repeats side by side), and each run's stack and hardware."""

    workload: str
    xlabel: str
    x: np.ndarray
    y: np.ndarray
    software: List[str]
    hardware: List[str]
    spread: str  # what the row was computed from, with the between-environment std's 95% interval


@dataclass(frozen=True)
class Overview:
    rows: List[OverviewRow]
    software: List[str]
    hardware: List[str]
    colour: Dict[str, str]
    marker: Dict[str, str]
    title: str = "Every environment's value per workload"

    @property
    def n_runs(self) -> int:
        return sum(len(r.x) for r in self.rows)

    def desc(self) -> str:
        return (f"{self.n_runs} successful runs of {len(self.software)} software x {len(self.hardware)} hardware "
                f"environments, one row per workload; colour = software environment, marker = hardware environment. "
                + " ".join(f"{r.workload}: {r.spread}." for r in self.rows))


def overview(prepared: pd.DataFrame, spreads: Optional[Mapping[str, str]] = None,
             workloads: Optional[Sequence[str]] = None) -> Optional[Overview]:
    """The overview of the prepared runs (``analysis.prepare``); ``spreads``: each workload's
    spread sentence, as its answer line says it (``answer.Answer.spread``; a workload without
    one says its number of runs). None without successful runs."""
    # the columns read here only (each workload's rows are cut from a narrow frame)
    runs_read = prepared[["workload", "status", "software_env", "hardware_env", "metric_name", "value"]]
    ok = runs_read[(runs_read["status"].astype(str) == "ok") & runs_read["value"].notna()]
    if ok.empty:
        return None
    names = list(workloads) if workloads else sorted(set(ok["workload"].astype(str)))
    software = sorted(set(ok["software_env"].astype(str)))
    hardware = sorted(set(ok["hardware_env"].astype(str)))
    spread = dict(spreads or {})
    rows = []
    band = np.linspace(-0.28, 0.28, len(software)) if len(software) > 1 else np.zeros(1)
    where = {sw: i for i, sw in enumerate(software)}
    # as plain lists once: each workload's runs sorted by (software, hardware), stable, and numbered within each pair
    text = {c: ok[c].astype(str).tolist() for c in ("workload", "software_env", "hardware_env", "metric_name")}
    values = ok["value"].to_numpy(dtype=float)
    of_workload: Dict[str, List[int]] = {}
    for i, w in enumerate(text["workload"]):
        of_workload.setdefault(w, []).append(i)
    sws, hws = text["software_env"], text["hardware_env"]
    for workload in names:
        found = of_workload.get(workload, [])
        metric = text["metric_name"][found[0]] if found else ""
        fraction = metric in analysis.FRACTION_METRICS
        order = sorted(found, key=lambda i: (sws[i], hws[i]))
        pairs = [(sws[i], hws[i]) for i in order]
        size_of = Counter(pairs)
        seen: Dict[Tuple[str, str], int] = {}
        numbers = []  # each run's number among the runs of its pair (0, 1, ...)
        for pair in pairs:
            seen[pair] = seen.get(pair, -1) + 1
            numbers.append(seen[pair])
        rank = np.array(numbers, dtype=np.int64)
        size = np.array([size_of[p] for p in pairs], dtype=np.int64)
        sw = [p[0] for p in pairs]
        y = band[[where[s] for s in sw]] + (rank - (size - 1) / 2) * 0.07
        label = ("test accuracy (%)" if metric == analysis.ACCURACY else f"{metric} (%)") if fraction else metric
        rows.append(OverviewRow(workload, label, values[order] * (100.0 if fraction else 1.0),
                                np.asarray(y, dtype=float), sw, [p[1] for p in pairs],
                                spread.get(workload, f"{len(order)} runs")))
    return Overview(rows, software, hardware, dict(zip(software, colours(len(software)))),
                    {h: MARKERS[i % len(MARKERS)] for i, h in enumerate(hardware)})


@dataclass(frozen=True)
class DeterminismPanel:
    workload: str
    columns: List[str]  # software environments
    levels: List[List[Optional[str]]]  # hardware rows x columns: the worst level of the cell, None = no cell


@dataclass(frozen=True)
class Determinism:
    panels: List[DeterminismPanel]
    hardware: List[str]
    present: List[str]  # levels that occur, in LEVEL_COLOURS order
    n_cells: int
    title: str = "Do repeated runs agree? (worst level per cell)"

    def desc(self) -> str:
        counts = {lvl: sum(row.count(lvl) for p in self.panels for row in p.levels) for lvl in self.present}
        return (f"Hardware environments (rows) x software environments (columns), one panel per workload; each square "
                f"is the worst level of agreement between the repeated runs of its cells ({self.n_cells} cells): "
                + ", ".join(f"{n} {lvl}" for lvl, n in counts.items()) + ".")


def determinism(det: pd.DataFrame, workloads: Union[str, Sequence[str], None] = None) -> Optional[Determinism]:
    """The determinism matrices (``analysis.determinism_matrix``) of the named workloads (all
    by default), 60 hardware rows at most each. None when there is no cell."""
    names = [workloads] if isinstance(workloads, str) else list(workloads or sorted(set(det["workload"].astype(str))))
    matrices = [(w, analysis.determinism_matrix(det, w)) for w in names]
    matrices = [(w, m.iloc[:60]) for w, m in matrices if not m.empty]
    if not matrices:
        return None
    hardware = sorted(set().union(*(set(m.index.astype(str)) for _, m in matrices)))
    panels = []
    for workload, matrix in matrices:
        matrix = matrix.copy()
        matrix.index = matrix.index.astype(str)
        matrix = matrix.reindex(hardware)
        cells = [[v if v in LEVEL_COLOURS else None for v in row] for row in matrix.itertuples(index=False)]
        panels.append(DeterminismPanel(workload, [str(c) for c in matrix.columns], cells))
    present = [lvl for lvl in LEVEL_COLOURS if any(lvl in row for p in panels for row in p.levels)]
    n_cells = int(det["workload"].astype(str).isin([p.workload for p in panels]).sum()) if len(det) else 0
    return Determinism(panels, hardware, present, n_cells)


@dataclass(frozen=True)
class KCurve:
    """Per workload, over k: P(k random environments reveal the full range), and P(they
    include a nondeterministic environment) (None where not defined)."""

    lines: List[Tuple[str, List[int], List[float], Optional[List[float]]]]
    needed: str
    title: str = "How many environments are enough?"
    xlabel: str = "k = environments drawn at random (without replacement)"
    ylabel: str = "probability"

    def desc(self) -> str:
        return ("Exact probabilities (no sampling) over k for each workload: solid = the k environments reveal the "
                "full range of values, dashed = they include a nondeterministic environment; dotted line at 0.95. "
                f"Environments needed for 95%: {self.needed or 'n/a'}.")


def k_curve(curve: Optional[pd.DataFrame]) -> Optional[KCurve]:
    if curve is None or curve.empty:
        return None
    lines = []
    for workload in sorted(curve["workload"].astype(str).unique()):
        part = curve[curve["workload"].astype(str) == workload].sort_values("k")
        nondet = part["p_nondeterministic"]
        lines.append((workload, [int(k) for k in part["k"]], [float(p) for p in part["p_full_range"]],
                      [float(p) for p in nondet] if nondet.notna().any() else None))
    return KCurve(lines, needed_text(curve))


def needed_text(curve: Optional[pd.DataFrame]) -> str:
    """How many environments each workload needs for 95% (``analysis.environments_needed``),
    as ``workload: k of n`` joined by "; " ("" without a curve): the figure's description and
    the section above it say it in these words."""
    if curve is None or curve.empty:
        return ""
    return "; ".join(f"{w}: {int(part['k_needed'].iloc[0])} of {int(part['n_envs'].iloc[0])}"
                     for w, part in curve.groupby("workload", sort=True))
