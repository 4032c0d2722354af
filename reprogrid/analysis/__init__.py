"""Analysis: the gathered runs (a DataFrame) -> the study's answer, as DataFrames.

Pure pandas, no I/O: ranges, determinism, outcome groups and the fingerprint attributes
that explain them, claims and Gundersen's verdicts, provenance. May import ``core`` and
``job`` (the result schema) only.
"""
from reprogrid.analysis.tables import (
    ACCURACY, LOSS, METRICS, Claim, Tolerances, cell_means, determinism, determinism_matrix,
    environment_outcomes, evaluate_claims, explain_groups, group_factors, hardware_check, metric_stats,
    nondeterministic_cells, outcome_groups, parse_claim, parse_claims, prepare, provenance, summarize, verdicts,
)

__all__ = [
    "ACCURACY", "Claim", "LOSS", "METRICS", "Tolerances", "cell_means", "determinism", "determinism_matrix",
    "environment_outcomes", "evaluate_claims", "explain_groups", "group_factors", "hardware_check",
    "metric_stats", "nondeterministic_cells", "outcome_groups", "parse_claim", "parse_claims", "prepare",
    "provenance", "summarize", "verdicts",
]
