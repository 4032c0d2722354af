"""Claims: conclusions (thresholds, comparisons of workloads) checked in every environment.

A claim may name any metric the records carry: a numeric record column (``test_accuracy``,
``fraud_fn``), a key of a workload's metrics map (``metrics_json``: ``val_loss``...), or
``primary``, each workload's declared primary metric (the default of a comparison). An
unknown metric, or a claim that matches no successful run, is a ``UserError`` listing the
metrics present (:func:`check_claims_matched`).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import json
import operator
import re
from dataclasses import dataclass
from statistics import NormalDist

from reprogrid.analysis.columns import ACCURACY, LOSS, _distinct, _ok, prepare
from reprogrid.core.errors import Problem, UserError

_OPS: Dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
PRIMARY = "primary"
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
                columns: Optional[Iterable[str]] = None, present: Sequence[str] = (),
                ok_workloads: Optional[Iterable[str]] = None) -> Claim:
    """Parse ``[WORKLOAD:] METRIC OP NUMBER`` or ``A beats B [on METRIC]`` (also ``A > B``);
    a comparison without ``on`` compares the workloads' primary metric. ``present`` names
    the metrics the data carry, for the message about an unknown one."""
    known = set(workloads) if workloads is not None else None
    succeeded = set(ok_workloads) if ok_workloads is not None else None
    cols = set(columns) | {PRIMARY} if columns is not None else None
    raw = text.strip()

    def metric_of(name: str) -> str:
        metric = _ALIASES.get(name.lower(), name)
        if metric not in present and name in present:
            metric = name  # a user metric called "accuracy" or "loss" in the metrics map
        if cols is not None and metric not in cols:
            listed = ", ".join(present) if present else "accuracy, loss or a numeric column such as fraud_fn"
            raise UserError.of("bad claim", [Problem(where, f"{raw!r}: unknown metric {name!r}; the records carry: "
                                                            f"{listed}")])
        return metric

    def check_workload(name: str) -> str:
        if known is not None and name not in known:
            raise UserError.of("bad claim", [Problem(where, f"{raw!r}: unknown workload {name!r}; the data has {', '.join(sorted(known)) or 'none'}")])
        if succeeded is not None and name not in succeeded:
            raise UserError.of("bad claim", [Problem(where, f"{raw!r}: workload {name!r} has no successful run (all its "
                                                            "runs failed); the report's failures say why")])
        return name

    m = re.fullmatch(r"([A-Za-z0-9][\w.-]*)\s+(?:beats|outperforms)\s+([A-Za-z0-9][\w.-]*)(?:\s+on\s+(\w+))?", raw)
    if m:
        metric = metric_of(m.group(3) or PRIMARY)
        return Claim(raw, "compare", metric, op="<" if metric in _LOWER_IS_BETTER else ">",
                     workload=check_workload(m.group(1)), other=check_workload(m.group(2)))
    m = re.fullmatch(r"(?:([A-Za-z0-9][\w.-]*)\s*:\s*)?(\w+)\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", raw)
    if m:
        return Claim(raw, "threshold", metric_of(m.group(2)), op=m.group(3), value=float(m.group(4)),
                     workload=check_workload(m.group(1)) if m.group(1) else None)
    m = re.fullmatch(r"([A-Za-z0-9][\w.-]*)\s*(>=|>|<=|<)\s*([A-Za-z0-9][\w.-]*)", raw)
    if m and known is not None and m.group(1) in known and m.group(3) in known:
        return Claim(raw, "compare", PRIMARY, op=m.group(2), workload=m.group(1), other=m.group(3))
    raise UserError.of("bad claim", [Problem(where, f"cannot read {raw!r}; write e.g. {CLAIM_EXAMPLES}")])


def parse_claims(texts: Iterable[str], df: Optional[pd.DataFrame] = None) -> List[Claim]:
    """Parse several claims, checking workloads and metrics against ``df`` when given."""
    workloads = columns = ok_workloads = None
    present: List[str] = []
    texts = list(texts)
    if df is not None and any(not isinstance(t, Claim) for t in texts):  # only text needs the data's names
        workloads = _distinct(df["workload"])
        ok_workloads = _distinct(_ok(df)["workload"]) if "status" in df.columns else None
        present = metrics_present(df)
        columns = list(df.columns) + present
    claims, problems = [], []
    for i, text in enumerate(texts):
        if isinstance(text, Claim):
            claims.append(text)
            continue
        try:
            claims.append(_primary_direction(parse_claim(text, where=f"claim[{i}]", workloads=workloads,
                                                         columns=columns, present=present,
                                                         ok_workloads=ok_workloads), df))
        except UserError as err:
            problems.extend(err.problems)
    if problems:
        raise UserError.of("bad claim(s)", problems)
    return claims


_ENV = ["software_env", "hardware_env", "observed_env", "seed"]
#: record columns that are results (the others are facts about the environment)
_RESULT_COLUMNS = (ACCURACY, LOSS, "fraud_tp", "fraud_fp", "fraud_tn", "fraud_fn")


def _metric_maps(df: pd.DataFrame) -> List[Dict[str, Any]]:
    if "metrics_json" not in df.columns:
        return [{} for _ in range(len(df))]
    out = []
    for text in df["metrics_json"]:
        try:
            value = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            value = {}
        out.append(value if isinstance(value, dict) else {})
    return out


def metrics_present(df: pd.DataFrame) -> List[str]:
    """The metrics the records carry: ``primary``, the result columns with values, and every
    numeric key of the metrics maps, sorted."""
    names = {c for c in _RESULT_COLUMNS if c in df.columns and df[c].notna().any()}
    for metrics in _metric_maps(df):
        names.update(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return [PRIMARY] + sorted(names) if len(df) else []


def metric_values(prepared: pd.DataFrame, metric: str) -> pd.Series:
    """One metric per run as floats: the primary value, a record column, or a metrics-map key."""
    if metric == PRIMARY:
        return pd.to_numeric(prepared["value"], errors="coerce").astype(float)
    if metric in prepared.columns:
        return pd.to_numeric(prepared[metric], errors="coerce").astype(float)
    values = [m.get(metric) for m in _metric_maps(prepared)]
    return pd.Series([float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan for v in values],
                     index=prepared.index, dtype=float)


def _primary_direction(claim: Claim, df: Optional[pd.DataFrame]) -> Claim:
    """A comparison on the primary metric is "better" by the workload's declared direction."""
    if claim.kind != "compare" or claim.metric != PRIMARY or df is None or "higher_is_better" not in df.columns:
        return claim
    part = df[df["workload"].astype(str) == str(claim.workload)]["higher_is_better"].dropna()
    lower = len(part) > 0 and not bool(part.iloc[0])
    if claim.op in (">", "<") and claim.text.split()[1] in ("beats", "outperforms"):
        return Claim(claim.text, claim.kind, claim.metric, "<" if lower else ">", claim.value, claim.workload, claim.other)
    return claim


def check_claims_matched(table: pd.DataFrame, df: pd.DataFrame) -> None:
    """Exit 2 (``UserError``) for claims that matched no successful run, naming the metrics present."""
    empty = table[table["n_envs"] == 0] if table is not None and not table.empty else pd.DataFrame()
    if empty.empty:
        return
    prepared = _ok(prepare(df))
    problems = []
    for _, row in empty.iterrows():
        names = [w for w in str(row["workloads"]).split(",") if w] or sorted(set(prepared["workload"].astype(str)))
        per = "; ".join(f"{w}: {', '.join(metrics_present(prepared[prepared['workload'].astype(str) == w])) or 'no successful run'}"
                        for w in names)
        problems.append(Problem(f"claim {row['claim']!r}", f"matches no successful run with metric {row['metric']!r} "
                                f"(metrics present - {per}); name a metric the workload records"))
    raise UserError.of("claims that match no run", problems)


def evaluate_claims(df: pd.DataFrame, claims: Iterable[Any], level: float = 0.95) -> pd.DataFrame:
    """Each claim in every observed environment (software x hardware x observed x seed; the
    mean of its runs, which differ only in a nondeterministic environment).

    A threshold claim without a workload is checked for every workload in every
    environment; a comparison only where both workloads ran in the same observed
    environment. Columns: ``claim``, ``n_envs``, ``n_support``, ``share`` (of environments
    supporting it) with its Wilson interval ``share_low``/``share_high``, ``share_runs``
    (threshold claims: of single runs), ``holds_everywhere``, ``decision`` (``holds``,
    ``fails`` or ``unstable``: holds in some environments, not in others), ``failing``
    (up to five environments where it does not hold).
    """
    prepared = _ok(prepare(df))
    parsed = parse_claims(claims, prepared)
    rows = []
    for claim in parsed:
        support, labels, share_runs = _claim_support(prepared, claim)
        n = int(len(support))
        k = int(support.sum())
        low, high = wilson(k, n, level)
        failing = [label for label, ok in zip(labels, support) if not ok]
        rows.append(dict(claim=claim.text, kind=claim.kind, metric=claim.metric, n_envs=n, n_support=k,
                         share=(k / n if n else float("nan")), share_low=low, share_high=high,
                         share_runs=share_runs, holds_everywhere=bool(n and k == n),
                         decision=_decision(k, n),
                         failing=", ".join(failing[:5]) + (f" (+{len(failing) - 5} more)" if len(failing) > 5 else ""),
                         workloads=",".join(w for w in (claim.workload, claim.other) if w)))
    return pd.DataFrame(rows, columns=["claim", "kind", "metric", "n_envs", "n_support", "share", "share_low",
                                       "share_high", "share_runs", "holds_everywhere", "decision", "failing",
                                       "workloads"])


def _decision(k: int, n: int) -> str:
    return "no data" if n == 0 else "holds" if k == n else "fails" if k == 0 else "unstable"


def _claim_support(prepared: pd.DataFrame, claim: Claim):
    """(support per environment as a bool Series, environment labels, share of single runs)."""
    op = _OPS[claim.op]
    values = metric_values(prepared, claim.metric)
    frame = prepared[["workload", *_ENV]].assign(value=values).dropna(subset=["value"])
    if claim.kind == "threshold":
        if claim.workload is not None:
            frame = frame[frame["workload"] == claim.workload]
        means = frame.groupby(["workload", *_ENV], observed=True)["value"].mean().dropna()
        support = op(means, claim.value)
        share_runs = float(op(frame["value"], claim.value).mean()) if len(frame) else float("nan")
        labels = [_env_label(rest) if claim.workload is not None else f"{w} @ {_env_label(rest)}"
                  for w, *rest in support.index]
        return support.astype(bool), labels, share_runs
    means = frame.groupby(["workload", *_ENV], observed=True)["value"].mean().unstack("workload")
    if claim.workload not in means.columns or claim.other not in means.columns:
        means = pd.DataFrame(columns=[claim.workload, claim.other])
    both = means[[claim.workload, claim.other]].dropna()
    support = op(both[claim.workload], both[claim.other])
    return support.astype(bool), [_env_label(list(i)) for i in support.index], float("nan")


def _env_label(parts: Sequence[Any]) -> str:
    software, hardware, observed = str(parts[0]), str(parts[1]), str(parts[2])
    return f"{software} | {hardware}" + (f" [{observed}]" if observed != hardware else "")


def wilson(k: int, n: int, level: float = 0.95) -> Tuple[float, float]:
    """Wilson score interval of a proportion k/n (NaN for n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    z = float(NormalDist().inv_cdf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two rankings (NaN when either has no untied pair)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    nx, ny = int((dx != 0).sum()), int((dy != 0).sum())
    if nx == 0 or ny == 0:
        return float("nan")
    return float((dx * dy).sum() / np.sqrt(nx * ny))


def claim_stability(df: pd.DataFrame, claims: Iterable[Any] = (), level: float = 0.95) -> pd.DataFrame:
    """Decision stability of the claims that compare variants of one task ("A beats B on task T").

    Variants of a task are the workloads whose ``task`` column is equal (a workload without a
    task is its own task). For every task with two or more variants, each ordered pair
    ``A beats B`` (A better than B on the task's primary metric, by its direction; A is the
    variant with the better mean over the environments where both ran) is checked in every
    observed environment where both ran. Columns: ``task``, ``claim``, ``n_envs``,
    ``n_support``, ``share`` with its Wilson interval, ``decision``, ``kendall_tau_mean`` and
    ``kendall_tau_min`` (rank agreement of each environment's ranking of the task's variants
    with the ranking by mean; 1 = same order everywhere), and ``n_variants``.
    User ``claims`` of the comparison kind are added under task ``(user claim)``.
    """
    prepared = _ok(prepare(df))
    cols = ["task", "claim", "n_variants", "n_envs", "n_support", "share", "share_low", "share_high", "decision",
            "kendall_tau_mean", "kendall_tau_min"]
    rows = []
    pairs = prepared[["workload", "task"]].drop_duplicates()
    task_of = {str(w): (str(w) if pd.isna(t) else str(t)) for w, t in zip(pairs["workload"], pairs["task"])}
    tasks: Dict[str, List[str]] = {}
    for workload, name in task_of.items():
        tasks.setdefault(name, []).append(workload)
    for name, variants in sorted(tasks.items()):
        if len(variants) < 2:
            continue
        part = prepared[prepared["workload"].astype(str).isin(variants).to_numpy()]
        if part["metric_name"].astype(str).nunique() != 1:
            continue
        rows += _task_rows(name, part, sorted(variants), level)
    user = [c for c in parse_claims(claims, prepared) if c.kind == "compare"]
    if user:
        table = evaluate_claims(prepared, user, level)
        for _, r in table.iterrows():
            rows.append(dict(task="(user claim)", claim=r["claim"], n_variants=2, n_envs=r["n_envs"],
                             n_support=r["n_support"], share=r["share"], share_low=r["share_low"],
                             share_high=r["share_high"], decision=r["decision"],
                             kendall_tau_mean=float("nan"), kendall_tau_min=float("nan")))
    return pd.DataFrame(rows, columns=cols)


def _task_rows(task: str, part: pd.DataFrame, variants: List[str], level: float) -> List[Dict[str, Any]]:
    """The pairwise claims and rank agreement of one task's variants."""
    hib = bool(part["higher_is_better"].iloc[0])
    wide = part.groupby([*_ENV, "workload"], observed=True)["value"].mean().unstack("workload")
    wide = wide[[v for v in variants if v in wide.columns]]
    signed = wide if hib else -wide
    consensus = signed.mean()
    taus = [kendall_tau(row.dropna().to_numpy(), consensus[row.dropna().index].to_numpy())
            for _, row in signed.iterrows() if row.notna().sum() >= 2]
    taus = [t for t in taus if not np.isnan(t)]
    rows = []
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            if a not in signed.columns or b not in signed.columns:
                continue
            both = signed[[a, b]].dropna()
            better, worse = (a, b) if both[a].mean() >= both[b].mean() else (b, a)
            support = both[better] > both[worse]
            n, k = len(both), int(support.sum())
            low, high = wilson(k, n, level)
            rows.append(dict(task=task, claim=f"{better} beats {worse}", n_variants=len(variants), n_envs=n,
                             n_support=k, share=(k / n if n else float("nan")), share_low=low, share_high=high,
                             decision=_decision(k, n), kendall_tau_mean=float(np.mean(taus)) if taus else float("nan"),
                             kendall_tau_min=float(np.min(taus)) if taus else float("nan")))
    return rows
