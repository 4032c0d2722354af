"""Candidate pins and what each really matches: the study's own rendering, real matchmaking.

Owns the planner's view of a pool (:class:`PoolView`): which slots can run the study's
jobs at all, grouped into kinds (``plan.kinds``); the candidate hardware environments
for each kind, from tight (every attribute the kind advertises, logical CPUs included)
to loose (vendor and ISA only); and :func:`PoolView.evaluate`, which turns hardware
entries (plain ``hardware:`` data) into the job ads the study's templates and
``condor_submit`` make (``access.poolcheck.job_ads_for_study``: ``render.pins.pin_for``
writes the requirements) and matches them with ``condor.matchmaking.Matchmaker``, both
ways, against one representative slot of each kind. Slots of a kind agree on every
attribute the study's job and the pins read (the resources: on whether they hold the
job's request), on their Requirements and START, so a representative answers for all
its slots; a 50,000-slot capture is matched as a few hundred kinds.
"""
from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from reprogrid.condor.matchmaking import Matchmaker, job_requests, matching_gpu_ads
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.naming import slug
from reprogrid.gather.importers import cpu_env_name
from reprogrid.plan.kinds import (
    CPU_DIMENSIONS, GPU_DIMENSIONS, LOGICAL_CPUS_ATTRIBUTE, Kind, gpu_values, name_part, slot_kinds,
)
from reprogrid.render.pins import pin_for
from reprogrid.access.poolcheck import as_of_capture, job_ads_for_study
from reprogrid.spec.definitions import Pool, Study
from reprogrid.spec.validate import study_from_dict

log = logging.getLogger(__name__)

_TARGET_REF = re.compile(r"\bTARGET\.([A-Za-z_][A-Za-z0-9_]*)", re.I)
#: The probes that find the slots a study's CPU / GPU jobs can use at all.
_PROBES = ({"name": "plan-any-cpu", "requirements": "true"}, {"name": "plan-any-gpu", "gpu": {}})


@dataclass
class PinResult:
    """One hardware entry as the pool sees it."""

    entry: Dict[str, Any]
    device_class: str
    kinds: FrozenSet[int]
    slots: int
    values: Dict[str, Any] = field(default_factory=dict)      # dimension -> the one value every slot has
    mixed: Dict[str, List[Any]] = field(default_factory=dict)  # dimension -> the values it may land on
    warnings: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.entry["name"])

    def covered(self) -> FrozenSet[Tuple[str, Any]]:
        return frozenset((d, v) for d, v in self.values.items())


def carrier(base: Mapping[str, Any], hardware: Sequence[Mapping[str, Any]], pool: Pool) -> Dict[str, Any]:
    """A study (as data) with ``base``'s first workload and stack, one repeat, ``hardware``."""
    data = copy.deepcopy(dict(base))
    for key in ("workloads", "software"):
        if isinstance(data.get(key), list) and data[key]:
            data[key] = data[key][:1]
    data["repeats"] = 1
    data["hardware"] = [dict(h) for h in hardware]
    data["pool"] = {"profile": pool.profile, **({"cpu_model_attribute": pool.cpu_model_attribute}
                                                 if pool.cpu_model_attribute else {})}
    return data


class PoolView:
    """The slots of one pool as kinds, for one study (its resources, templates and pool profile)."""

    def __init__(self, ads: Sequence[Any], label: str, base: Mapping[str, Any], pool: Pool,
                 base_dir: Optional[Path] = None) -> None:
        self.label, self.base, self.pool, self.base_dir = label, dict(base), pool, base_dir
        self.total_slots = len(ads)
        jobs = self._jobs(list(_PROBES))
        read = {m.group(1) for job in jobs.values() for m in _TARGET_REF.finditer(str(job.lookup("Requirements")))}
        if pool.model_attribute:
            read.add(pool.model_attribute)
        every = slot_kinds(ads, sorted(read | {"CurrentTime", "MyCurrentTime"}),
                           job_requests(jobs["plan-any-gpu"]), pool.model_attribute)
        for kind, rep in zip(every, as_of_capture([k.ad for k in every])):
            kind.ad = rep
        maker = Matchmaker([k.ad for k in every])
        maker.note_job_refs(jobs.values())
        groups = maker.groups()
        self.kinds: List[Kind] = []
        self.eligible: Dict[str, int] = {}
        for probe, device_class in (("plan-any-cpu", "cpu"), ("plan-any-gpu", "gpu")):
            hit = sorted(i for gi in maker.matching_groups(jobs[probe]) for i in groups[gi].members)
            kinds = [every[i] for i in hit if every[i].device_class == device_class]
            self.eligible[device_class] = sum(k.slots for k in kinds)
            self.kinds += kinds

    # -- rendering ---------------------------------------------------------------------------
    def study(self, hardware: Sequence[Mapping[str, Any]]) -> Study:
        """The carrier study holding ``hardware``, validated (``UserError`` names the field)."""
        return study_from_dict(carrier(self.base, hardware, self.pool), source="the planned study",
                               base_dir=self.base_dir)

    def _jobs(self, hardware: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        return {name: job for name, (_, job) in job_ads_for_study(self.study(hardware)).items()}

    def valid(self, entries: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The entries the study validator accepts (all at once when it can)."""
        try:
            self.study(entries)
            return list(entries)
        except UserError:
            out = []
            for entry in entries:
                try:
                    self.study([entry])
                    out.append(entry)
                except UserError as err:
                    log.info("candidate %s dropped: %s", entry.get("name"), err)
            return out

    # -- matching ----------------------------------------------------------------------------
    def evaluate(self, entries: Sequence[Dict[str, Any]]) -> List[PinResult]:
        """What each hardware entry matches: kinds, slots, the values it is sure to get."""
        if not entries:
            return []
        jobs = self._jobs(entries)
        maker = Matchmaker([k.ad for k in self.kinds])
        maker.note_job_refs(jobs.values())
        groups = maker.groups()
        study = self.study(entries)
        out = []
        for entry, hardware in zip(entries, study.hardware):
            job = jobs[hardware.name]
            hit = frozenset(i for gi in maker.matching_groups(job) for i in groups[gi].members)
            device_class = "gpu" if hardware.gpu is not None else "cpu"
            values, mixed = self._values(job, hit, device_class)
            pin = pin_for(hardware, self.pool, study.gpus_for(hardware))
            out.append(PinResult(entry, device_class, hit, sum(self.kinds[i].slots for i in hit),
                                 values, mixed, pin.warnings))
        return out

    def _values(self, job: Any, hit: FrozenSet[int], device_class: str) -> Tuple[Dict[str, Any], Dict[str, List[Any]]]:
        seen: Dict[str, set] = {d: set() for d in CPU_DIMENSIONS}
        if device_class == "gpu":
            seen.update({d: set() for d in GPU_DIMENSIONS})
        for i in hit:
            kind = self.kinds[i]
            for d in CPU_DIMENSIONS:
                seen[d].add(kind.host[d])
            if device_class == "gpu":
                for gpu in matching_gpu_ads(job, kind.ad):
                    for d, v in gpu_values(gpu).items():
                        seen[d].add(v)
        values = {d: next(iter(s)) for d, s in seen.items() if len(s) == 1 and None not in s}
        mixed = {d: sorted(s, key=str) for d, s in seen.items() if len(s) > 1}
        return values, mixed


# ------------------------------------------------------------------------------ candidates

def _cpu_fields(host: Mapping[str, Any], level: str, model_attribute: Optional[str]) -> Tuple[Dict[str, Any], Optional[str]]:
    """(cpu pin, requirements) of one kind's host at ``level`` (exact, no-count, isa-count, isa)."""
    cpu: Dict[str, Any] = {}
    if host["vendor"]:
        cpu["vendor"] = host["vendor"]
    if level in ("exact", "no-count") and host["cpu_family_model"]:
        family, number = host["cpu_family_model"].split("/")
        cpu["family"], cpu["model_number"] = int(family), int(number)
        if host["cpu_model"] and model_attribute:
            cpu["model"] = host["cpu_model"]
    if host["microarch"]:
        cpu["microarch"] = host["microarch"]
    if host["avx512"] == "yes":
        cpu["flags"] = ["avx512f"]
    elif host["avx512"] == "no":
        cpu["without_flags"] = ["avx512f"]
    counted = level in ("exact", "isa-count") and host["logical_cpus"]
    requirements = f"TARGET.{LOGICAL_CPUS_ATTRIBUTE} == {int(host['logical_cpus'])}" if counted else None
    return cpu, requirements


def _cpu_name(host: Mapping[str, Any], cpu: Mapping[str, Any], requirements: Optional[str]) -> str:
    parts = [host["vendor"] or "cpu"]
    if "model" in cpu:
        parts = [cpu_env_name(cpu["model"])]
    elif "family" in cpu:
        parts.append(f"{cpu['family']}-{cpu['model_number']}")
    if "microarch" in cpu:
        parts.append(cpu["microarch"].replace("x86_64-", ""))
    parts.append("avx512" if cpu.get("flags") else "noavx512" if cpu.get("without_flags") else "")
    if requirements:
        parts.append(f"{host['logical_cpus']}cpu")
    return "-".join(p for p in parts if p)


def _describe(host: Mapping[str, Any], gpu: Optional[Tuple[Any, ...]], level: str) -> str:
    what = {"exact": "this kind of machine", "no-count": "this CPU model, any logical CPU count",
            "isa-count": "this vendor and ISA level with this logical CPU count", "isa": "this vendor and ISA level"}
    text = f"planned by reprogrid plan: {what.get(level, level)}"
    if gpu is not None:
        text += f"; GPU {gpu[0]} (capability {gpu[1]}, {gpu[2]} MB)"
    return text


LEVELS = ("exact", "no-count", "isa-count", "isa")
GPU_LEVELS = ("exact", "gpu-model", "capability")


def candidates(kinds: Sequence[Kind], model_attribute: Optional[str]) -> List[Dict[str, Any]]:
    """Hardware entries worth considering: per kind, tight to loose; duplicates dropped."""
    out: Dict[str, Dict[str, Any]] = {}
    for kind in kinds:
        if kind.device_class == "cpu":
            for level in LEVELS:
                cpu, requirements = _cpu_fields(kind.host, level, model_attribute)
                if not cpu and not requirements:
                    continue
                entry: Dict[str, Any] = {"name": _cpu_name(kind.host, cpu, requirements),
                                         "description": _describe(kind.host, None, level)}
                if cpu:
                    entry["cpu"] = cpu
                if requirements:
                    entry["requirements"] = requirements
                out.setdefault(json.dumps({k: v for k, v in entry.items() if k not in ("name", "description")},
                                          sort_keys=True), entry)
            continue
        for gpu in sorted(set(kind.gpus), key=str):
            device, capability, _memory = gpu
            for level in GPU_LEVELS:
                pin: Dict[str, Any] = {}
                if device and level != "capability":
                    pin["device_name"] = device
                if capability is not None:
                    pin["capability"] = capability
                if not pin:
                    continue
                label = name_part(device or "any").replace("nvidia-", "").replace("tesla-", "")[:24]
                entry = {"name": f"gpu-cc{capability}" if level == "capability" else f"gpu-{label}",
                         "description": _describe(kind.host, gpu, level), "gpu": pin}
                if level == "exact":
                    cpu, requirements = _cpu_fields(kind.host, "exact", model_attribute)
                    if cpu:
                        entry["cpu"] = cpu
                    if requirements:
                        entry["requirements"] = requirements
                    entry["name"] += "-on-" + _cpu_name(kind.host, cpu, requirements)
                out.setdefault(json.dumps({k: v for k, v in entry.items() if k not in ("name", "description")},
                                          sort_keys=True), entry)
    return unique_names(list(out.values()))


def unique_names(entries: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Names cut to the spec's 63 characters and made unique (case and '.' vs '_' ignored)."""
    seen: Dict[str, int] = {}
    for entry in entries:
        base = str(entry["name"]).replace("--", "-")[:58].strip("-.") or "hw"
        key = slug(base).lower()  # the id form render gives the name
        n = seen.get(key, 0)
        seen[key] = n + 1
        entry["name"] = base if n == 0 else f"{base}-{n + 1}"
    return entries


def no_kinds_error(view: PoolView, device_class: str) -> UserError:
    what = "--hardware" if device_class == "cpu" else "--gpu"
    return UserError.of(f"{view.label} has no slot a {device_class.upper()} job of this study can use", [Problem(
        what, f"none of its {view.total_slots} slots matches the study's {device_class.upper()} job (resources, "
        f"container support{', GPUs' if device_class == 'gpu' else ''}); pass {what} 0, lower the study's "
        "resources, or plan over another pool (--pool)")])
