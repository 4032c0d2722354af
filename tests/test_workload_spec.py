"""Workloads of every kind in the spec: built-in, variants of one, command and entry."""
from __future__ import annotations

from pathlib import Path

import pytest

from reprogrid.core.errors import UserError
from reprogrid.spec import load_study, study_from_dict

BASE = {
    "name": "mine",
    "software": [{"name": "s", "image": "docker://tensorflow/tensorflow:2.8.0"}],
    "hardware": [{"name": "h", "cpu": {"vendor": "amd"}}],
    "data": {"sample": True},
}


def spec(*workloads) -> dict:
    return dict(BASE, workloads=list(workloads))


def problems_of(raw, base_dir=None) -> dict:
    with pytest.raises(UserError) as info:
        study_from_dict(raw, base_dir=base_dir)
    return {p.where: p.message for p in info.value.problems}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_issue_contract_validates_as_written(tmp_path):
    write(tmp_path, "train.py", "print(1)\n")
    write(tmp_path, "model_utils.py", "X = 1\n")
    write(tmp_path, "train_torch.py", "import torch\n\ndef main(seed, determinism, data_dir, output_dir):\n    return {}\n")
    write(tmp_path, "study.yaml", """\
name: mine
software: [{name: s, image: docker://tensorflow/tensorflow:2.8.0}]
hardware: [{name: h, cpu: {vendor: amd}}]
workloads:
- name: my-logreg
  command: [python, train.py, --epochs, "3"]   # run in the job's sandbox
  files: [train.py, model_utils.py]           # shipped with each job; paths relative to the spec
  data: [osdf:///ospool/ap40/data/alice/x.npz] # optional inputs, as the study-wide data keys
  metrics: {primary: accuracy, higher_is_better: true}
- name: my-torch
  entry: train_torch.py:main                  # a function in a shipped file or module
  files: [train_torch.py]
  metrics: {primary: val_loss, higher_is_better: false}
""")
    study = load_study(tmp_path / "study.yaml")
    logreg, torch = study.workloads
    assert logreg.kind == "command" and logreg.command == ("python", "train.py", "--epochs", "3")
    assert logreg.files == ("train.py", "model_utils.py") and logreg.data == ("osdf:///ospool/ap40/data/alice/x.npz",)
    assert (logreg.primary_metric, logreg.higher_is_better, logreg.task_name) == ("accuracy", True, "my-logreg")
    assert torch.kind == "entry" and torch.entry == "train_torch.py:main"
    assert (torch.primary_metric, torch.higher_is_better) == ("val_loss", False)
    assert logreg.data_file is None
    # the normalised spec (study.yaml of a submit tree) validates to the same study
    assert study.validated(base_dir=str(tmp_path)) == study


def test_builtin_variants_group_by_task_and_check_options():
    study = study_from_dict(spec(
        "bidirectional_lstm_imdb",
        {"name": "lstm-narrow", "example": "bidirectional_lstm_imdb", "options": {"lstm_units": 32}, "task": "imdb-sentiment"},
        {"name": "convnet-dropout-0.2", "example": "mnist_convnet", "options": {"dropout": 0.2}},
    ))
    base, narrow, convnet = study.workloads
    assert (base.kind, base.builtin, base.task_name, base.options) == ("builtin", "bidirectional_lstm_imdb", "bidirectional_lstm_imdb", {})
    assert (narrow.builtin, narrow.task_name, dict(narrow.options)) == ("bidirectional_lstm_imdb", "imdb-sentiment", {"lstm_units": 32})
    assert (convnet.builtin, convnet.task_name, convnet.data_file) == ("mnist_convnet", "mnist_convnet", "mnist.npz")
    assert [c.cell.split("--")[0] for c in study.cells()] == ["bidirectional_lstm_imdb", "lstm-narrow", "convnet-dropout-0_2"]
    assert (narrow.primary_metric, narrow.higher_is_better) == ("test_accuracy", True)
    found = problems_of(spec(
        {"name": "a", "example": "bidirectional_lstm_imdb", "options": {"lstm_unit": 32, "embedding_dim": 0}},
        {"name": "b", "example": "mnist_convnet", "options": {"dropout": "lots"}},
        {"name": "c", "example": "mnist_convnet", "metrics": {"primary": "test_loss", "higher_is_better": True}},
    ))
    assert "unknown option of bidirectional_lstm_imdb (its options: lstm_units, embedding_dim)" in found["workloads[0].options.lstm_unit"]
    assert "between 1 and 1024" in found["workloads[0].options.embedding_dim"]
    assert "expected a number" in found["workloads[1].options.dropout"]
    assert "better when lower" in found["workloads[2].metrics.higher_is_better"]


def test_unknown_names_and_mixed_kinds_say_what_to_do():
    found = problems_of(spec(
        "my-model",
        {"name": "x", "command": ["python", "t.py"], "entry": "t.py:main", "metrics": {"primary": "a", "higher_is_better": True}},
        {"name": "y", "command": "python t.py", "metrics": {"primary": "acc"}},
        {"name": "z", "entry": "t.py", "metrics": {"primary": "acc", "higher_is_better": True}},
        {"name": "w", "command": [], "epochs": 3, "metrics": {"primary": "acc", "higher_is_better": True}},
        {"name": "v", "command": ["python", "t.py"]},
        {"name": "u", "command": ["python", "t.py"], "files": ["../secret.py", "a b.py", "reprogrid-workload.json"],
         "metrics": {"primary": "acc", "higher_is_better": True}},
    ))
    assert "bring your own workload with command: or entry:" in found["workloads[0].name"]
    assert "give one of example, command or entry" in found["workloads[1]"]
    assert found["workloads[2].metrics.higher_is_better"] == "is required"
    assert "FILE.py:FUNCTION" in found["workloads[3].entry"]
    assert "non-empty list" in found["workloads[4].command"]
    assert "built-in examples only" in found["workloads[4].epochs"]
    assert "primary: accuracy" in found["workloads[5].metrics"]
    assert "no '..'" in found["workloads[6].files[0]"] and "no '..'" in found["workloads[6].files[1]"]
    assert "the job itself uses" in found["workloads[6].files[2]"]


def test_missing_shipped_file_and_undefined_entry_are_reported(tmp_path):
    write(tmp_path, "train.py", "import jax\n\ndef train(seed):\n    pass\n\nclass Model:\n    pass\n")
    write(tmp_path, "broken.py", "def main(:\n")
    raw = spec(
        {"name": "a", "command": ["python", "train.py"], "files": ["train.py", "utils.py"],
         "metrics": {"primary": "acc", "higher_is_better": True}},
        {"name": "b", "entry": "train.py:main", "metrics": {"primary": "acc", "higher_is_better": True}},
        {"name": "c", "entry": "broken.py:main", "metrics": {"primary": "acc", "higher_is_better": True}},
        {"name": "d", "entry": "gone.py:main", "metrics": {"primary": "acc", "higher_is_better": True}},
        {"name": "e", "entry": "train.py:Model", "metrics": {"primary": "acc", "higher_is_better": True}},
    )
    found = problems_of(raw, base_dir=tmp_path)
    assert found["workloads[0].files[1]"].startswith("utils.py does not exist in ")
    assert "'main' is not defined at the top level of train.py (it defines Model, jax, train)" in found["workloads[1].entry"]
    assert "broken.py does not parse" in found["workloads[2].entry"]
    assert "gone.py does not exist" in found["workloads[3].files[0]"]  # the entry's file is shipped
    assert not any(k.startswith("workloads[4]") for k in found)
    # Without a folder (plain data from a notebook) the files are checked when rendering.
    study_from_dict(dict(raw, workloads=raw["workloads"][:1]))
