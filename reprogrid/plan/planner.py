"""The hardware planner: a pool, a budget and evidence weights -> chosen environments.

Owns the order of the work: resolve the pool (``condor.ospool_today.pool_ads``: today's
built-in description, the 2022 inventory or a ``condor_status -json`` capture) and the
study the pins are for (its resources, templates and pool profile: a user's study, or
the demo preset), build the candidates (``plan.pins``), weigh the dimensions
(``plan.evidence``) and choose per device class (``plan.choose``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from reprogrid.condor.ospool_today import PAPER, pool_ads
from reprogrid.core.errors import Problem, UserError
from reprogrid.plan.choose import ClassPlan, Item, choose
from reprogrid.plan.evidence import (
    HARDWARE_DIMENSIONS, REFERENCE_EVIDENCE, REFERENCE_SOURCE, EvidenceRow, dimension_weights,
)
from reprogrid.plan.kinds import CPU_DIMENSIONS, GPU_DIMENSIONS
from reprogrid.plan.pins import PinResult, PoolView, candidates, no_kinds_error
from reprogrid.spec.definitions import Pool
from reprogrid.spec.presets import demo

log = logging.getLogger(__name__)


@dataclass
class Pilot:
    """What a pilot study already ran and where it is least sure (see ``plan.pilot``)."""

    source: str
    evidence: Tuple[EvidenceRow, ...]
    seen: Dict[str, Set[Item]] = field(default_factory=dict)          # device class -> covered values
    seen_pairs: Dict[str, Set[Tuple[Item, Item]]] = field(default_factory=dict)  # ... and pairs of them
    confounded: Dict[str, List[Tuple[str, str]]] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


@dataclass
class HardwarePlan:
    """The chosen environments of both device classes and how they were chosen."""

    pool_label: str
    total_slots: int
    pool: Pool
    min_slots: int
    evidence_source: str
    classes: Dict[str, ClassPlan]
    pilot: Optional[Pilot] = None
    warnings: List[str] = field(default_factory=list)

    @property
    def entries(self) -> List[Dict[str, Any]]:
        """The ``hardware:`` entries, CPU environments first."""
        return [c.result.entry for dc in ("cpu", "gpu") if dc in self.classes for c in self.classes[dc].choices]

    @property
    def results(self) -> List[PinResult]:
        return [c.result for dc in ("cpu", "gpu") if dc in self.classes for c in self.classes[dc].choices]


def default_pool_profile(pool: Optional[str], model_attribute: Optional[str] = None) -> Pool:
    """The pool profile pins are written for when no study names one."""
    if model_attribute:
        return Pool("custom", model_attribute)
    return Pool("ospool-2022") if pool is not None and str(pool) == PAPER else Pool("ospool")


def default_study() -> Dict[str, Any]:
    """The study whose resources and templates judge the pins when the user gives none (the demo)."""
    return demo()


def _values(view: PoolView, device_class: str) -> Dict[str, List[Any]]:
    dims = CPU_DIMENSIONS + (GPU_DIMENSIONS if device_class == "gpu" else ())
    seen: Dict[str, set] = {d: set() for d in dims}
    for kind in view.kinds:
        if kind.device_class != device_class:
            continue
        for d in CPU_DIMENSIONS:
            seen[d].add(kind.host[d])
        for gpu in kind.gpus:
            for d, v in zip(GPU_DIMENSIONS, gpu):
                seen[d].add(v)
    return {d: sorted((v for v in s if v is not None), key=str) for d, s in seen.items()}


def build_view(pool: Optional[str], study: Optional[Mapping[str, Any]] = None, pool_profile: Optional[Pool] = None,
               base_dir: Optional[Path] = None) -> PoolView:
    """The pool's slots as kinds, for ``study`` (data; default: the demo) and ``pool_profile``."""
    ads, label = pool_ads(pool)
    profile = pool_profile or default_pool_profile(pool)
    return PoolView(ads, label, study or default_study(), profile, base_dir)


def plan_hardware(view: PoolView, *, hardware: Optional[int], gpu: Optional[int], min_slots: int = 1,
                  weights: Optional[Mapping[str, float]] = None, evidence: Sequence[EvidenceRow] = REFERENCE_EVIDENCE,
                  evidence_source: str = REFERENCE_SOURCE, pilot: Optional[Pilot] = None) -> HardwarePlan:
    """Choose ``hardware`` CPU and ``gpu`` GPU environments. With both None, add environments
    of each class until nothing adds a value; with one of them a positive number, the other None
    means 0 (``--hardware 6`` plans six CPU environments and no GPU one)."""
    if min_slots < 1:
        raise UserError.of("bad --min-slots", [Problem(f"--min-slots {min_slots}", "must be at least 1")])
    for flag, n in (("--hardware", hardware), ("--gpu", gpu)):
        if n is not None and n < 0:
            raise UserError.of(f"bad {flag}", [Problem(f"{flag} {n}", "must be 0 or more")])
    if hardware is None and gpu:  # one budget asked for: the other class is not
        hardware = 0
    if gpu is None and hardware:
        gpu = 0
    if hardware == 0 and gpu == 0:
        raise UserError.of("nothing to plan", [Problem("--hardware 0 --gpu 0", "ask for at least one environment")])
    if pilot is not None:
        evidence, evidence_source = pilot.evidence, pilot.source
    entries = view.valid(candidates(view.kinds, view.pool.model_attribute))
    results = view.evaluate(entries)
    classes: Dict[str, ClassPlan] = {}
    for device_class, budget in (("cpu", hardware), ("gpu", gpu)):
        if budget == 0:
            continue
        if not any(k.device_class == device_class for k in view.kinds):
            if budget is None:
                continue
            raise no_kinds_error(view, device_class)
        w = dimension_weights(evidence, device_class, HARDWARE_DIMENSIONS, weights)
        if not view.pool.model_attribute:
            w.pop("cpu_model", None)  # no pin can name a model: not a dimension a plan can cover
        classes[device_class] = choose(
            device_class, results, budget, min_slots, w, _values(view, device_class),
            already=(pilot.seen.get(device_class, set()) if pilot else ()),
            already_pairs=(pilot.seen_pairs.get(device_class, set()) if pilot else ()),
            confounded=(pilot.confounded.get(device_class, []) if pilot else ()))
    plan = HardwarePlan(view.label, view.total_slots, view.pool, min_slots, evidence_source, classes, pilot)
    plan.warnings = sorted({w for r in plan.results for w in r.warnings})
    view.study(plan.entries)  # what is printed loads back through the spec's validator
    return plan


def coverage(results: Iterable[PinResult]) -> Dict[str, Set[Item]]:
    """Device class -> the (dimension, value) items the environments are sure to see."""
    out: Dict[str, Set[Item]] = {}
    for r in results:
        out.setdefault(r.device_class, set()).update(r.covered())
    return out

