"""A new user's first hour (issue 16): honest reports, exit codes CI can trust, today's pool.

One test per finding of the issue; each fails on the code before it.
"""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reprogrid.cli import build_parser, main
from reprogrid.render import render_study
from reprogrid.spec import study_from_dict
from reprogrid.spec.presets import demo, preset_yaml
from test_analysis import frame, row
from test_gather import make_submit, write_all
from test_status import node_status

REPO = Path(__file__).resolve().parents[1]
DAGS = Path(__file__).parent / "dags"


def _parsers(parser, path=("reprogrid",)):
    yield " ".join(path), parser
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def tiny_study(name: str = "tiny", software: int = 2):
    raw = demo()
    raw["name"] = name
    raw["workloads"] = [{"name": "imbalanced_classification", "epochs": 1, "max_samples": 300}]
    # two requested containers that both run this machine's TensorFlow: the same stack
    raw["software"] = [{"name": "dockerhub-2.8.0", "image": "docker://tensorflow/tensorflow:2.8.0-gpu"},
                       {"name": "dockerhub-2.9.1", "image": "docker://tensorflow/tensorflow:2.9.1-gpu"}][:software]
    raw["hardware"] = raw["hardware"][:1]
    raw["repeats"] = 1
    return raw


# --------------------------------------------------------------------------- help texts


def test_every_help_documents_exit_codes_and_has_no_raw_markup():
    leaves = []
    for name, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "`" not in text, f"{name} --help shows raw backtick markup"
        has_actions = any(a.__class__.__name__ == "_SubParsersAction" for a in parser._actions)
        if name != "reprogrid" and not has_actions:
            leaves.append(name)
            assert "exit codes" in text.lower(), f"{name} --help does not document its exit codes"
    assert {"reprogrid dryrun", "reprogrid demo", "reprogrid report", "reprogrid import coakley2022"} <= set(leaves)


def test_no_doc_or_help_points_outside_the_repository():
    texts = {name: parser.format_help() for name, parser in _parsers(build_parser())}
    texts.update({str(p.relative_to(REPO)): p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]})
    for name, text in texts.items():
        assert "shared/reference" not in text and "../shared" not in text and "DESIGN.md" not in text, name
    guide = (REPO / "docs" / "user-guide.md").read_text()
    assert not re.search(r"pip install reprogrid\b", guide), "reprogrid is not on PyPI: install from the repository"
    assert "pip install ." in guide or 'pip install ".' in guide
    assert "reprogrid import coakley2022" in guide


# --------------------------------------------------------------------------- exit codes


def test_dryrun_says_how_many_nodes_failed_and_strict_fails(tmp_path, capsys):
    for name in ("a", "b"):
        shutil.copytree(DAGS / "final", tmp_path / name)
    assert main(["dryrun", str(tmp_path / "a" / "final.dag"), "--slots", "2"]) == 0  # FINAL decides (DAGMan)
    err = capsys.readouterr().err
    assert "1 node(s) failed - 1 of 1: Job proc failed with status 1" in err
    assert "--strict" in err and "FINAL node succeeded" in err
    assert main(["dryrun", str(tmp_path / "b" / "final.dag"), "--slots", "2", "--strict"]) == 1


def test_interrupted_dryrun_says_interrupted_and_counts_nodes_not_run(tmp_path):
    d = tmp_path / "interrupt"
    shutil.copytree(DAGS / "interrupt", d)
    proc = subprocess.Popen([sys.executable, "-m", "reprogrid", "dryrun", str(d / "interrupt.dag"), "--slots", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    log = d / "interrupt.dag.dagman.out"
    deadline = time.time() + 30
    while time.time() < deadline:
        if log.exists() and "Node quick job proc" in log.read_text() and "Node slow job(s)" in log.read_text():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "interrupted: 1 nodes done, 0 failed, 2 not run" in out, out


def _failed_parquet(path: Path) -> Path:
    df = frame([row("mnist_convnet", "sw1", "amd-epyc-7302", r, None, status="failed", error_type="FileNotFoundError")
                for r in range(2)])
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


def test_report_without_a_successful_record_exits_1_and_says_what_to_do(tmp_path, capsys):
    data = _failed_parquet(tmp_path / "runs.parquet")
    assert main(["report", str(data), "-o", str(tmp_path / "rep"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no successful record to analyse" in err and "What to do" in err
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "consistent with its name" not in md and "no successful record" in md


def test_status_and_report_use_the_same_words(tmp_path, capsys):
    from reprogrid.gather import gather

    submit = make_submit(tmp_path / "sub")
    ids = write_all(submit)
    (submit / "results" / f"{ids[0]}.parquet").unlink()  # its job failed before writing a record
    (submit / "study.dag.status").write_text(node_status(1_700_000_000, [(ids[0], 6, "job held: no data", 0)]
                                                         + [(i, 5, "", 0) for i in ids[1:]], dag_status=2))
    gather(submit)
    assert main(["status", str(submit)]) == 1
    assert "failed" in capsys.readouterr().out
    assert main(["report", str(submit), "--quiet"]) == 0
    md = (submit / "report" / "summary.md").read_text()
    assert "1 failed (no record)" in md and "missing" not in md.split("## ")[1]


# --------------------------------------------------------------------------- paths


def test_every_command_takes_the_submit_folder_or_its_dag_and_says_which(tmp_path, capsys):
    submit = tmp_path / "submit"
    render_study(study_from_dict(tiny_study()), submit)
    dag = submit / "study.dag"
    assert main(["submit", str(dag), "--print"]) == 0
    assert f"got the DAG file {dag}" in capsys.readouterr().err
    assert main(["dryrun", str(submit), "--plan", "--pool", "ospool-2022"]) == 0  # its pins name 2022 CPUs
    assert f"got the submit folder {submit}" in capsys.readouterr().err
    assert main(["gather", str(dag)]) == 0
    assert "got the DAG file" in capsys.readouterr().err
    assert main(["status", str(dag)]) == 3
    assert "got the DAG file" in capsys.readouterr().err
    assert main(["report", str(dag), "--quiet"]) == 1  # nothing ran yet: no successful record
    assert "got the DAG file" in capsys.readouterr().err
    assert main(["dryrun", str(tmp_path)]) == 2
    assert "no study.dag in" in capsys.readouterr().err


def test_plan_prints_a_summary_per_environment_and_the_table_only_when_verbose(tmp_path, capsys):
    submit = tmp_path / "submit"
    raw = demo()
    render_study(study_from_dict(raw), submit)
    assert main(["dryrun", str(submit), "--plan", "--pool", "ospool-2022"]) == 0  # the demo's 2022 pins
    out = capsys.readouterr().out
    assert "first match" in out and "--verbose" in out
    assert len(out.splitlines()) < 20
    envs = [line for line in out.splitlines() if line.startswith(("amd-epyc-7302 ", "intel-xeon-gold-6148 "))]
    assert len(envs) == 2 and all(" 12 " in line for line in envs)  # 3 workloads x 2 software x 2 repeats
    assert main(["dryrun", str(submit), "--plan", "--verbose", "--pool", "ospool-2022"]) == 0
    assert len(capsys.readouterr().out.splitlines()) > 36


def test_pool_check_on_a_missing_capture_says_how_to_get_one(tmp_path, capsys):
    spec = tmp_path / "study.yaml"
    spec.write_text(preset_yaml("demo"))
    assert main(["pool", "check", str(spec), "--pool", str(tmp_path / "status.json")]) == 2
    err = capsys.readouterr().err
    assert "condor_status -json > status.json" in err and "leave --pool out" in err


# --------------------------------------------------------------------------- today's pool


def test_coakley2022_is_judged_against_todays_pool_by_default(tmp_path, capsys):
    spec = tmp_path / "study.yaml"
    spec.write_text(preset_yaml("coakley2022"))
    assert main(["validate", str(spec)]) == 0
    err = capsys.readouterr().err
    assert "replays the 2022 OSPool the paper ran on" in err
    assert "hardware 'amd-epyc-7302': today's OSPool" in err and "cannot honour it" in err
    assert "not advertised: OSGVO_CPU_MODEL" in err and "CpuFamily" in err and "Microarch" in err
    assert "amd-epyc-7302, amd-epyc-7402, amd-epyc-7f52" in err and "cannot tell these apart" in err
    assert "23/49" in err
    assert "YOUR_USER" in err  # the placeholder is flagged
    assert main(["pool", "check", str(spec)]) == 1  # default: today's pool, no CPU environment matches
    out = capsys.readouterr().out
    assert "today's OSPool (built-in description of" in out and "cannot tell these apart" in out
    assert main(["pool", "check", str(spec), "--pool", "ospool-2022"]) == 0
    assert "the 2022 OSPool the paper ran on" in capsys.readouterr().out
    rendered = tmp_path / "sub"
    assert main(["render", str(spec), "-o", str(rendered)]) == 0
    assert "cannot tell these apart" in capsys.readouterr().err


def test_validate_flags_missing_local_inputs(tmp_path, capsys):
    raw = tiny_study()
    raw["data"] = {"inputs": ["data/creditcard.csv"]}
    spec = tmp_path / "study.yaml"
    import yaml

    spec.write_text(yaml.safe_dump(raw))
    assert main(["validate", str(spec)]) == 0
    assert "data.inputs[0]: the local input 'data/creditcard.csv' does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- the report says what ran


def test_report_names_the_observed_stack_and_says_same_stack_on_its_first_screen(tmp_path):
    from reprogrid.analysis import hardware_check
    from reprogrid.report import build_report

    stack = dict(python_version="3.11.7", tensorflow_version="2.21.0", keras_version="3.15.1",
                 keras_backend="tensorflow", cpu_model="AMD EPYC", machine_name="host")
    df = frame([row("mnist_convnet", sw, "amd-epyc-7302", r, 0.9, sha="x", **stack)
                for sw in ("dockerhub-2.8.0", "dockerhub-2.9.1") for r in range(2)])
    page = build_report(df, tmp_path / "rep").html.read_text()
    first = page[: page.index("<h2>")]
    assert "SAME STACK" in first and "dockerhub-2.8.0, dockerhub-2.9.1" in first
    assert "TF 2.21.0, Keras 3.15.1 (tensorflow backend)" in first
    assert "<td>2.21.0</td>" in page and "<td>3.15.1</td>" in page
    assert "cannot tell whether amd-epyc-7302 got the requested CPU" in first
    assert "consistent with its name" not in page
    assert "These verdicts compare environments that did not differ" in page
    check = hardware_check(df)
    assert list(check["name_check"]) == ["cannot tell"] and check["name_mismatch"].isna().all()


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory):
    """One run_demo on a tiny study (2 runs, 1 epoch, 300 samples), its stderr, and a rerun."""
    pytest.importorskip("tensorflow")  # the demo's jobs train real models
    import contextlib
    import io

    import reprogrid.spec.presets as presets
    from reprogrid.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(presets, "demo", lambda: tiny_study("tinydemo"))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            first = run_demo(out, slots=2)
        yield out, first, err.getvalue(), lambda: run_demo(out, slots=2)


def test_demo_prints_a_line_per_node_and_its_report_says_what_ran(demo_once):
    import tensorflow as tf

    _, first, err, _ = demo_once
    assert first.exit_code == 0 and first.complete == 2
    assert re.search(r"node imbalanced_classification--dockerhub-2_8_0--\S+ done", err), err
    page = first.report_html.read_text()
    screen = page[: page.index("<h2>")]
    assert "SAME STACK" in screen and "dockerhub-2.8.0, dockerhub-2.9.1" in screen
    assert f"TF {tf.__version__}" in screen and f"Keras {tf.keras.__version__}" in screen
    # one stack, emulated hardware: nothing the study claims to vary varied, so no verdict
    assert "cannot tell from these data" in screen and "No verdict:" in screen
    assert "Verdicts: outcomes" not in screen


def test_a_second_demo_trains_nothing(demo_once):
    out, first, _, again = demo_once
    assert first.complete == 2
    records = {p.name: p.stat().st_mtime_ns for p in (out / "submit" / "results").iterdir()}
    log = (out / "submit" / "study.dag.dagman.out").read_text()
    second = again()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "submit" / "results").iterdir()} == records
    assert (out / "submit" / "study.dag.dagman.out").read_text() == log  # no DAG run at all
    assert second.complete == 2 and second.reused and second.jobs_run == 0 and first.jobs_run == 3


def test_demo_strict_exits_1_when_a_run_failed(tmp_path, capsys):
    from reprogrid.commands.demo import report_demo
    from reprogrid.demo import DemoResult

    summary = tmp_path / "summary.md"
    summary.write_text("# demo\n")
    result = DemoResult(submit_dir=tmp_path / "submit", report_html=tmp_path / "report.html", summary_md=summary,
                        runs=36, complete=0, failed=36, seconds=1.0, exit_code=0)  # FINAL gather succeeded
    assert report_demo(result) == 0  # DAGMan's rule, as documented
    assert report_demo(result, strict=True) == 1
    assert "--strict: 36 of 36 runs did not complete" in capsys.readouterr().err
