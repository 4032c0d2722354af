"""Slot kinds: a pool's slots reduced to what a hardware plan can pin and cover.

Owns how a slot ad's advertised attributes become the planner's dimension values
(``vendor`` from ``CpuFamily`` via the spec's vendor families, ``microarch``,
``avx512`` from ``has_avx512f``, ``cpu_family_model``, ``cpu_model`` where the pool
advertises a model string, ``logical_cpus`` from ``DetectedCpus``; per GPU:
``gpu_device``, ``gpu_capability``, ``gpu_memory_mb``), and the grouping of slots that
agree on every attribute a plan's pins read (a *kind*). A value a slot does not
advertise is ``None``: never covered, never pinned.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from reprogrid.condor.bindings import classad
from reprogrid.condor.matchmaking import gpu_ads
from reprogrid.spec.definitions import CPU_VENDORS

#: The machine attribute holding the host's logical CPU count (what TensorFlow sizes its
#: default thread pools from): HTCondor's detected CPUs, not the slot's share.
LOGICAL_CPUS_ATTRIBUTE = "DetectedCpus"
#: Host attributes a pin may read; kinds agree on all of them.
PINNED_ATTRIBUTES = ("CpuFamily", "CpuModelNumber", "Microarch", "has_avx512f", LOGICAL_CPUS_ATTRIBUTE,
                     "TotalGPUs", "Requirements", "START")
#: Dimensions of the host (also covered by GPU environments: the host's CPU counts too).
CPU_DIMENSIONS = ("vendor", "microarch", "avx512", "cpu_family_model", "cpu_model", "logical_cpus")
GPU_DIMENSIONS = ("gpu_device", "gpu_capability", "gpu_memory_mb")

_VENDOR_OF = {family: vendor for vendor, families in CPU_VENDORS.items() for family in families}


def value(ad: Any, attr: str) -> Any:
    """An attribute's evaluated value; None when absent, undefined or an error."""
    got = ad.get(attr)
    if got is None:
        return None
    if isinstance(got, (bool, int, float, str)):
        return got  # a literal: no evaluation needed (the common case, and 10x cheaper)
    try:
        got = ad.eval(attr)
    except Exception:  # the bindings raise bare errors for unevaluable expressions
        return None
    if got is classad.Value.Undefined or got is classad.Value.Error:
        return None
    return got


def _int(got: Any) -> Optional[int]:
    return int(got) if isinstance(got, (int, float)) and not isinstance(got, bool) else None


def host_values(ad: Any, model_attribute: Optional[str]) -> Dict[str, Any]:
    """The host dimensions of one slot ad (``None`` where it advertises nothing usable)."""
    family, number = _int(value(ad, "CpuFamily")), _int(value(ad, "CpuModelNumber"))
    march = value(ad, "Microarch")
    march = march if isinstance(march, str) and march else None
    avx = value(ad, "has_avx512f")
    if avx is True:
        avx512 = "yes"
    elif march is not None or any(value(ad, f) is True for f in ("has_avx2", "has_avx", "has_sse4_2")):
        avx512 = "no"  # the OSPool advertises has_* only where true: absent with other ISA facts is "no"
    else:
        avx512 = None
    model = value(ad, model_attribute) if model_attribute else None
    cpus = _int(value(ad, LOGICAL_CPUS_ATTRIBUTE))
    return {
        "vendor": _VENDOR_OF.get(family) if family is not None else None,
        "microarch": march,
        "avx512": avx512,
        "cpu_family_model": f"{family}/{number}" if family is not None and number is not None else None,
        "cpu_model": model if isinstance(model, str) and model else None,
        "logical_cpus": cpus if cpus and cpus > 0 else None,
    }


def gpu_values(gpu: Any) -> Dict[str, Any]:
    """The GPU dimensions of one per-GPU ad."""
    device = value(gpu, "DeviceName")
    cap = value(gpu, "Capability")
    memory = _int(value(gpu, "GlobalMemoryMb"))
    return {
        "gpu_device": device if isinstance(device, str) and device else None,
        "gpu_capability": float(cap) if isinstance(cap, (int, float)) and not isinstance(cap, bool) else None,
        "gpu_memory_mb": memory,
    }


@dataclass
class Kind:
    """Slots that agree on every attribute a plan's pins read: one representative ad."""

    ad: Any
    host: Dict[str, Any]
    gpus: Tuple[Tuple[Any, ...], ...]  # per GPU: (device, capability, memory)
    slots: int = 0
    members: List[int] = field(default_factory=list)

    @property
    def device_class(self) -> str:
        return "gpu" if self.gpus else "cpu"


#: Resource attributes a job compares with its request: slots are grouped by whether they
#: can hold the request, not by their exact amount (which differs on nearly every slot).
RESOURCES = {"cpus": 0, "memory": 1, "disk": 2, "gpus": 3}


def _raw(ad: Any, attr: str) -> Any:
    got = ad.get(attr)
    return got if got is None or isinstance(got, (bool, int, float, str)) else str(got)


def _key(ad: Any, attrs: Sequence[str], requests: Sequence[int]) -> tuple:
    out = []
    for attr in attrs:
        got = _raw(ad, attr)
        slot = RESOURCES.get(attr.lower())
        if slot is not None and isinstance(got, (int, float)) and not isinstance(got, bool):
            out.append(got >= requests[slot])
        else:
            out.append(got)
    return tuple(out)


def slot_kinds(ads: Sequence[Any], attrs: Sequence[str], requests: Sequence[int],
               model_attribute: Optional[str]) -> List[Kind]:
    """Group ``ads`` into kinds: slots agreeing on every attribute in ``attrs`` (resources:
    on whether they hold ``requests``, as (cpus, memory, disk, gpus)) and on the plan's values."""
    kinds: Dict[tuple, Kind] = {}
    attrs = sorted(set(attrs) | set(PINNED_ATTRIBUTES), key=str.lower)
    for i, ad in enumerate(ads):
        gpus = tuple(sorted((tuple(gpu_values(g).values()) for g in gpu_ads(ad)), key=str)) \
            if "AvailableGPUs" in ad and ad.get("TotalGPUs") != 0 else ()  # 0 GPUs: nothing to list
        key = _key(ad, attrs, requests) + (gpus,)
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = Kind(ad, host_values(ad, model_attribute), gpus)
        kind.slots += 1
        kind.members.append(i)
    return list(kinds.values())


def name_part(text: Any) -> str:
    """A piece of a hardware environment name (letters, digits, '-', '.')."""
    out = re.sub(r"[^A-Za-z0-9.]+", "-", str(text).lower()).strip("-.")
    return re.sub(r"-{2,}", "-", out)
