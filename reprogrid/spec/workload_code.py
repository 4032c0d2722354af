"""Checks of a user's workload code on the submit side: shipped files exist, the entry is defined.

The entry's file is parsed with ``ast``, never imported, so validating a spec needs none
of the user's (heavy) dependencies. Pure functions returning problems as
``(where, message)`` pairs for the validator to report with the workload's path.
"""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import List, Optional, Sequence, Set, Tuple

# A shipped file: a relative path of plain components (no '..', no hidden files, no spaces,
# commas or '$'), so it is inert wherever render writes it.
SAFE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+@=-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.+@=-]*)*$")
SAFE_FILE_RULE = ("expected a path relative to the spec of letters, digits and _ . + @ = - "
                  "(folders separated by '/', no '..', spaces, commas or '$')")


def path_problem(rel: str) -> Optional[str]:
    """What is wrong with ``rel`` as a shipped path (``files:`` item or an entry's file), or None:
    the one path rule validate and render share."""
    return None if SAFE_FILE.match(rel) else f"{rel!r}: {SAFE_FILE_RULE}"


def shipped_files(base_dir: Path, rel: str) -> Tuple[List[Tuple[str, Path]], List[str]]:
    """The files a ``files:`` item ships, as ``(path in the workload folder, source)`` pairs,
    and what is wrong (the one check validate and render share).

    A folder ships its files (``__pycache__`` left out). A symlink is shipped as the file it
    names when that resolves inside the spec's folder; one resolving outside it (``/etc/...``,
    ``../secret``) is refused, as is anything that is neither a file nor a folder (a FIFO, a device).
    """
    problem = path_problem(rel)
    if problem:
        return [], [problem]
    base = Path(os.path.realpath(base_dir))
    source = Path(base_dir) / rel
    if not source.exists():
        return [], [f"{rel} does not exist in {base_dir}; shipped files are relative to the spec's folder"]
    out: List[Tuple[str, Path]] = []
    problems: List[str] = []
    pending = [(rel, source)]
    seen: Set[str] = set()
    while pending:
        name, path = pending.pop()
        real = os.path.realpath(path)
        if real != str(base) and not real.startswith(str(base) + os.sep):
            problems.append(f"{name} is a symlink to {real}, outside the spec's folder {base}; copy the file "
                            "into the folder (nothing outside it is shipped)")
        elif os.path.isdir(real):
            if real not in seen:  # a link back up the tree is walked once
                seen.add(real)
                pending += [(f"{name}/{child}", path / child) for child in sorted(os.listdir(real), reverse=True)
                            if child != "__pycache__"]
        elif os.path.isfile(real):
            out.append((name, Path(real)))
        else:
            problems.append(f"{name} is not a regular file (a FIFO, socket or device); ship regular files only")
    return out, problems


def top_level_names(source: str, filename: str = "<file>") -> Set[str]:
    """Names a module defines at its top level: functions, classes, assignments, imports."""
    tree = ast.parse(source, filename=filename)
    names: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _entry_file(base_dir: Path, files: Sequence[str], module: str) -> Optional[str]:
    """The shipped file an entry's module lives in (None: a module of the container)."""
    if module.endswith(".py"):
        return module
    stem = module.replace(".", "/")
    for candidate in (stem + ".py", stem + "/__init__.py"):
        if any(candidate == f or candidate.startswith(f.rstrip("/") + "/") for f in files):
            return candidate
    return None


def entry_problem(base_dir: Path, files: Sequence[str], entry: str) -> Optional[str]:
    """What is wrong with ``entry`` (``FILE.py:NAME`` or ``module:NAME``), or None."""
    module, _, function = entry.partition(":")
    rel = _entry_file(base_dir, files, module)
    if rel is None:
        return None  # a module of the container image: checked when the job imports it
    path = base_dir / rel
    if not path.is_file():
        return None  # reported as a missing shipped file
    try:
        names = top_level_names(path.read_text(encoding="utf-8"), str(path))
    except SyntaxError as err:
        return f"{rel} does not parse: {err.msg} at line {err.lineno}; fix the file"
    except (OSError, UnicodeDecodeError) as err:
        return f"cannot read {rel}: {err}"
    if function not in names:
        defined = sorted(n for n in names if not n.startswith("_"))
        hint = f" (it defines {', '.join(defined[:8])})" if defined else ""
        return f"{function!r} is not defined at the top level of {rel}{hint}; add `def {function}(seed, determinism, data_dir, output_dir):` or fix the entry"
    return None


def check_shipped(base_dir: Path, files: Sequence[str], entry: Optional[str]) -> List[Tuple[str, str]]:
    """Problems with a workload's shipped files (relative to ``base_dir``) and its entry."""
    problems: List[Tuple[str, str]] = []
    for i, rel in enumerate(files):
        problems += [(f"files[{i}]", message) for message in shipped_files(base_dir, rel)[1]]
    if entry:
        message = entry_problem(base_dir, files, entry)
        if message:
            problems.append(("entry", message))
    return problems


SCRIPT_SUFFIXES = (".py", ".sh", ".r", ".jl", ".pl", ".ipynb")


def _shipped(rel: str, files: Sequence[str]) -> bool:
    rel = rel[2:] if rel.startswith("./") else rel
    return any(rel == f.rstrip("/") or rel.startswith(f.rstrip("/") + "/") for f in files)


def command_problems(base_dir: Path, files: Sequence[str], command: Sequence[str],
                     data: Sequence[str] = ()) -> List[Tuple[str, str]]:
    """A command's scripts that are not shipped: an argument that is a file in the spec's folder,
    or names a script (``.py``, ``.sh``...), but is not in ``files:`` (nor a data input), would be
    missing from every job's sandbox."""
    problems: List[Tuple[str, str]] = []
    inputs = {Path(d).name for d in data}
    for i, arg in enumerate(command):
        if i == 0 and "/" not in arg and not arg.lower().endswith(SCRIPT_SUFFIXES):
            continue  # the program (python, bash, Rscript) comes from the container
        if arg.startswith("-") or "://" in arg or "=" in arg or os.path.isabs(arg) or _shipped(arg, files):
            continue
        looks_like_script = arg.lower().endswith(SCRIPT_SUFFIXES)
        in_folder = (base_dir / arg).is_file()
        if (looks_like_script or in_folder) and Path(arg).name not in inputs:
            where = f"{arg} is in {base_dir}" if in_folder else f"{arg} is not in {base_dir} either"
            problems.append((f"command[{i}]", f"runs {arg!r}, which `files:` does not ship ({where}); every job would "
                                              f"fail with \"can't open file\": add {arg} to files"))
    return problems


# -- `reprogrid init --workload`: a spec around a user's script ------------------------

ENTRY_ARGS = ("seed", "determinism", "data_dir", "output_dir")


def entry_functions(source: str) -> List[str]:
    """Top-level functions that take the entry contract's keyword arguments (``seed`` ... ``output_dir``)."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            args = node.args
            names = {a.arg for a in args.args + args.kwonlyargs}
            if set(ENTRY_ARGS) <= names or (args.kwarg is not None and "seed" in names):
                out.append(node.name)
    return out


def local_imports(script: Path) -> List[str]:
    """Sibling modules the script imports (``import model_utils`` with model_utils.py beside it)."""
    found: List[str] = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        for name in names:
            candidate = script.parent / (name.split(".")[0] + ".py")
            if candidate.is_file() and candidate != script and candidate.name not in found:
                found.append(candidate.name)
    return found


_SPEC_TEMPLATE = """\
# reprogrid study around {script_name} (written by `reprogrid init --workload`).
# Edit the metric, the software images and the hardware, then:
#   reprogrid validate {spec_name}
#   reprogrid render {spec_name} -o submit/{name}
#   reprogrid dryrun submit/{name}/study.dag     # locally, schedd emulated
# The contract your code keeps is in docs/user-guide.md ("Your own workload").
name: {name}
description: {script_name} across hardware and software environments.
seed: 1
repeats: 2
workloads:
- name: {name}
{form}  files: [{files}]          # shipped with each job; paths relative to this file
  metrics: {{primary: {metric}, higher_is_better: {higher}}}
software:                                # the image must hold your code's dependencies
- name: tf-2.21-cpu
  image: docker://tensorflow/tensorflow:2.21.0
hardware:                                # pins: see docs/hardware-pins.md
- name: amd-zen3
  cpu: {{vendor: amd, family: 25, model_number: 1}}
- name: intel-skylake-sp
  cpu: {{vendor: intel, family: 6, model_number: 85}}
resources:
  cpus: 1
  memory: 2GB
  disk: 2GB
"""


def workload_spec_yaml(script: Path, spec_dir: Path, *, metric: str = "accuracy", higher_is_better: bool = True,
                       entry: Optional[str] = None, name: Optional[str] = None, spec_name: str = "study.yaml") -> str:
    """A study spec (YAML text) that runs ``script``: an entry when it defines a function with the
    contract's arguments (or ``entry`` names one), else a command; sibling modules it imports ship too."""
    rel = Path(os.path.relpath(script.resolve(), spec_dir.resolve())).as_posix()
    source = script.read_text(encoding="utf-8")
    if entry is None and script.suffix == ".py":
        found = entry_functions(source)
        entry = "main" if "main" in found else (found[0] if found else None)
    siblings = local_imports(script) if script.suffix == ".py" else []
    prefix = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    files = [rel] + [prefix + s for s in siblings]
    if entry:
        form = f"  entry: {rel}:{entry}             # called with seed, determinism, data_dir, output_dir\n"
    else:
        argv = ["python", rel] if script.suffix == ".py" else [rel if "/" in rel else "./" + rel]
        form = f"  command: [{', '.join(argv)}]   # writes $REPROGRID_OUTPUT_DIR/metrics.json\n"
    name = name or re.sub(r"[^A-Za-z0-9_-]+", "-", script.stem).strip("-_") or "my-workload"
    return _SPEC_TEMPLATE.format(script_name=script.name, spec_name=spec_name, name=name, form=form,
                                 files=", ".join(files), metric=metric, higher=str(higher_is_better).lower())
