"""Analysis: the gathered runs (a DataFrame) -> the study's answer, as DataFrames.

Pure pandas/numpy, no I/O. One module per question:

- ``prepare``: derived columns (device class, observed machine and observed environment,
  the primary metric and its direction) and the constants of the analysis;
- ``stats``: ranges and spreads of the metrics; ``hardware``: requested versus observed
  hardware, provenance;
- ``determinism``: do the repeats of a cell (one observed environment) agree;
- ``groups``: outcome groups, the fingerprint attributes that explain them, and the
  permutation test that says whether chance explains them as well;
- ``variance``: between- versus within-environment variation, factor effect sizes,
  bootstrap intervals, how many environments are enough;
- ``claims``: claims in every environment and their decision stability;
- ``verdicts``: Gundersen's degrees with their criteria; ``summary``: every table at once.

May import ``core`` and ``job`` (the result schema) only.
"""
from reprogrid.core.lazy import lazy_exports

_EXPORTS = {
    ".claims": ("Claim", "claim_stability", "evaluate_claims", "parse_claim", "parse_claims",),
    ".determinism": ("DETERMINISTIC_LEVELS", "LEVEL_ACCURACY", "LEVEL_BITWISE", "LEVEL_DIFFERENT", "LEVEL_METRICS", "LEVEL_SINGLE", "determinism", "determinism_matrix", "nondeterministic_cells",),
    ".groups": ("environment_outcomes", "explain_groups", "explain_workloads", "group_factors", "outcome_groups",),
    ".hardware": ("hardware_check", "provenance",),
    ".prepare": ("ACCURACY", "CELL", "FINGERPRINT_ATTRIBUTES", "FRACTION_METRICS", "LOSS", "METRICS", "OBSERVED_KEY", "prepare",),
    ".stats": ("cell_means", "metric_stats",),
    ".summary": ("summarize",),
    ".variance": ("environments_needed", "survival", "variance_decomposition",),
    ".verdicts": ("VERDICT_CRITERIA", "Tolerances", "verdicts",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # each name's module is imported on first use
__all__ = ["ACCURACY", "CELL", "Claim", "DETERMINISTIC_LEVELS", "FINGERPRINT_ATTRIBUTES", "FRACTION_METRICS", "LEVEL_ACCURACY", "LEVEL_BITWISE", "LEVEL_DIFFERENT", "LEVEL_METRICS", "LEVEL_SINGLE", "LOSS", "METRICS", "OBSERVED_KEY", "Tolerances", "VERDICT_CRITERIA", "cell_means", "claim_stability", "determinism", "determinism_matrix", "environment_outcomes", "environments_needed", "evaluate_claims", "explain_groups", "explain_workloads", "group_factors", "hardware_check", "metric_stats", "nondeterministic_cells", "outcome_groups", "parse_claim", "parse_claims", "prepare", "provenance", "summarize", "survival", "variance_decomposition", "verdicts"]
