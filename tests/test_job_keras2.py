"""A workload through the zipapp under a Keras 2 TensorFlow (tensorflow-cpu 2.15).

Set REPROGRID_KERAS2_PYTHON to a Python that has tensorflow-cpu<=2.15 (tf.keras = Keras 2);
the CI script creates one. Skipped otherwise.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from reprogrid.render.bundle import build_job_bundle
from reprogrid.core.resources import sample_data_dir

PYTHON = os.environ.get("REPROGRID_KERAS2_PYTHON")
pytestmark = pytest.mark.skipif(not PYTHON, reason="REPROGRID_KERAS2_PYTHON is not set")


def test_keras2_runs_workloads_deterministically(tmp_path):
    pyz = build_job_bundle(tmp_path / "bundle")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    version = subprocess.run([PYTHON, "-c", "import keras; print(keras.__version__)"],
                             capture_output=True, text=True, timeout=120, env=env)
    assert version.returncode == 0, version.stderr[-2000:]
    assert version.stdout.strip().startswith("2."), f"expected Keras 2, got {version.stdout!r}"
    out = tmp_path / "results"
    hashes = []
    for run_id, workload, n in (("a", "mnist_convnet", "96"), ("b", "mnist_convnet", "96"),
                                ("c", "imbalanced_classification", "300"), ("d", "bidirectional_lstm_imdb", "32")):
        proc = subprocess.run([PYTHON, str(pyz), "run", "--workload", workload, "--run-id", run_id,
                               "--data-dir", str(sample_data_dir()), "--output-dir", str(out), "--epochs", "1",
                               "--max-samples", n, "--verbose", "0"],
                              capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        assert summary["status"] == "ok" and summary["sample_data"] is True
        hashes.append(summary)
    records = sorted(p.name for p in out.iterdir())
    assert records in (["a.parquet", "b.parquet", "c.parquet", "d.parquet"], ["a.json", "b.json", "c.json", "d.json"])
    from reprogrid.job import record

    a, b = (record.read_record(str(out / name)) for name in records[:2])
    assert a["keras_version"].startswith("2.")
    assert a["weights_sha256"] == b["weights_sha256"] and a["predictions_sha256"] == b["predictions_sha256"]
