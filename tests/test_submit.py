"""`reprogrid submit`: the printed condor_submit_dag command, the bindings' description of
the DAGMan job, and failing fast (exit 2) where there is no HTCondor, as here."""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from reprogrid.access import submission
from reprogrid.cli import main


@pytest.fixture
def submit_dir(tmp_path: Path) -> Path:
    """A minimal submit tree (a DAG with one node and a manifest), in a path with a space."""
    d = tmp_path / "my studies" / "tiny"
    d.mkdir(parents=True)
    (d / "study.dag").write_text("JOB a--b--c--r0 cells/a--b--c.sub\nVARS a--b--c--r0 run_id=\"a--b--c--r0\"\n")
    (d / "cells").mkdir()
    (d / "cells" / "a--b--c.sub").write_text("executable = /bin/true\nqueue\n")
    (d / "manifest.json").write_text(json.dumps({"schema": "reprogrid.manifest/1",
                                                  "study": {"name": "tiny study", "study_id": "x"}, "runs": []}))
    return d


@pytest.fixture
def no_condor(tmp_path: Path, monkeypatch) -> None:
    """This machine as it is: no condor_config, no condor tools on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("CONDOR_CONFIG", str(tmp_path / "no-such-condor_config"))


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch) -> Path:
    """A config file and condor_submit_dag / condor_dagman executables, but no schedd."""
    bindir = tmp_path / "condor-bin"
    bindir.mkdir()
    for tool in ("condor_submit_dag", "condor_dagman"):
        exe = bindir / tool
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    config = tmp_path / "condor_config"
    config.write_text("# empty\n")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("CONDOR_CONFIG", str(config))
    return bindir


def test_print_shows_the_exact_command(submit_dir: Path, capsys, no_condor):
    rc = main(["submit", str(submit_dir), "--print", "--maxidle", "50", "--schedd", "ap40.uw.osg-htc.org"])
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert shlex.split(line) == [
        "condor_submit_dag", "-usedagdir", "-batch-name", "reprogrid-tiny_study", "-maxidle", "50",
        "-r", "ap40.uw.osg-htc.org", str(submit_dir.absolute() / "study.dag"),
    ]
    assert "'" in line  # the path with a space is quoted for a shell


def test_no_condor_fails_fast_saying_what_is_missing(submit_dir: Path, capsys, no_condor):
    rc = main(["submit", str(submit_dir)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "no HTCondor schedd" in err
    assert "condor_config" in err and "condor_submit_dag on PATH" in err and "condor_dagman on PATH" in err
    assert f"reprogrid dryrun {submit_dir / 'study.dag'}" in err
    assert not (submit_dir / "study.dag.condor.sub").exists()


def test_tools_without_a_schedd_fail_fast(submit_dir: Path, capsys, fake_tools):
    check = submission.check_condor(timeout=5)
    assert not check.ok and any("schedd" in m for m in check.missing), check.missing
    assert main(["submit", str(submit_dir)]) == 2
    assert "schedd" in capsys.readouterr().err


def test_bindings_describe_the_same_dagman_job_as_the_printed_command(submit_dir: Path, fake_tools):
    opts = submission.SubmitOptions(batch_name="reprogrid-tiny", max_idle=7, force=True)
    description = submission.describe_dag(submit_dir / "study.dag", opts)
    args = description["arguments"]
    assert "-UseDagDir" in args and "-MaxIdle 7" in args and "-force" in args
    # new-style arguments: a space inside one argument is written ' '
    assert "-Dag " + str(submit_dir.absolute() / "study.dag").replace(" ", "' '") + " " in args
    assert description["My.JobBatchName"] == '"reprogrid-tiny"'
    cmd = submission.submit_dag_command(submit_dir / "study.dag", opts)
    assert cmd[-1] == str(submit_dir.absolute() / "study.dag")
    assert {"-usedagdir", "-force"} <= set(cmd) and cmd[cmd.index("-maxidle") + 1] == "7"


def test_missing_dag_is_a_user_error(tmp_path: Path, capsys):
    assert main(["submit", str(tmp_path), "--print"]) == 2
    assert "study.dag" in capsys.readouterr().err
    assert main(["submit", str(tmp_path / "nope")]) == 2
    assert "reprogrid render" in capsys.readouterr().err
