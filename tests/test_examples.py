"""The two user-workload examples end to end: render -> emulated DAG (real jobs) -> gather -> report.

``examples/numpy-command`` (a command in a few lines of NumPy) and ``examples/jax-entry``
(a JAX function called by the job) run exactly as their specs say, through the job bundle
and the emulated schedd, and land in the dataset with their own primary metric.
"""
from __future__ import annotations

import json

import pytest

from reprogrid.gather import gather, load_dataset
from reprogrid.render import render_study
from reprogrid.report import build_report
from reprogrid import emulator
from reprogrid.spec import load_study


def run_example(repo, tmp_path, name):
    spec = repo / "examples" / name / "study.yaml"
    study = load_study(spec)
    submit = tmp_path / "submit"
    render_study(study, submit, base_dir=spec.parent)
    run = emulator.dryrun(submit / "study.dag", slots=2, progress=False)
    assert run.exit_code == 0, (submit / "study.dag.dagman.out").read_text()[-3000:]
    result = gather(submit)
    assert result.counts["complete"] == study.run_count and result.counts["missing"] == 0
    df = load_dataset(submit)
    assert len(df) == study.run_count
    bad = df[df["status"] != "ok"]
    assert bad.empty, bad[["run_id", "error_type", "error_message"]].to_string()
    report = build_report(df, tmp_path / "report", title=name, provenance={"emulated": True, "counts": result.counts})
    assert study.workloads[0].name in report.html.read_text()
    return study, df


def test_numpy_command_example_end_to_end(repo, tmp_path):
    study, df = run_example(repo, tmp_path, "numpy-command")
    assert set(df["workload_kind"]) == {"command"} and set(df["task"]) == {"my-logreg"}
    assert set(df["primary_metric"]) == {"accuracy"} and df["higher_is_better"].all()
    metrics = [json.loads(m) for m in df["metrics_json"]]
    assert all(set(m) == {"accuracy", "loss"} for m in metrics)
    assert list(df["primary_value"]) == [m["accuracy"] for m in metrics]
    assert 0.8 < df["primary_value"].min() <= 1.0
    # Same seed, same host, NumPy only: every environment gives the same bits.
    assert df["predictions_sha256"].notna().all() and df["predictions_sha256"].nunique() == 1
    files = {json.dumps(json.loads(v)["files_sha256"], sort_keys=True) for v in df["variant_json"]}
    assert len(files) == 1 and "train.py" in files.pop()
    assert df["cpu_count"].notna().all() and df["fingerprint_json"].notna().all()


def test_jax_entry_example_end_to_end(repo, tmp_path):
    pytest.importorskip("jax")
    study, df = run_example(repo, tmp_path, "jax-entry")
    assert set(df["workload_kind"]) == {"entry"} and set(df["primary_metric"]) == {"val_loss"}
    assert not df["higher_is_better"].any()
    assert df["primary_value"].between(0, 5).all()
    assert df["predictions_sha256"].nunique() == 1  # deterministic: same PRNGKey, same CPU
    seeded = {tuple(json.loads(v)["seeded"]) for v in df["variant_json"]}
    assert seeded == {("python", "numpy", "jax")}
    assert set(json.loads(df["metrics_json"].iloc[0])) == {"val_loss", "val_accuracy"}
