"""Statistics of the metrics: min, max, range, mean, std per workload (and any columns); cell means."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from reprogrid.analysis.columns import ACCURACY, FRACTION_METRICS, METRICS, _ok, prepare


def metric_stats(df: pd.DataFrame, by: Sequence[str] = (), metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """min, max, range, mean, std of each metric per workload (and ``by``), successful runs only.

    ``range_pp`` is the range in percentage points for accuracy (NaN for other metrics).
    Metrics a workload never records (fraud counts outside the credit-card workload) are left out.
    """
    df = _ok(prepare(df))
    keys = ["workload", *by]
    metrics = [m for m in metrics if m in df.columns]
    grouped = df.groupby(keys, observed=True, sort=True)[metrics]
    # one grouped pass per statistic over every metric (not one per metric and statistic)
    parts = {"n": grouped.count(), "min": grouped.min(), "max": grouped.max(), "mean": grouped.mean(),
             "std": grouped.std()}
    if parts["n"].empty:
        return pd.DataFrame(columns=[*keys, "metric", "n", "min", "max", "range", "range_pp", "mean", "std"])
    groups = parts["n"].index
    keys_frame = groups.to_frame(index=False)
    counts = parts["n"].to_numpy().reshape(-1)  # per group, the metrics in order
    kept = np.flatnonzero(counts > 0)
    row = kept // len(metrics)
    out = {k: keys_frame[k].array.take(row) for k in keys}  # one frame built at the end (no column inserts)
    out["metric"] = np.array(metrics, dtype=object)[kept % len(metrics)]
    out["n"] = counts[kept].astype(int)
    low, high = (parts[name].to_numpy().reshape(-1)[kept] for name in ("min", "max"))
    out["min"], out["max"], out["range"] = low, high, high - low
    out["range_pp"] = np.where(np.isin(out["metric"], list(FRACTION_METRICS)), out["range"] * 100, np.nan)
    out["mean"], out["std"] = (parts[name].to_numpy().reshape(-1)[kept] for name in ("mean", "std"))
    return pd.DataFrame(out)


def cell_means(df: pd.DataFrame, metric: str = ACCURACY) -> pd.DataFrame:
    """Mean and count of ``metric`` per workload x software env x hardware env (the heat map)."""
    df = _ok(prepare(df))
    g = df.groupby(["workload", "software_env", "hardware_env"], observed=True)[metric]
    out = g.agg(["mean", "min", "max", "count"]).reset_index()
    return out.rename(columns={"count": "n"})


