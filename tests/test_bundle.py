"""The job bundle: deterministic zipapp bytes, the job modules inside, runnable with python3."""
from __future__ import annotations

import subprocess
import sys
import zipfile

from reprogrid.render import bundle


def test_bundle_is_byte_identical_across_builds(tmp_path):
    a = bundle.build_job_bundle(tmp_path / "a")
    b = bundle.build_job_bundle(tmp_path / "b")
    assert a.name == "reprogrid-job.pyz"
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_mode & 0o111


def test_bundle_contents(tmp_path):
    path = bundle.build_job_bundle(tmp_path)
    assert path.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {"__main__.py", "reprogrid/__init__.py", "reprogrid/job/cli.py", "reprogrid/job/schema.py",
                "reprogrid/job/workloads.py"} <= set(names)
        assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        stub = archive.read("reprogrid/__init__.py").decode()
        assert "__version__" in stub and "import" not in stub


def test_bundle_help_runs_without_tensorflow_import(tmp_path):
    path = bundle.build_job_bundle(tmp_path)
    proc = subprocess.run([sys.executable, str(path), "run", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "--max-samples" in proc.stdout and "--no-determinism" in proc.stdout
    bad = subprocess.run([sys.executable, str(path), "run", "--workload", "nope", "--run-id", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a built-in example" in bad.stderr and "--example or --kind" in bad.stderr
