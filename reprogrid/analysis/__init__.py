"""Analysis: the gathered runs (a DataFrame) -> the study's answer, as DataFrames.

Pure pandas/numpy, no I/O. One module per question:

- ``columns``: derived columns (device class, observed machine and observed environment,
  the primary metric and its direction) and the constants of the analysis;
- ``stats``: ranges and spreads of the metrics; ``hardware``: requested versus observed
  hardware, provenance;
- ``repeats``: do the repeats of a cell (one observed environment) agree;
- ``groups``: outcome groups, the fingerprint attributes that explain them, and the
  permutation test that says whether chance explains them as well;
- ``variance``: between- versus within-environment variation, factor effect sizes,
  bootstrap intervals, how many environments are enough;
- ``claims``: claims in every environment and their decision stability;
- ``verdicts``: Gundersen's degrees with their criteria; ``summary``: every table at once.

May import ``core`` and ``job`` (the result schema) only. Its names are imported eagerly
(``verdicts`` is a module and a function): nothing on the CLI's start-up path imports it.
"""
from reprogrid.analysis.claims import Claim, claim_stability, evaluate_claims, parse_claim, parse_claims
from reprogrid.analysis.columns import (
    ACCURACY, CELL, FINGERPRINT_ATTRIBUTES, FRACTION_METRICS, LOSS, METRICS, OBSERVED_KEY, prepare,
)
from reprogrid.analysis.groups import (
    SOFTWARE_ATTRIBUTES, confounded_text, environment_outcomes, explain_groups, explain_workloads, group_factors,
    outcome_groups,
)
from reprogrid.analysis.hardware import hardware_check, provenance
from reprogrid.analysis.repeats import (
    DETERMINISTIC_LEVELS, LEVEL_ACCURACY, LEVEL_BITWISE, LEVEL_DIFFERENT, LEVEL_METRICS, LEVEL_SINGLE,
    determinism, determinism_matrix, nondeterministic_cells,
)
from reprogrid.analysis.stats import cell_means, metric_stats
from reprogrid.analysis.summary import summarize
from reprogrid.analysis.variance import environments_needed, survival, variance_decomposition
from reprogrid.analysis.verdicts import MIN_ENVS, MIN_REPEATED, NOT_ENOUGH, VERDICT_CRITERIA, Tolerances, verdicts

__all__ = [
    "ACCURACY", "CELL", "Claim", "DETERMINISTIC_LEVELS", "FINGERPRINT_ATTRIBUTES", "FRACTION_METRICS",
    "MIN_ENVS", "MIN_REPEATED", "NOT_ENOUGH", "SOFTWARE_ATTRIBUTES", "confounded_text", "LEVEL_ACCURACY", "LEVEL_BITWISE", "LEVEL_DIFFERENT", "LEVEL_METRICS", "LEVEL_SINGLE", "LOSS", "METRICS",
    "OBSERVED_KEY", "Tolerances", "VERDICT_CRITERIA", "cell_means", "claim_stability", "determinism",
    "determinism_matrix", "environment_outcomes", "environments_needed", "evaluate_claims", "explain_groups",
    "explain_workloads", "group_factors", "hardware_check", "metric_stats", "nondeterministic_cells",
    "outcome_groups", "parse_claim", "parse_claims", "prepare", "provenance", "summarize", "survival",
    "variance_decomposition", "verdicts",
]
