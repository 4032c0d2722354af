"""Preparation: the results table -> the columns every analysis groups by (pure pandas).

Constants of the analysis (metric names, fingerprint attributes, the observed-environment
key), ``prepare`` and the small categorical helpers. Nothing here reads or writes files.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np
import pandas as pd

from reprogrid.core.errors import Problem, UserError
from reprogrid.job import catalogue, schema

ACCURACY = catalogue.BUILTIN_PRIMARY
LOSS = "test_loss"
METRICS = schema.METRIC_COLUMNS
FRACTION_METRICS = catalogue.FRACTION_METRICS
#: the attributes the explanation search may use (``job/schema.py`` tags them)
FINGERPRINT_ATTRIBUTES = schema.ENVIRONMENT_ATTRIBUTES
#: a site or execute point's name: it always explains as well as the machine's real
#: properties, so the explanation search prefers any implementation factor that splits alike
LOCATION_LABELS = frozenset(schema.LOCATION_ATTRIBUTES)
#: runs that differ in any of these are never repeats of one cell, nor one outcome
OBSERVED_KEY = schema.OBSERVED_ENVIRONMENT
ENV = ("software_env", "hardware_env")
CELL = ("workload", "software_env", "hardware_env", "observed_env", "seed")
#: one environment's outcome within a workload (seed included: outcomes compare at one seed)
ENV_KEYS = ("workload", "device_class", "software_env", "hardware_env", "observed_env", "seed")


# --------------------------------------------------------------------------- preparation

def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Add the derived columns the analysis groups by (idempotent; returns a new frame).

    ``device_class`` (gpu when the run saw a GPU, else cpu), ``observed_hardware`` (GPU
    name for GPU runs, CPU model otherwise, ``?`` when the fingerprint is missing),
    ``observed_machine`` (CPU model + GPU name), ``observed_env`` (the machine plus every
    other ``OBSERVED_KEY`` attribute that varies in the data: logical CPUs, pools, stack),
    ``environment`` (``software | hardware``), and the primary metric: ``metric_name``,
    ``value`` and ``higher_is_better`` (``primary_*`` where set, else test accuracy,
    higher is better). Key columns become categoricals.
    """
    if "observed_env" in df.columns and isinstance(df["observed_env"].dtype, pd.CategoricalDtype):
        return df
    missing = [c for c in ("workload", "software_env", "hardware_env", "status") if c not in df.columns]
    if missing:
        raise UserError.of("not a results table", [Problem("columns", f"missing {', '.join(missing)}: load it with gather.load_dataset")])
    # Attribute columns nobody recorded are left out (every later step copies fewer columns).
    keep = [c for c in df.columns if c in _ANALYSIS_COLUMNS and (c in _ALWAYS or df[c].count() > 0)]
    out = df[keep].copy()
    _fail_non_finite(out)
    for col in METRICS:
        if col not in out.columns:
            out[col] = np.full(len(out), np.nan)
        elif not pd.api.types.is_float_dtype(out[col].dtype):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for col in ("primary_metric", "primary_value", "higher_is_better", "task", "gpu_count", "seed",
                "predictions_sha256", "cpu_model", "gpu_name", "machine_name", "sample_data"):
        if col not in out.columns:
            out[col] = None
    gpu_count = pd.to_numeric(out["gpu_count"], errors="coerce")
    has_gpu = (gpu_count.fillna(0) > 0) | (gpu_count.isna() & out["gpu_name"].notna())
    out["device_class"] = pd.Categorical(np.where(has_gpu.to_numpy(dtype=bool), "gpu", "cpu"), categories=["cpu", "gpu"])
    cpu = _cat_text(out["cpu_model"])
    gpu = _cat_text(out["gpu_name"])
    observed = pd.Series(np.where(has_gpu.to_numpy(dtype=bool), 1, 0), index=out.index)
    out["observed_hardware"] = _pick(observed, cpu, gpu)
    machine = _combine(cpu, gpu, " + ")
    # A machine without a GPU is just its CPU ("AMD EPYC 7302", not "AMD EPYC 7302 + ?").
    out["observed_machine"] = machine.cat.rename_categories(
        [c[:-4] if c.endswith(" + ?") else c for c in machine.cat.categories])
    out["observed_env"] = _observed_env(out)
    for col in ("workload", "software_env", "hardware_env", "status"):
        out[col] = _cat_text(out[col])
    out["seed"] = pd.to_numeric(out["seed"], errors="coerce").fillna(-1).astype("int64")
    out["environment"] = _combine(out["software_env"], out["hardware_env"], " | ")
    _add_primary_metric(out)
    return out


_ANALYSIS_COLUMNS = frozenset((*schema.ANALYSIS_IDENTITY, *METRICS, *FINGERPRINT_ATTRIBUTES, *OBSERVED_KEY))


_ALWAYS = frozenset(("run_id", "workload", "software_env", "hardware_env", "status", "seed", ACCURACY, LOSS))


def _fail_non_finite(out: pd.DataFrame) -> None:
    """An ok run whose named primary metric has no finite value (NaN or inf: a record from
    before MetricNotFinite, or imported) is a failed run: the analysis never compares NaN or inf."""
    if "primary_value" not in out.columns or "primary_metric" not in out.columns:
        return
    value = pd.to_numeric(out["primary_value"], errors="coerce").astype(float).to_numpy()
    named = out["primary_metric"].notna().to_numpy(dtype=bool)
    bad = named & ~np.isfinite(value) & (out["status"] == "ok").to_numpy(dtype=bool)
    if bad.any():
        out["status"] = out["status"].astype(object).where(~bad, "failed")
        out["error_type"] = out.get("error_type", pd.Series(None, index=out.index)).astype(object).where(~bad, "MetricNotFinite")
        out["primary_value"] = out["primary_value"].astype(object).where(~bad, None)


def _add_primary_metric(out: pd.DataFrame) -> None:
    """``metric_name``, ``value``, ``higher_is_better``: the workload's primary metric or the catalogue's default."""
    named = out["primary_metric"].notna().to_numpy(dtype=bool)
    if not named.any():  # built-in workloads and the reference data: accuracy, higher is better
        out["value"] = out[ACCURACY].to_numpy(dtype=float)
        out["metric_name"] = pd.Categorical.from_codes(np.zeros(len(out), dtype=np.int8), categories=[ACCURACY])
        out["higher_is_better"] = np.full(len(out), catalogue.BUILTIN_HIGHER_IS_BETTER, dtype=bool)
        return
    primary = pd.to_numeric(out["primary_value"], errors="coerce").astype(float).to_numpy()
    out["value"] = np.where(named, primary, out[ACCURACY].to_numpy(dtype=float))
    out["metric_name"] = _cat_text(out["primary_metric"].where(pd.Series(named, index=out.index), ACCURACY))
    default = catalogue.BUILTIN_HIGHER_IS_BETTER
    hib = pd.array(out["higher_is_better"], dtype="boolean").fillna(default).to_numpy(dtype=bool)
    out["higher_is_better"] = np.where(named, hib, default)


def _observed_env(out: pd.DataFrame) -> pd.Series:
    """The observed environment as a categorical: the machine, plus ``name=value`` for every
    other ``OBSERVED_KEY`` attribute that takes more than one value in the data."""
    label = out["observed_machine"]
    for col in OBSERVED_KEY:
        if col in ("cpu_model", "gpu_name") or col not in out.columns:
            continue
        part = _cat_text(out[col])
        if len(part.cat.categories) < 2:
            continue
        part = part.cat.rename_categories([f"{col}={c}" for c in part.cat.categories])
        label = _combine(label, part, ", ")
    return label


def _distinct(series: pd.Series) -> List[str]:
    """Sorted distinct non-missing values as text (cheap on categoricals)."""
    values = series.dropna().unique() if not isinstance(series.dtype, pd.CategoricalDtype) else \
        series.cat.remove_unused_categories().cat.categories
    return sorted({str(v) for v in values})


def _cat_text(series: pd.Series) -> pd.Series:
    """A text column as a categorical with '?' for missing values (fast to group on)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    labels = pd.Index(np.asarray(uniques, dtype=object)).astype(str)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels = labels.append(pd.Index(["?"]))
    if not labels.is_unique:  # e.g. 1 and "1" in one column: merge by text
        return pd.Series(pd.Categorical(np.asarray(labels, dtype=object)[codes]), index=series.index)
    return pd.Series(pd.Categorical.from_codes(codes, categories=labels), index=series.index)


def _combine(a: pd.Series, b: pd.Series, sep: str) -> pd.Series:
    """Two text columns joined as one categorical, the text built once per distinct pair."""
    ca, cb = pd.Categorical(a), pd.Categorical(b)
    nb = max(len(cb.categories), 1)
    codes, uniq = pd.factorize(ca.codes.astype(np.int64) * nb + cb.codes)
    labels = [f"{ca.categories[p // nb]}{sep}{cb.categories[p % nb]}" for p in uniq]
    if len(set(labels)) != len(labels):
        return pd.Series(pd.Categorical(np.asarray(labels, dtype=object)[codes]), index=a.index)
    return pd.Series(pd.Categorical.from_codes(codes, categories=labels), index=a.index)


def _pick(which: pd.Series, first: pd.Series, second: pd.Series) -> pd.Series:
    """Per row, the text of ``first`` (which == 0) or ``second`` (which == 1), as a categorical."""
    c1, c2 = pd.Categorical(first), pd.Categorical(second)
    labels = pd.Index(list(c1.categories) + list(c2.categories)).astype(str)
    codes = np.where(which.to_numpy() == 1, c2.codes + len(c1.categories), c1.codes)
    uniq, inverse = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    return pd.Series(pd.Categorical.from_codes(inverse[codes], categories=pd.Index(uniq).astype(str)), index=which.index)


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    mask = (df["status"] == "ok").to_numpy(dtype=bool)
    return df if mask.all() else df[mask]




def reduce_groups(grouped: Any, **spec: Tuple[str, str]) -> pd.DataFrame:
    """``grouped.agg(name=(column, reduction), ...)`` as one frame, each reduction called
    directly (the same cython reductions and index; named ``agg`` spends more on normalising
    its arguments than on reducing small tables). An empty group-by goes through ``agg``."""
    if grouped.ngroups == 0:
        return grouped.agg(**spec)
    return pd.DataFrame({name: getattr(grouped[column], how)() for name, (column, how) in spec.items()})
