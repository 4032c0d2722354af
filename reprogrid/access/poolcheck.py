"""Before submitting: does the pool have the hardware the study pins?

Owns two reports over a pool's machine ads (a ``condor_status -json`` capture read by
``reprogrid.condor.pool.load_pool``, or the built-in 2022 inventory):

- :func:`summarize_pool`: slots, cores, CPU families/models, model strings (where the
  pool advertises them), microarchitecture levels, AVX flags, GPUs, sites, OS;
- :func:`check_study`: per hardware environment, the job ad ``condor_submit`` would make
  from the study's own rendered submit description, matched against every slot
  (both ways, as the negotiator does, ``require_gpus`` included), identical slots
  grouped; plus the pinned attributes no slot advertises at all (e.g. ``OSGVO_CPU_MODEL``
  on today's OSPool) and the clauses that exclude every slot.

START expressions are evaluated as of the capture: ``CurrentTime`` is the ad's
``MyCurrentTime`` (or ``LastHeardFrom``), so a capture does not expire.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from reprogrid.condor.bindings import ad_value, classad, submit_to_job_ads
from reprogrid.condor.matchmaking import Matchmaker, clause_matches_some, gpu_ads
from reprogrid import tree
from reprogrid.condor.escaping import UnsafeValue
from reprogrid.core.errors import Problem, UserError
from reprogrid.render.cellad import cell_submit_text
from reprogrid.render.pins import describe_pins, pin_for, pins_for_study, required_attributes
from reprogrid.spec.definitions import Study

_TARGET_REF = re.compile(r"\bTARGET\.([A-Za-z_][A-Za-z0-9_]*)", re.I)
#: Attributes every job reads that say nothing about the hardware pin.
_GENERIC = {"arch", "opsys", "disk", "memory", "cpus", "gpus", "hasfiletransfer", "hasfiletransferpluginmethods",
            "hascontainer", "hasdockerurl", "hassingularity", "hassif", "hassandboximage", "totalgpus",
            "availablegpus"}


def as_of_capture(ads: Iterable[Any]) -> List[Any]:
    """Copies of ``ads`` with ``CurrentTime`` fixed to each ad's capture time (when known)."""
    out = []
    for ad in ads:
        copy = classad.ClassAd()
        copy.update(ad)
        if "CurrentTime" not in copy:
            when = ad_value(copy, "MyCurrentTime") or ad_value(copy, "LastHeardFrom")
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                copy["CurrentTime"] = int(when)
        out.append(copy)
    return out


# ----------------------------------------------------------------------------- summary


@dataclass
class PoolSummary:
    """What a pool offers (counts are slots unless the name says otherwise)."""

    slots: int = 0
    cores: int = 0
    partitionable: int = 0
    cpu_families: Counter = field(default_factory=Counter)   # "family/model" -> slots
    cpu_models: Counter = field(default_factory=Counter)     # model string -> slots (if advertised)
    model_attribute: Optional[str] = None
    microarch: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)          # has_avx2 / has_avx512f -> slots with it true
    gpu_slots: int = 0
    gpus: Counter = field(default_factory=Counter)           # (device, capability, memory MB) -> GPUs
    sites: Counter = field(default_factory=Counter)
    os: Counter = field(default_factory=Counter)

    def as_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["gpus"] = [{"device": d, "capability": c, "memory_mb": m, "count": n}
                        for (d, c, m), n in sorted(self.gpus.items(), key=lambda kv: (-kv[1], str(kv[0])))]
        for key in ("cpu_families", "cpu_models", "microarch", "flags", "sites", "os"):
            data[key] = dict(getattr(self, key).most_common())
        return data

    def describe(self, top: int = 12) -> str:
        lines = [f"{self.slots} slots ({self.partitionable} partitionable), {self.cores} cores, "
                 f"{self.gpu_slots} slots with GPUs, {len(self.sites)} sites"]

        def table(title: str, counter: Counter, unit: str = "slots") -> None:
            lines.append("")
            lines.append(f"{title}:")
            if not counter:
                lines.append("  (none advertised)")
            for key, count in counter.most_common(top):
                lines.append(f"  {count:>6} {unit}  {key}")
            if len(counter) > top:
                lines.append(f"  ... {len(counter) - top} more")

        table("CPU family/model (CpuFamily/CpuModelNumber)", self.cpu_families)
        attr = self.model_attribute or "OSGVO_CPU_MODEL"
        if self.cpu_models:
            table(f"CPU model strings ({attr})", self.cpu_models)
        else:
            lines.append("")
            lines.append(f"CPU model strings: no slot advertises {attr}; a cpu.model pin cannot be honoured")
        table("Microarch", self.microarch)
        table("ISA flags", self.flags)
        gpu_rows = Counter({f"{d} (capability {c}, {m} MB)": n for (d, c, m), n in self.gpus.items()})
        table("GPUs", gpu_rows, unit="GPUs")
        table("sites (GLIDEIN_Site)", self.sites)
        table("OS (OSG_OS_STRING)", self.os)
        return "\n".join(lines)


def _family_label(family: Any, model: Any) -> str:
    return f"{family if family is not None else '?'}/{model if model is not None else '?'}"


def summarize_pool(ads: Sequence[Any], model_attribute: Optional[str] = None) -> PoolSummary:
    """Count what the slots advertise (attribute names are case-insensitive)."""
    attr = model_attribute or "OSGVO_CPU_MODEL"
    out = PoolSummary(model_attribute=attr)
    for ad in ads:
        out.slots += 1
        cores = ad_value(ad, "TotalCpus") or ad_value(ad, "Cpus") or 0
        out.cores += int(cores) if isinstance(cores, (int, float)) else 0
        if ad_value(ad, "PartitionableSlot") is True or ad_value(ad, "SlotType") == "Partitionable":
            out.partitionable += 1
        out.cpu_families[_family_label(ad_value(ad, "CpuFamily"), ad_value(ad, "CpuModelNumber"))] += 1
        model = ad_value(ad, attr)
        if isinstance(model, str):
            out.cpu_models[model] += 1
        march = ad_value(ad, "Microarch")
        out.microarch[march if isinstance(march, str) else "(not advertised)"] += 1
        for flag in ("has_avx", "has_avx2", "has_avx512f"):
            if ad_value(ad, flag) is True:
                out.flags[flag] += 1
        gpus = gpu_ads(ad)
        if gpus:
            out.gpu_slots += 1
        for gpu in gpus:
            out.gpus[(str(ad_value(gpu, "DeviceName") or "?"), ad_value(gpu, "Capability"),
                      ad_value(gpu, "GlobalMemoryMb"))] += 1
        site = ad_value(ad, "GLIDEIN_Site")
        out.sites[site if isinstance(site, str) else "(not advertised)"] += 1
        os_string = ad_value(ad, "OSG_OS_STRING")
        out.os[os_string if isinstance(os_string, str) else "(not advertised)"] += 1
    return out


# ------------------------------------------------------------------------------- check


@dataclass
class SlotKind:
    """Matching slots that look the same (CPU, microarch, GPU, OS), with their sites."""

    description: str
    slots: int
    sites: Counter


@dataclass
class HardwareCheck:
    """How a pool serves one hardware environment."""

    name: str
    pins: Optional[str]
    device: str
    matching_slots: int
    total_slots: int
    kinds: List[SlotKind] = field(default_factory=list)
    unadvertised: List[str] = field(default_factory=list)
    excluded_by: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    software: str = ""

    def as_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kinds"] = [{"description": k.description, "slots": k.slots, "sites": dict(k.sites)} for k in self.kinds]
        return data


def _kind_of(ad: Any, model_attribute: Optional[str]) -> str:
    parts = [f"CpuFamily/Model {_family_label(ad_value(ad, 'CpuFamily'), ad_value(ad, 'CpuModelNumber'))}"]
    model = ad_value(ad, model_attribute) if model_attribute else None
    if isinstance(model, str):
        parts.append(repr(model))
    parts.append(str(ad_value(ad, "Microarch") or "Microarch ?"))
    devices = Counter(str(ad_value(g, "DeviceName") or "?") for g in gpu_ads(ad))
    for device, n in sorted(devices.items()):
        parts.append(f"{n} x {device}")
    os_string = ad_value(ad, "OSG_OS_STRING")
    if isinstance(os_string, str):
        parts.append(os_string)
    return ", ".join(parts)


def _advertised(ads: Sequence[Any], attr: str) -> bool:
    return any(attr in ad for ad in ads)


def _gpu_attrs_unadvertised(ads: Sequence[Any], job: Any) -> List[str]:
    """Per-GPU attributes ``RequireGPUs`` reads that no GPU ad has."""
    if "RequireGPUs" not in job:
        return []
    text = str(job.lookup("RequireGPUs"))
    gpus = [g for ad in ads for g in gpu_ads(ad)]
    missing = []
    for attr in ("Capability", "GlobalMemoryMb", "DeviceName"):
        if re.search(rf"\b{attr}\b", text) and not any(attr in g for g in gpus):
            missing.append(f"{attr} (in per-GPU ads)")
    return missing


def job_ads_for_study(study: Study) -> Dict[str, Tuple[str, Any]]:
    """Per hardware environment: (software env, the job ad ``condor_submit`` makes for its cell).

    Each cell (first workload, first software environment, one repeat) is written as the
    submit commands the built-in template renders (``render.cellad``) and parsed by the
    bindings as ``condor_submit`` would, so the check sees exactly what would be submitted.
    """
    small = dataclasses.replace(study, workloads=study.workloads[:1], software=study.software[:1], repeats=1)
    pins = pins_for_study(small)
    try:
        texts = {c.cell: cell_submit_text(small, c, pins[c.hardware.name], Path(".")) for c in small.cells()}
    except UnsafeValue as err:
        raise UserError(f"study {study.name!r} cannot be rendered safely", [Problem("study", f"{err}")]) from err
    out: Dict[str, Tuple[str, Any]] = {}
    iwd = Path(os.sep)  # any existing folder: nothing is read or written there, and Iwd plays no part in matching
    for run in small.runs():
        ads = submit_to_job_ads(texts[run.cell], iwd=iwd, vars={"run_id": run.run_id, "repeat": str(run.repeat),
                                                                "seed": str(run.seed)},
                                source=tree.cell_submit_file(run.cell))
        out[run.hardware.name] = (run.software.name, ads[0])
    return out


def check_study(study: Study, ads: Sequence[Any]) -> List[HardwareCheck]:
    """Match every hardware environment of ``study`` against the slots ``ads``."""
    return _check(study, as_of_capture(ads))


def _check(study: Study, machines: List[Any], explain_all: bool = True,
           gpu_keys: Optional[Dict[int, tuple]] = None) -> List[HardwareCheck]:
    """:func:`check_study` on slots already fixed at their capture time. With ``explain_all``
    false, an unmatched environment's ``excluded_by`` is worked out only when no attribute
    it pins is unadvertised (all that :func:`pool_findings` reports of it). ``gpu_keys``:
    the machines' GPU ads as text, shared between checks of the same machines."""
    jobs = job_ads_for_study(study)
    maker = Matchmaker(machines, gpu_keys=gpu_keys)
    maker.note_job_refs(job for _, job in jobs.values())
    groups = maker.groups()
    model_attribute = study.pool.model_attribute
    results = []
    for hardware in study.hardware:
        software, job = jobs[hardware.name]
        pin = pin_for(hardware, study.pool, study.gpus_for(hardware))
        hit = maker.matching_groups(job)
        kinds: Dict[str, SlotKind] = {}
        for gi in hit:
            for index in groups[gi].members:
                ad = machines[index]
                label = _kind_of(ad, model_attribute)
                kind = kinds.setdefault(label, SlotKind(label, 0, Counter()))
                kind.slots += 1
                kind.sites[str(ad_value(ad, "GLIDEIN_Site") or "?")] += 1
        matching = sum(k.slots for k in kinds.values())
        wanted = list(required_attributes(hardware, study.pool))
        wanted += [m.group(1) for m in _TARGET_REF.finditer(pin.requirements)]
        wanted += [m.group(1) for m in _TARGET_REF.finditer(str(job.lookup("Requirements")))
                   if m.group(1).lower() not in _GENERIC]
        unadvertised: List[str] = []
        seen = set()
        for attr in wanted:
            if attr.lower() in seen:
                continue
            seen.add(attr.lower())
            if not _advertised(machines, attr):
                unadvertised.append(attr)
        unadvertised += _gpu_attrs_unadvertised(machines, job)
        if hardware.cpu is not None and hardware.cpu.model is not None and not model_attribute:
            if not _advertised(machines, "OSGVO_CPU_MODEL"):
                unadvertised.append("a CPU model string (OSGVO_CPU_MODEL or any other): cpu.model is not pinned")
            else:
                check_note = ("this pool advertises OSGVO_CPU_MODEL: set pool.cpu_model_attribute: "
                              "OSGVO_CPU_MODEL to pin cpu.model")
                pin = dataclasses.replace(pin, warnings=pin.warnings + (check_note,))
        check = HardwareCheck(
            name=hardware.name, pins=describe_pins(hardware), device=hardware.device,
            matching_slots=matching, total_slots=len(machines),
            kinds=sorted(kinds.values(), key=lambda k: (-k.slots, k.description)),
            unadvertised=unadvertised, warnings=list(pin.warnings), software=software,
        )
        if matching == 0 and (explain_all or not unadvertised):
            check.excluded_by = _explain(maker, job, pin.clauses, len(machines))
        results.append(check)
    return results


def _explain(maker: Matchmaker, job: Any, clauses: Sequence[str], total: int) -> List[str]:
    """The pin's clauses that no slot satisfies (else the negotiator-style explanation)."""
    groups = maker.groups()
    reasons = []
    for clause in clauses:
        if not clause_matches_some(job, (g.ad for g in groups), clause):
            reasons.append(f"{clause}  (matches 0 of {total} slots)")
    return reasons or maker.explain(job)


def describe_checks(checks: Sequence[HardwareCheck], max_kinds: int = 6) -> str:
    """A plain-text report of :func:`check_study`."""
    if not checks:
        return "(no hardware environments)"
    width = max(len("hardware env"), max(len(c.name) for c in checks))
    lines = [f"{'hardware env':<{width}}  {'slots':>6}  pins"]
    for c in checks:
        flag = "" if c.matching_slots else "   <-- no slot matches"
        lines.append(f"{c.name:<{width}}  {c.matching_slots:>6}  {c.pins or '-'}{flag}")
    for c in checks:
        lines.append("")
        lines.append(f"{c.name}: {c.matching_slots} of {c.total_slots} slots match"
                     f" (job ad of its cell with software {c.software})")
        for kind in c.kinds[:max_kinds]:
            sites = ", ".join(f"{s} {n}" for s, n in kind.sites.most_common())
            lines.append(f"  {kind.slots:>5} x {kind.description}  [{sites}]")
        if len(c.kinds) > max_kinds:
            lines.append(f"  ... {len(c.kinds) - max_kinds} more kinds of slot")
        if c.unadvertised:
            lines.append(f"  not advertised by any slot: {', '.join(c.unadvertised)}")
        for reason in c.excluded_by:
            lines.append(f"  excluded by: {reason}")
        for warning in c.warnings:
            lines.append(f"  note: {warning}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- today's pool


def _instead(hardware: Any) -> str:
    """What to pin instead of a CPU model string: the attributes today's pool advertises."""
    cpu = hardware.cpu
    if cpu is None:
        return "pins on attributes the pool advertises (see reprogrid pool import)"
    parts = []
    if cpu.family is not None:
        parts.append(f"cpu.family: {cpu.family} (CpuFamily)")
    if cpu.model_number is not None:
        parts.append(f"cpu.model_number: {cpu.model_number} (CpuModelNumber)")
    if cpu.microarch is not None:
        parts.append(f"cpu.microarch: {cpu.microarch} (Microarch)")
    parts.append("cpu.flags such as [avx512f] (has_avx512f) where the ISA matters")
    return ("keep " if cpu.family is not None else "pin ") + ", ".join(parts) + \
        ", and drop cpu.model or set pool.profile: ospool (it then only warns)"


def pool_findings(study: Study, ads: Sequence[Any], label: str) -> List[str]:
    """Per hardware environment, what the pool ``ads`` (called ``label``) cannot do for it.

    Names each environment the pool cannot honour (no slot matches: the clause or the
    unadvertised attribute, and what to pin instead) and each group of environments it
    cannot tell apart (with the CPU model pin dropped, they match exactly the same
    slots, e.g. AMD EPYC 7302/7402/7F52 sharing CpuFamily 23 / CpuModelNumber 49). The
    job's fingerprint records which machine really ran, whatever the pin.
    """
    out: List[str] = []
    if study.pool.profile == "ospool-2022":
        out.append(f"pool.profile ospool-2022 replays the 2022 OSPool the paper ran on (exact CPU model pins "
                   f"through OSGVO_CPU_MODEL); judged here against {label}")
    machines = as_of_capture(ads)
    gpu_keys: Dict[int, tuple] = {}
    checks = _check(study, machines, explain_all=False, gpu_keys=gpu_keys)
    by_name = {h.name: h for h in study.hardware}
    for check in checks:
        if check.matching_slots:
            continue
        why = "; ".join([f"not advertised: {', '.join(check.unadvertised)}"] if check.unadvertised else [])
        why = why or "; ".join(check.excluded_by[:2]) or "no slot satisfies its requirements"
        out.append(f"hardware {check.name!r}: {label} cannot honour it: 0 of {check.total_slots} slots match "
                   f"({why}); pin instead: {_instead(by_name[check.name])}")
    relaxed = study if study.pool.profile == "ospool" and not study.pool.cpu_model_attribute else \
        dataclasses.replace(study, pool=dataclasses.replace(study.pool, profile="ospool", cpu_model_attribute=None))
    loose = _check(relaxed, machines, explain_all=False, gpu_keys=gpu_keys) if relaxed is not study else checks
    same: Dict[Tuple[str, ...], List[str]] = {}
    for check in loose:
        if check.matching_slots:
            same.setdefault(tuple(sorted(k.description for k in check.kinds)), []).append(check.name)
    for kinds, names in same.items():
        if len(names) < 2:
            continue
        shown = "; ".join(kinds[:2]) + (f"; ... {len(kinds) - 2} more kinds" if len(kinds) > 2 else "")
        out.append(f"hardware {', '.join(names)}: {label} cannot tell these apart: without a CPU model string "
                   f"they match exactly the same slots ({shown}), so a run asking for one may land on another. "
                   "Pin something that differs (cpu.flags, cpu.microarch, sites) or merge them into one "
                   "environment; the job's fingerprint records which machine really ran")
    return out
