"""Checks of a user's workload code on the submit side: shipped files exist, the entry is defined.

The entry's file is parsed with ``ast``, never imported, so validating a spec needs none
of the user's (heavy) dependencies. Pure functions returning problems as
``(where, message)`` pairs for the validator to report with the workload's path.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import List, Optional, Sequence, Set, Tuple

# A shipped file: a relative path of plain components (no '..', no hidden files, no spaces,
# commas or '$'), so it is inert wherever render writes it.
SAFE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+@=-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.+@=-]*)*$")
SAFE_FILE_RULE = ("expected a path relative to the spec of letters, digits and _ . + @ = - "
                  "(folders separated by '/', no '..', spaces, commas or '$')")


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
        path = base_dir / rel
        if not path.exists():
            problems.append((f"files[{i}]", f"{rel} does not exist in {base_dir}; shipped files are relative to the spec's folder"))
    if entry:
        message = entry_problem(base_dir, files, entry)
        if message:
            problems.append(("entry", message))
    return problems
