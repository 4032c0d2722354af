"""Choosing environments: greedy weighted coverage under distinguishability and a budget.

Owns the selection rule (docs/statistics.md states it for users):

- *coverage*: an environment covers value ``v`` of dimension ``d`` when every slot it
  matches has ``d = v`` (for GPU dimensions: every GPU its ``require_gpus`` accepts there),
  so a run there is sure to see ``v``; a pin whose slots disagree on ``d`` covers nothing
  of ``d`` (it is listed as *mixed*);
- *gain* of a candidate, lexicographic: first ``sum over newly covered (d, v) of
  w_d / |V_d|`` (``V_d``: the values of ``d`` among the slots that can run the study's
  jobs of that device class), plus, after a pilot, ``(w_d / |V_d| + w_e / |V_e|) / 2``
  for each pair of values of two dimensions the pilot could not tell apart that neither
  the pilot nor an earlier choice has seen together; then the weighted number of new value pairs ``w_d * w_e``; then more
  slots; then the name;
- *admissible*: at least ``min_slots`` slots, and no slot in common with any environment
  already chosen (pairwise distinguishable); with a fixed budget, a candidate is taken
  only if the budget can still be filled after it (a greedy packing of the tightest
  remaining candidates says so);
- *stop*: after ``budget`` choices; without a budget, when no candidate adds a value.

Greedy maximisation of a coverage function is within ``1 - 1/e`` of the best possible
without the disjointness constraint; with it, it is a heuristic, and the report lists
what stays uncovered so a user can see the price.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from reprogrid.core.errors import Problem, UserError
from reprogrid.plan.pins import PinResult

Item = Tuple[str, Any]  # (dimension, value)


@dataclass
class Choice:
    """One chosen environment and what it adds."""

    result: PinResult
    adds: List[Item]
    gain: float
    pairs: int


@dataclass
class ClassPlan:
    """The choices of one device class and what stays uncovered."""

    device_class: str
    budget: Optional[int]
    weights: Dict[str, float]
    universe: Dict[str, List[Any]]
    choices: List[Choice] = field(default_factory=list)
    uncovered: Dict[str, List[Tuple[Any, str]]] = field(default_factory=dict)
    candidates: int = 0
    already: Set[Item] = field(default_factory=set)  # values a pilot already ran on

    def covered(self) -> Set[Item]:
        return {item for c in self.choices for item in c.result.covered()}


def _pairs(result: PinResult) -> Set[Tuple[Item, Item]]:
    items = sorted(result.covered(), key=str)
    return set(combinations(items, 2))


def _disjoint_count(pool: Sequence[PinResult], taken: FrozenSet[int], need: int) -> int:
    """How many more pairwise-disjoint candidates fit beside ``taken`` (greedy, tightest first),
    stopping at ``need``."""
    used, n = set(taken), 0
    for r in sorted(pool, key=lambda r: (len(r.kinds), -r.slots, r.name)):
        if n >= need:
            break
        if not (r.kinds & used):
            used |= r.kinds
            n += 1
    return n


def universe(results: Iterable[PinResult], dims: Sequence[str], kinds_values: Mapping[str, Set[Any]]) -> Dict[str, List[Any]]:
    """Values of each dimension that slots of the device class advertise."""
    return {d: sorted((v for v in kinds_values.get(d, set()) if v is not None), key=str) for d in dims}


def choose(device_class: str, results: Sequence[PinResult], budget: Optional[int], min_slots: int,
           weights: Mapping[str, float], values: Mapping[str, List[Any]], *,
           already: Iterable[Item] = (), already_pairs: Iterable[Tuple[Item, Item]] = (),
           confounded: Iterable[Tuple[str, str]] = ()) -> ClassPlan:
    """Choose ``budget`` environments of ``device_class`` (None: until nothing adds a value)."""
    plan = ClassPlan(device_class, budget, dict(weights), {d: list(v) for d, v in values.items()})
    pool = [r for r in results if r.device_class == device_class and r.slots >= min_slots and r.slots > 0]
    plan.candidates = len(pool)
    flag = "--hardware" if device_class == "cpu" else "--gpu"
    if budget is not None:
        possible = _disjoint_count(pool, frozenset(), budget)
        if possible < budget:
            raise UserError.of(f"the pool cannot give {budget} distinguishable {device_class.upper()} environments", [
                Problem(f"{flag} {budget}", f"at most {possible} {device_class.upper()} environments with at least "
                        f"{min_slots} slot(s) each can be told apart on this pool (no slot matched by two): lower "
                        f"{flag} to {possible}" + (", or lower --min-slots" if min_slots > 1 else ""))])
    plan.already = set(already)
    covered: Set[Item] = set(plan.already)
    pairs: Set[Tuple[Item, Item]] = set(already_pairs)
    confound = [tuple(p) for p in confounded]
    taken: FrozenSet[int] = frozenset()
    size = {d: max(1, len(v)) for d, v in values.items()}
    while budget is None or len(plan.choices) < budget:
        keyed = []
        for r in pool:
            if r.kinds & taken:
                continue
            new = [(d, v) for d, v in r.covered() if (d, v) not in covered and d in weights]
            primary = sum(weights[d] / size.get(d, 1) for d, _ in new)
            got = _pairs(r) - pairs
            primary += sum((weights.get(a[0], 0) / size.get(a[0], 1) + weights.get(b[0], 0) / size.get(b[0], 1)) / 2
                           for a, b in got if (a[0], b[0]) in confound or (b[0], a[0]) in confound)
            secondary = sum(weights.get(a[0], 0) * weights.get(b[0], 0) for a, b in got)
            keyed.append(((round(primary, 12), round(secondary, 12), r.slots, _neg(r.name)), r))
        keyed.sort(key=lambda kr: kr[0], reverse=True)
        best, best_key = None, None
        for key, r in keyed:
            if budget is not None:
                need = budget - len(plan.choices) - 1
                rest = [x for x in pool if not (x.kinds & (taken | r.kinds))]
                if _disjoint_count(rest, taken | r.kinds, need) < need:
                    continue
            best, best_key = r, key
            break
        if best is None or (budget is None and best_key[0] <= 0):
            break
        adds = sorted(((d, v) for d, v in best.covered() if (d, v) not in covered and d in weights), key=str)
        new_pairs = _pairs(best) - pairs
        plan.choices.append(Choice(best, adds, best_key[0], len(new_pairs)))
        covered |= set(best.covered())
        pairs |= new_pairs
        taken = taken | best.kinds
    plan.uncovered = _uncovered(plan, pool, covered, min_slots)
    return plan


def _neg(name: str) -> Tuple[int, ...]:
    """A key that sorts names in reverse, so the alphabetically first name wins a max()."""
    return tuple(-ord(ch) for ch in name)


def _uncovered(plan: ClassPlan, pool: Sequence[PinResult], covered: Set[Item], min_slots: int) -> Dict[str, List[Tuple[Any, str]]]:
    """Per dimension, the values no choice covers, and why."""
    out: Dict[str, List[Tuple[Any, str]]] = {}
    reachable = {item for r in pool for item in r.covered()}
    for d, vals in plan.universe.items():
        if d not in plan.weights:
            continue
        for v in vals:
            if (d, v) in covered:
                continue
            if (d, v) not in reachable:
                why = (f"no pin the pool honours with >= {min_slots} slot(s) isolates it (its slots share "
                       "every pinnable attribute with others, or are too few)")
            elif plan.budget is not None and len(plan.choices) >= plan.budget:
                why = f"over the budget of {plan.budget}"
            else:
                why = "every pin that isolates it shares slots with a chosen environment"
            out.setdefault(d, []).append((v, why))
    return out
