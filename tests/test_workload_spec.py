"""Workloads of every kind in the spec: built-in, variants of one, command and entry."""
from __future__ import annotations

from pathlib import Path

import pytest

from reprogrid.core.errors import UserError
from reprogrid.spec import load_study, study_from_dict, validate_study

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
    assert validate_study(study, base_dir=str(tmp_path)) == study


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


def test_init_writes_a_valid_spec_around_a_script(tmp_path, monkeypatch, capsys):
    from reprogrid.cli import main

    write(tmp_path, "train.py", "import numpy as np\nimport model_utils\nprint(model_utils.X)\n")
    write(tmp_path, "model_utils.py", "X = 1\n")
    write(tmp_path, "fit.py", "def main(seed, determinism, data_dir, output_dir):\n    return {'val_loss': 0.1}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--workload", "train.py", "-o", "study.yaml"]) == 0
    study = load_study(tmp_path / "study.yaml")
    (w,) = study.workloads
    assert (w.kind, w.command, w.files) == ("command", ("python", "train.py"), ("train.py", "model_utils.py"))
    assert main(["init", "--workload", "fit.py", "--metric", "val_loss", "--lower-is-better", "-o", "fit.yaml"]) == 0
    (w,) = load_study(tmp_path / "fit.yaml").workloads
    assert (w.kind, w.entry, w.primary_metric, w.higher_is_better) == ("entry", "fit.py:main", "val_loss", False)
    assert main(["validate", "fit.yaml"]) == 0
    assert "fit: entry fit.py:main; ships fit.py; primary metric val_loss (lower is better)" in capsys.readouterr().out
    assert main(["init", "--workload", "missing.py"]) == 2
    assert "give the path of your training script" in capsys.readouterr().err


def test_validate_exits_2_naming_the_missing_file_and_the_undefined_entry(tmp_path, capsys):
    from reprogrid.cli import main

    write(tmp_path, "fit.py", "def train(seed, determinism, data_dir, output_dir):\n    return {}\n")
    write(tmp_path, "study.yaml", """\
name: mine
software: [{name: s, image: docker://tensorflow/tensorflow:2.8.0}]
hardware: [{name: h, cpu: {vendor: amd}}]
workloads:
- {name: a, command: [python, train.py], files: [train.py], metrics: {primary: acc, higher_is_better: true}}
- {name: b, entry: "fit.py:main", metrics: {primary: acc, higher_is_better: true}}
""")
    assert main(["validate", str(tmp_path / "study.yaml")]) == 2
    err = capsys.readouterr().err
    assert "workloads[0].files[0]: train.py does not exist" in err
    assert "workloads[1].entry: 'main' is not defined at the top level of fit.py (it defines train)" in err


def test_render_ships_the_files_and_keeps_the_command_out_of_the_submit_file(tmp_path):
    from reprogrid.condor.bindings import submit_to_job_ads
    from reprogrid.render import render_files, render_study

    write(tmp_path, "train.py", "print('hi')\n")
    write(tmp_path, "pkg/util.py", "X = 1\n")
    hostile = 'x" $(Cluster) # ; queue 5'
    raw = spec({"name": "my.logreg", "command": ["python", "train.py", hostile], "files": ["train.py", "pkg"],
                "data": ["inputs/x.npz", "osdf:///ospool/ap40/data/alice/y.npz"],
                "metrics": {"primary": "accuracy", "higher_is_better": True}},
               {"name": "lstm-narrow", "example": "bidirectional_lstm_imdb", "options": {"lstm_units": 32}, "task": "imdb"})
    study = study_from_dict(raw, base_dir=tmp_path)
    files = dict(render_files(study, base_dir=tmp_path))
    assert files["workloads/my_logreg/train.py"] == b"print('hi')\n" and files["workloads/my_logreg/pkg/util.py"] == b"X = 1\n"
    desc = __import__("json").loads(files["workloads/my_logreg/reprogrid-workload.json"])
    assert desc["command"][-1] == hostile and desc["primary_metric"] == "accuracy"
    user_run, variant_run = study.runs()[0], study.runs()[-1]
    text = files[f"cells/{user_run.cell}.sub"].decode()
    assert "Cluster" not in text and "queue 5" not in text
    (ad,) = submit_to_job_ads(text, iwd=tmp_path, vars={"run_id": user_run.run_id, "repeat": "0", "seed": "1"})
    assert ad["TransferInput"].split(",") == [
        "bundle/reprogrid-job.pyz", "workloads/my_logreg/", str(tmp_path / "inputs" / "x.npz"), "osdf:///ospool/ap40/data/alice/y.npz"]
    assert ad["Arguments"].startswith("--kind command --workload my.logreg --run-id")
    (ad,) = submit_to_job_ads(files[f"cells/{variant_run.cell}.sub"].decode(), iwd=tmp_path,
                              vars={"run_id": variant_run.run_id, "repeat": "0", "seed": "1"})
    assert ad["Arguments"].startswith("--kind builtin --workload lstm-narrow --example bidirectional_lstm_imdb --option lstm_units=32 --task imdb ")
    assert ad["TransferInput"] == "bundle/reprogrid-job.pyz,data/imdb.npz"
    manifest = __import__("json").loads(files["manifest.json"])
    assert manifest["workloads"]["lstm-narrow"]["task"] == "imdb" and manifest["workloads"]["my.logreg"]["kind"] == "command"
    (tmp_path / "train.py").unlink()
    with pytest.raises(UserError) as info:
        render_study(study, tmp_path / "submit", base_dir=tmp_path)
    assert "train.py does not exist" in str(info.value.problems) and not (tmp_path / "submit").exists()


def test_pool_check_renders_a_user_workloads_cells_without_its_files():
    from reprogrid.access.poolcheck import job_ads_for_study

    study = study_from_dict(spec({"name": "mine", "command": ["python", "gone.py"], "files": ["gone.py"],
                                  "metrics": {"primary": "acc", "higher_is_better": True}}))
    (software, ad), = job_ads_for_study(study).values()
    assert software == "s" and ad["Arguments"].startswith("--kind command --workload mine")


def test_entry_in_a_shipped_package_is_checked(tmp_path):
    write(tmp_path, "mypkg/__init__.py", "")
    write(tmp_path, "mypkg/fit.py", "def train(seed, determinism, data_dir, output_dir):\n    return {}\n")
    raw = spec({"name": "a", "entry": "mypkg.fit:run", "files": ["mypkg"], "metrics": {"primary": "acc", "higher_is_better": True}},
               {"name": "b", "entry": "mypkg.fit:train", "files": ["mypkg"], "metrics": {"primary": "acc", "higher_is_better": True}},
               {"name": "c", "entry": "some_installed_module:main", "metrics": {"primary": "acc", "higher_is_better": True}})
    found = problems_of(raw, base_dir=tmp_path)
    assert list(found) == ["workloads[0].entry"] and "not defined at the top level of mypkg/fit.py" in found["workloads[0].entry"]
