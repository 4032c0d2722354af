"""Issue 20's example end to end: a user's NumPy workload on two stacks declared once
(base image + pinned packages). envs build -> lock beside the study -> images def (read by
spython) -> render -> dry run on the two local stacks -> gather -> report naming the
distributions that differ and the finding. Builds two small venvs (NumPy wheels from PyPI)
into $REPROGRID_ENVS, or a temporary folder."""
from __future__ import annotations

import os
import shutil

import pytest

from reprogrid.cli import main
from reprogrid.prepare import images, stacklock
from reprogrid.spec import load_study


@pytest.fixture
def example(repo, tmp_path, monkeypatch):
    folder = tmp_path / "two-stacks"
    shutil.copytree(repo / "examples" / "two-stacks", folder, ignore=shutil.ignore_patterns("singularity"))
    if not os.environ.get("REPROGRID_ENVS"):
        monkeypatch.setenv("REPROGRID_ENVS", str(tmp_path / "envs"))
    return folder


def test_the_committed_locks_name_what_the_stacks_declare(repo):
    study = load_study(repo / "examples" / "two-stacks" / "study.yaml")
    for sw in study.software:
        pins, python = stacklock.read_lock(stacklock.lock_path(repo / "examples" / "two-stacks", study.name, sw.name))
        assert python == "3.11" and sw.local.base == "docker://python:3.11-slim"
        for requirement in sw.local.packages:
            name, version = requirement.split("==")
            assert pins[name] == version


def test_two_stack_example_end_to_end(example, tmp_path, capsys):
    from spython.main.parse.parsers import SingularityParser

    spec = example / "study.yaml"
    study = load_study(spec)
    committed = {sw.name: stacklock.read_lock(stacklock.lock_path(example, study.name, sw.name))[0] for sw in study.software}
    assert main(["envs", "build", str(spec), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "two-stacks.lock/numpy1.txt (unchanged" in out  # the built stack resolves to the committed lock

    assert main(["images", "def", str(spec), "-o", str(example / "singularity")]) == 0
    out = capsys.readouterr().out
    assert "apptainer build numpy1.sif numpy1.def" in out and "/ospool/ap40/data/" in out
    for sw in study.software:
        path = example / "singularity" / f"{sw.name}.def"
        ours = images.parse_definition(path)  # the project's strict parser
        assert images.check_reprogrid_image(ours) == []
        theirs = SingularityParser(str(path)).recipe["spython-base"]
        assert theirs.fromHeader == "python:3.11-slim"
        post = "\n".join(theirs.install)
        for name, version in committed[sw.name].items():
            assert f'"{name}=={version}"' in post
        assert "--no-deps" in post
        env = dict(item.split("=", 1) for item in theirs.environ)
        assert env["REPROGRID_IMAGE"] == sw.name

    submit = tmp_path / "submit"
    assert main(["render", str(spec), "-o", str(submit)]) == 0
    assert main(["dryrun", str(submit / "study.dag")]) == 0
    capsys.readouterr()
    assert main(["gather", str(submit)]) == 0
    assert "Lock: numpy2 ran as declared" in capsys.readouterr().out
    assert main(["report", str(submit), "--quiet"]) == 0
    page = (submit / "report" / "report.html").read_text()
    first = page[: page.index("<h2>")]
    assert "numpy 1.26.4 vs 2.4.6" in first and "SAME STACK" not in page
    assert "FINDING: np-logreg gave identical prediction hashes in numpy1, numpy2" in first
    assert "Lock: numpy1 ran as declared" in first and "Lock: numpy2 ran as declared" in first
    assert "Data of np-logreg (command): no declared inputs" in first
