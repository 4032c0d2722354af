"""How much the result moves with the environment: variance decomposition, intervals, k-curve.

The unit is the observed environment (``groups.environment_outcomes``): one workload in
one software env, requested hardware env, observed environment and seed. Deterministic
repeats are one observation (identical runs are not independent evidence); only the runs
of nondeterministic environments measure run-to-run variation.

- ``survival``: per workload, does the result survive a change of environment? The range
  over all runs, the spread of the environments' values (std with a bootstrap interval,
  range with a bootstrap interval), the run-to-run std, and the share of the variation
  that lies between environments.
- ``variance_decomposition``: per workload and factor (software stack, CPU vendor, ISA
  level, logical CPUs / thread pool, oneDNN/XLA, GPU, CUDA/cuDNN, machine), the factor's
  effect size: eta squared (the share of the between-environment variance its levels
  account for, alone) and the largest difference between its levels' means.
- ``environments_needed``: the probability that k environments drawn at random reveal the
  full range of values, and any nondeterministic environment; exact (hypergeometric).
"""
from __future__ import annotations

from math import comb
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from reprogrid.analysis.repeats import determinism
from reprogrid.analysis.groups import environment_outcomes
from reprogrid.analysis.columns import CELL, _ok, prepare

BOOTSTRAP = 2000
LEVEL = 0.95
#: factor name -> the fingerprint columns whose combined value is the factor's level
FACTORS: Dict[str, Tuple[str, ...]] = {
    "software stack": ("software_env", "tensorflow_version", "keras_version", "keras_backend", "jax_version",
                       "torch_version", "python_version", "numpy_version"),
    "CPU vendor": ("cpu_vendor",),
    "ISA level": ("microarch", "has_avx512f", "has_avx2"),
    "logical CPUs / thread pool": ("cpu_logical_count", "cpu_affinity_count", "cpu_quota", "intra_op_pool",
                                   "inter_op_pool", "omp_num_threads", "thread_env_json"),
    "oneDNN / XLA": ("onednn_enabled", "tf_enable_onednn_opts", "xla_jit"),
    "GPU": ("gpu_name",),
    "CUDA / cuDNN": ("cuda_version", "cudnn_version", "env_cuda_version", "env_cudnn_version"),
    "machine (CPU model + GPU)": ("cpu_model", "gpu_name"),
}


def _environments(df: pd.DataFrame, det: Optional[pd.DataFrame],
                  outcomes: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Observed environments with their value, spread, run count and within-environment variance."""
    prepared = _ok(prepare(df))
    det = determinism(prepared) if det is None else det
    envs = environment_outcomes(prepared, det=det) if outcomes is None else outcomes
    if envs.empty:
        return envs
    var = prepared.groupby(list(CELL), observed=True)["value"].var(ddof=1).rename("within_var").reset_index()
    for col in CELL:
        if col != "seed":
            var[col] = var[col].astype(str)
    envs = envs.merge(var, on=list(CELL), how="left")
    # One run measures no run-to-run spread: NaN, never 0 (a deterministic repeat's is 0).
    envs["within_var"] = np.where(envs["n"] < 2, np.nan, np.where(envs["deterministic"], 0.0,
                                                                    envs["within_var"].fillna(0.0)))
    return envs


def survival(df: pd.DataFrame, det: Optional[pd.DataFrame] = None, *, by: Sequence[str] = ("workload",),
             n_boot: int = BOOTSTRAP, level: float = LEVEL, seed: int = 0,
             envs: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Per workload: does the result survive a change of environment? (see the module docstring)

    Columns: ``metric``, ``higher_is_better``, ``n_runs``, ``n_envs``, ``nondeterministic_envs``,
    ``distinct_outcomes``, ``min``/``max``/``range`` (over runs), ``mean`` (of environments),
    ``env_std`` with ``env_std_low``/``env_std_high``, ``env_range`` with ``env_range_low``/
    ``env_range_high`` (bootstrap percentile intervals over environments), ``run_std``
    (run-to-run std of a randomly chosen environment: the root of the mean over
    environments of the within-environment variance; a deterministic environment's is 0; an
    environment of one run is left out, and NaN when every environment ran once), ``repeated_envs``
    (environments with 2+ runs),
    ``between_share`` (between-environment variance / (between + mean run-to-run variance)).
    """
    envs = _environments(df, det) if envs is None else envs
    by = list(by)
    cols = by + ["metric", "higher_is_better", "n_runs", "n_envs", "repeated_envs", "nondeterministic_envs",
                 "distinct_outcomes", "min",
                 "max", "range", "mean", "env_std", "env_std_low", "env_std_high", "env_range", "env_range_low",
                 "env_range_high", "run_std", "between_share"]
    if envs.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for number, (key, part) in enumerate(envs.groupby(by, observed=True, sort=True)):
        key = key if isinstance(key, tuple) else (key,)
        values = part["value"].to_numpy(dtype=float)
        rng = np.random.default_rng([seed, number])
        std_ci, range_ci = _bootstrap(values, n_boot, level, rng)
        between = float(np.var(values, ddof=1)) if len(values) > 1 else 0.0
        repeated = int((part["n"] >= 2).sum())
        # deterministic environments: 0, counted once; single runs: unknown, left out (NaN when all are)
        mean_within = float(part["within_var"].mean()) if repeated else float("nan")
        total = between + (0.0 if np.isnan(mean_within) else mean_within)
        rows.append({**dict(zip(by, key)), "metric": str(part["metric_name"].iloc[0]),
                     "higher_is_better": bool(part["higher_is_better"].iloc[0]), "n_runs": int(part["n"].sum()),
                     "n_envs": len(part), "repeated_envs": repeated,
                     "nondeterministic_envs": int((~part["deterministic"]).sum()),
                     "distinct_outcomes": int(part["signature"].nunique()) + int((~part["deterministic"]).sum()),
                     "min": float(part["value_min"].min()), "max": float(part["value_max"].max()),
                     "range": float(part["value_max"].max() - part["value_min"].min()), "mean": float(values.mean()),
                     "env_std": _zero(float(np.std(values, ddof=1))) if len(values) > 1 else 0.0,
                     "env_std_low": std_ci[0], "env_std_high": std_ci[1],
                     "env_range": float(values.max() - values.min()), "env_range_low": range_ci[0],
                     "env_range_high": range_ci[1], "run_std": float(np.sqrt(mean_within)),
                     "between_share": (between / total) if total > 0 else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def _bootstrap(values: np.ndarray, n_boot: int, level: float, rng: np.random.Generator):
    """Percentile intervals of the std and the range of ``values``, resampling environments."""
    n = len(values)
    if n < 2 or n_boot < 1:
        return (float("nan"), float("nan")), (float("nan"), float("nan"))
    sample = values[rng.integers(0, n, size=(n_boot, n))]
    stds = sample.std(axis=1, ddof=1)
    ranges = sample.max(axis=1) - sample.min(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stds, [tail, 100 - tail]), np.percentile(ranges, [tail, 100 - tail])
    return (float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1]))


def variance_decomposition(df: pd.DataFrame, det: Optional[pd.DataFrame] = None, *,
                           envs: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Per workload and factor: levels, eta squared (share of the between-environment sum of
    squares that the factor's levels explain on their own) and the largest difference of
    level means (the metric's units). Factors are often confounded (a software image fixes
    its CUDA): shares are marginal, not a partition, and do not add up to 1. ``confounded_with``
    names the factors whose levels split the environments identically (the data cannot tell
    them apart); ``moved_it`` is False where the factor cannot be what moved the result: every
    environment its own level (the factor is then indistinguishable from the environment),
    or a zero effect (floating-point residue is shown as an exact zero)."""
    envs = _environments(df, det) if envs is None else envs
    cols = ["workload", "factor", "columns", "n_levels", "eta_sq", "effect", "best_level", "worst_level", "moved_it",
            "note"]
    if envs.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for workload, part in envs.groupby("workload", observed=True, sort=True):
        value = part["value"]
        values = value.to_numpy(dtype=float)
        total = float(((values - values.mean()) ** 2).sum())
        hib = bool(part["higher_is_better"].iloc[0])
        texts: Dict[str, List[str]] = {}  # each column as text once per workload (factors share columns)
        for factor, columns in FACTORS.items():
            for c in columns:
                if c in part.columns and c not in texts:
                    texts[c] = _text(part[c])
            present = [c for c in columns if c in texts and len(set(texts[c])) > 1]
            if not present:
                rows.append(dict(workload=str(workload), factor=factor, columns="", n_levels=1, eta_sq=float("nan"),
                                 effect=float("nan"), best_level="", worst_level="", moved_it=False,
                                 note="does not vary in these data", _split=()))
                continue
            level = np.array([" / ".join(t) for t in zip(*(texts[c] for c in present))], dtype=object)
            # grouped by the levels' sorted codes (the order and means a group-by of the text gives, without
            # hashing text in Arrow per factor), the means indexed by their level
            codes, names = pd.factorize(level, sort=True)
            grouped = value.groupby(codes)
            mean, size = grouped.mean().to_numpy(), np.bincount(codes)  # codes: 0..levels-1, each present
            ss = float((size * (mean - values.mean()) ** 2).sum())
            order = pd.Series(mean, index=pd.Index(names, dtype=object)).sort_values(ascending=not hib)
            eta = _zero(ss / total) if total > 0 else float("nan")
            effect = _zero(float(mean.max() - mean.min()), float(np.abs(values).max()))
            own = len(mean) == len(part)
            rows.append(dict(workload=str(workload), factor=factor, columns=", ".join(present), n_levels=len(mean),
                             eta_sq=eta, effect=effect, best_level=str(order.index[0]),
                             worst_level=str(order.index[-1]),
                             moved_it=bool(not own and eta > 0 and effect > 0),
                             note="every environment its own level: cannot tell" if own else "",
                             _split=tuple(pd.factorize(level)[0].tolist())))
    out = pd.DataFrame(rows, columns=cols + ["_split"])
    out["confounded_with"] = _confounded_factors(out)
    return out.drop(columns="_split")[cols + ["confounded_with"]]


def _zero(value: float, scale: float = 1.0) -> float:
    """Floating-point residue (|x| below 1e-12 of the scale) as an exact zero."""
    return 0.0 if abs(value) <= 1e-12 * max(scale, 1e-300) else value


def _confounded_factors(out: pd.DataFrame) -> List[str]:
    """Per row: the other varying factors of its workload whose levels split the environments
    exactly alike (the data cannot tell them apart), as text."""
    rows = list(zip(out["workload"], out["factor"], out["n_levels"], out["_split"]))
    result = []
    for workload, factor, n_levels, split in rows:
        if n_levels <= 1:
            result.append("")
            continue
        result.append(", ".join(f for w, f, n, s in rows if w == workload and f != factor and n > 1 and s == split))
    return result


def _text(series: pd.Series) -> List[str]:
    """Values as text, missing as '?' (so "not recorded" is a level of its own)."""
    return ["?" if pd.isna(v) else str(v) for v in series]


def environments_needed(df: pd.DataFrame, det: Optional[pd.DataFrame] = None, *,
                        envs: Optional[pd.DataFrame] = None, target: float = 0.95) -> pd.DataFrame:
    """Per workload and k = 1..n: the probability that k of its n observed environments,
    drawn at random without replacement, include an environment with the lowest value and one
    with the highest (``p_full_range``), and one that is nondeterministic (``p_nondeterministic``,
    NaN when none is). ``k_needed`` (same for every row of a workload) is the smallest k whose
    probability reaches ``target`` for both. Exact: inclusion-exclusion over binomials."""
    envs = _environments(df, det) if envs is None else envs
    cols = ["workload", "k", "n_envs", "p_full_range", "p_nondeterministic", "k_needed"]
    if envs.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for workload, part in envs.groupby("workload", observed=True, sort=True):
        n = len(part)
        lo, hi = part["value_min"].to_numpy(dtype=float), part["value_max"].to_numpy(dtype=float)
        spread = hi.max() > lo.min()
        a = int((lo == lo.min()).sum())
        b = int((hi == hi.max()).sum())
        ab = int(((lo == lo.min()) | (hi == hi.max())).sum())
        m = int((~part["deterministic"]).sum())
        curve = []
        for k in range(1, n + 1):
            total = comb(n, k)
            p_range = 1.0 if not spread else 1 - (comb(n - a, k) + comb(n - b, k) - comb(n - ab, k)) / total
            p_nondet = float("nan") if m == 0 else 1 - comb(n - m, k) / total
            curve.append((k, p_range, p_nondet))
        ok = [k for k, pr, pn in curve if pr >= target - 1e-12 and (np.isnan(pn) or pn >= target - 1e-12)]
        needed = ok[0] if ok else n
        rows += [dict(workload=str(workload), k=k, n_envs=n, p_full_range=pr, p_nondeterministic=pn, k_needed=needed)
                 for k, pr, pn in curve]
    return pd.DataFrame(rows, columns=cols)
