"""Analysis: pure functions from a results DataFrame (the result schema) to the study's answer.

Every function takes the DataFrame that ``gather.load_dataset`` or an importer returns and
gives back DataFrames; nothing here reads or writes files. All work is vectorised
(``groupby``), so a million runs take seconds.

- ``metric_stats``: min, max, range (percentage points for accuracy), mean, std per
  workload and metric, overall or by any columns (software env, hardware env, device
  class, observed hardware).
- ``hardware_check``: what each requested hardware environment was observed to be (from
  the fingerprint), and where request and observation disagree (loose pins, emulation).
- ``determinism``: per cell (workload, software env, hardware env, observed machine,
  seed) whether the repeats were bitwise identical (equal prediction hashes), had equal
  metrics (no hashes recorded), equal accuracy only, or differed.
- ``outcome_groups`` / ``explain_groups``: environments whose outcomes are identical,
  and the fingerprint attributes that separate the groups (a smallest-tree search).
- ``evaluate_claims``: user claims (``accuracy >= 0.85``, ``A beats B``) in every
  environment; ``verdicts``: outcomes / analysis / interpretation reproducible, in the
  vocabulary of Gundersen (see ``VERDICT_CRITERIA``), with configurable tolerances.
- ``summarize``: all of the above as a dict of DataFrames (what the report shows).
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from reprogrid.core.errors import Problem, UserError

ACCURACY = "test_accuracy"
LOSS = "test_loss"
METRICS = ("test_accuracy", "test_loss", "fraud_tp", "fraud_fp", "fraud_tn", "fraud_fn")
#: metrics in [0, 1] whose range is also given in percentage points
FRACTION_METRICS = ("test_accuracy",)
#: fingerprint attributes searched to explain outcome groups, in order of preference on ties
GROUP_ATTRIBUTES = (
    "cpu_vendor", "has_avx512f", "has_avx2", "microarch", "cpu_family", "cpu_model_number",
    "gpu_name", "gpu_capability", "software_env", "tensorflow_version", "cuda_version",
    "cudnn_version", "env_cuda_version", "env_cudnn_version", "nvidia_tensorflow_version",
    "python_version", "cpu_model",
)
ENV = ("software_env", "hardware_env")
CELL = ("workload", "software_env", "hardware_env", "observed_machine", "seed")

LEVEL_BITWISE = "bitwise identical"
LEVEL_METRICS = "equal metrics"
LEVEL_ACCURACY = "equal accuracy only"
LEVEL_DIFFERENT = "different"
LEVEL_SINGLE = "single run"
DETERMINISTIC_LEVELS = (LEVEL_BITWISE, LEVEL_METRICS)

VERDICT_CRITERIA = {
    "outcomes reproducible": (
        "every successful run of the workload, in every environment, produced the same outcome: "
        "identical prediction hashes where recorded, else identical test accuracy and loss "
        "(range of accuracy <= {outcome_pp} percentage points)"),
    "analysis reproducible": (
        "the outcomes differ, but the analysis the study reports gives the same result: the "
        "test accuracy agrees across environments within {analysis_pp} percentage points"),
    "interpretation reproducible": (
        "the conclusions drawn from the analysis hold everywhere: every claim about the workload "
        "is supported in at least {claim_share_pct:g}% of environments (without claims: the "
        "accuracy range stays within {interpretation_pp} percentage points)"),
}


@dataclass(frozen=True)
class Tolerances:
    """Thresholds of the verdicts (percentage points of accuracy; share of environments)."""

    outcome_pp: float = 0.0
    analysis_pp: float = 1.0
    interpretation_pp: float = 5.0
    claim_share: float = 1.0

    def criteria(self) -> Dict[str, str]:
        """The verdict criteria with these tolerances filled in (the report states them)."""
        values = dict(outcome_pp=self.outcome_pp, analysis_pp=self.analysis_pp,
                      interpretation_pp=self.interpretation_pp, claim_share_pct=self.claim_share * 100)
        return {name: text.format(**values) for name, text in VERDICT_CRITERIA.items()}


# --------------------------------------------------------------------------- preparation

def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Add the derived columns the analysis groups by (idempotent; returns a new frame).

    ``device_class`` (gpu when the run saw a GPU, else cpu), ``observed_hardware`` (GPU
    name for GPU runs, CPU model otherwise, ``?`` when the fingerprint is missing),
    ``observed_machine`` (CPU model + GPU name: what determinism cells compare) and
    ``environment`` (``software | hardware``). Key columns become categoricals.
    """
    if "observed_machine" in df.columns and isinstance(df["observed_machine"].dtype, pd.CategoricalDtype):
        return df
    missing = [c for c in ("workload", "software_env", "hardware_env", "status") if c not in df.columns]
    if missing:
        raise UserError.of("not a results table", [Problem("columns", f"missing {', '.join(missing)}: load it with gather.load_dataset")])
    keep = [c for c in df.columns if c in _ANALYSIS_COLUMNS]
    out = df[keep].copy()
    for col in ("test_accuracy", "test_loss", "fraud_tp", "fraud_fp", "fraud_tn", "fraud_fn",
                "gpu_count", "seed", "predictions_sha256", "cpu_model", "gpu_name", "machine_name", "sample_data"):
        if col not in out.columns:
            out[col] = None
    for col in METRICS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
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
    for col in ("workload", "software_env", "hardware_env", "status"):
        out[col] = _cat_text(out[col])
    out["seed"] = pd.to_numeric(out["seed"], errors="coerce").fillna(-1).astype("int64")
    out["environment"] = _combine(out["software_env"], out["hardware_env"], " | ")
    return out


_ANALYSIS_COLUMNS = frozenset((
    "run_id", "study_id", "study_name", "workload", "software_env", "hardware_env", "repeat", "seed", "status",
    "error_type", "error_message", "sample_data", "determinism", "predictions_sha256", "gpu_count", "machine_name",
    *METRICS, *GROUP_ATTRIBUTES))


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


# --------------------------------------------------------------------------- statistics

def metric_stats(df: pd.DataFrame, by: Sequence[str] = (), metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """min, max, range, mean, std of each metric per workload (and ``by``), successful runs only.

    ``range_pp`` is the range in percentage points for accuracy (NaN for other metrics).
    Metrics a workload never records (fraud counts outside the credit-card workload) are left out.
    """
    df = _ok(prepare(df))
    keys = ["workload", *by]
    metrics = [m for m in metrics if m in df.columns]
    grouped = df[keys + metrics].groupby(keys, observed=True, sort=True)[metrics]
    agg = grouped.agg(["count", "min", "max", "mean", "std"])
    if agg.empty:
        return pd.DataFrame(columns=[*keys, "metric", "n", "min", "max", "range", "range_pp", "mean", "std"])
    long = agg.stack(level=0, future_stack=True).reset_index()
    long = long.rename(columns={f"level_{len(keys)}": "metric", "count": "n"})
    if "metric" not in long.columns:
        long = long.rename(columns={long.columns[len(keys)]: "metric"})
    long = long[long["n"] > 0].copy()
    long["range"] = long["max"] - long["min"]
    long["range_pp"] = np.where(long["metric"].isin(FRACTION_METRICS), long["range"] * 100, np.nan)
    long["n"] = long["n"].astype(int)
    cols = [*keys, "metric", "n", "min", "max", "range", "range_pp", "mean", "std"]
    return long[cols].reset_index(drop=True)


def cell_means(df: pd.DataFrame, metric: str = ACCURACY) -> pd.DataFrame:
    """Mean and count of ``metric`` per workload x software env x hardware env (the heat map)."""
    df = _ok(prepare(df))
    g = df.groupby(["workload", "software_env", "hardware_env"], observed=True)[metric]
    out = g.agg(["mean", "min", "max", "count"]).reset_index()
    return out.rename(columns={"count": "n"})


# --------------------------------------------------------------------------- hardware

def hardware_check(df: pd.DataFrame) -> pd.DataFrame:
    """What each requested hardware environment was observed to be, and where they disagree.

    Columns: ``hardware_env``, ``device_class`` (observed), ``observed`` (distinct CPU
    models / GPU names seen), ``n_machines``, ``loose_pin`` (more than one kind of machine
    answered the request), ``name_mismatch`` (the model numbers in the environment's name,
    such as ``7302`` or ``a100``, are not in the observed model: the request was not what
    ran, e.g. an emulated dry run), ``shared`` (other hardware environments observed the
    same machine) and ``agrees``.
    """
    df = prepare(df)
    pairs = (df.groupby(["hardware_env", "observed_machine", "device_class", "observed_hardware"], observed=True)
               .size().rename("n").reset_index())
    machine_envs = pairs.groupby("observed_machine", observed=True)["hardware_env"].nunique()
    rows = []
    for hw, part in pairs.groupby("hardware_env", observed=True, sort=True):
        observed = sorted(set(part["observed_hardware"].astype(str)))
        machines = sorted(set(part["observed_machine"].astype(str)))
        mismatch = _name_mismatch(str(hw), observed)
        shared = bool((machine_envs.reindex(part["observed_machine"].unique()).fillna(0) > 1).any())
        devices = sorted(set(part["device_class"].astype(str)))
        rows.append(dict(hardware_env=str(hw), device_class="/".join(devices), n_runs=int(part["n"].sum()),
                         observed="; ".join(observed), n_machines=len(machines), loose_pin=len(machines) > 1,
                         name_mismatch=mismatch, name_check=name_check(str(hw), observed), shared=shared,
                         agrees=(len(machines) == 1 and mismatch is not True)))
    return pd.DataFrame(rows, columns=["hardware_env", "device_class", "n_runs", "observed", "n_machines",
                                       "loose_pin", "name_mismatch", "name_check", "shared", "agrees"])


def name_check(name: str, observed: Sequence[str]) -> str:
    """The requested model in the name vs the observed one, in words: ``match``,
    ``mismatch``, ``cannot tell`` (the host hides its model string, e.g. "AMD EPYC" or
    "Intel(R) Xeon(R) Processor" in a VM) or ``""`` (the name carries no model number)."""
    verdict = _name_mismatch(name, observed)
    return "" if verdict is None and not _model_tokens(name) else \
        "cannot tell" if verdict is None else "mismatch" if verdict else "match"


def _names_a_model(text: str) -> bool:
    """Whether a CPU/GPU model string names a model number (7302, 6148, a100), not just a
    vendor, a family or a clock frequency."""
    return any(len(w) >= 3 and re.search(r"\d", w) and not re.search(r"\d(ghz|mhz)$", w)
               for w in re.split(r"[^a-z0-9]+", str(text).lower()))


def _model_tokens(text: str) -> List[str]:
    return [t for t in re.split(r"[-_.\s]+", text.lower()) if re.search(r"\d", t) and not re.fullmatch(r"r?\d", t)]


def _name_mismatch(name: str, observed: Sequence[str]) -> Optional[bool]:
    """True when the name's model tokens (with digits: 7302, a100, v4) are not all observed;
    None when the name has none or no observed model string names a model (cannot tell)."""
    tokens = _model_tokens(name)
    if not tokens:
        return None
    if not any(_names_a_model(text) for text in observed):
        return None  # "AMD EPYC", "Intel(R) Xeon(R) Processor @ 2.40GHz", "?": the host hides its model
    for text in observed:
        words = set(re.split(r"[^a-z0-9]+", text.lower()))
        flat = re.sub(r"[^a-z0-9]+", "", text.lower())
        if all(t in words or t.replace("-", "") in flat for t in tokens):
            return False
    return True


# --------------------------------------------------------------------------- determinism

def determinism(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: how far the repeats of one workload agree in one environment.

    A cell is workload x software env x hardware env x observed machine x seed. ``level``:
    ``bitwise identical`` (every repeat recorded the same prediction hash), ``equal
    metrics`` (no hashes recorded, equal accuracy and loss), ``equal accuracy only``
    (hashes or loss differ), ``different`` (accuracy differs), ``single run``.
    ``deterministic`` is True for the first two, False for the next two, NA for one run.
    """
    df = _ok(prepare(df))
    keys = list(CELL)
    frame = df[keys + [ACCURACY, LOSS, "predictions_sha256"]]
    g = frame.groupby(keys, observed=True, sort=True)
    out = g.agg(n=(ACCURACY, "size"), n_hashes=("predictions_sha256", "count"),
                distinct_hashes=("predictions_sha256", "nunique"),
                distinct_accuracy=(ACCURACY, "nunique"), distinct_loss=(LOSS, "nunique"),
                accuracy_min=(ACCURACY, "min"), accuracy_max=(ACCURACY, "max"),
                accuracy_mean=(ACCURACY, "mean")).reset_index()
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
    part = det[det["workload"].astype(str) == workload].copy()
    if part.empty:
        return pd.DataFrame()
    part["rank"] = part["level"].map(order)
    worst = part.groupby(["hardware_env", "software_env"], observed=True)["rank"].max()
    inverse = {v: k for k, v in order.items()}
    return worst.map(inverse).unstack("software_env")


# --------------------------------------------------------------------------- outcome groups

def environment_outcomes(df: pd.DataFrame, decimals: Optional[int] = None,
                         det: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """One row per workload x environment: its outcome signature and fingerprint attributes.

    The signature is the prediction hash where every run recorded one, else the accuracy
    and loss (rounded to ``decimals`` when given). Nondeterministic environments (repeats
    disagree) get no signature: they cannot be grouped by outcome.
    """
    df = _ok(prepare(df))
    det = determinism(df) if det is None else det
    env_keys = ["workload", "device_class", "software_env", "hardware_env"]
    attrs = [a for a in GROUP_ATTRIBUTES if a in df.columns and a not in env_keys]
    first = df.drop_duplicates(env_keys)[env_keys + [a for a in attrs if a not in env_keys]]
    stats = df.groupby(env_keys, observed=True).agg(
        n=(ACCURACY, "size"), accuracy=(ACCURACY, "mean"), loss=(LOSS, "mean"),
        n_hashes=("predictions_sha256", "count"), hash=("predictions_sha256", "first")).reset_index()
    stats = stats[stats["n"] > 0]
    if stats.empty:
        return stats.assign(deterministic=pd.Series(dtype=bool), signature=pd.Series(dtype=object)).drop(columns=["hash", "n_hashes"])
    bad = det[det["deterministic"].eq(False).fillna(False).astype(bool)]
    bad_envs = set(zip(bad["workload"].astype(str), bad["software_env"].astype(str), bad["hardware_env"].astype(str)))
    acc = stats["accuracy"].round(decimals) if decimals is not None else stats["accuracy"]
    loss = stats["loss"].round(decimals) if decimals is not None else stats["loss"]
    signature = np.where(stats["n_hashes"] == stats["n"], "hash:" + stats["hash"].astype(str),
                         "acc:" + acc.map(repr) + " loss:" + loss.map(repr))
    nondet = [(w, s, h) in bad_envs for w, s, h in zip(stats["workload"].astype(str), stats["software_env"].astype(str), stats["hardware_env"].astype(str))]
    stats["deterministic"] = ~np.asarray(nondet, dtype=bool)
    stats["signature"] = np.where(stats["deterministic"], signature, None)
    out = stats.merge(first, on=env_keys, how="left")
    for col in env_keys:
        out[col] = out[col].astype(str)
    return out.drop(columns=["hash", "n_hashes"])


def outcome_groups(df: pd.DataFrame, within: Sequence[str] = ("workload", "device_class", "software_env"),
                   decimals: Optional[int] = None, det: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Environments whose outcomes are identical, grouped within each ``within`` scope.

    One row per environment with ``group`` (``G1`` = the highest accuracy in its scope,
    ``nondeterministic`` where the repeats disagreed) and ``n_groups`` of its scope.
    """
    envs = environment_outcomes(df, decimals, det)
    if envs.empty:
        return envs.assign(group=pd.Series(dtype=str), n_groups=pd.Series(dtype=int))
    within = list(within)
    det = envs[envs["signature"].notna()]
    sig_acc = det.groupby(within + ["signature"], observed=True)["accuracy"].mean().reset_index()
    sig_acc = sig_acc.sort_values(within + ["accuracy", "signature"], ascending=[True] * len(within) + [False, True])
    sig_acc["group"] = "G" + (sig_acc.groupby(within, observed=True).cumcount() + 1).astype(str)
    out = envs.merge(sig_acc[within + ["signature", "group"]], on=within + ["signature"], how="left")
    out["group"] = out["group"].fillna("nondeterministic")
    n_groups = sig_acc.groupby(within, observed=True).size().rename("n_groups").reset_index()
    out = out.merge(n_groups, on=within, how="left")
    out["n_groups"] = out["n_groups"].fillna(0).astype(int)
    return out.sort_values(within + ["group", "hardware_env", "software_env"]).reset_index(drop=True)


def explain_groups(groups: pd.DataFrame, within: Sequence[str] = ("workload", "device_class", "software_env"),
                   attributes: Sequence[str] = GROUP_ATTRIBUTES, max_depth: int = 3) -> pd.DataFrame:
    """For each scope with more than one outcome group: the attributes that separate them.

    A search for the smallest decision tree over the fingerprint ``attributes`` (fewest
    misplaced environments, then fewest leaves, then the earlier attribute) that puts
    every group's environments in their own leaves. ``attributes`` lists the attributes in
    the order the tree uses them (root first), ``rule`` the tree as text, ``pure`` whether
    it separates the groups completely.
    """
    within = list(within)
    rows = []
    if groups.empty:
        return pd.DataFrame(columns=within + ["n_envs", "n_groups", "attributes", "root", "rule", "pure", "groups"])
    det = groups[groups["group"] != "nondeterministic"]
    for key, part in det.groupby(within, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        labels = part["group"].tolist()
        if len(set(labels)) < 2:
            continue
        ordered = list(attributes)
        if dict(zip(within, key)).get("device_class") == "gpu":  # on GPUs, the GPU first on ties
            ordered.sort(key=lambda a: 0 if a.startswith("gpu_") else 1)
        cands = [a for a in ordered if a in part.columns and a not in within
                 and part[a].astype(str).nunique(dropna=False) > 1]
        values = {a: [("?" if pd.isna(v) else str(v)) for v in part[a]] for a in cands}
        tree = _best_tree(tuple(range(len(labels))), labels, values, cands, max_depth, {})
        impurity, leaves, node = tree
        used = _tree_attributes(node)
        members = "; ".join(f"{g}: {', '.join(sorted(part.loc[part['group'] == g, 'hardware_env'].astype(str)) if 'hardware_env' not in within else sorted(part.loc[part['group'] == g, 'software_env'].astype(str)))}"
                            for g in sorted(set(labels), key=_group_order))
        rows.append(dict(zip(within, key), n_envs=len(labels), n_groups=len(set(labels)), attributes=used,
                         root=used[0] if used else None, rule=_tree_text(node), pure=impurity == 0, groups=members))
    return pd.DataFrame(rows, columns=within + ["n_envs", "n_groups", "attributes", "root", "rule", "pure", "groups"])


def _group_order(label: str) -> Tuple[int, str]:
    return (int(label[1:]), "") if label[1:].isdigit() else (10 ** 6, label)


def _best_tree(idx: Tuple[int, ...], labels: List[str], values: Mapping[str, List[str]], cands: Sequence[str],
               depth: int, memo: Dict[Any, Any]):
    """(impurity, leaves, node) of the smallest tree over ``cands`` for the envs in ``idx``."""
    memo_key = (idx, depth)
    if memo_key in memo:
        return memo[memo_key]
    counts: Dict[str, int] = {}
    for i in idx:
        counts[labels[i]] = counts.get(labels[i], 0) + 1
    majority = max(sorted(counts), key=lambda g: (counts[g], -_group_order(g)[0]))
    best = (len(idx) - counts[majority], 1, ("leaf", sorted(counts, key=_group_order)))
    if best[0] > 0 and depth > 0:
        for attr in cands:
            parts: Dict[str, List[int]] = {}
            for i in idx:
                parts.setdefault(values[attr][i], []).append(i)
            if len(parts) < 2:
                continue
            impurity, leaves, children = 0, 0, []
            for value in sorted(parts):
                sub = _best_tree(tuple(parts[value]), labels, values, cands, depth - 1, memo)
                impurity += sub[0]
                leaves += sub[1]
                children.append((value, sub[2]))
            if (impurity, leaves) < best[:2]:
                best = (impurity, leaves, ("split", attr, children))
    memo[memo_key] = best
    return best


def _tree_attributes(node) -> List[str]:
    out: List[str] = []
    queue = [node]
    while queue:
        current = queue.pop(0)
        if current[0] == "split":
            if current[1] not in out:
                out.append(current[1])
            queue.extend(child for _, child in current[2])
    return out


def _tree_text(node) -> str:
    if node[0] == "leaf":
        return "+".join(node[1])
    return f"{node[1]}: " + "; ".join(
        f"{value} -> {_tree_text(child) if child[0] == 'leaf' else '(' + _tree_text(child) + ')'}" for value, child in node[2])


def group_factors(explanations: pd.DataFrame) -> pd.DataFrame:
    """How often each attribute separates outcome groups, over all scopes (root and anywhere)."""
    if explanations.empty:
        return pd.DataFrame(columns=["attribute", "as_root", "anywhere"])
    roots = explanations["root"].dropna().value_counts()
    anywhere = pd.Series([a for attrs in explanations["attributes"] for a in attrs]).value_counts()
    out = pd.DataFrame({"as_root": roots, "anywhere": anywhere}).fillna(0).astype(int)
    out.index.name = "attribute"
    return out.sort_values(["as_root", "anywhere"], ascending=False).reset_index()


# --------------------------------------------------------------------------- claims

_OPS: Dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
_ALIASES = {"accuracy": ACCURACY, "acc": ACCURACY, "loss": LOSS}
_LOWER_IS_BETTER = {LOSS, "fraud_fp", "fraud_fn"}
CLAIM_EXAMPLES = ("'accuracy >= 0.85', 'mnist_convnet: test_accuracy > 0.99', "
                  "'mnist_convnet beats imbalanced_classification', 'A beats B on test_loss'")


@dataclass(frozen=True)
class Claim:
    """A conclusion to test in every environment: a threshold or a comparison of workloads."""

    text: str
    kind: str  # "threshold" | "compare"
    metric: str
    op: str = ">="
    value: float = 0.0
    workload: Optional[str] = None
    other: Optional[str] = None


def parse_claim(text: str, *, where: str = "claim", workloads: Optional[Iterable[str]] = None,
                columns: Optional[Iterable[str]] = None) -> Claim:
    """Parse ``[WORKLOAD:] METRIC OP NUMBER`` or ``A beats B [on METRIC]`` (also ``A > B``)."""
    known = set(workloads) if workloads is not None else None
    cols = set(columns) if columns is not None else None
    raw = text.strip()

    def metric_of(name: str) -> str:
        metric = _ALIASES.get(name.lower(), name)
        if cols is not None and metric not in cols:
            raise UserError.of("bad claim", [Problem(where, f"{raw!r}: unknown metric {name!r}; use accuracy, loss or a numeric column such as fraud_fn")])
        return metric

    def check_workload(name: str) -> str:
        if known is not None and name not in known:
            raise UserError.of("bad claim", [Problem(where, f"{raw!r}: unknown workload {name!r}; the data has {', '.join(sorted(known)) or 'none'}")])
        return name

    m = re.fullmatch(r"([A-Za-z0-9][\w.-]*)\s+(?:beats|outperforms)\s+([A-Za-z0-9][\w.-]*)(?:\s+on\s+(\w+))?", raw)
    if m:
        metric = metric_of(m.group(3) or ACCURACY)
        return Claim(raw, "compare", metric, op="<" if metric in _LOWER_IS_BETTER else ">",
                     workload=check_workload(m.group(1)), other=check_workload(m.group(2)))
    m = re.fullmatch(r"(?:([A-Za-z0-9][\w.-]*)\s*:\s*)?(\w+)\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", raw)
    if m:
        return Claim(raw, "threshold", metric_of(m.group(2)), op=m.group(3), value=float(m.group(4)),
                     workload=check_workload(m.group(1)) if m.group(1) else None)
    m = re.fullmatch(r"([A-Za-z0-9][\w.-]*)\s*(>=|>|<=|<)\s*([A-Za-z0-9][\w.-]*)", raw)
    if m and known is not None and m.group(1) in known and m.group(3) in known:
        return Claim(raw, "compare", ACCURACY, op=m.group(2), workload=m.group(1), other=m.group(3))
    raise UserError.of("bad claim", [Problem(where, f"cannot read {raw!r}; write e.g. {CLAIM_EXAMPLES}")])


def parse_claims(texts: Iterable[str], df: Optional[pd.DataFrame] = None) -> List[Claim]:
    """Parse several claims, checking workloads and metrics against ``df`` when given."""
    workloads = columns = None
    if df is not None:
        workloads = _distinct(df["workload"])
        columns = list(df.columns)
    claims, problems = [], []
    for i, text in enumerate(texts):
        if isinstance(text, Claim):
            claims.append(text)
            continue
        try:
            claims.append(parse_claim(text, where=f"claim[{i}]", workloads=workloads, columns=columns))
        except UserError as err:
            problems.extend(err.problems)
    if problems:
        raise UserError.of("bad claim(s)", problems)
    return claims


def evaluate_claims(df: pd.DataFrame, claims: Iterable[Any]) -> pd.DataFrame:
    """Each claim in every environment (software x hardware; the mean of its runs).

    A threshold claim without a workload is checked for every workload in every
    environment. Columns: ``claim``, ``n_envs``, ``n_support``, ``share`` (of
    environments supporting it), ``share_runs`` (threshold claims: of single runs),
    ``holds_everywhere``, ``failing`` (up to five environments where it does not hold).
    """
    prepared = _ok(prepare(df))
    parsed = parse_claims(claims, prepared)
    rows = []
    for claim in parsed:
        op = _OPS[claim.op]
        values = pd.to_numeric(prepared[claim.metric], errors="coerce").astype(float)
        frame = prepared[["workload", "software_env", "hardware_env"]].assign(value=values).dropna(subset=["value"])
        if claim.kind == "threshold":
            if claim.workload is not None:
                frame = frame[frame["workload"] == claim.workload]
            means = frame.groupby(["workload", "software_env", "hardware_env"], observed=True)["value"].mean().dropna()
            support = op(means, claim.value)
            runs_support = op(frame["value"], claim.value)
            share_runs = float(runs_support.mean()) if len(frame) else float("nan")
            labels = [f"{w} @ {s} | {h}" if claim.workload is None else f"{s} | {h}" for w, s, h in support.index]
        else:
            means = frame.groupby(["workload", "software_env", "hardware_env"], observed=True)["value"].mean().unstack("workload")
            if claim.workload not in means.columns or claim.other not in means.columns:
                means = pd.DataFrame(columns=[claim.workload, claim.other])
            both = means[[claim.workload, claim.other]].dropna()
            support = op(both[claim.workload], both[claim.other])
            share_runs = float("nan")
            labels = [f"{s} | {h}" for s, h in support.index]
        support = support.astype(bool)
        n = int(len(support))
        failing = [label for label, ok in zip(labels, support) if not ok]
        rows.append(dict(claim=claim.text, kind=claim.kind, metric=claim.metric, n_envs=n,
                         n_support=int(support.sum()), share=(float(support.mean()) if n else float("nan")),
                         share_runs=share_runs, holds_everywhere=bool(n and support.all()),
                         failing=", ".join(failing[:5]) + (f" (+{len(failing) - 5} more)" if len(failing) > 5 else ""),
                         workloads=",".join(w for w in (claim.workload, claim.other) if w)))
    return pd.DataFrame(rows, columns=["claim", "kind", "metric", "n_envs", "n_support", "share", "share_runs",
                                       "holds_everywhere", "failing", "workloads"])


# --------------------------------------------------------------------------- verdicts

def verdicts(df: pd.DataFrame, claims: Iterable[Any] = (), tolerances: Optional[Tolerances] = None,
             by: Sequence[str] = ("workload",), det: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Outcomes / analysis / interpretation reproducible per workload (and ``by``).

    ``claims`` are claim texts (or parsed ``Claim``); a claim counts for a workload when
    it names it, or when it is a threshold without a workload (then it is evaluated on
    that workload's environments only). The criteria, with the tolerances filled in, are
    ``Tolerances.criteria()``.
    """
    tol = tolerances or Tolerances()
    prepared = _ok(prepare(df))
    keys = list(by)
    if prepared.empty:
        return pd.DataFrame(columns=keys + ["n_runs", "n_envs", "range_pp", "distinct_outcomes", "nondeterministic_cells",
                                            "outcomes_reproducible", "analysis_reproducible",
                                            "interpretation_reproducible", "interpretation_basis"])
    hashed = prepared["predictions_sha256"].notna().to_numpy()
    hash_codes, hash_uniques = pd.factorize(prepared["predictions_sha256"])
    metric_codes = prepared.groupby([prepared[ACCURACY].fillna(-1.0), prepared[LOSS].fillna(-1.0)], sort=False).ngroup().to_numpy()
    sig = np.where(hashed, hash_codes, len(hash_uniques) + metric_codes)
    frame = prepared[keys + ["environment", ACCURACY]].assign(signature=sig)
    g = frame.groupby(keys, observed=True)
    out = g.agg(n_runs=(ACCURACY, "size"), n_envs=("environment", "nunique"), acc_min=(ACCURACY, "min"),
                acc_max=(ACCURACY, "max"), distinct_outcomes=("signature", "nunique")).reset_index()
    out["range_pp"] = (out["acc_max"] - out["acc_min"]) * 100
    det = (determinism(prepared) if det is None else det).copy()
    det["bad"] = det["deterministic"].eq(False).fillna(False).astype(bool)
    det_keys = [k for k in keys if k in det.columns]
    if "device_class" in keys:
        dc = prepared.drop_duplicates(list(CELL))[list(CELL) + ["device_class"]]
        det = det.merge(dc, on=list(CELL), how="left")
        det_keys = keys
    bad = det.groupby(det_keys, observed=True)["bad"].sum().rename("nondeterministic_cells").reset_index()
    out = out.merge(bad, on=det_keys, how="left")
    out["nondeterministic_cells"] = out["nondeterministic_cells"].fillna(0).astype(int)
    eps = 1e-9
    out["outcomes_reproducible"] = (out["distinct_outcomes"] == 1) & (out["range_pp"] <= tol.outcome_pp + eps)
    out["analysis_reproducible"] = out["range_pp"] <= tol.analysis_pp + eps
    parsed = parse_claims(claims, prepared)
    interp, basis = [], []
    for _, row in out.iterrows():
        workload = str(row["workload"])
        mine = [c for c in parsed if c.workload is None or workload in (c.workload, c.other)]
        relevant = pd.DataFrame()
        if mine:
            names = {workload} | {c.other for c in mine if c.other} | {c.workload for c in mine if c.workload}
            mask = prepared["workload"].isin(names).to_numpy().copy()
            for key in keys:
                if key != "workload":
                    mask &= (prepared[key] == row[key]).to_numpy()
            relevant = evaluate_claims(prepared[mask], mine)
        if not relevant.empty:
            ok = bool((relevant["share"].fillna(0) >= tol.claim_share - eps).all())
            interp.append(ok)
            basis.append(f"{int((relevant['share'].fillna(0) >= tol.claim_share - eps).sum())} of {len(relevant)} claim(s) "
                         f"hold in >= {tol.claim_share * 100:g}% of environments")
        else:
            interp.append(bool(row["range_pp"] <= tol.interpretation_pp + eps))
            basis.append(f"no claims: accuracy range {row['range_pp']:.2f} pp vs {tol.interpretation_pp:g} pp")
    out["interpretation_reproducible"] = interp
    out["interpretation_basis"] = basis
    for key in keys:
        out[key] = out[key].astype(str)
    return out.drop(columns=["acc_min", "acc_max"])


# --------------------------------------------------------------------------- provenance

def provenance(df: pd.DataFrame) -> Dict[str, Any]:
    """What the data are: runs, failures, sample or real data, emulated hardware environments."""
    prepared = prepare(df)
    n = len(prepared)
    status = prepared["status"]
    sample = prepared["sample_data"]
    n_sample = int(sample.eq(True).fillna(False).sum()) if n else 0
    n_real = int(sample.eq(False).fillna(False).sum()) if n else 0
    data = ("none" if n == 0 else "sample data" if n_sample == n else "real data" if n_real == n
            else "mixed: sample and real data" if n_sample and n_real else "unknown (not recorded)")
    hw = hardware_check(prepared) if n else pd.DataFrame(columns=["hardware_env", "name_mismatch", "shared", "n_machines"])
    emulated = hw[(hw["name_mismatch"] == True) | ((hw["shared"] == True) & (hw["name_mismatch"] != False))]  # noqa: E712
    emulated_envs = set(emulated["hardware_env"].astype(str))
    if n and "fingerprint_json" in prepared:
        # The emulated schedd marks its machine ads; the job copies the marker into its fingerprint.
        marked = prepared["fingerprint_json"].astype("string").str.contains('"ReprogridEmulated": true', regex=False)
        emulated_envs |= set(prepared.loc[marked.fillna(False).astype(bool), "hardware_env"].astype(str))
    studies = _distinct(prepared["study_name"]) if "study_name" in prepared else []
    return {
        "runs": n,
        "ok": int((status == "ok").sum()),
        "failed": int((status == "failed").sum()),
        "data": data,
        "sample_runs": n_sample,
        "workloads": _distinct(prepared["workload"]),
        "software_envs": _distinct(prepared["software_env"]),
        "hardware_envs": _distinct(prepared["hardware_env"]),
        "observed_machines": _distinct(prepared["observed_machine"]),
        "emulated_hardware_envs": sorted(emulated_envs),
        "studies": studies,
    }


# --------------------------------------------------------------------------- summary

def summarize(df: pd.DataFrame, *, claims: Iterable[Any] = (), tolerances: Optional[Tolerances] = None,
              decimals: Optional[int] = None) -> Dict[str, pd.DataFrame]:
    """Every table of the report as DataFrames (for notebooks): keys are stable names.

    ``stats``, ``stats_by_software``, ``stats_by_hardware``, ``stats_by_device``,
    ``stats_by_observed``, ``cell_means``, ``hardware_check``, ``determinism``,
    ``nondeterministic``, ``outcome_groups``, ``group_explanations``, ``group_factors``,
    ``outcome_groups_all`` / ``group_explanations_all`` (across software and hardware),
    ``claims``, ``verdicts``, ``verdicts_by_device``, ``criteria``, ``provenance``.
    """
    tol = tolerances or Tolerances()
    everything = prepare(df)
    claim_list = list(claims)
    parse_claims(claim_list, everything)  # fail early, before any work, on a bad claim
    prov = provenance(everything)
    prepared = _ok(everything)
    det = determinism(prepared)
    groups = outcome_groups(prepared, decimals=decimals, det=det)
    expl = explain_groups(groups)
    groups_all = outcome_groups(prepared, within=("workload", "device_class"), decimals=decimals, det=det)
    expl_all = explain_groups(groups_all, within=("workload", "device_class"))
    claim_table = evaluate_claims(prepared, claim_list)
    return {
        "provenance": pd.DataFrame({"item": list(prov), "value": [
            ", ".join(v) if isinstance(v, list) else v for v in prov.values()]}),
        "stats": metric_stats(prepared),
        "stats_by_software": metric_stats(prepared, by=("software_env",)),
        "stats_by_hardware": metric_stats(prepared, by=("hardware_env",)),
        "stats_by_device": metric_stats(prepared, by=("device_class",)),
        "stats_by_observed": metric_stats(prepared, by=("observed_hardware",)),
        "cell_means": cell_means(prepared),
        "hardware_check": hardware_check(everything),
        "determinism": det,
        "nondeterministic": nondeterministic_cells(det),
        "outcome_groups": groups,
        "group_explanations": expl,
        "group_factors": group_factors(expl),
        "outcome_groups_all": groups_all,
        "group_explanations_all": expl_all,
        "claims": claim_table,
        "verdicts": verdicts(prepared, claim_list, tol, det=det),
        "verdicts_by_device": verdicts(prepared, claim_list, tol, by=("workload", "device_class"), det=det),
        "criteria": pd.DataFrame({"verdict": list(tol.criteria()), "criterion": list(tol.criteria().values())}),
    }
