"""Validation of a study's software and hardware environments: images, local stacks, CPU/GPU pins.

Part of the spec validator (``validate``): values that reach a submit file or a ClassAd
expression are refused when they could inject commands or clauses.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

from reprogrid.condor.bindings import parse_expression
from reprogrid.spec.checker import FLAG, Checker, join, location, show
from reprogrid.spec.definitions import CPU_VENDORS, MICROARCH_LEVELS, CpuPin, GpuPin, HardwareEnv, LocalStack, SoftwareEnv


def _image(check: Checker, value: Any, where: str) -> Optional[str]:
    text = location(check, value, where, "container image")
    if text is None:
        return None
    if text.startswith("docker://"):
        if not re.match(r"^docker://[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$", text):
            check.problem(where, f"expected a docker reference like docker://tensorflow/tensorflow:2.8.0-gpu, got {show(text)}")
            return None
    elif text.startswith("osdf://"):
        if not text.startswith("osdf:///") or not text.endswith(".sif"):
            check.problem(where, f"expected an OSDF image URL like osdf:///ospool/ap40/data/USER/tf.sif, got {show(text)}")
            return None
    elif text.startswith("/cvmfs/"):
        pass
    elif not text.endswith(".sif"):
        check.problem(
            where,
            f"expected docker://..., osdf:///....sif, a /cvmfs/... path or a .sif file, got {show(text)}",
        )
        return None
    return text


#: A pip requirement as a local stack may declare it: a name, optional extras, optional
#: version clauses. No URLs, paths, environment markers or options: nothing pip could
#: read as anything but a package from the index.
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
    r"(?:\[[A-Za-z0-9][A-Za-z0-9._-]*(?:,[A-Za-z0-9][A-Za-z0-9._-]*)*\])?"
    r"(?:(?:===|==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!_-]{1,40}"
    r"(?:,(?:===|==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!_-]{1,40})*)?$"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ENV_VALUE = re.compile(r"^[A-Za-z0-9_.,:/=+@% -]{0,400}$")
#: Variables a stack must not set: they belong to the starter, or would run code before the
#: job's (PYTHONSTARTUP, BASH_ENV, ENV, LD_PRELOAD) or redirect the interpreter (PYTHONPATH...).
_RESERVED_ENV = ("PATH", "HOME", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "IFS", "CDPATH", "GLOBIGNORE", "PS4")
_RESERVED_PREFIXES = ("PYTHON", "LD_", "_CONDOR_", "REPROGRID_", "BASH_FUNC_")


def _reported_under(check: Checker, where: str) -> bool:
    """Whether a problem was already reported at or under ``where``."""
    return any(p.where == where or p.where.startswith(where + ".") or p.where.startswith(where + "[") for p in check.problems)


def _local_stack(check: Checker, where: str, raw: Any) -> Optional[LocalStack]:
    """``software[i].local``: packages (pip requirements) and environment variables."""
    if raw is None:
        return None
    data = check.mapping(raw, where, ["packages", "env", "base"])
    base = _image(check, data.get("base"), join(where, "base")) if data.get("base") is not None else None
    if base is not None and not base.startswith("docker://"):
        check.problem(join(where, "base"), f"expected a docker:// base image like docker://python:3.11-slim, got {show(base)}")
    packages = check.string_list(
        data.get("packages"), join(where, "packages"), _REQUIREMENT,
        "expected a package requirement like tensorflow-cpu==2.15.1 or jax[cpu]>=0.4 "
        "(no spaces, URLs, paths or pip options)")
    env: Dict[str, str] = {}
    raw_env = data.get("env")
    if raw_env is not None and not isinstance(raw_env, Mapping):
        check.problem(join(where, "env"), f"expected a mapping like {{KERAS_BACKEND: jax}}, got {show(raw_env)}")
    for key, value in (raw_env or {}).items() if isinstance(raw_env, Mapping) else ():
        at = f"{where}.env.{key}"
        name = check.text(key, join(where, "env"), _ENV_NAME, "expected a variable name like KERAS_BACKEND")
        text = check.text(value, at, _ENV_VALUE, "expected a value of letters, digits, spaces and _ . , : / = + @ % -")
        if name is not None and (name in _RESERVED_ENV or name.startswith(_RESERVED_PREFIXES)):
            check.problem(at, "is refused: it belongs to the starter or the job, or would run or redirect code "
                              "before the job's (PATH, HOME, PYTHON*, LD_*, BASH_ENV, ENV, _CONDOR_*, REPROGRID_*); remove it")
        elif name is not None and text is not None:
            env[name] = text
    if not packages and not env and not _reported_under(check, where):
        check.problem(where, "declare packages (e.g. [tensorflow-cpu==2.15.1]) and/or env; or remove `local`")
    return LocalStack(tuple(packages), env, base)


def software_env(check: Checker, where: str, raw: Any) -> Optional[SoftwareEnv]:
    data = check.mapping(raw, where, ["name", "image", "versions", "local_python", "description", "local"], ["name", "image"])
    name = check.name(data.get("name"), join(where, "name"))
    image = _image(check, data.get("image"), join(where, "image")) if data.get("image") is not None else None
    versions: Dict[str, str] = {}
    raw_versions = data.get("versions")
    if raw_versions is not None:
        if not isinstance(raw_versions, Mapping):
            check.problem(join(where, "versions"), f"expected a mapping like {{tensorflow: 2.8.0, cuda: '11.2'}}, got {show(raw_versions)}")
        else:
            for key, value in raw_versions.items():
                text = check.text(value, f"{where}.versions.{key}", re.compile(r"^[A-Za-z0-9._+-]{1,40}$"), "expected a version like 2.8.0")
                if check.text(key, f"{where}.versions", re.compile(r"^[a-z][a-z0-9_]{0,30}$"), "expected a lower-case key like tensorflow") and text is not None:
                    versions[key] = text
    local_python = check.text(data.get("local_python"), join(where, "local_python"))
    description = check.text(data.get("description"), join(where, "description")) or ""
    local = _local_stack(check, join(where, "local"), data.get("local"))
    if name is None or image is None:
        return None
    return SoftwareEnv(name, image, versions, local_python, description, local)


def _cpu(check: Checker, where: str, raw: Any) -> Optional[CpuPin]:
    if raw is None:
        return None
    allowed = ["vendor", "family", "model_number", "model", "microarch", "min_microarch", "flags", "without_flags"]
    data = check.mapping(raw, where, allowed)
    vendor = data.get("vendor")
    if vendor is not None:
        vendor = str(vendor).lower()
        if vendor not in CPU_VENDORS:
            check.problem(join(where, "vendor"), f"expected amd or intel, got {show(data.get('vendor'))}")
            vendor = None
    family = check.integer(data.get("family"), join(where, "family"), 0, "23")
    model_number = check.integer(data.get("model_number"), join(where, "model_number"), 0, "49")
    model = check.text(data.get("model"), join(where, "model"))
    levels = []
    for key in ("microarch", "min_microarch"):
        value = data.get(key)
        if value is not None and value not in MICROARCH_LEVELS:
            check.problem(join(where, key), f"expected one of {', '.join(MICROARCH_LEVELS)}, got {show(value)}")
            value = None
        levels.append(value)
    rule = "expected a lower-case /proc/cpuinfo flag like avx512f"
    flags = check.string_list(data.get("flags"), join(where, "flags"), FLAG, rule)
    without = check.string_list(data.get("without_flags"), join(where, "without_flags"), FLAG, rule)
    if vendor and family is not None and family not in CPU_VENDORS[vendor]:
        check.problem(join(where, "family"), f"CPU family {family} is not a {vendor} family ({', '.join(map(str, CPU_VENDORS[vendor]))})")
    if set(flags) & set(without):
        check.problem(join(where, "without_flags"), f"{', '.join(sorted(set(flags) & set(without)))} is both required and excluded")
    return CpuPin(vendor, family, model_number, model, levels[0], levels[1], flags, without)


def _gpu(check: Checker, where: str, raw: Any) -> Optional[GpuPin]:
    if raw is None:
        return None
    if raw is True:
        raw = {}
    allowed = ["count", "device_name", "capability", "min_capability", "max_capability", "min_memory_mb"]
    data = check.mapping(raw, where, allowed)
    count = check.integer(data.get("count"), join(where, "count"), 1, "1")
    caps = [check.number(data.get(k), join(where, k), "8.0") for k in ("capability", "min_capability", "max_capability")]
    if caps[0] is not None and (caps[1] is not None or caps[2] is not None):
        check.problem(join(where, "capability"), "give either capability (exact) or min_capability/max_capability, not both")
    if caps[1] is not None and caps[2] is not None and caps[1] > caps[2]:
        check.problem(join(where, "min_capability"), f"{caps[1]} is above max_capability {caps[2]}")
    memory = check.integer(data.get("min_memory_mb"), join(where, "min_memory_mb"), 1, "40000")
    device = check.text(data.get("device_name"), join(where, "device_name"))
    return GpuPin(count or 1, device, caps[0], caps[1], caps[2], memory)


def hardware_env(check: Checker, where: str, raw: Any) -> Optional[HardwareEnv]:
    allowed = ["name", "cpu", "gpu", "sites", "os", "requirements", "description"]
    data = check.mapping(raw, where, allowed, ["name"])
    name = check.name(data.get("name"), join(where, "name"))
    cpu = _cpu(check, join(where, "cpu"), data.get("cpu"))
    gpu = _gpu(check, join(where, "gpu"), data.get("gpu"))
    sites = check.string_list(data.get("sites"), join(where, "sites"), re.compile(r"^[A-Za-z0-9_.-]{1,64}$"), "expected a GLIDEIN_Site name like UChicago")
    os_string = check.text(data.get("os"), join(where, "os"), re.compile(r"^[A-Za-z0-9 ._-]{1,40}$"), "expected an OSG_OS_STRING like 'RHEL 9'")
    requirements = check.text(data.get("requirements"), join(where, "requirements"))
    if requirements is not None:
        try:
            parse_expression(requirements)
        except ValueError:
            check.problem(join(where, "requirements"), f"is not one valid ClassAd expression: {show(requirements)}; check parentheses and quotes")
            requirements = None
        if requirements is not None and "$" in requirements:
            check.problem(join(where, "requirements"), "must not contain '$' (submit macros are not allowed in a pin)")
            requirements = None
    description = check.text(data.get("description"), join(where, "description")) or ""
    if name is None:
        return None
    return HardwareEnv(name, cpu, gpu, sites, os_string, requirements, description)
