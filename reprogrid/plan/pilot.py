"""After a pilot: weights from what moved this workload's results, and where it is least sure.

Owns the reading of a gathered pilot dataset (through ``reprogrid.gather``'s reader) into
a :class:`~reprogrid.plan.planner.Pilot`: the evidence table recomputed from the pilot
(``plan.evidence``), the dimension values its environments already saw (not worth
another run), the pairs of dimensions its explanations could not tell apart (aliases:
the next environments should see them apart), and the pilot's "how many environments"
curve (``analysis.variance.environments_needed``) as a line of advice.
"""
from __future__ import annotations

import logging
from itertools import combinations
from typing import Any, Dict, List, Set, Tuple

import pandas as pd

from reprogrid.analysis.columns import prepare
from reprogrid.analysis.variance import environments_needed
from reprogrid.gather.dataset import load_dataset
from reprogrid.plan.evidence import HARDWARE_DIMENSIONS, compute_evidence, scope_explanations
from reprogrid.plan.kinds import CPU_DIMENSIONS, GPU_DIMENSIONS
from reprogrid.plan.choose import Item
from reprogrid.plan.planner import Pilot
from reprogrid.core.vendors import vendor_of
from reprogrid.spec.definitions import CPU_VENDORS

log = logging.getLogger(__name__)


def _dims_of(attribute: str) -> List[str]:
    return [d for d, attrs in HARDWARE_DIMENSIONS.items() if attribute in attrs]


def _row_values(row: Any) -> Dict[str, Any]:
    def get(col: str) -> Any:
        v = row.get(col)
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v

    vendor = vendor_of(get("cpu_vendor"))
    vendor = vendor if vendor in CPU_VENDORS else None  # the CPU vendors a pin can name
    family, number = get("cpu_family"), get("cpu_model_number")
    avx = get("has_avx512f")
    cap = get("gpu_capability")
    return {
        "vendor": vendor, "microarch": get("microarch"),
        "avx512": None if avx is None else ("yes" if bool(avx) else "no"),
        "cpu_family_model": f"{int(family)}/{int(number)}" if family is not None and number is not None else None,
        "cpu_model": get("cpu_model"),
        "logical_cpus": int(get("cpu_logical_count")) if get("cpu_logical_count") is not None else None,
        "gpu_device": get("gpu_name"),
        "gpu_capability": float(cap) if cap is not None else None,
        "gpu_memory_mb": int(get("gpu_memory_mb")) if get("gpu_memory_mb") is not None else None,
    }


def seen_values(df: pd.DataFrame) -> Tuple[Dict[str, Set[Item]], Dict[str, Set[Tuple[Item, Item]]]]:
    """Device class -> (dimension, value) items some pilot environment ran on, and the pairs
    of items one environment saw together (sorted as ``plan.choose`` sorts them)."""
    items: Dict[str, Set[Item]] = {}
    pairs: Dict[str, Set[Tuple[Item, Item]]] = {}
    prepared = prepare(df)
    for _, row in prepared.drop_duplicates(["device_class", "observed_env"]).iterrows():
        dc = str(row["device_class"])
        dims = CPU_DIMENSIONS + (GPU_DIMENSIONS if dc == "gpu" else ())
        values = _row_values(row)
        env = sorted(((d, values[d]) for d in dims if values[d] is not None), key=str)
        items.setdefault(dc, set()).update(env)
        pairs.setdefault(dc, set()).update(combinations(env, 2))
    return items, pairs


def confounded_pairs(df: pd.DataFrame) -> Dict[str, List[Tuple[str, str]]]:
    """Device class -> pairs of hardware dimensions that split the pilot's environments alike."""
    out: Dict[str, Set[Tuple[str, str]]] = {}
    for family, explanations in scope_explanations(df):
        if family == "software" or explanations.empty:
            continue
        for _, row in explanations.iterrows():
            for part in str(row.get("aliases") or "").split("; "):
                if " = " not in part:
                    continue
                head, rest = part.split(" = ", 1)
                names = [head] + [a.strip() for a in rest.split(",")]
                dims = sorted({d for n in names for d in _dims_of(n)})
                for i, a in enumerate(dims):
                    for b in dims[i + 1:]:
                        out.setdefault(str(row["device_class"]), set()).add((a, b))
    return {dc: sorted(pairs) for dc, pairs in out.items()}


def curve_notes(df: pd.DataFrame) -> List[str]:
    """The pilot's 'how many environments' curve, one line per workload."""
    notes = []
    curve = environments_needed(df)
    for workload, part in curve.groupby("workload", sort=True):
        n, k = int(part["n_envs"].iloc[0]), int(part["k_needed"].iloc[0])
        if k >= n:
            notes.append(f"{workload}: all {n} pilot environments were needed to see its full range: the range "
                         "has not levelled off, so new environments are likely to widen it")
        else:
            notes.append(f"{workload}: {k} of its {n} pilot environments show its full range (95%): new "
                         "environments mostly confirm it, except for values the pilot never ran on")
    return notes


def read_pilot(path: Any) -> Pilot:
    """The pilot dataset at ``path`` (a submit folder, dataset folder or Parquet file)."""
    df = load_dataset(path)
    evidence = compute_evidence(df)
    source = f"the pilot dataset {path} ({len(df)} runs; outcome-group explanations of this workload)"
    seen, seen_pairs = seen_values(df)
    pilot = Pilot(source, evidence, seen, seen_pairs, confounded_pairs(df), curve_notes(df))
    for dc, pairs in pilot.confounded.items():
        shown = ", ".join(f"{a}/{b}" for a, b in pairs[:6])
        pilot.notes.append(f"{dc}: the pilot cannot tell apart {shown}: the plan prefers environments that "
                           "see them apart")
    if not evidence:
        pilot.notes.append("no outcome groups in the pilot: every dimension keeps the floor weight; "
                           "the plan covers what the pilot did not run on")
    return pilot
