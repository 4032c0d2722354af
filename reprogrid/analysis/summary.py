"""The report's tables in one call (``summarize``), as a dict of DataFrames."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Tuple

import pandas as pd

from reprogrid.analysis.claims import check_claims_matched, claim_stability, evaluate_claims, parse_claims
from reprogrid.analysis.repeats import determinism, nondeterministic_cells
from reprogrid.analysis.groups import (
    ALPHA, PERMUTATIONS, environment_outcomes, explain_groups, explain_workloads, group_factors, outcome_groups,
)
from reprogrid.analysis.hardware import hardware_check, provenance
from reprogrid.analysis.columns import _ok, prepare
from reprogrid.analysis.stats import cell_means, metric_stats
from reprogrid.analysis.variance import _environments, environments_needed, survival, variance_decomposition
from reprogrid.analysis.verdicts import Tolerances, verdicts


def summarize(df: pd.DataFrame, *, claims: Iterable[Any] = (), tolerances: Optional[Tolerances] = None,
              decimals: Optional[int] = None, permutations: int = PERMUTATIONS, alpha: float = ALPHA,
              seed: int = 0) -> Dict[str, pd.DataFrame]:
    """Every table of the report as DataFrames (for notebooks): keys are stable names.

    ``survival`` (does the result survive a change of environment), ``factors`` (variance
    decomposition), ``claim_stability``, ``k_curve``; ``stats``, ``stats_by_software``,
    ``stats_by_hardware``, ``stats_by_device``, ``stats_by_observed``, ``cell_means``,
    ``hardware_check``, ``determinism``, ``nondeterministic``, ``outcome_groups``,
    ``group_explanations`` (per scope, with the permutation test), ``workload_explanations``
    (per workload and device class, combined test), ``group_factors``,
    ``outcome_groups_all`` / ``group_explanations_all`` (across software and hardware),
    ``claims``, ``verdicts``, ``verdicts_by_device``, ``criteria``, ``provenance``.
    """
    return summarize_with_facts(df, claims=claims, tolerances=tolerances, decimals=decimals,
                                permutations=permutations, alpha=alpha, seed=seed)[0]


def summarize_with_facts(df: pd.DataFrame, *, claims: Iterable[Any] = (), tolerances: Optional[Tolerances] = None,
                         decimals: Optional[int] = None, permutations: int = PERMUTATIONS, alpha: float = ALPHA,
                         seed: int = 0) -> Tuple[Dict[str, pd.DataFrame], Dict[str, Any]]:
    """``summarize``'s tables and the ``provenance`` facts they were built with (the dict
    the ``provenance`` table shows), computed once: the report page reads both."""
    tol = tolerances or Tolerances()
    everything = prepare(df)
    claim_list = list(claims)
    parse_claims(claim_list, everything)  # fail early, before any work, on a bad claim
    hardware = hardware_check(everything)  # once: provenance and the page read it
    prov = provenance(everything, hw=hardware)
    prepared = _ok(everything)
    det = determinism(prepared)
    outcomes = environment_outcomes(prepared, decimals, det)
    envs = _environments(prepared, det, outcomes)
    groups = outcome_groups(prepared, decimals=decimals, det=det, outcomes=outcomes)
    expl = explain_groups(groups, permutations=permutations, alpha=alpha, seed=seed)
    groups_all = outcome_groups(prepared, within=("workload", "device_class"), decimals=decimals, det=det,
                                outcomes=outcomes)
    expl_all = explain_groups(groups_all, within=("workload", "device_class"), permutations=permutations,
                              alpha=alpha, seed=seed)
    by_device = ("workload", "device_class")
    surv = survival(prepared, det, envs=envs, seed=seed)
    surv_by_device = survival(prepared, det, envs=envs, by=by_device, seed=seed)
    tables = {
        "provenance": pd.DataFrame({"item": list(prov), "value": [
            ", ".join(v) if isinstance(v, list) else v for v in prov.values()]}),
        "survival": surv,
        "survival_by_device": surv_by_device,
        "factors": variance_decomposition(prepared, det, envs=envs),
        "claim_stability": claim_stability(prepared, claim_list),
        "k_curve": environments_needed(prepared, det, envs=envs),
        "stats": metric_stats(prepared),
        "stats_by_software": metric_stats(prepared, by=("software_env",)),
        "stats_by_hardware": metric_stats(prepared, by=("hardware_env",)),
        "stats_by_device": metric_stats(prepared, by=("device_class",)),
        "stats_by_observed": metric_stats(prepared, by=("observed_hardware",)),
        "cell_means": cell_means(prepared),
        "hardware_check": hardware,
        "determinism": det,
        "nondeterministic": nondeterministic_cells(det),
        "outcome_groups": groups,
        "group_explanations": expl,
        "workload_explanations": explain_workloads(expl, alpha=alpha),
        "group_factors": group_factors(expl),
        "outcome_groups_all": groups_all,
        "group_explanations_all": expl_all,
        "claims": _matched(evaluate_claims(prepared, claim_list), prepared),
        "verdicts": verdicts(prepared, claim_list, tol, det=det, envs=envs, surv=surv),  # survival read, not redone
        "verdicts_by_device": verdicts(prepared, claim_list, tol, by=by_device, det=det, envs=envs,
                                       surv=surv_by_device),
        "criteria": pd.DataFrame({"verdict": list(tol.criteria()), "criterion": list(tol.criteria().values())}),
    }
    return tables, prov


def _matched(table: pd.DataFrame, prepared: pd.DataFrame) -> pd.DataFrame:
    """The claims table, once every claim matched a run (else ``UserError``, exit 2)."""
    check_claims_matched(table, prepared)
    return table
