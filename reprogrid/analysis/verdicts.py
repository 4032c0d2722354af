"""Verdicts in Gundersen's vocabulary: outcomes / analysis / interpretation reproducible.

The degrees form a hierarchy (outcomes reproducible implies analysis reproducible implies
interpretation reproducible) and the criteria respect it. None of them depends on how many
environments were run: the analysis criterion compares the spread *between* environments
(a standard deviation, which does not grow with the number of environments, unlike a range)
with the run-to-run spread and a tolerance in the metric's own units; the interpretation
criterion asks whether every claim's decision is the same across environments (a share,
not a count). Deterministic repeats count once.

Minimum data: a verdict needs at least ``MIN_ENVS`` observed environments, at least
``MIN_REPEATED`` of them with 2+ runs (otherwise the run-to-run spread is unmeasured);
below that every degree is NA and ``verdict`` says "not enough data" with the counts.
"Outcomes reproducible" further needs every environment repeated (one run says nothing
about its repeats agreeing): where some ran once, the outcome degree is NA.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np
import pandas as pd

from reprogrid.analysis.claims import claim_stability, evaluate_claims, parse_claims
from reprogrid.analysis.repeats import determinism
from reprogrid.analysis.columns import _ok, prepare
from reprogrid.analysis.variance import _environments, survival

#: fewest observed environments, and fewest of them with 2+ runs, for any verdict
MIN_ENVS = 3
MIN_REPEATED = 2
NOT_ENOUGH = "not enough data"

VERDICT_CRITERIA = {
    "outcomes reproducible": (
        "every observed environment produced the same outcome (identical prediction hashes where recorded, else "
        "identical metrics; the primary metric within {outcome:g} of one another) and every environment's repeats "
        "agreed"),
    "analysis reproducible": (
        "outcomes reproducible, or the spread between environments (the std of the environments' values, each "
        "environment once) is no larger than the run-to-run std or {analysis:g} in the metric's units, whichever is "
        "larger"),
    "interpretation reproducible": (
        "analysis reproducible, or every claim about the workload (yours, and 'A beats B' between variants of its "
        "task) reaches the same decision in at least {claim_share_pct:g}% of environments (holds there, or fails "
        "there); without claims and without analysis reproducibility: not assessed"),
}


@dataclass(frozen=True)
class Tolerances:
    """Thresholds of the verdicts, in the primary metric's own units (accuracy: 0.005 = 0.5 points).

    ``outcome``: the largest difference of the primary metric still called the same outcome;
    ``analysis``: the between-environment std still called the same analysis result;
    ``claim_share``: the share of environments a claim's decision must agree in.
    """

    outcome: float = 0.0
    analysis: float = 0.005
    claim_share: float = 1.0

    def criteria(self) -> Dict[str, str]:
        """The verdict criteria with these tolerances filled in (the report prints them)."""
        values = dict(outcome=self.outcome, analysis=self.analysis, claim_share_pct=self.claim_share * 100)
        return {name: text.format(**values) for name, text in VERDICT_CRITERIA.items()}


COLUMNS = ["n_runs", "n_envs", "verdict", "metric", "range", "env_std", "run_std", "distinct_outcomes", "nondeterministic_cells",
           "outcomes_reproducible", "analysis_reproducible", "interpretation_reproducible", "outcome_basis",
           "analysis_basis", "interpretation_basis"]


def verdicts(df: pd.DataFrame, claims: Iterable[Any] = (), tolerances: Optional[Tolerances] = None,
             by: Sequence[str] = ("workload",), det: Optional[pd.DataFrame] = None,
             envs: Optional[pd.DataFrame] = None, surv: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Outcomes / analysis / interpretation reproducible per workload (and ``by``), each with
    the figures it was decided on (``*_basis``); criteria: ``Tolerances.criteria()``.
    ``surv``: ``survival`` of the same runs by the same keys, when already computed (its
    bootstrap intervals are not read)."""
    tol = tolerances or Tolerances()
    prepared = _ok(prepare(df))
    keys = list(by)
    if prepared.empty:
        return pd.DataFrame(columns=keys + COLUMNS)
    det = determinism(prepared) if det is None else det
    envs = _environments(prepared, det) if envs is None else envs
    surv = survival(prepared, det, by=keys, envs=envs, n_boot=0) if surv is None else surv
    parsed = parse_claims(claims, prepared)
    stable = claim_stability(prepared) if "task" in prepared and prepared["task"].notna().any() else pd.DataFrame()
    rows = []
    for _, s in surv.iterrows():
        rows.append({**{k: str(s[k]) for k in keys}, **_verdict_row(s, prepared, keys, parsed, stable, tol)})
    out = pd.DataFrame(rows, columns=keys + COLUMNS)
    bad = det[det["deterministic"].eq(False).fillna(False).astype(bool)]
    if "device_class" in keys and not bad.empty:
        cell = ["workload", "software_env", "hardware_env", "observed_env", "seed"]
        dc = prepared[[*cell, "device_class"]].drop_duplicates(cell)  # the columns read only
        bad = bad.merge(dc,
                        on=["workload", "software_env", "hardware_env", "observed_env", "seed"], how="left")
    counts = bad.groupby([k for k in keys if k in bad.columns], observed=True).size() if not bad.empty else pd.Series(dtype=int)
    out["nondeterministic_cells"] = [int(counts.get(tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]], 0))
                                     for _, r in out.iterrows()]
    return out


def enough_data(n_envs: int, repeated_envs: int) -> str:
    """"" when a verdict may be stated, else why not (the minimum-data rule, in words)."""
    if n_envs >= MIN_ENVS and repeated_envs >= MIN_REPEATED:
        return ""
    return (f"{NOT_ENOUGH}: {n_envs} environment(s), {repeated_envs} with 2+ runs; a verdict needs >= {MIN_ENVS} "
            f"environments, >= {MIN_REPEATED} of them repeated")


def _verdict_word(row: Dict[str, Any]) -> str:
    for name in ("outcomes", "analysis", "interpretation"):
        if row[f"{name}_reproducible"]:
            return f"{name} reproducible"
    return "not reproducible" if row["analysis_reproducible"] is False else "not assessed"


def _verdict_row(s: pd.Series, prepared: pd.DataFrame, keys: List[str], parsed: List[Any], stable: pd.DataFrame,
                 tol: Tolerances) -> Dict[str, Any]:
    row = _degrees(s, prepared, keys, parsed, stable, tol)
    short = enough_data(int(s["n_envs"]), int(s["repeated_envs"]))
    if short:
        row.update(outcomes_reproducible=None, analysis_reproducible=None, interpretation_reproducible=None,
                   verdict=NOT_ENOUGH, analysis_basis=short)
        return row
    if int(s["repeated_envs"]) < int(s["n_envs"]) and row["outcomes_reproducible"] is not False:
        row["outcomes_reproducible"] = None
        row["outcome_basis"] += f"; {int(s['n_envs']) - int(s['repeated_envs'])} environment(s) ran once: unknown"
    row["verdict"] = _verdict_word(row)
    return row


def _degrees(s: pd.Series, prepared: pd.DataFrame, keys: List[str], parsed: List[Any], stable: pd.DataFrame,
             tol: Tolerances) -> Dict[str, Any]:
    eps = 1e-12
    one_outcome = s["distinct_outcomes"] == 1 and s["nondeterministic_envs"] == 0 and s["range"] <= tol.outcome + eps
    limit = tol.analysis if np.isnan(s["run_std"]) else max(tol.analysis, s["run_std"])
    analysis = bool(one_outcome or s["env_std"] <= limit + eps)
    decisions = _claim_decisions(s, prepared, keys, parsed, stable, tol)
    if one_outcome or analysis:
        interp: Optional[bool] = True
        basis = "implied by analysis reproducible" + (f"; {decisions[1]}" if decisions[0] is not None else "")
    elif decisions[0] is None:
        interp, basis = None, "not assessed: no claims about this workload"
    else:
        interp, basis = decisions
    return dict(n_runs=int(s["n_runs"]), n_envs=int(s["n_envs"]), metric=s["metric"], range=s["range"],
                env_std=s["env_std"], run_std=s["run_std"], distinct_outcomes=int(s["distinct_outcomes"]),
                outcomes_reproducible=bool(one_outcome), analysis_reproducible=analysis,
                interpretation_reproducible=interp,
                outcome_basis=(f"{int(s['distinct_outcomes'])} distinct outcome(s) in {int(s['n_envs'])} environment(s), "
                               f"{int(s['nondeterministic_envs'])} nondeterministic; range {s['range']:.3g}"),
                analysis_basis=f"env std {s['env_std']:.3g} vs max(run-to-run std {s['run_std']:.3g}, tolerance {tol.analysis:g})",
                interpretation_basis=basis)


def _claim_decisions(s: pd.Series, prepared: pd.DataFrame, keys: List[str], parsed: List[Any],
                     stable: pd.DataFrame, tol: Tolerances):
    """(all claims stable?, text) for the workload of row ``s``; (None, '') without claims."""
    workload = str(s["workload"])
    mine = [c for c in parsed if c.workload is None or workload in (c.workload, c.other)]
    shares: List[float] = []
    if mine:
        names = {workload} | {c.other for c in mine if c.other} | {c.workload for c in mine if c.workload}
        mask = prepared["workload"].isin(names).to_numpy().copy()
        for key in keys:
            if key != "workload":
                mask &= (prepared[key].astype(str) == str(s[key])).to_numpy()
        table = evaluate_claims(prepared[mask], mine)
        shares += [v for v in table["share"].tolist() if not np.isnan(v)]
    if not stable.empty:
        variant = stable[stable["claim"].str.split(" beats ").map(lambda p: workload in p)]
        shares += [v for v in variant["share"].tolist() if not np.isnan(v)]
    if not shares:
        return None, ""
    ok = [max(v, 1 - v) >= tol.claim_share - 1e-12 for v in shares]
    return all(ok), f"{sum(ok)} of {len(ok)} claim(s) decided alike in >= {tol.claim_share * 100:g}% of environments"
