"""The user-workload contract on the job side: command and entry runs, and every way to break it.

Real subprocesses for commands, real imports for entries, real records read back; no
TensorFlow needed (the job imports none for a user workload).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reprogrid.job import record, usercode
from reprogrid.job.catalogue import WORKLOAD_FILE
from reprogrid.job.runner import RunOptions, run_job
from reprogrid.render.bundle import build_job_bundle

COMMAND_TRAIN = """\
import json, os, sys
import numpy as np
out = os.environ["REPROGRID_OUTPUT_DIR"]
seed = int(os.environ["REPROGRID_SEED"])
rng = np.random.RandomState(seed)
preds = rng.rand(8)
np.save(os.path.join(out, "predictions.npy"), preds)
metrics = {"accuracy": float(preds.mean()), "seed": seed,
           "determinism": int(os.environ["REPROGRID_DETERMINISM"]),
           "hashseed": int(os.environ["PYTHONHASHSEED"]),
           "data_ok": int(os.path.isfile(os.path.join(os.environ["REPROGRID_DATA_DIR"], "x.npz"))),
           "tf_det": int(os.environ.get("TF_DETERMINISTIC_OPS", "0"))}
json.dump(metrics, open(os.path.join(out, "metrics.json"), "w"))
"""

ENTRY_TRAIN = """\
import random
import numpy as np
from helpers import scale

def main(seed, determinism, data_dir, output_dir):
    return {"val_loss": scale(np.random.rand()), "py": random.random(), "seed": seed,
            "det": int(determinism), "predictions": np.arange(4) * seed}
"""


@pytest.fixture(autouse=True)
def job_environment():
    """An entry run sets the contract's variables in the job's own environment: undo that here."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def make_workload(folder: Path, kind: str, files: dict, primary: str = "accuracy", higher: bool = True, **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    desc = {"name": "mine", "kind": kind, "files": sorted(files), "data": ["osdf:///ospool/x/x.npz"],
            "primary_metric": primary, "higher_is_better": higher, **extra}
    (folder / WORKLOAD_FILE).write_text(json.dumps(desc))
    return folder / WORKLOAD_FILE


def run(tmp_path: Path, desc: Path, kind: str, seed: int = 7, determinism: bool = True):
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    np.savez(data_dir / "x.npz", a=np.arange(3))
    opts = RunOptions(workload="mine", run_id=f"mine--r{seed}", kind=kind, workload_file=str(desc), seed=seed,
                      data_dir=str(data_dir), output_dir=str(tmp_path / "results"), determinism=determinism)
    rec, path, code = run_job(opts)
    assert record.read_record(path)["status"] == rec["status"]
    return rec, code


def test_command_gets_the_contract_and_its_metrics_are_recorded(tmp_path):
    desc = make_workload(tmp_path / "code", "command", {"train.py": COMMAND_TRAIN},
                         command=["python", "train.py"])
    rec, code = run(tmp_path, desc, "command")
    assert code == 0, rec["error_message"]
    metrics = json.loads(rec["metrics_json"])
    assert metrics["seed"] == 7 and metrics["hashseed"] == 7 and metrics["determinism"] == 1
    assert metrics["data_ok"] == 1 and metrics["tf_det"] == 1
    assert (rec["workload_kind"], rec["task"], rec["primary_metric"], rec["higher_is_better"]) == ("command", "mine", "accuracy", True)
    assert rec["primary_value"] == metrics["accuracy"]
    assert rec["test_accuracy"] is None and rec["weights_sha256"] is None
    expected = hashlib.sha256(np.random.RandomState(7).rand(8).astype("<f4").tobytes()).hexdigest()
    assert rec["predictions_sha256"] == expected
    variant = json.loads(rec["variant_json"])
    assert variant["command"] == ["python", "train.py"] and set(variant["files_sha256"]) == {"train.py"}
    assert json.loads(rec["data_sha256"]).keys() == {"x.npz"}
    assert rec["cpu_count"] and rec["python_version"] and rec["fingerprint_json"]  # the same fingerprint
    again, _ = run(tmp_path, desc, "command", determinism=False)
    assert json.loads(again["metrics_json"])["determinism"] == 0 and json.loads(again["metrics_json"])["tf_det"] == 0


@pytest.mark.parametrize("script, error_type, words", [
    ("import sys\nsys.stderr.write('boom: out of memory\\n')\nsys.exit(3)", "CommandFailed", ["exited with status 3", "boom: out of memory"]),
    ("pass", "MetricsMissing", ["wrote no metrics.json"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{accuracy: 1')", "MetricsMalformed", ["not valid JSON"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('[0.9]')", "MetricsMalformed", ["map of metric name"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"accuracy\": \"0.9\"}')", "MetricWrongType", ["'accuracy' is str", "not a number"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"accuracy\": {\"top1\": 0.9}}')", "MetricWrongType", ["'accuracy' is dict"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"acc\": 0.9}')", "PrimaryMetricMissing", ["'accuracy' is not in metrics.json (it has: acc)"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"accuracy\": NaN}')", "MetricNotFinite", ["'accuracy' is float nan", "not a finite number"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"accuracy\": 0.9, \"loss\": -Infinity}')", "MetricNotFinite", ["'loss' is float -inf"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"accuracy\": 1e999}')", "MetricNotFinite", ["'accuracy' is float inf"]),
    ("import os\nopen(os.environ['REPROGRID_OUTPUT_DIR'] + '/metrics.json', 'w').write('{\"accuracy\": 1' + '0' * 400 + '}')", "MetricNotFinite", ["'accuracy' is int 1000"]),
])
def test_every_broken_command_is_a_failed_run_with_a_clear_error(tmp_path, script, error_type, words):
    desc = make_workload(tmp_path / "code", "command", {"train.py": script}, command=["python", "train.py"])
    rec, code = run(tmp_path, desc, "command")
    assert code == 1 and rec["status"] == "failed"
    assert rec["error_type"] == error_type
    for word in words:
        assert word in rec["error_message"]
    assert rec["primary_metric"] == "accuracy" and rec["workload_kind"] == "command"
    assert rec["cpu_count"]  # the fingerprint is recorded for a failed run too


def test_a_command_that_does_not_exist_fails_clearly(tmp_path):
    desc = make_workload(tmp_path / "code", "command", {"train.py": "pass"}, command=["no-such-tool", "x"])
    rec, code = run(tmp_path, desc, "command")
    assert code == 1 and rec["error_type"] == "CommandFailed" and "cannot start 'no-such-tool'" in rec["error_message"]


def test_entry_is_seeded_and_called_with_the_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROGRID_SEED_FRAMEWORKS", "none")  # this test process may hold TF/JAX already
    desc = make_workload(tmp_path / "code", "entry", {"train.py": ENTRY_TRAIN, "helpers.py": "def scale(x):\n    return 2 * x\n"},
                         primary="val_loss", higher=False, entry="train.py:main")
    first, code = run(tmp_path, desc, "entry")
    assert code == 0, first["error_message"]
    second, _ = run(tmp_path, desc, "entry")
    metrics = json.loads(first["metrics_json"])
    assert metrics["seed"] == 7 and metrics["det"] == 1
    np.random.seed(7)
    assert metrics["val_loss"] == 2 * np.random.rand()  # NumPy seeded before the call
    assert first["metrics_json"] == second["metrics_json"] and first["predictions_sha256"] == second["predictions_sha256"]
    assert (first["primary_metric"], first["primary_value"], first["higher_is_better"]) == ("val_loss", metrics["val_loss"], False)
    assert json.loads(first["variant_json"])["seeded"] == ["python", "numpy"]
    assert "predictions" not in metrics
    assert os.environ["REPROGRID_SEED"] == "7" and os.environ["TF_DETERMINISTIC_OPS"] == "1"  # as a command sees them


@pytest.mark.parametrize("source, entry, error_type, words", [
    ("def main(seed, determinism, data_dir, output_dir):\n    return 0.9\n", "train.py:main", "MetricsMalformed", ["must be a map", "got float"]),
    ("def main(seed, determinism, data_dir, output_dir):\n    return None\n", "train.py:main", "MetricsMissing", ["gave no metrics"]),
    ("def main(seed, determinism, data_dir, output_dir):\n    return {'val_loss': [0.1, 0.2]}\n", "train.py:main", "MetricWrongType", ["'val_loss' is list"]),
    ("def main(seed, determinism, data_dir, output_dir):\n    return {'loss': 0.1}\n", "train.py:main", "PrimaryMetricMissing", ["'val_loss' is not in the entry's return value"]),
    ("def main(seed, determinism, data_dir, output_dir):\n    return {'val_loss': float('nan')}\n", "train.py:main", "MetricNotFinite", ["'val_loss' is float nan"]),
    ("def train(seed, determinism, data_dir, output_dir):\n    return {}\n", "train.py:main", "EntryNotFound", ["defines no function 'main'"]),
    ("import no_such_framework_xyz\n", "train.py:main", "EntryNotFound", ["No module named 'no_such_framework_xyz'"]),
    ("def main(seed, determinism, data_dir, output_dir):\n    raise RuntimeError('diverged')\n", "train.py:main", "RuntimeError", ["diverged", "during call entry"]),
    ("import sys\ndef main(seed, determinism, data_dir, output_dir):\n    sys.exit(4)\n", "train.py:main", "SystemExit", ["4"]),
    ("def main(seed, determinism, data_dir, output_dir):\n    return {'val_loss': 1.0, 'predictions': ['a']}\n", "train.py:main", "PredictionsMalformed", ["numeric array"]),
])
def test_every_broken_entry_is_a_failed_run_with_a_clear_error(tmp_path, source, entry, error_type, words):
    desc = make_workload(tmp_path / "code", "entry", {"train.py": source}, primary="val_loss", higher=False, entry=entry)
    rec, code = run(tmp_path, desc, "entry")
    assert code == 1 and rec["error_type"] == error_type, rec["error_message"]
    for word in words:
        assert word in rec["error_message"]


def test_frameworks_to_seed_follow_the_code(tmp_path, monkeypatch):
    path = tmp_path / "m.py"
    path.write_text("import os\ndef f():\n    import jax.numpy as jnp\n    from torch import nn\n")
    assert usercode.frameworks_in_code([str(path)]) == ["torch", "jax"]
    monkeypatch.delenv("REPROGRID_SEED_FRAMEWORKS", raising=False)
    chosen = usercode.frameworks_to_seed([str(path)], environ={})
    assert "torch" not in chosen or usercode._importable("torch")
    assert usercode.frameworks_to_seed([str(path)], environ={"REPROGRID_SEED_FRAMEWORKS": "no-such"}) == []


def test_user_workload_runs_through_the_bundle(tmp_path):
    """The zipapp's ``run --kind command`` as the job wrapper calls it, in a sandbox-like folder."""
    pyz = build_job_bundle(tmp_path / "bundle")
    desc = make_workload(tmp_path / "sandbox", "command", {"train.py": COMMAND_TRAIN}, command=["python3", "train.py"])
    np.savez(tmp_path / "sandbox" / "x.npz", a=np.arange(3))
    proc = subprocess.run([sys.executable, str(pyz), "run", "--kind", "command", "--workload", "mine",
                           "--run-id", "mine--r0", "--seed", "3", "--data-dir", ".", "--output-dir", "results",
                           "--format", "json"], cwd=desc.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "ok" and summary["workload_kind"] == "command" and summary["primary_metric"] == "accuracy"
    rec = record.read_record(str(desc.parent / "results" / "mine--r0.json"))
    assert json.loads(rec["metrics_json"])["seed"] == 3 and rec["tensorflow_version"] is None


def test_entry_in_a_shipped_package_module(tmp_path):
    code = tmp_path / "code"
    (code / "mypkg").mkdir(parents=True)
    (code / "mypkg" / "__init__.py").write_text("")
    (code / "mypkg" / "fit.py").write_text("def run(seed, determinism, data_dir, output_dir):\n    return {'score': seed / 10}\n")
    (code / WORKLOAD_FILE).write_text(json.dumps({"name": "mine", "kind": "entry", "entry": "mypkg.fit:run", "files": ["mypkg"],
                                                  "primary_metric": "score", "higher_is_better": True}))
    rec, code_ = run(tmp_path, code / WORKLOAD_FILE, "entry", seed=3)
    assert code_ == 0, rec["error_message"]
    assert rec["primary_value"] == 0.3
    assert set(json.loads(rec["variant_json"])["files_sha256"]) == {"mypkg/__init__.py", "mypkg/fit.py"}
