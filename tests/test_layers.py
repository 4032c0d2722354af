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
