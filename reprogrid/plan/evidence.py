"""Evidence weights: which fingerprint attributes moved results, as weights for the planner.

Owns the rule that turns the analysis package's outcome-group explanations into weights,
the stored table computed from the reference study (so the product never reads the
reference data at run time), and the mapping from fingerprint attributes to the pool
dimensions a plan covers.

The rule (docs/statistics.md, "How the planner weighs attributes"): three families of
scopes are explained with ``reprogrid.analysis.groups.explain_groups``:

- ``hardware``: outcome groups within each workload x device class x software stack
  (what separates machines);
- ``software``: outcome groups within each workload x device class x hardware
  environment (what separates stacks);
- ``determinism``: within each workload x device class, deterministic versus
  nondeterministic environments (what makes repeats disagree), where both occur.

In every scope with two or more groups, each attribute of the explanation tree earns
1 (identified: pure tree and q <= alpha) or 0.5 (not identified), shared equally with the
attributes that split the environments identically (its aliases: the data cannot tell
them apart). An attribute's weight in a device class is its credit summed over that
class's scopes of one family divided by their number (1: it separated outcomes in
every scope); a dimension takes the largest weight of its attributes over the families.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pandas as pd

from reprogrid.analysis.groups import explain_groups, outcome_groups
from reprogrid.core.errors import Problem, UserError

log = logging.getLogger(__name__)

#: Credit of an attribute in a scope whose explanation is / is not identified.
IDENTIFIED_CREDIT, UNIDENTIFIED_CREDIT = 1.0, 0.5
#: Weight of a dimension no evidence speaks for: covered, but after everything with evidence.
FLOOR = 0.05
#: Decimals the stored table keeps.
DECIMALS = 3

#: The pool dimensions a hardware plan covers, and the fingerprint attributes that are
#: evidence for each (a dimension's weight is the largest of its attributes' weights).
HARDWARE_DIMENSIONS: Dict[str, Tuple[str, ...]] = {
    "vendor": ("cpu_vendor",),
    "microarch": ("microarch",),
    "avx512": ("has_avx512f",),
    "cpu_family_model": ("cpu_family", "cpu_model_number"),
    "cpu_model": ("cpu_model",),
    "logical_cpus": ("cpu_logical_count",),
    "gpu_device": ("gpu_name",),
    "gpu_capability": ("gpu_capability", "gpu_name"),
    "gpu_memory_mb": ("gpu_memory_mb", "gpu_name"),
}
#: Dimensions of a software plan and their evidence.
SOFTWARE_DIMENSIONS: Dict[str, Tuple[str, ...]] = {
    "framework_version": ("tensorflow_version", "keras_version", "software_env"),
    "keras_backend": ("keras_backend",),
    "onednn": ("onednn_enabled", "tf_enable_onednn_opts"),
    "cuda_cudnn": ("cuda_version", "cudnn_version", "env_cuda_version", "env_cudnn_version"),
}
GPU_ONLY = ("gpu_device", "gpu_capability", "gpu_memory_mb")


@dataclass(frozen=True)
class EvidenceRow:
    """One attribute's weight in one scope family and device class, over ``scopes`` scopes."""

    family: str
    device_class: str
    attribute: str
    weight: float
    scopes: int


REFERENCE_SOURCE = ("reference study Coakley, Kirkpatrick, Gundersen (eScience 2022), 780 published runs; "
                    "reprogrid.plan.evidence.compute_evidence over reprogrid.analysis.groups.explain_groups")


def _scope_credit(explanations: pd.DataFrame, credit: Dict[str, float]) -> int:
    """Add each explanation row's credit per attribute to ``credit``; the number of scopes."""
    for _, row in explanations.iterrows():
        aliases: Dict[str, List[str]] = {}
        for part in str(row.get("aliases") or "").split("; "):
            if " = " in part:
                head, rest = part.split(" = ", 1)
                aliases[head] = [a.strip() for a in rest.split(",") if a.strip()]
        value = IDENTIFIED_CREDIT if bool(row["identified"]) else UNIDENTIFIED_CREDIT
        for attr in row["attributes"]:
            shared = [attr] + aliases.get(attr, [])
            for name in shared:
                credit[name] = credit.get(name, 0.0) + value / len(shared)
    return len(explanations)


def scope_explanations(df: pd.DataFrame) -> Iterable[Tuple[str, pd.DataFrame]]:
    """(family, explanations) of the three scope families (see the module docstring)."""
    hardware = explain_groups(outcome_groups(df))
    yield "hardware", hardware
    within = ("workload", "device_class", "hardware_env")
    yield "software", explain_groups(outcome_groups(df, within=within), within=within)
    groups = outcome_groups(df)
    if not groups.empty and "deterministic" in groups:
        split = groups.assign(group=groups["deterministic"].map({True: "G1", False: "G2"}).fillna("G1"))
        yield "determinism", explain_groups(split, within=("workload", "device_class"))


def compute_evidence(df: pd.DataFrame) -> Tuple[EvidenceRow, ...]:
    """The evidence table of a results table (gathered or imported), by the module's rule."""
    rows = []
    for family, explanations in scope_explanations(df):
        if explanations.empty:
            continue
        for device_class, part in explanations.groupby("device_class", observed=True, sort=True):
            credit: Dict[str, float] = {}
            n = _scope_credit(part, credit)
            rows += [EvidenceRow(family, str(device_class), attr, round(value / n, DECIMALS), n)
                     for attr, value in credit.items() if value > 0]
    return tuple(sorted(rows, key=lambda r: (r.family, r.device_class, -r.weight, r.attribute)))


def format_table(rows: Sequence[EvidenceRow]) -> str:
    """The rows as the Python literal stored in this module (to regenerate it)."""
    return "\n".join(f"    EvidenceRow({r.family!r}, {r.device_class!r}, {r.attribute!r}, {r.weight!r}, {r.scopes}),"
                     for r in rows)


def attribute_weights(rows: Sequence[EvidenceRow], device_class: str) -> Dict[str, float]:
    """Attribute -> weight for one device class (the largest over the scope families)."""
    out: Dict[str, float] = {}
    for r in rows:
        if r.device_class == device_class:
            out[r.attribute] = max(out.get(r.attribute, 0.0), r.weight)
    return out


def dimension_weights(rows: Sequence[EvidenceRow], device_class: str,
                      dimensions: Mapping[str, Tuple[str, ...]] = HARDWARE_DIMENSIONS,
                      overrides: Optional[Mapping[str, float]] = None) -> Dict[str, float]:
    """Dimension -> weight: the largest weight of its evidence attributes, at least ``FLOOR``;
    ``overrides`` (already checked by :func:`parse_weights`) replace the computed values."""
    weights = attribute_weights(rows, device_class)
    out = {}
    for dim, attrs in dimensions.items():
        if device_class == "cpu" and dim in GPU_ONLY:
            continue
        out[dim] = max([FLOOR] + [weights.get(a, 0.0) for a in attrs])
    for dim, value in (overrides or {}).items():
        if dim in out:
            out[dim] = value
    return out


def parse_weights(items: Sequence[str], dimensions: Sequence[str] = tuple(HARDWARE_DIMENSIONS),
                  field: str = "--weight") -> Dict[str, float]:
    """``["vendor=1", "logical_cpus=0.5"]`` -> weights; UserError naming the bad item and the fix."""
    out: Dict[str, float] = {}
    problems = []
    known = ", ".join(dimensions)
    for item in items:
        for part in str(item).split(","):
            name, sep, value = part.strip().partition("=")
            name = name.strip()
            if not sep:
                problems.append(Problem(f"{field} {part}", f"expected NAME=WEIGHT, e.g. vendor=1 (names: {known})"))
                continue
            if name not in dimensions:
                problems.append(Problem(f"{field} {part}", f"unknown attribute {name!r}: use one of {known}"))
                continue
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if not (number >= 0 and number != float("inf")):
                problems.append(Problem(f"{field} {part}", f"the weight must be a number >= 0, got {value!r}"))
                continue
            out[name] = number
    if problems:
        raise UserError.of("bad attribute weights", problems)
    return out


def describe_evidence(rows: Sequence[EvidenceRow], source: str, top: int = 6) -> List[str]:
    """Lines saying where the weights come from and the strongest attributes per device class."""
    lines = [f"weights from: {source}"]
    for family, dc in sorted({(r.family, r.device_class) for r in rows}):
        part = [r for r in rows if r.device_class == dc and r.family == family][:top]
        shown = ", ".join(f"{r.attribute} {r.weight:g}" for r in part)
        lines.append(f"  {family} scopes, {dc} ({part[0].scopes}): {shown}")
    return lines


#: Computed by :func:`compute_evidence` from the reference study's published runs
#: (Coakley et al. 2022, ``coakley2022_runs.csv``: the paper's 780 runs, imported with
#: ``reprogrid.gather.importers.import_coakley2022(paper_only=True)``) with the analysis'
#: defaults (199 permutations, seed 0, alpha 0.05); printed by :func:`format_table`.
#: ``tests/test_plan.py`` recomputes it from the reference CSV and checks it agrees.
REFERENCE_EVIDENCE: Tuple[EvidenceRow, ...] = (
    EvidenceRow('determinism', 'gpu', 'env_cuda_version', 0.5, 1),
    EvidenceRow('determinism', 'gpu', 'env_cudnn_version', 0.5, 1),
    EvidenceRow('hardware', 'cpu', 'cpu_vendor', 0.917, 12),
    EvidenceRow('hardware', 'cpu', 'cpu_logical_count', 0.792, 12),
    EvidenceRow('hardware', 'cpu', 'has_avx512f', 0.479, 12),
    EvidenceRow('hardware', 'cpu', 'microarch', 0.479, 12),
    EvidenceRow('hardware', 'gpu', 'cpu_family', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'cpu_logical_count', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'cpu_model', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'cpu_model_number', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'cpu_vendor', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'glidein_site', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'gpu_driver', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'gpu_name', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'has_avx512f', 0.1, 10),
    EvidenceRow('hardware', 'gpu', 'microarch', 0.1, 10),
    EvidenceRow('software', 'cpu', 'tensorflow_version', 0.5, 30),
    EvidenceRow('software', 'cpu', 'env_cuda_version', 0.25, 30),
    EvidenceRow('software', 'cpu', 'env_cudnn_version', 0.25, 30),
    EvidenceRow('software', 'gpu', 'env_cuda_version', 0.25, 5),
    EvidenceRow('software', 'gpu', 'env_cudnn_version', 0.25, 5),
)
