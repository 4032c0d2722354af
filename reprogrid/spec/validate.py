"""Validation of a study spec: plain data (YAML or a dict) -> a checked :class:`Study`.

The one validator behind :func:`load_study`, :func:`study_from_dict` and
:meth:`Study.validated`: it reports every problem at once, each with its path in the spec
and the fix, and refuses values that could inject submit commands or ClassAd clauses.
"""
from __future__ import annotations

import difflib
import os
import re
import shlex
import reprlib
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

from reprogrid.core.errors import Problem, UserError
from reprogrid.job import catalogue
from reprogrid.job.catalogue import WORKLOAD_NAMES
from reprogrid.spec import usercode
from reprogrid.core.text import shown
from reprogrid.spec.model import (
    CPU_VENDORS, MICROARCH_LEVELS, POOL_PROFILES, CpuPin, DataInputs, GpuPin, HardwareEnv,
    LocalStack, Metrics, Output, Pool, Resources, SoftwareEnv, Study, Throttles, Workload, slug,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


_SAFE_LOCATION = re.compile(r"^[A-Za-z0-9_.:/@%=~+-]+$")


_FLAG = re.compile(r"^[a-z0-9_]{1,32}$")


_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|[KMGT]?B?)?\s*$", re.IGNORECASE)


_SIZE_FACTORS_MB = {"": 1, "B": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


class _Checker:
    """Collects problems while reading a mapping; each read names its path in the spec."""

    def __init__(self) -> None:
        self.problems: List[Problem] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def mapping(self, value: Any, where: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.problem(where or "(top level)", f"expected a mapping with keys {', '.join(allowed)}, got {_show(value)}")
            return {}
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"
                self.problem(_join(where, str(key)), f"unknown key{hint}")
        for key in required:
            if key not in value or value[key] is None:
                self.problem(_join(where, key), "is required")
        return dict(value)

    def integer(self, value: Any, where: str, minimum: Optional[int] = None, example: str = "4",
                maximum: Optional[int] = 10**9) -> Optional[int]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            else:
                self.problem(where, f"expected a whole number like {example}, got {_show(value)}")
                return None
        if minimum is not None and value < minimum:
            self.problem(where, f"must be at least {minimum}, got {_show(value)}")
            return None
        if maximum is not None and value > maximum:
            self.problem(where, f"must be at most {maximum:,}, got {_show(value)}")
            return None
        return value

    def number(self, value: Any, where: str, example: str = "8.0") -> Optional[float]:
        if value is None:
            return None
        if isinstance(value, bool):
            self.problem(where, f"expected a number like {example}, got {_show(value)}")
            return None
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        self.problem(where, f"expected a number like {example}, got {_show(value)}")
        return None

    def boolean(self, value: Any, where: str) -> Optional[bool]:
        if value is None or isinstance(value, bool):
            return value
        self.problem(where, f"expected true or false, got {_show(value)}")
        return None

    def text(self, value: Any, where: str, pattern: Optional[re.Pattern] = None, rule: str = "", free: bool = False) -> Optional[str]:
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.problem(where, f"expected a string, got {_show(value)}")
            return None
        if any(ord(ch) < 32 for ch in value) and not free:
            self.problem(where, "must not contain newlines, tabs or other control characters (they could inject submit commands)")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(where, f"{rule}, got {_show(value)}")
            return None
        if "\\" in value and not free:
            self.problem(where, "must not contain a backslash")
            return None
        return value

    def name(self, value: Any, where: str) -> Optional[str]:
        text = self.text(value, where, _NAME, "expected a name of letters, digits, '_', '.', '-' (1-63 characters, starting with a letter or digit)")
        if text is not None and "--" in text:
            self.problem(where, f"must not contain '--' (it separates the parts of run ids), got {_show(text)}")
            return None
        return text

    def size_mb(self, value: Any, where: str) -> Optional[int]:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if value <= 0:
                self.problem(where, f"must be positive, got {value}")
                return None
            return value
        match = _SIZE.match(str(value)) if isinstance(value, (str, float)) else None
        if not match:
            self.problem(where, f"expected a size like 8GB, 512MB or a number of megabytes, got {_show(value)}")
            return None
        unit = (match.group(2) or "").upper().rstrip("B").rstrip("I")
        megabytes = float(match.group(1)) * _SIZE_FACTORS_MB.get(unit, 1)
        if megabytes < 1:
            self.problem(where, f"is too small ({value}); give at least 1MB")
            return None
        return int(round(megabytes))

    def string_list(self, value: Any, where: str, pattern: re.Pattern, rule: str) -> Tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            self.problem(where, f"expected a list, got {_show(value)}")
            return ()
        out = []
        for i, item in enumerate(value):
            text = self.text(item, f"{where}[{i}]", pattern, rule)
            if text is not None:
                out.append(text)
        return tuple(out)

    def entries(self, value: Any, where: str) -> List[Tuple[str, Any]]:
        """A list of entries (each a mapping or, for shorthand, a bare name)."""
        if value is None:
            self.problem(where, "is required: give a list")
            return []
        if not isinstance(value, (list, tuple)):
            self.problem(where, f"expected a list, got {_show(value)}")
            return []
        if not value:
            self.problem(where, "must list at least one entry")
        return [(f"{where}[{i}]", item) for i, item in enumerate(value)]


def _given(data: Mapping[str, Any], key: str, default: Any) -> Any:
    """``data[key]``, or ``default`` when it is missing or null (``repeats:`` with no value)."""
    value = data.get(key)
    return default if value is None else value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 60, 60


def _show(value: Any) -> str:
    """A short, safe rendering of a user's value (bounded even for huge or shared structures)."""
    if isinstance(value, str):
        text = '"' + (value[:80] if len(value) > 80 else value).replace("\n", "\\n") + '"'
    else:
        text = _REPR.repr(value)
    text = shown(text)
    return text if len(text) <= 60 else text[:57] + "..."


def _location(check: _Checker, value: Any, where: str, what: str) -> Optional[str]:
    text = check.text(
        value, where, _SAFE_LOCATION,
        f"expected a {what} of letters, digits and . _ - / : @ % = ~ + (no spaces, quotes, commas or '$')",
    )
    return text


WORKLOAD_KEYS = ["name", "example", "options", "task", "command", "entry", "files", "data", "metrics",
                 "epochs", "max_samples", "determinism"]
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,63}$")
_ENTRY = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_./-]*\.py|[A-Za-z_][A-Za-z0-9_.]*):[A-Za-z_][A-Za-z0-9_]*$")


def _workload(check: _Checker, where: str, raw: Any, base_dir: Optional[Path] = None) -> Optional[Workload]:
    """One workload of any kind (see ``job/catalogue.py``): built-in (or a variant), command or entry."""
    if isinstance(raw, str):
        raw = {"name": raw}
    data = check.mapping(raw, where, WORKLOAD_KEYS, ["name"])
    name = check.name(data.get("name"), _join(where, "name"))
    given = [k for k in ("example", "command", "entry") if data.get(k) is not None]
    if len(given) > 1:
        check.problem(where, f"give one of example, command or entry, not {' and '.join(given)}")
        return None
    task = check.name(data.get("task"), _join(where, "task"))
    epochs = check.integer(data.get("epochs"), _join(where, "epochs"), 1, "15")
    max_samples = check.integer(data.get("max_samples"), _join(where, "max_samples"), 1, "1000")
    determinism = check.boolean(data.get("determinism"), _join(where, "determinism"))
    common = dict(task=task, determinism=True if determinism is None else determinism)
    if name is None:
        return None
    if given in (["command"], ["entry"]):
        for key in ("options", "epochs", "max_samples", "example"):
            if data.get(key) is not None:
                check.problem(_join(where, key), f"applies to built-in examples only; a {given[0]} workload reads its own settings")
        user = _user_workload(check, where, data, given[0], base_dir)
        return Workload(name, **common, **user) if user is not None else None
    example = _example(check, where, name, data)
    for key in ("files", "data"):
        if data.get(key) is not None:
            check.problem(_join(where, key), "applies to command and entry workloads; a built-in example ships its own code and reads data.inputs")
    if example is None:
        return None
    options = _options(check, where, example, data.get("options"))
    metrics = _builtin_metrics(check, _join(where, "metrics"), data.get("metrics"))
    return Workload(name, epochs, max_samples, example=None if example == name else example,
                    options=options, metrics=metrics, **common)


def _example(check: _Checker, where: str, name: str, data: Mapping[str, Any]) -> Optional[str]:
    example = data.get("example")
    key = "example" if example is not None else "name"
    example = name if example is None else example
    if example not in WORKLOAD_NAMES:
        close = difflib.get_close_matches(str(example), WORKLOAD_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        rest = "" if key == "example" else (
            ", name one with example:, or bring your own workload with command: or entry: (see docs/user-guide.md)")
        check.problem(_join(where, key), f"unknown workload {_show(example)}; choose one of {', '.join(WORKLOAD_NAMES)}{rest}{hint}")
        return None
    return str(example)


def _options(check: _Checker, where: str, example: str, raw: Any) -> Dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        check.problem(_join(where, "options"), f"expected a mapping like {{lstm_units: 32}}, got {_show(raw)}")
        return {}
    good, bad = catalogue.check_options(example, dict(raw))
    for key, message in bad.items():
        check.problem(f"{where}.options.{key}", message)
    return dict(sorted(good.items()))


def _builtin_metrics(check: _Checker, where: str, raw: Any) -> Optional[Metrics]:
    if raw is None:
        return None
    data = check.mapping(raw, where, ["primary", "higher_is_better"], ["primary"])
    primary = data.get("primary")
    if primary is None:
        return None
    if primary not in catalogue.BUILTIN_METRICS:
        check.problem(_join(where, "primary"), f"a built-in example records {', '.join(catalogue.BUILTIN_METRICS)}; got {_show(primary)}")
        return None
    direction = catalogue.BUILTIN_METRICS[primary]
    given = check.boolean(data.get("higher_is_better"), _join(where, "higher_is_better"))
    if given is not None and given != direction:
        check.problem(_join(where, "higher_is_better"), f"{primary} is better when {'higher' if direction else 'lower'}; set {str(direction).lower()} or leave it out")
    return Metrics(primary, direction)


def _user_metrics(check: _Checker, where: str, raw: Any) -> Optional[Metrics]:
    if raw is None:
        check.problem(where, "is required for your own workload: give {primary: accuracy, higher_is_better: true} (the metric in metrics.json that judges a run)")
        return None
    data = check.mapping(raw, where, ["primary", "higher_is_better"], ["primary", "higher_is_better"])
    primary = check.text(data.get("primary"), _join(where, "primary"), _METRIC, "expected a metric name like accuracy or val_loss")
    higher = check.boolean(data.get("higher_is_better"), _join(where, "higher_is_better"))
    if primary is None or higher is None:
        return None
    return Metrics(primary, higher)


def _command(check: _Checker, where: str, raw: Any) -> Tuple[str, ...]:
    if isinstance(raw, str):
        try:
            raw = shlex.split(raw)
        except ValueError as err:
            check.problem(where, f"cannot split the command: {err}; give it as a list like [python, train.py]")
            return ()
    if not isinstance(raw, (list, tuple)) or not raw:
        check.problem(where, f"expected the command as a non-empty list like [python, train.py, --epochs, \"3\"], got {_show(raw)}")
        return ()
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            check.problem(f"{where}[{i}]", f"expected a string, got {_show(item)}")
        elif any(ord(ch) < 32 for ch in str(item)):
            check.problem(f"{where}[{i}]", "must not contain newlines, tabs or other control characters")
        else:
            out.append(str(item))
    return tuple(out)


def _user_workload(check: _Checker, where: str, data: Mapping[str, Any], kind: str,
                   base_dir: Optional[Path]) -> Optional[Dict[str, Any]]:
    """The fields of a command or entry workload; shipped files checked against ``base_dir``."""
    files = list(check.string_list(data.get("files"), _join(where, "files"), usercode.SAFE_FILE, usercode.SAFE_FILE_RULE))
    raw_files = data.get("files") if isinstance(data.get("files"), (list, tuple)) else [data.get("files")]
    for i, item in enumerate(raw_files):
        if item in catalogue.RESERVED_FILES:
            check.problem(f"{where}.files[{i}]", f"{item} is a name the job itself uses; rename the file")
    if len(set(files)) != len(files):
        check.problem(_join(where, "files"), "lists a file twice")
    command: Tuple[str, ...] = ()
    entry = None
    if kind == "command":
        command = _command(check, _join(where, "command"), data.get("command"))
    else:
        entry = check.text(data.get("entry"), _join(where, "entry"), _ENTRY,
                           "expected FILE.py:FUNCTION (a file in files) or module:FUNCTION, like train.py:main")
        module_file = entry.split(":", 1)[0] if entry and entry.split(":", 1)[0].endswith(".py") else None
        if module_file and usercode.path_problem(module_file):  # the rule files: follows, for validate and render
            check.problem(_join(where, "entry"), f"ships {usercode.path_problem(module_file)}")
        elif module_file and module_file not in files:
            files.append(module_file)
    inputs = [i for i in (_input(check, item, f"{where}.data[{n}]") for n, item in enumerate(_list(check, data.get("data"), _join(where, "data")))) if i]
    metrics = _user_metrics(check, _join(where, "metrics"), data.get("metrics"))
    if base_dir is not None:
        for problem_where, message in usercode.check_shipped(Path(base_dir), files, entry):
            check.problem(f"{where}.{problem_where}", message)
    if metrics is None or (kind == "command" and not command) or (kind == "entry" and not entry):
        return None
    return dict(command=command, entry=entry, files=tuple(files), data=tuple(inputs), metrics=metrics)


def _list(check: _Checker, value: Any, where: str) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        check.problem(where, f"expected a list of paths or URLs, got {_show(value)}")
        return []
    return list(value)


def _input(check: _Checker, item: Any, where: str) -> Optional[str]:
    """A data input: a safe local path or a URL of a scheme HTCondor can transfer."""
    text = _location(check, item, where, "path or URL")
    if text is None:
        return None
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme and scheme not in ("osdf", "https", "http", "pelican", "file"):
        check.problem(where, f"unsupported URL scheme {scheme!r}; use osdf://, https:// or a local path")
        return None
    return text


def _image(check: _Checker, value: Any, where: str) -> Optional[str]:
    text = _location(check, value, where, "container image")
    if text is None:
        return None
    if text.startswith("docker://"):
        if not re.match(r"^docker://[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$", text):
            check.problem(where, f"expected a docker reference like docker://tensorflow/tensorflow:2.8.0-gpu, got {_show(text)}")
            return None
    elif text.startswith("osdf://"):
        if not text.startswith("osdf:///") or not text.endswith(".sif"):
            check.problem(where, f"expected an OSDF image URL like osdf:///ospool/ap40/data/USER/tf.sif, got {_show(text)}")
            return None
    elif text.startswith("/cvmfs/"):
        pass
    elif not text.endswith(".sif"):
        check.problem(
            where,
            f"expected docker://..., osdf:///....sif, a /cvmfs/... path or a .sif file, got {_show(text)}",
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


def _reported_under(check: _Checker, where: str) -> bool:
    """Whether a problem was already reported at or under ``where``."""
    return any(p.where == where or p.where.startswith(where + ".") or p.where.startswith(where + "[") for p in check.problems)


def _local_stack(check: _Checker, where: str, raw: Any) -> Optional[LocalStack]:
    """``software[i].local``: packages (pip requirements) and environment variables."""
    if raw is None:
        return None
    data = check.mapping(raw, where, ["packages", "env"])
    packages = check.string_list(
        data.get("packages"), _join(where, "packages"), _REQUIREMENT,
        "expected a package requirement like tensorflow-cpu==2.15.1 or jax[cpu]>=0.4 "
        "(no spaces, URLs, paths or pip options)")
    env: Dict[str, str] = {}
    raw_env = data.get("env")
    if raw_env is not None and not isinstance(raw_env, Mapping):
        check.problem(_join(where, "env"), f"expected a mapping like {{KERAS_BACKEND: jax}}, got {_show(raw_env)}")
    for key, value in (raw_env or {}).items() if isinstance(raw_env, Mapping) else ():
        at = f"{where}.env.{key}"
        name = check.text(key, _join(where, "env"), _ENV_NAME, "expected a variable name like KERAS_BACKEND")
        text = check.text(value, at, _ENV_VALUE, "expected a value of letters, digits, spaces and _ . , : / = + @ % -")
        if name is not None and (name in _RESERVED_ENV or name.startswith(_RESERVED_PREFIXES)):
            check.problem(at, "is refused: it belongs to the starter or the job, or would run or redirect code "
                              "before the job's (PATH, HOME, PYTHON*, LD_*, BASH_ENV, ENV, _CONDOR_*, REPROGRID_*); remove it")
        elif name is not None and text is not None:
            env[name] = text
    if not packages and not env and not _reported_under(check, where):
        check.problem(where, "declare packages (e.g. [tensorflow-cpu==2.15.1]) and/or env; or remove `local`")
    return LocalStack(tuple(packages), env)


def _software(check: _Checker, where: str, raw: Any) -> Optional[SoftwareEnv]:
    data = check.mapping(raw, where, ["name", "image", "versions", "local_python", "description", "local"], ["name", "image"])
    name = check.name(data.get("name"), _join(where, "name"))
    image = _image(check, data.get("image"), _join(where, "image")) if data.get("image") is not None else None
    versions: Dict[str, str] = {}
    raw_versions = data.get("versions")
    if raw_versions is not None:
        if not isinstance(raw_versions, Mapping):
            check.problem(_join(where, "versions"), f"expected a mapping like {{tensorflow: 2.8.0, cuda: '11.2'}}, got {_show(raw_versions)}")
        else:
            for key, value in raw_versions.items():
                text = check.text(value, f"{where}.versions.{key}", re.compile(r"^[A-Za-z0-9._+-]{1,40}$"), "expected a version like 2.8.0")
                if check.text(key, f"{where}.versions", re.compile(r"^[a-z][a-z0-9_]{0,30}$"), "expected a lower-case key like tensorflow") and text is not None:
                    versions[key] = text
    local_python = check.text(data.get("local_python"), _join(where, "local_python"))
    description = check.text(data.get("description"), _join(where, "description")) or ""
    local = _local_stack(check, _join(where, "local"), data.get("local"))
    if name is None or image is None:
        return None
    return SoftwareEnv(name, image, versions, local_python, description, local)


def _cpu(check: _Checker, where: str, raw: Any) -> Optional[CpuPin]:
    if raw is None:
        return None
    allowed = ["vendor", "family", "model_number", "model", "microarch", "min_microarch", "flags", "without_flags"]
    data = check.mapping(raw, where, allowed)
    vendor = data.get("vendor")
    if vendor is not None:
        vendor = str(vendor).lower()
        if vendor not in CPU_VENDORS:
            check.problem(_join(where, "vendor"), f"expected amd or intel, got {_show(data.get('vendor'))}")
            vendor = None
    family = check.integer(data.get("family"), _join(where, "family"), 0, "23")
    model_number = check.integer(data.get("model_number"), _join(where, "model_number"), 0, "49")
    model = check.text(data.get("model"), _join(where, "model"))
    levels = []
    for key in ("microarch", "min_microarch"):
        value = data.get(key)
        if value is not None and value not in MICROARCH_LEVELS:
            check.problem(_join(where, key), f"expected one of {', '.join(MICROARCH_LEVELS)}, got {_show(value)}")
            value = None
        levels.append(value)
    rule = "expected a lower-case /proc/cpuinfo flag like avx512f"
    flags = check.string_list(data.get("flags"), _join(where, "flags"), _FLAG, rule)
    without = check.string_list(data.get("without_flags"), _join(where, "without_flags"), _FLAG, rule)
    if vendor and family is not None and family not in CPU_VENDORS[vendor]:
        check.problem(_join(where, "family"), f"CPU family {family} is not a {vendor} family ({', '.join(map(str, CPU_VENDORS[vendor]))})")
    if set(flags) & set(without):
        check.problem(_join(where, "without_flags"), f"{', '.join(sorted(set(flags) & set(without)))} is both required and excluded")
    return CpuPin(vendor, family, model_number, model, levels[0], levels[1], flags, without)


def _gpu(check: _Checker, where: str, raw: Any) -> Optional[GpuPin]:
    if raw is None:
        return None
    if raw is True:
        raw = {}
    allowed = ["count", "device_name", "capability", "min_capability", "max_capability", "min_memory_mb"]
    data = check.mapping(raw, where, allowed)
    count = check.integer(data.get("count"), _join(where, "count"), 1, "1")
    caps = [check.number(data.get(k), _join(where, k), "8.0") for k in ("capability", "min_capability", "max_capability")]
    if caps[0] is not None and (caps[1] is not None or caps[2] is not None):
        check.problem(_join(where, "capability"), "give either capability (exact) or min_capability/max_capability, not both")
    if caps[1] is not None and caps[2] is not None and caps[1] > caps[2]:
        check.problem(_join(where, "min_capability"), f"{caps[1]} is above max_capability {caps[2]}")
    memory = check.integer(data.get("min_memory_mb"), _join(where, "min_memory_mb"), 1, "40000")
    device = check.text(data.get("device_name"), _join(where, "device_name"))
    return GpuPin(count or 1, device, caps[0], caps[1], caps[2], memory)


def _hardware(check: _Checker, where: str, raw: Any) -> Optional[HardwareEnv]:
    allowed = ["name", "cpu", "gpu", "sites", "os", "requirements", "description"]
    data = check.mapping(raw, where, allowed, ["name"])
    name = check.name(data.get("name"), _join(where, "name"))
    cpu = _cpu(check, _join(where, "cpu"), data.get("cpu"))
    gpu = _gpu(check, _join(where, "gpu"), data.get("gpu"))
    sites = check.string_list(data.get("sites"), _join(where, "sites"), re.compile(r"^[A-Za-z0-9_.-]{1,64}$"), "expected a GLIDEIN_Site name like UChicago")
    os_string = check.text(data.get("os"), _join(where, "os"), re.compile(r"^[A-Za-z0-9 ._-]{1,40}$"), "expected an OSG_OS_STRING like 'RHEL 9'")
    requirements = check.text(data.get("requirements"), _join(where, "requirements"))
    if requirements is not None:
        from reprogrid.condor.bindings import parse_expression

        try:
            parse_expression(requirements)
        except ValueError:
            check.problem(_join(where, "requirements"), f"is not one valid ClassAd expression: {_show(requirements)}; check parentheses and quotes")
            requirements = None
        if requirements is not None and "$" in requirements:
            check.problem(_join(where, "requirements"), "must not contain '$' (submit macros are not allowed in a pin)")
            requirements = None
    description = check.text(data.get("description"), _join(where, "description")) or ""
    if name is None:
        return None
    return HardwareEnv(name, cpu, gpu, sites, os_string, requirements, description)


def _unique_slugs(check: _Checker, where: str, names: Sequence[Tuple[str, str]]) -> None:
    seen: Dict[str, str] = {}
    for path, name in names:
        key = slug(name).lower()
        if key in seen:
            check.problem(path, f"{name!r} clashes with {seen[key]!r} (names must stay distinct with '.' read as '_' and case ignored)")
        else:
            seen[key] = name


STUDY_KEYS = [
    "name", "description", "seed", "seed_per_repeat", "repeats", "workloads", "software", "hardware",
    "resources", "data", "retries", "throttles", "pool", "output",
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


def _check_size(check: "_Checker", counts: Tuple[int, int, int], repeats: Optional[int], bound: int) -> None:
    """A study past the bound is refused at once, before anything expands or is written."""
    if repeats is None:
        return
    runs = counts[0] * counts[1] * counts[2] * repeats
    if repeats > bound or runs > bound:
        check.problem("repeats", f"the study expands to {max(runs, repeats):,} runs ({counts[0]} workloads x {counts[1]} software x "
                      f"{counts[2]} hardware x {repeats:,} repeats), over the bound of {bound:,}; lower repeats or the "
                      f"lists, or raise the bound with --max-runs N (or {MAX_RUNS_ENV}=N) if you mean it")


def study_from_dict(raw: Any, *, source: str = "study spec", base_dir: Optional[Union[str, Path]] = None,
                    max_runs: Optional[int] = None) -> Study:
    """Validate plain data (a parsed YAML file, or dicts from a notebook) into a Study.

    With ``base_dir`` (the spec's folder) every workload's shipped file must exist there
    and an entry's function must be defined. Raises ``UserError`` listing every problem,
    each with its path and the fix. A study of more than ``max_runs`` runs (default:
    :func:`max_runs_bound`) is refused before anything expands.
    """
    check = _Checker()
    data = check.mapping(raw, "", STUDY_KEYS, ["name", "workloads", "software", "hardware"])
    name = check.name(data.get("name"), "name")
    description = check.text(data.get("description"), "description", free=True) or ""
    seed = check.integer(_given(data, "seed", 1), "seed", 0, "1", maximum=2**31 - 1)
    seed_per_repeat = check.boolean(data.get("seed_per_repeat"), "seed_per_repeat")
    repeats = check.integer(_given(data, "repeats", 1), "repeats", 1, "5", maximum=None)  # bounded by the run count
    retries = check.integer(_given(data, "retries", 2), "retries", 0, "2")
    workloads, software, hardware = _matrix(check, data, None if base_dir is None else Path(base_dir))
    _check_size(check, (len(workloads), len(software), len(hardware)), repeats, max_runs_bound(max_runs))
    resources = _resources(check, data)
    inputs, sample = _data_inputs(check, data, workloads)
    throttles = _throttles(check, data)
    pool = _pool(check, data)
    destination = _destination(check, data)
    _hardware_pins_something(check, hardware)
    if check.problems:
        raise UserError.of(f"{source} is not valid", check.problems)
    return Study(
        name=name, workloads=tuple(workloads), software=tuple(software), hardware=tuple(hardware),
        repeats=repeats, seed=seed, seed_per_repeat=bool(seed_per_repeat), description=description,
        resources=resources, data=DataInputs(tuple(inputs), sample), retries=retries,
        throttles=throttles, pool=pool, output=Output(destination),
    )


def _matrix(check: _Checker, data: Mapping[str, Any], base_dir: Optional[Path] = None) -> Tuple[List[Workload], List[SoftwareEnv], List[HardwareEnv]]:
    """The three axes of the study, each entry checked, names unique once dots become ``_``."""
    entries = check.entries(data.get("workloads"), "workloads")
    workloads = [w for w in (_workload(check, p, r, base_dir) for p, r in entries) if w]
    software = [s for s in (_software(check, p, r) for p, r in check.entries(data.get("software"), "software")) if s]
    hardware = [h for h in (_hardware(check, p, r) for p, r in check.entries(data.get("hardware"), "hardware")) if h]
    _unique_slugs(check, "workloads", [(f"workloads[{i}].name", w.name) for i, w in enumerate(workloads)])
    _unique_slugs(check, "software", [(f"software[{i}].name", s.name) for i, s in enumerate(software)])
    _unique_slugs(check, "hardware", [(f"hardware[{i}].name", h.name) for i, h in enumerate(hardware)])
    return workloads, software, hardware


def _resources(check: _Checker, data: Mapping[str, Any]) -> Resources:
    res = check.mapping(data.get("resources"), "resources", ["cpus", "memory", "disk", "gpus"])
    return Resources(
        cpus=check.integer(res.get("cpus"), "resources.cpus", 1, "1") or 1,
        memory_mb=check.size_mb(res.get("memory"), "resources.memory") or Resources.memory_mb,
        disk_mb=check.size_mb(res.get("disk"), "resources.disk") or Resources.disk_mb,
        gpus=check.integer(res.get("gpus"), "resources.gpus", 1, "1"),
    )


def _data_inputs(check: _Checker, data: Mapping[str, Any], workloads: Sequence[Workload]) -> Tuple[List[str], bool]:
    """``data.inputs`` (safe paths or URLs of known schemes) and ``data.sample``; every
    workload's data file must be among the inputs unless the bundled samples are used."""
    raw_data = check.mapping(data.get("data"), "data", ["inputs", "sample"])
    inputs = []
    raw_inputs = raw_data.get("inputs") or []
    if not isinstance(raw_inputs, (list, tuple)):
        check.problem("data.inputs", f"expected a list of paths or URLs, got {_show(raw_inputs)}")
        raw_inputs = []
    for i, item in enumerate(raw_inputs):
        text = _input(check, item, f"data.inputs[{i}]")
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


def _throttles(check: _Checker, data: Mapping[str, Any]) -> Throttles:
    thr = check.mapping(data.get("throttles"), "throttles", ["max_jobs", "max_idle", "max_jobs_per_hardware"])
    return Throttles(
        check.integer(thr.get("max_jobs"), "throttles.max_jobs", 1, "100"),
        check.integer(thr.get("max_idle"), "throttles.max_idle", 1, "1000"),
        check.integer(thr.get("max_jobs_per_hardware"), "throttles.max_jobs_per_hardware", 1, "20"),
    )


def _pool(check: _Checker, data: Mapping[str, Any]) -> Pool:
    pool_raw = check.mapping(data.get("pool"), "pool", ["profile", "cpu_model_attribute"])
    profile = pool_raw.get("profile", "ospool")
    if profile not in POOL_PROFILES:
        check.problem("pool.profile", f"expected one of {', '.join(POOL_PROFILES)}, got {_show(profile)}")
        profile = "ospool"
    model_attr = check.text(pool_raw.get("cpu_model_attribute"), "pool.cpu_model_attribute", _ATTR,
                            "expected a ClassAd attribute name like OSGVO_CPU_MODEL")
    return Pool(profile, model_attr)


def _destination(check: _Checker, data: Mapping[str, Any]) -> Optional[str]:
    out_raw = check.mapping(data.get("output"), "output", ["destination"])
    destination = _location(check, out_raw.get("destination"), "output.destination", "URL")
    if destination is not None and not re.match(r"^(osdf|pelican|https?)://", destination):
        check.problem("output.destination", f"expected an osdf:// or https:// folder URL, got {_show(destination)}")
        return None
    return destination


def _hardware_pins_something(check: _Checker, hardware: Sequence[HardwareEnv]) -> None:
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
