"""Validation of a study spec: plain data (YAML or a dict) -> a checked :class:`Study`.

The one validator behind :func:`load_study`, :func:`study_from_dict` and
:func:`validate_study`: it reports every problem at once, each with its path in the spec
and the fix, and refuses values that could inject submit commands or ClassAd clauses.
This module checks the study as a whole; ``checker`` holds the field checks,
``validate_workloads`` and ``validate_environments`` the entries of its matrix.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

from reprogrid.core import naming
from reprogrid.core.errors import Problem, UserError
from reprogrid.spec.checker import ATTR, Checker, data_input, given, location, show
from reprogrid.spec.validate_environments import hardware_env, software_env
from reprogrid.spec.validate_workloads import workload_entry
from reprogrid.spec.credits import read_credits
from reprogrid.spec.definitions import (
    POOL_PROFILES, DataInputs, HardwareEnv, Output, Pool, Resources, SoftwareEnv, Study, Throttles, Workload,
)

def _unique_slugs(check: Checker, where: str, names: Sequence[Tuple[str, str]]) -> None:
    seen: Dict[str, str] = {}
    for path, name in names:
        key = naming.slug(name).lower()
        if key in seen:
            check.problem(path, f"{name!r} clashes with {seen[key]!r} (names must stay distinct with '.' read as '_' and case ignored)")
        else:
            seen[key] = name


STUDY_KEYS = [
    "name", "description", "seed", "seed_per_repeat", "repeats", "workloads", "software", "hardware",
    "resources", "data", "retries", "throttles", "pool", "output", "license", "authors",
]


DEFAULT_MAX_RUNS = 100_000
MAX_RUNS_ENV = "REPROGRID_MAX_RUNS"


def max_runs_bound(max_runs: Optional[int] = None) -> int:
    """The run-count bound: ``max_runs``, else ``$REPROGRID_MAX_RUNS``, else 100,000."""
    if max_runs is not None:
        return max_runs
    try:
        return int(os.environ.get(MAX_RUNS_ENV, "") or DEFAULT_MAX_RUNS)
    except ValueError:
        raise UserError("bad run bound", [Problem(MAX_RUNS_ENV, f"expected a whole number, got {os.environ[MAX_RUNS_ENV]!r}")]) from None


def _check_size(check: "Checker", counts: Tuple[int, int, int], repeats: Optional[int], bound: int) -> None:
    """A study past the bound is refused at once, before anything expands or is written."""
    if repeats is None:
        return
    runs = counts[0] * counts[1] * counts[2] * repeats
    if repeats > bound or runs > bound:
        check.problem("repeats", f"the study expands to {max(runs, repeats):,} runs ({counts[0]} workloads x {counts[1]} software x "
                      f"{counts[2]} hardware x {repeats:,} repeats), over the bound of {bound:,}; lower repeats or the "
                      f"lists, or raise the bound with --max-runs N (or {MAX_RUNS_ENV}=N) if you mean it")


def validate_study(study: Study, *, base_dir: Optional[Union[str, Path]] = None,
                   max_runs: Optional[int] = None) -> Study:
    """Run the full validation on a study built from the dataclasses directly.

    With ``base_dir`` the workloads' shipped files are checked there too; ``max_runs``
    raises the bound on the study's size.
    """
    return study_from_dict(study.to_dict(), base_dir=base_dir, max_runs=max_runs)


def study_from_dict(raw: Any, *, source: str = "study spec", base_dir: Optional[Union[str, Path]] = None,
                    max_runs: Optional[int] = None) -> Study:
    """Validate plain data (a parsed YAML file, or dicts from a notebook) into a Study.

    With ``base_dir`` (the spec's folder) every workload's shipped file must exist there
    and an entry's function must be defined. Raises ``UserError`` listing every problem,
    each with its path and the fix. A study of more than ``max_runs`` runs (default:
    :func:`max_runs_bound`) is refused before anything expands.
    """
    check = Checker()
    data = check.mapping(raw, "", STUDY_KEYS, ["name", "workloads", "software", "hardware"])
    name = check.name(data.get("name"), "name")
    description = check.text(data.get("description"), "description", free=True) or ""
    seed = check.integer(given(data, "seed", 1), "seed", 0, "1", maximum=2**31 - 1)
    seed_per_repeat = check.boolean(data.get("seed_per_repeat"), "seed_per_repeat")
    repeats = check.integer(given(data, "repeats", 1), "repeats", 1, "5", maximum=None)  # bounded by the run count
    retries = check.integer(given(data, "retries", 2), "retries", 0, "2")
    workloads, software, hardware = _matrix(check, data, None if base_dir is None else Path(base_dir))
    _check_size(check, (len(workloads), len(software), len(hardware)), repeats, max_runs_bound(max_runs))
    resources = _resources(check, data)
    inputs, sample = _data_inputs(check, data, workloads)
    throttles = _throttles(check, data)
    pool = _pool(check, data)
    destination = _destination(check, data)
    _hardware_pins_something(check, hardware)
    license_, authors = read_credits(check, data)
    if check.problems:
        raise UserError.of(f"{source} is not valid", check.problems)
    return Study(
        name=name, workloads=tuple(workloads), software=tuple(software), hardware=tuple(hardware),
        repeats=repeats, seed=seed, seed_per_repeat=bool(seed_per_repeat), description=description,
        resources=resources, data=DataInputs(tuple(inputs), sample), retries=retries,
        throttles=throttles, pool=pool, output=Output(destination), license=license_, authors=authors,
    )


def _matrix(check: Checker, data: Mapping[str, Any], base_dir: Optional[Path] = None) -> Tuple[List[Workload], List[SoftwareEnv], List[HardwareEnv]]:
    """The three axes of the study, each entry checked, names unique once dots become ``_``."""
    entries = check.entries(data.get("workloads"), "workloads")
    workloads = [w for w in (workload_entry(check, p, r, base_dir) for p, r in entries) if w]
    software = [s for s in (software_env(check, p, r) for p, r in check.entries(data.get("software"), "software")) if s]
    hardware = [h for h in (hardware_env(check, p, r) for p, r in check.entries(data.get("hardware"), "hardware")) if h]
    _unique_slugs(check, "workloads", [(f"workloads[{i}].name", w.name) for i, w in enumerate(workloads)])
    _unique_slugs(check, "software", [(f"software[{i}].name", s.name) for i, s in enumerate(software)])
    _unique_slugs(check, "hardware", [(f"hardware[{i}].name", h.name) for i, h in enumerate(hardware)])
    return workloads, software, hardware


def _resources(check: Checker, data: Mapping[str, Any]) -> Resources:
    res = check.mapping(data.get("resources"), "resources", ["cpus", "memory", "disk", "gpus"])
    return Resources(
        cpus=check.integer(res.get("cpus"), "resources.cpus", 1, "1") or 1,
        memory_mb=check.size_mb(res.get("memory"), "resources.memory") or Resources.memory_mb,
        disk_mb=check.size_mb(res.get("disk"), "resources.disk") or Resources.disk_mb,
        gpus=check.integer(res.get("gpus"), "resources.gpus", 1, "1"),
    )


def _data_inputs(check: Checker, data: Mapping[str, Any], workloads: Sequence[Workload]) -> Tuple[List[str], bool]:
    """``data.inputs`` (safe paths or URLs of known schemes) and ``data.sample``; every
    workload's data file must be among the inputs unless the bundled samples are used."""
    raw_data = check.mapping(data.get("data"), "data", ["inputs", "sample"])
    inputs = []
    raw_inputs = raw_data.get("inputs") or []
    if not isinstance(raw_inputs, (list, tuple)):
        check.problem("data.inputs", f"expected a list of paths or URLs, got {show(raw_inputs)}")
        raw_inputs = []
    for i, item in enumerate(raw_inputs):
        text = data_input(check, item, f"data.inputs[{i}]")
        if text is not None:
            inputs.append(text)
    sample = check.boolean(raw_data.get("sample"), "data.sample") or False
    names_given = {Path(i.split("://", 1)[-1]).name for i in inputs}
    if not sample:
        for w in workloads:
            if w.data_file is not None and w.data_file not in names_given:
                check.problem(
                    "data.inputs",
                    f"no input provides {w.data_file} for workload {w.name}; add its path or osdf:// URL "
                    "(see `reprogrid data fetch`), or set data.sample: true to use the bundled sample files",
                )
    return inputs, sample


def _throttles(check: Checker, data: Mapping[str, Any]) -> Throttles:
    thr = check.mapping(data.get("throttles"), "throttles", ["max_jobs", "max_idle", "max_jobs_per_hardware"])
    return Throttles(
        check.integer(thr.get("max_jobs"), "throttles.max_jobs", 1, "100"),
        check.integer(thr.get("max_idle"), "throttles.max_idle", 1, "1000"),
        check.integer(thr.get("max_jobs_per_hardware"), "throttles.max_jobs_per_hardware", 1, "20"),
    )


def _pool(check: Checker, data: Mapping[str, Any]) -> Pool:
    pool_raw = check.mapping(data.get("pool"), "pool", ["profile", "cpu_model_attribute"])
    profile = pool_raw.get("profile", "ospool")
    if profile not in POOL_PROFILES:
        check.problem("pool.profile", f"expected one of {', '.join(POOL_PROFILES)}, got {show(profile)}")
        profile = "ospool"
    model_attr = check.text(pool_raw.get("cpu_model_attribute"), "pool.cpu_model_attribute", ATTR,
                            "expected a ClassAd attribute name like OSGVO_CPU_MODEL")
    return Pool(profile, model_attr)


def _destination(check: Checker, data: Mapping[str, Any]) -> Optional[str]:
    out_raw = check.mapping(data.get("output"), "output", ["destination"])
    destination = location(check, out_raw.get("destination"), "output.destination", "URL")
    if destination is not None and not re.match(r"^(osdf|pelican|https?)://", destination):
        check.problem("output.destination", f"expected an osdf:// or https:// folder URL, got {show(destination)}")
        return None
    return destination


def _hardware_pins_something(check: Checker, hardware: Sequence[HardwareEnv]) -> None:
    for i, h in enumerate(hardware):
        if h.cpu is None and h.gpu is None and h.requirements is None and not h.sites and h.os is None:
            check.problem(f"hardware[{i}]", f"{h.name!r} pins nothing; give cpu, gpu, sites, os or requirements")


MAX_SPEC_VALUES = 100_000
MAX_SPEC_DEPTH = 40


def _check_expansion(raw: Any, path: Path) -> None:
    """Refuse a spec whose data is huge or deep once YAML aliases are expanded (a "billion
    laughs" file is a few lines that expand to billions of values): counted with a capped,
    iterative walk, so the check itself stays cheap."""
    seen = 0
    stack = [(raw, 0)]
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_SPEC_VALUES:
            raise UserError(f"{path} is not a usable study spec", [Problem(str(path), (
                f"it holds more than {MAX_SPEC_VALUES:,} values once its aliases (*name) are expanded; "
                "a study spec is a few hundred lines: remove the aliases or the repeated data"))])
        if depth > MAX_SPEC_DEPTH:
            raise UserError(f"{path} is not a usable study spec", [Problem(str(path), (
                f"nested more than {MAX_SPEC_DEPTH} levels deep; a study spec is a few levels of mappings and lists"))])
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value.keys() if not isinstance(k, str))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def load_study(path: Union[str, Path], *, max_runs: Optional[int] = None) -> Study:
    """Read and validate a study YAML file (see :func:`study_from_dict` for ``max_runs``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"study file {path} does not exist", [Problem(str(path), "check the path, or create one with `reprogrid init`")])
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read study file {path}", [Problem(str(path), str(err))])
    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders only
    except RecursionError:
        raise UserError(f"{path} is not a usable study spec", [Problem(str(path), "nested too deeply; a study spec is a few levels of mappings and lists")]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UserError(f"{path} is not valid YAML", [Problem(where, f"{getattr(err, 'problem', err)}; fix the YAML syntax")])
    _check_expansion(raw, path)
    try:
        return study_from_dict(raw, source=str(path), base_dir=path.parent, max_runs=max_runs)
    except RecursionError:
        raise UserError(f"{path} is not a usable study spec", [Problem(str(path), "nested too deeply; a study spec is a few levels of mappings and lists")]) from None


#: Placeholders the presets and guides use for what only the user can fill in.
PLACEHOLDERS = ("YOUR_USER", "YOUR_PROJECT", "YOUR_AP", "CHANGE_ME")


def input_warnings(study: Study, base_dir: Union[str, Path] = ".") -> List[str]:
    """What a valid spec still needs before it can run: placeholders left in its paths
    and URLs (``YOUR_USER``), and local data inputs that do not exist (relative to
    ``base_dir``, the spec's folder). Each names the field and the fix."""
    out: List[str] = []
    fields = [(f"data.inputs[{i}]", text) for i, text in enumerate(study.data.inputs)]
    fields += [(f"software[{i}].image", s.image or "") for i, s in enumerate(study.software)]
    if study.output.destination:
        fields.append(("output.destination", study.output.destination))
    for where, text in fields:
        hit = next((p for p in PLACEHOLDERS if p in text), None)
        if hit:
            out.append(f"{where}: {text!r} still holds the placeholder {hit}: replace it with your "
                       "own value (e.g. your access point user name) before rendering for the pool")
    for where, text in fields[:len(study.data.inputs)]:
        if "://" in text or any(p in text for p in PLACEHOLDERS):
            continue
        path = Path(text) if Path(text).is_absolute() else Path(base_dir) / text
        if not path.exists():
            out.append(f"{where}: the local input {text!r} does not exist (looked for {path}): fetch it "
                       "(reprogrid data fetch DIR) or fix the path; jobs would be held at submit time")
    return out
