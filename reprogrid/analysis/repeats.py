"""Determinism: how far the repeats of one workload agree in one observed environment."""
from __future__ import annotations


import numpy as np
import pandas as pd

from reprogrid.analysis.columns import ACCURACY, CELL, LOSS, _ok, prepare, reduce_groups

LEVEL_BITWISE = "bitwise identical"
LEVEL_METRICS = "equal metrics"
LEVEL_ACCURACY = "equal accuracy only"
LEVEL_DIFFERENT = "different"
LEVEL_SINGLE = "unknown (1 run)"
DETERMINISTIC_LEVELS = (LEVEL_BITWISE, LEVEL_METRICS)


def determinism(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: how far the repeats of one workload agree in one environment.

    A cell is workload x software env x hardware env x observed environment x seed: the
    observed environment (``columns.OBSERVED_KEY``: machine, logical CPUs, thread pools,
    stack) is part of it, so two repeats that landed on hosts with different core counts
    or pools are two cells, never "nondeterministic". ``level``: ``bitwise identical``
    (every repeat recorded the same prediction hash), ``equal metrics`` (no hashes
    recorded, equal primary metric and loss), ``equal accuracy only`` (hashes or loss
    differ, the primary metric agrees), ``different`` (the primary metric differs),
    ``unknown (1 run)`` (one run says nothing about its repeats: never counted as deterministic).
    ``deterministic`` is True for the first two, False for the next two, NA for one run.
    """
    df = _ok(prepare(df))
    keys = list(CELL)
    frame = df[keys + ["value", ACCURACY, LOSS, "predictions_sha256", "observed_machine"]]
    g = frame.groupby(keys, observed=True, sort=True)
    out = reduce_groups(g, n=("value", "size"), n_hashes=("predictions_sha256", "count"),
                distinct_hashes=("predictions_sha256", "nunique"),
                distinct_accuracy=("value", "nunique"), distinct_loss=(LOSS, "nunique"),
                value_min=("value", "min"), value_max=("value", "max"), value_mean=("value", "mean"),
                accuracy_min=(ACCURACY, "min"), accuracy_max=(ACCURACY, "max"),
                accuracy_mean=(ACCURACY, "mean"), observed_machine=("observed_machine", "first")).reset_index()
    if out.empty:
        out["level"] = pd.Series(dtype=str)
        out["deterministic"] = pd.Series(dtype="boolean")
        out["accuracy_range_pp"] = pd.Series(dtype=float)
        return out
    all_hashed = out["n_hashes"] == out["n"]
    same_metrics = (out["distinct_accuracy"] <= 1) & (out["distinct_loss"] <= 1)
    level = np.select(
        [out["n"] < 2,
         all_hashed & (out["distinct_hashes"] == 1),
         ~all_hashed & same_metrics,
         out["distinct_accuracy"] <= 1],
        [LEVEL_SINGLE, LEVEL_BITWISE, LEVEL_METRICS, LEVEL_ACCURACY], default=LEVEL_DIFFERENT)
    out["level"] = level
    det = pd.Series(np.isin(level, DETERMINISTIC_LEVELS), index=out.index).astype("boolean")
    det[out["n"] < 2] = pd.NA
    out["deterministic"] = det
    out["accuracy_range_pp"] = (out["accuracy_max"] - out["accuracy_min"]) * 100
    out["value_range"] = out["value_max"] - out["value_min"]
    out["evidence"] = np.where(all_hashed, "prediction hashes", "metrics (no prediction hashes)")
    return out


def nondeterministic_cells(det: pd.DataFrame) -> pd.DataFrame:
    """The cells whose repeats disagreed (from :func:`determinism`)."""
    if det.empty:
        return det
    return det[det["deterministic"].eq(False).fillna(False).astype(bool)].reset_index(drop=True)


def determinism_matrix(det: pd.DataFrame, workload: str) -> pd.DataFrame:
    """Hardware (rows) x software (columns) of the worst determinism level per cell."""
    order = {LEVEL_BITWISE: 0, LEVEL_METRICS: 1, LEVEL_SINGLE: 2, LEVEL_ACCURACY: 3, LEVEL_DIFFERENT: 4}
    narrow = det[["workload", "hardware_env", "software_env", "level"]]  # the columns read: rows cut from these only
    part = narrow[narrow["workload"].astype(str) == workload].copy()
    if part.empty:
        return pd.DataFrame()
    part["rank"] = part["level"].map(order)
    worst = part.groupby(["hardware_env", "software_env"], observed=True)["rank"].max()
    inverse = {v: k for k, v in order.items()}
    return worst.map(inverse).unstack("software_env")


