"""The package's import contracts (setup.cfg [importlinter]) hold: stages import down the
flow only, the job side stays alone, and only reprogrid.condor.bindings imports HTCondor."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint).exists():
        pytest.fail("lint-imports is missing: pip install '.[dev]'")
    proc = subprocess.run([lint, "--config", str(ROOT / "setup.cfg"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout
    assert proc.stdout.count("KEPT") >= 3


def test_package_root_holds_few_modules():
    modules = sorted(p.name for p in (ROOT / "reprogrid").glob("*.py"))
    assert len(modules) <= 6, modules


def test_manifest_file_name_is_spelled_once():
    spelled = [p for p in (ROOT / "reprogrid").rglob("*.py")
               if '"manifest.json"' in p.read_text(encoding="utf-8")]
    assert [p.relative_to(ROOT).as_posix() for p in spelled] == ["reprogrid/tree.py"]


def test_no_function_hides_its_steps_in_more_than_80_lines():
    import ast

    long = []
    for path in sorted((ROOT / "reprogrid").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "unfold into named steps: " + "; ".join(long)


def test_every_package_init_says_what_it_owns_and_holds_no_logic():
    import ast

    for init in sorted((ROOT / "reprogrid").rglob("__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{init.relative_to(ROOT)} has no docstring"
        if init.parent.name in ("reprogrid", "job", "commands"):
            continue  # the lazy notebook API, the job bundle's package, the CLI's command list
        logic = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.If))]
        assert not logic, f"{init.relative_to(ROOT)} holds logic: re-export from a module instead"
