"""Keras 3 on JAX and PyTorch: the same workloads and record, deterministic per backend.

Each backend runs in its own interpreter (Keras reads KERAS_BACKEND once, at import),
twice with the same seed, through the job side's own runner.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reprogrid.core.resources import sample_data_dir
from reprogrid.job import compat, determinism

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import json, sys, tempfile
from reprogrid.job.runner import RunOptions, run_job
out = []
for run_id, seed in (("a", 1), ("b", 1)):
    rec, path, code = run_job(RunOptions(workload=sys.argv[1], run_id=run_id, data_dir=sys.argv[2],
                                         output_dir=tempfile.mkdtemp(), seed=seed, epochs=1,
                                         max_samples=int(sys.argv[3]), verbose=0))
    out.append({k: rec[k] for k in ("status", "error_message", "weights_sha256", "predictions_sha256",
                                     "test_accuracy", "keras_backend", "keras_version", "jax_version",
                                     "torch_version", "tensorflow_version")})
print(json.dumps(out))
"""


def _run_backend(backend, workload="mnist_convnet", samples=96):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, workload, str(sample_data_dir()), str(samples)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend,module", [("jax", "jax"), ("torch", "torch")])
def test_keras3_backend_trains_deterministically_and_records_itself(backend, module):
    pytest.importorskip(module)
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3."):
        pytest.skip("Keras 3 is needed for the JAX and PyTorch backends")
    a, b = _run_backend(backend)
    assert a["status"] == "ok", a["error_message"]
    assert a["weights_sha256"] == b["weights_sha256"] and a["predictions_sha256"] == b["predictions_sha256"]
    assert a["test_accuracy"] == b["test_accuracy"]
    assert a["keras_backend"] == backend and a["keras_version"].startswith("3.")
    assert a[f"{module}_version"]
    assert a["tensorflow_version"] is None  # TensorFlow did not run the model
    # the other framework's version is recorded when it is installed (the stack), not run


def test_backend_start_up_variables_follow_each_backends_documentation():
    env = {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"}
    assert determinism.prepare_environment("jax", True, env) == {
        "XLA_FLAGS": "--xla_cpu_enable_fast_math=false --xla_gpu_deterministic_ops=true"}
    assert determinism.prepare_environment("jax", True, env)["XLA_FLAGS"].count("deterministic") == 1
    env = {}
    assert determinism.prepare_environment("torch", True, env) == {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    env = {"CUBLAS_WORKSPACE_CONFIG": ":16:8"}
    assert determinism.prepare_environment("torch", True, env) == {"CUBLAS_WORKSPACE_CONFIG": ":16:8"}
    assert determinism.prepare_environment("jax", False, {}) == {}
    assert determinism.prepare_environment("tensorflow", True, {}) == {}


def test_an_unknown_backend_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "mlx")
    with pytest.raises(ValueError, match="KERAS_BACKEND=mlx"):
        compat.import_framework()
    monkeypatch.delenv("KERAS_BACKEND")
    assert compat.requested_backend() == "tensorflow"
