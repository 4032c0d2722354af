"""Matchmaking like the negotiator: autoclusters of jobs x groups of identical machines.

Jobs with identical significant attributes (Requirements, request_*, require_gpus and
whatever the machines' START expressions look at) form one autocluster; machines that
agree on every attribute any job or machine expression references form one group. A
symmetric match (job Requirements against the machine, machine Requirements against the
job) is evaluated with the real ``classad`` library once per (autocluster, group), so
the cost grows with the number of distinct kinds, not with jobs x slots.

``countMatches(MY.RequireGPUs, TARGET.AvailableGPUs)`` (what condor_submit writes for
``require_gpus``) is a function of the condor daemons, not of the classad library, so it
is computed here: the GPU sub-ads named in ``AvailableGPUs`` are tested one by one
against ``RequireGPUs`` and the count is substituted into the expression.

``explain`` splits a job's Requirements on top-level ``&&`` and tests each clause
against the machines, in the spirit of ``condor_q -better-analyze``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from reprogrid.condor.bindings import ad_number, classad


_COUNT_MATCHES = re.compile(r"countMatches\(\s*MY\.RequireGPUs\s*,\s*TARGET\.AvailableGPUs\s*\)", re.I)
_REQUEST_ATTRS = ("RequestCpus", "RequestMemory", "RequestDisk", "RequestGPUs")
_MACHINE_KEY_BASE = ("Requirements", "Cpus", "Memory", "Disk", "GPUs", "AvailableGPUs",
                     "ReprogridHardwareEnv", "GLIDEIN_Site")
_IDENTITY = {"name", "machine", "myaddress", "publicclaimid", "slotid", "lastheardfrom",
             "daemonstarttime", "mycurrenttime", "updatesequencenumber", "updatestotal"}


def job_requests(job: classad.ClassAd) -> Tuple[int, int, int, int]:
    """(cpus, memory MB, disk KB, gpus) the job asks for, evaluated as the schedd would."""
    out = []
    for attr, default in zip(_REQUEST_ATTRS, (1, 0, 0, 0)):
        out.append(ad_number(job.eval(attr), default) if attr in job else default)
    return tuple(out)  # type: ignore[return-value]


def _outside_strings(text: str):
    """(index, character, bracket depth after it) for each character outside string literals."""
    depth, quote, i = 0, False, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            quote = ch != '"'
        elif ch == '"':
            quote = True
        else:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            yield i, ch, depth
        i += 1


def split_conjuncts(text: str) -> List[str]:
    """Split an expression on top-level ``&&`` (outside parentheses, brackets and strings)."""
    parts, start = [], 0
    for i, ch, depth in _outside_strings(text):
        if ch == "&" and depth == 0 and i >= start and text.startswith("&&", i):
            parts.append(text[start:i].strip())
            start = i + 2
    parts.append(text[start:].strip())
    parts = [p for p in parts if p]
    # strip one layer of redundant outer parentheses when the whole thing was wrapped
    if len(parts) == 1 and parts[0].startswith("(") and parts[0].endswith(")"):
        inner = parts[0][1:-1]
        if _balanced(inner):
            sub = split_conjuncts(inner)
            if len(sub) > 1:
                return sub
    return parts


def _balanced(text: str) -> bool:
    depth = 0
    for _, _, depth in _outside_strings(text):
        if depth < 0:
            return False
    return depth == 0


def gpu_ads(machine: classad.ClassAd) -> List[classad.ClassAd]:
    """The per-GPU ads a machine's ``AvailableGPUs`` list references."""
    if "AvailableGPUs" not in machine:
        return []
    try:
        refs = machine.eval("AvailableGPUs")
    except Exception:
        return []
    out = []
    if isinstance(refs, list):
        for ref in refs:
            if isinstance(ref, classad.ClassAd):
                out.append(ref)
                continue
            sub = machine.get(str(ref))
            if isinstance(sub, classad.ClassAd):
                out.append(sub)
            elif isinstance(sub, dict):
                out.append(classad.ClassAd(sub))
    return out


def count_gpu_matches(job: classad.ClassAd, machine: classad.ClassAd) -> int:
    gpus = gpu_ads(machine)
    req = job.lookup("RequireGPUs") if "RequireGPUs" in job else None
    if req is None:
        return len(gpus)
    n = 0
    for gpu in gpus:
        probe = classad.ClassAd()
        probe.update(gpu)
        probe["Requirements"] = req
        if job.matches(probe):  # x.matches(y) evaluates y's Requirements against x
            n += 1
    return n


def matching_gpu_ads(job: classad.ClassAd, machine: classad.ClassAd) -> List[classad.ClassAd]:
    """The machine's per-GPU ads the job's ``RequireGPUs`` accepts (all of them without one):
    the GPUs the job may be given there."""
    gpus = gpu_ads(machine)
    req = job.lookup("RequireGPUs") if "RequireGPUs" in job else None
    if req is None:
        return gpus
    out = []
    for gpu in gpus:
        probe = classad.ClassAd()
        probe.update(gpu)
        probe["Requirements"] = req
        if job.matches(probe):
            out.append(gpu)
    return out


def _with_requirements(job: classad.ClassAd, text: str) -> classad.ClassAd:
    probe = classad.ClassAd()
    probe.update(job)
    probe["Requirements"] = classad.ExprTree(text)
    return probe


def job_matches_machine(job: classad.ClassAd, machine: classad.ClassAd, req_text: Optional[str] = None) -> bool:
    """Job Requirements (with countMatches computed) against the machine; not the reverse."""
    text = req_text if req_text is not None else (str(job.lookup("Requirements")) if "Requirements" in job else "true")
    if _COUNT_MATCHES.search(text):
        text = _COUNT_MATCHES.sub(str(count_gpu_matches(job, machine)), text)
        return machine.matches(_with_requirements(job, text))
    if req_text is not None:
        return machine.matches(_with_requirements(job, text))
    return machine.matches(job)  # x.matches(y) evaluates y's Requirements against x


def clause_matches_some(job: classad.ClassAd, machines: Iterable[classad.ClassAd], req_text: str) -> bool:
    """Whether ``job`` with ``req_text`` as its Requirements matches one of ``machines``, as
    :func:`job_matches_machine` judges each (the job's side only); the probe ad is built
    once, not per machine, and the search stops at the first match."""
    if _COUNT_MATCHES.search(req_text):  # the count depends on the machine's GPUs
        return any(job_matches_machine(job, m, req_text) for m in machines)
    probe = _with_requirements(job, req_text)
    return any(m.matches(probe) for m in machines)


def machine_accepts_job(machine: classad.ClassAd, job: classad.ClassAd) -> bool:
    if "Requirements" not in machine:
        return True
    return job.matches(machine)


def symmetric_match(job: classad.ClassAd, machine: classad.ClassAd) -> bool:
    return job_matches_machine(job, machine) and machine_accepts_job(machine, job)


@dataclass
class MachineGroup:
    """Identical machines (one representative ad) and how many slots they are."""

    ad: classad.ClassAd
    members: List[int] = field(default_factory=list)  # indexes into the inventory

    @property
    def hardware_env(self) -> str:
        value = self.ad.get("ReprogridHardwareEnv") or self.ad.get("Name") or "?"
        return str(value)


def _refs(ad: classad.ClassAd, attr: str) -> Tuple[List[str], List[str]]:
    if attr not in ad:
        return [], []
    expr = ad.lookup(attr)
    try:
        return list(ad.externalRefs(expr)), list(ad.internalRefs(expr))
    except Exception:
        return [], []


def _strip_scope(ref: str) -> str:
    name = ref.split(".", 1)[1] if ref.upper().startswith(("TARGET.", "MY.")) else ref
    return name.split(".")[0].split("[")[0]


class Matchmaker:
    """Groups an inventory once; answers 'which machine groups does this job match?' per autocluster."""

    def __init__(self, machines: Sequence[classad.ClassAd], extra_job_refs: Iterable[str] = (),
                 gpu_keys: Optional[Dict[int, tuple]] = None) -> None:
        self.machines = list(machines)
        # each machine's GPU ads as text, by index: a dict shared by Matchmakers over the same
        # machines (the pool check's two checks) reads each machine's GPUs once
        self._gpu_keys: Dict[int, tuple] = {} if gpu_keys is None else gpu_keys
        # attributes of the job the machines' START expressions read (for autocluster keys)
        job_refs = set()
        machine_refs = set(a.lower() for a in _MACHINE_KEY_BASE)
        for m in self.machines[: 1] + self._sample_distinct_requirements():
            ext, internal = _refs(m, "Requirements")
            job_refs.update(_strip_scope(r) for r in ext)
            machine_refs.update(_strip_scope(r).lower() for r in internal)
        self.job_refs = sorted(set(job_refs) | set(extra_job_refs))
        self.machine_refs = machine_refs
        self._groups: Optional[List[MachineGroup]] = None
        self._group_attrs: Optional[List[str]] = None
        self._cache: Dict[tuple, List[int]] = {}
        self._reads: Dict[tuple, Tuple[str, ...]] = {}

    def _sample_distinct_requirements(self) -> List[classad.ClassAd]:
        seen: Dict[str, classad.ClassAd] = {}
        for m in self.machines:
            key = str(m.lookup("Requirements")) if "Requirements" in m else ""
            if key not in seen:
                seen[key] = m
        return list(seen.values())

    # -- autoclusters ------------------------------------------------------------------------
    def autocluster_key(self, job: classad.ClassAd) -> tuple:
        """Jobs with equal keys match the same machines: the key holds the text of every job
        attribute the job's Requirements and RequireGPUs read (``GPUsMinCapability`` ... through
        the expressions' own references), the requests, and what the machines' START reads.
        Where the references cannot be known, the job is its own autocluster."""
        texts = tuple(str(job.lookup(attr)) if attr in job else None for attr in ("Requirements", "RequireGPUs"))
        read = self._reads.get(texts)  # the jobs of a study share a few expressions: their references once
        if read is None:
            found = set(self.job_refs)
            for attr in ("Requirements", "RequireGPUs"):
                if attr in job:
                    try:
                        found.update(_strip_scope(r) for r in job.internalRefs(job.lookup(attr)))
                    except Exception:  # noqa: BLE001 - unknown references: no autoclustering for this job
                        return ("own autocluster", id(job))
            found -= {"Requirements", "RequireGPUs", *_REQUEST_ATTRS}  # in the key already
            read = self._reads[texts] = tuple(sorted(found, key=str.lower))
        values = tuple(str(job.lookup(attr)) if attr in job else None for attr in read)
        return texts + (job_requests(job), read, values)

    def note_job_refs(self, jobs: Iterable[classad.ClassAd]) -> None:
        """Add the machine attributes these jobs' Requirements read to the grouping key."""
        if self._groups is not None:
            return
        seen = set()
        for job in jobs:
            if id(job) in seen:
                continue
            seen.add(id(job))
            ext, _ = _refs(job, "Requirements")
            self.machine_refs.update(_strip_scope(r).lower() for r in ext if r.upper().startswith("TARGET."))
            ext, internal = _refs(job, "RequireGPUs")
            if "RequireGPUs" in job:
                self.machine_refs.add("availablegpus")

    # -- machine groups ------------------------------------------------------------------------
    def groups(self) -> List[MachineGroup]:
        if self._groups is None:
            if "availablegpus" in self.machine_refs:
                self.machine_refs.add("__gpu_ads__")
            attrs = sorted(a for a in self.machine_refs if a not in _IDENTITY)
            index: Dict[tuple, MachineGroup] = {}
            for i, m in enumerate(self.machines):
                key = []
                for a in attrs:
                    if a == "__gpu_ads__":
                        gpus = self._gpu_keys.get(i)
                        if gpus is None:
                            gpus = self._gpu_keys[i] = tuple(str(g) for g in gpu_ads(m))
                        key.append(gpus)
                    else:
                        key.append(str(m.lookup(a)) if a in m else None)
                k = tuple(key)
                group = index.get(k)
                if group is None:
                    group = index[k] = MachineGroup(ad=m)
                group.members.append(i)
            self._groups = list(index.values())
            self._group_attrs = attrs
        return self._groups

    def matching_groups(self, job: classad.ClassAd, key: Optional[tuple] = None) -> List[int]:
        """Indexes (into ``groups()``) of the machine groups that symmetrically match ``job``."""
        key = key if key is not None else self.autocluster_key(job)
        hit = self._cache.get(key)
        if hit is None:
            hit = [gi for gi, g in enumerate(self.groups()) if symmetric_match(job, g.ad)]
            self._cache[key] = hit
        return hit

    def explain(self, job: classad.ClassAd) -> List[str]:
        """Why ``job`` matches no machine: the clauses that exclude every machine."""
        groups = self.groups()
        reasons: List[str] = []
        if "Requirements" not in job:
            return ["the job has no Requirements expression"]
        text = str(job.lookup("Requirements"))
        clauses = split_conjuncts(text)
        total = sum(len(g.members) for g in groups)
        for clause in clauses:
            if not clause_matches_some(job, (g.ad for g in groups), clause):
                reasons.append(f"{clause}  (matches 0 of {total} slots)")
        if not reasons:
            job_ok = [g for g in groups if job_matches_machine(job, g.ad)]
            if not job_ok:
                reasons.append(f"the clauses together match no slot: {text}")
            else:
                envs = ", ".join(sorted({g.hardware_env for g in job_ok}))
                reasons.append(f"the job matches {envs}, but their START expressions reject it")
        return reasons
