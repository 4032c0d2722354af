"""Validation of a study's workloads: built-in examples and their options, metrics, a user's command or entry.

Part of the spec validator (``validate``): each function checks one workload entry with
the shared :class:`~reprogrid.spec.checker.Checker` and returns the dataclass or None.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from reprogrid.job import catalogue
from reprogrid.job.catalogue import WORKLOAD_NAMES
from reprogrid.spec import workload_code
from reprogrid.spec.checker import Checker, as_list, data_input, join, show
from reprogrid.spec.definitions import Metrics, Workload


WORKLOAD_KEYS = ["name", "example", "options", "task", "command", "entry", "files", "data", "metrics",
                 "epochs", "max_samples", "determinism"]
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,63}$")
_ENTRY = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_./-]*\.py|[A-Za-z_][A-Za-z0-9_.]*):[A-Za-z_][A-Za-z0-9_]*$")


def workload_entry(check: Checker, where: str, raw: Any, base_dir: Optional[Path] = None) -> Optional[Workload]:
    """One workload of any kind (see ``job/catalogue.py``): built-in (or a variant), command or entry."""
    if isinstance(raw, str):
        raw = {"name": raw}
    data = check.mapping(raw, where, WORKLOAD_KEYS, ["name"])
    name = check.name(data.get("name"), join(where, "name"))
    given = [k for k in ("example", "command", "entry") if data.get(k) is not None]
    if len(given) > 1:
        check.problem(where, f"give one of example, command or entry, not {' and '.join(given)}")
        return None
    task = check.name(data.get("task"), join(where, "task"))
    epochs = check.integer(data.get("epochs"), join(where, "epochs"), 1, "15")
    max_samples = check.integer(data.get("max_samples"), join(where, "max_samples"), 1, "1000")
    determinism = check.boolean(data.get("determinism"), join(where, "determinism"))
    common = dict(task=task, determinism=True if determinism is None else determinism)
    if name is None:
        return None
    if given in (["command"], ["entry"]):
        for key in ("options", "epochs", "max_samples", "example"):
            if data.get(key) is not None:
                check.problem(join(where, key), f"applies to built-in examples only; a {given[0]} workload reads its own settings")
        user = _user_workload(check, where, data, given[0], base_dir)
        return Workload(name, **common, **user) if user is not None else None
    example = _example(check, where, name, data)
    for key in ("files", "data"):
        if data.get(key) is not None:
            check.problem(join(where, key), "applies to command and entry workloads; a built-in example ships its own code and reads data.inputs")
    if example is None:
        return None
    options = _options(check, where, example, data.get("options"))
    metrics = _builtin_metrics(check, join(where, "metrics"), data.get("metrics"))
    return Workload(name, epochs, max_samples, example=None if example == name else example,
                    options=options, metrics=metrics, **common)


def _example(check: Checker, where: str, name: str, data: Mapping[str, Any]) -> Optional[str]:
    example = data.get("example")
    key = "example" if example is not None else "name"
    example = name if example is None else example
    if example not in WORKLOAD_NAMES:
        from difflib import get_close_matches  # late: only a misspelt name needs it

        close = get_close_matches(str(example), WORKLOAD_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        rest = "" if key == "example" else (
            ", name one with example:, or bring your own workload with command: or entry: (see docs/user-guide.md)")
        check.problem(join(where, key), f"unknown workload {show(example)}; choose one of {', '.join(WORKLOAD_NAMES)}{rest}{hint}")
        return None
    return str(example)


def _options(check: Checker, where: str, example: str, raw: Any) -> Dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        check.problem(join(where, "options"), f"expected a mapping like {{lstm_units: 32}}, got {show(raw)}")
        return {}
    good, bad = catalogue.check_options(example, dict(raw))
    for key, message in bad.items():
        check.problem(f"{where}.options.{key}", message)
    return dict(sorted(good.items()))


def _builtin_metrics(check: Checker, where: str, raw: Any) -> Optional[Metrics]:
    if raw is None:
        return None
    data = check.mapping(raw, where, ["primary", "higher_is_better"], ["primary"])
    primary = data.get("primary")
    if primary is None:
        return None
    if primary not in catalogue.BUILTIN_METRICS:
        check.problem(join(where, "primary"), f"a built-in example records {', '.join(catalogue.BUILTIN_METRICS)}; got {show(primary)}")
        return None
    direction = catalogue.builtin_direction(primary)
    given = check.boolean(data.get("higher_is_better"), join(where, "higher_is_better"))
    if given is not None and given != direction:
        check.problem(join(where, "higher_is_better"), f"{primary} is better when {'higher' if direction else 'lower'}; set {str(direction).lower()} or leave it out")
    return Metrics(primary, direction)


def _user_metrics(check: Checker, where: str, raw: Any) -> Optional[Metrics]:
    if raw is None:
        check.problem(where, "is required for your own workload: give {primary: accuracy, higher_is_better: true} (the metric in metrics.json that judges a run)")
        return None
    data = check.mapping(raw, where, ["primary", "higher_is_better"], ["primary", "higher_is_better"])
    primary = check.text(data.get("primary"), join(where, "primary"), _METRIC, "expected a metric name like accuracy or val_loss")
    higher = check.boolean(data.get("higher_is_better"), join(where, "higher_is_better"))
    if primary is None or higher is None:
        return None
    return Metrics(primary, higher)


def _command(check: Checker, where: str, raw: Any) -> Tuple[str, ...]:
    if isinstance(raw, str):
        try:
            raw = shlex.split(raw)
        except ValueError as err:
            check.problem(where, f"cannot split the command: {err}; give it as a list like [python, train.py]")
            return ()
    if not isinstance(raw, (list, tuple)) or not raw:
        check.problem(where, f"expected the command as a non-empty list like [python, train.py, --epochs, \"3\"], got {show(raw)}")
        return ()
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            check.problem(f"{where}[{i}]", f"expected a string, got {show(item)}")
        elif any(ord(ch) < 32 for ch in str(item)):
            check.problem(f"{where}[{i}]", "must not contain newlines, tabs or other control characters")
        else:
            out.append(str(item))
    return tuple(out)


def _user_workload(check: Checker, where: str, data: Mapping[str, Any], kind: str,
                   base_dir: Optional[Path]) -> Optional[Dict[str, Any]]:
    """The fields of a command or entry workload; shipped files checked against ``base_dir``."""
    files = list(check.string_list(data.get("files"), join(where, "files"), workload_code.SAFE_FILE, workload_code.SAFE_FILE_RULE))
    raw_files = data.get("files") if isinstance(data.get("files"), (list, tuple)) else [data.get("files")]
    for i, item in enumerate(raw_files):
        if item in catalogue.RESERVED_FILES:
            check.problem(f"{where}.files[{i}]", f"{item} is a name the job itself uses; rename the file")
    if len(set(files)) != len(files):
        check.problem(join(where, "files"), "lists a file twice")
    command: Tuple[str, ...] = ()
    entry = None
    if kind == "command":
        command = _command(check, join(where, "command"), data.get("command"))
    else:
        entry = check.text(data.get("entry"), join(where, "entry"), _ENTRY,
                           "expected FILE.py:FUNCTION (a file in files) or module:FUNCTION, like train.py:main")
        module_file = entry.split(":", 1)[0] if entry and entry.split(":", 1)[0].endswith(".py") else None
        if module_file and workload_code.path_problem(module_file):  # the rule files: follows, for validate and render
            check.problem(join(where, "entry"), f"ships {workload_code.path_problem(module_file)}")
        elif module_file and module_file not in files:
            files.append(module_file)
    inputs = [i for i in (data_input(check, item, f"{where}.data[{n}]") for n, item in enumerate(as_list(check, data.get("data"), join(where, "data")))) if i]
    metrics = _user_metrics(check, join(where, "metrics"), data.get("metrics"))
    if base_dir is not None:
        for problem_where, message in workload_code.check_shipped(Path(base_dir), files, entry):
            check.problem(f"{where}.{problem_where}", message)
        for problem_where, message in workload_code.command_problems(Path(base_dir), files, command or (), inputs):
            check.problem(f"{where}.{problem_where}", message)
    if metrics is None or (kind == "command" and not command) or (kind == "entry" and not entry):
        return None
    return dict(command=command, entry=entry, files=tuple(files), data=tuple(inputs), metrics=metrics)
