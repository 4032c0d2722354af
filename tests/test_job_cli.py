"""The job's command line through the zipapp, in subprocesses: selftest, a run, a failing run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from reprogrid.render.bundle import build_job_bundle  # noqa: E402
from reprogrid.job import record  # noqa: E402
from reprogrid.core.resources import sample_data_dir  # noqa: E402

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    return build_job_bundle(tmp_path_factory.mktemp("bundle"))


def test_selftest_passes(pyz, tmp_path):
    """Imports, parameter counts, determinism, and a real run on the one data file given."""
    shutil.copy(sample_data_dir() / "mnist.npz", tmp_path / "mnist.npz")
    proc = subprocess.run([sys.executable, str(pyz), "selftest", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] and checks["deterministic training"]["ok"]
    assert checks["params bidirectional_lstm_imdb"]["detail"] == 2757761
    assert checks["run mnist_convnet"]["ok"] and "run imbalanced_classification" not in checks
    assert Path(checks["run mnist_convnet"]["detail"]["record"]).suffix == ".parquet"


def test_failed_run_through_the_bundle(pyz, tmp_path):
    """Exit 1, the error on stderr naming the file, and a failure record (a good run: selftest above)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = subprocess.run([sys.executable, str(pyz), "run", "--workload", "imbalanced_classification", "--run-id", "bad",
                          "--study-id", "s1", "--output-dir", str(tmp_path / "results"), "--epochs", "1",
                          "--max-samples", "300", "--seed", "3", "--data-dir", str(empty)],
                         capture_output=True, text=True, timeout=300, env=ENV)
    assert bad.returncode == 1
    assert "creditcard.csv: file not found" in bad.stderr
    summary = json.loads(bad.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    failed = record.read_record(str(tmp_path / "results" / "bad.parquet"))
    assert failed["status"] == "failed" and failed["error_type"] == "DataError"
    assert (failed["max_samples"], failed["epochs"], failed["seed"], failed["study_id"]) == (300, 1, 3, "s1")


def test_fingerprint_command_prints_json(pyz):
    proc = subprocess.run([sys.executable, str(pyz), "fingerprint", "--no-tf"], capture_output=True, text=True,
                          timeout=60, env=ENV)
    assert proc.returncode == 0
    fp = json.loads(proc.stdout)
    assert fp["cpu"]["count"] >= 1 and "software" in fp
