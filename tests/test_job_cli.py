"""The job's command line through the zipapp, in subprocesses: selftest, a run, a failing run."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

from reprogrid.bundle import build_job_bundle  # noqa: E402
from reprogrid.job import record  # noqa: E402
from reprogrid.resources import sample_data_dir  # noqa: E402

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    return build_job_bundle(tmp_path_factory.mktemp("bundle"))


def test_selftest_passes(pyz):
    proc = subprocess.run([sys.executable, str(pyz), "selftest"], capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] and checks["deterministic training"]["ok"]
    assert checks["params bidirectional_lstm_imdb"]["detail"] == 2757761


def test_run_and_failed_run_through_the_bundle(pyz, tmp_path):
    base = [sys.executable, str(pyz), "run", "--workload", "imbalanced_classification", "--study-id", "s1",
            "--output-dir", str(tmp_path / "results"), "--epochs", "1", "--max-samples", "300", "--seed", "3",
            "--verbose", "0"]
    ok = subprocess.run(base + ["--run-id", "good", "--data-dir", str(sample_data_dir())],
                        capture_output=True, text=True, timeout=300, env=ENV)
    assert ok.returncode == 0, ok.stderr[-2000:]
    summary = json.loads(ok.stdout.strip().splitlines()[-1])
    assert summary["status"] == "ok" and summary["sample_data"] is True
    rec = record.read_record(summary["record"])
    assert rec["max_samples"] == 300 and rec["epochs"] == 1 and rec["seed"] == 3

    empty = tmp_path / "empty"
    empty.mkdir()
    bad = subprocess.run(base + ["--run-id", "bad", "--data-dir", str(empty)], capture_output=True, text=True,
                         timeout=300, env=ENV)
    assert bad.returncode == 1
    assert "creditcard.csv: file not found" in bad.stderr
    failed = record.read_record(str(tmp_path / "results" / "bad.parquet"))
    assert failed["status"] == "failed" and failed["error_type"] == "DataError"


def test_fingerprint_command_prints_json(pyz):
    proc = subprocess.run([sys.executable, str(pyz), "fingerprint", "--no-tf"], capture_output=True, text=True,
                          timeout=60, env=ENV)
    assert proc.returncode == 0
    fp = json.loads(proc.stdout)
    assert fp["cpu"]["count"] >= 1 and "software" in fp
