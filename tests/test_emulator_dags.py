"""The emulated DAGMan on hand-written DAGs (tests/dags/): semantics from the DAGMan manual."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reprogrid.emulator import dryrun, plan
from reprogrid.emulator.dagman.rescue import rescue_files
from reprogrid.core.errors import UserError

DAGS = Path(__file__).parent / "dags"


def copy(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(DAGS / name, dest)
    return dest


def test_diamond_runs_scripts_vars_and_sandbox(tmp_path):
    d = copy(tmp_path, "diamond")
    result = dryrun(d / "diamond.dag", slots=2)
    assert result.exit_code == 0, (d / "diamond.dag.dagman.out").read_text()
    assert sorted(result.done) == ["A", "B", "C", "D"]
    assert (d / "scripts.txt").read_text().splitlines() == ["pre A 0 0", "post D 0"]
    seen = json.loads((d / "seen-B.json").read_text())  # came back from the sandbox
    assert seen["argv"] == ["B", "back\\slash and 'quoted' words"]
    assert seen["cwd_is_scratch"] and seen["job_ad"] and seen["machine_ad"]
    assert seen["greeting"] == "hello world" and seen["input"] == "input data" and seen["omp"] == "1"
    assert (d / "out" / "A.out").read_text() == "ran A\n"
    assert not rescue_files(d / "diamond.dag")
    status = (d / "diamond.dag.status").read_text()
    assert "NodesDone = 4;" in status and 'Type = "StatusEnd";' in status


def test_event_log_parses_with_htcondor2(tmp_path):
    htcondor2 = pytest.importorskip("htcondor2")
    d = copy(tmp_path, "diamond")
    dryrun(d / "diamond.dag", slots=2)
    events = list(htcondor2.JobEventLog(str(d / "diamond.log")).events(0))
    kinds = [int(e.type) for e in events]
    assert kinds.count(0) == 4 and kinds.count(1) == 4 and kinds.count(5) == 4
    terminated = [e for e in events if int(e.type) == 5]
    assert all(e["ReturnValue"] == 0 and e["TerminatedNormally"] for e in terminated)
    submits = [e for e in events if int(e.type) == 0]
    assert [e.cluster for e in submits] == [2, 3, 4, 5]  # cluster 1 is the DAGMan job itself
    assert submits[0]["LogNotes"] == "DAG Node: A"


def test_retry_fails_twice_then_succeeds(tmp_path):
    d = copy(tmp_path, "retry")
    result = dryrun(d / "retry.dag", slots=1)
    assert result.exit_code == 0
    assert (d / "counter.txt").read_text() == "3"
    assert "Retrying node flaky (retry #2 of 2)" in (d / "retry.dag.dagman.out").read_text()


def test_failure_writes_rescue_and_rerun_finishes_the_rest(tmp_path):
    d = copy(tmp_path, "rescue")
    first = dryrun(d / "rescue.dag", slots=2)
    assert first.exit_code == 1
    assert first.failed == ["B"] and first.futile == ["C"]
    assert first.rescue_file == d / "rescue.dag.rescue001"
    text = first.rescue_file.read_text()
    assert "DONE A\n" in text and "DONE D\n" in text and "DONE B" not in text
    assert "# Nodes that failed: 1\n#   B,<ENDLIST>" in text
    assert "RETRY" not in text  # DAGMAN_RESET_RETRIES_UPON_RESCUE defaults to true
    assert sorted((d / "runs.txt").read_text().split()) == ["A", "B", "B", "D"]
    (d / "runs.txt").unlink()
    (d / "fixed").write_text("")
    second = dryrun(d / "rescue.dag", slots=2)
    assert second.used_rescue == first.rescue_file
    assert second.exit_code == 0
    assert (d / "runs.txt").read_text().split() == ["B", "C"]  # A and D are not redone
    assert not (d / "rescue.dag.rescue002").exists()


def test_abort_dag_on_stops_everything(tmp_path):
    d = copy(tmp_path, "abort")
    result = dryrun(d / "abort.dag", slots=2)
    assert result.exit_code == 3 and result.aborted
    assert "A" not in result.done and "C" not in result.done and "B" not in result.done
    out = (d / "abort.dag.dagman.out").read_text()
    assert "Retrying node A" not in out  # an abort overrides retries
    assert result.rescue_file is not None
    # B (sleep 60) was stopped, not waited for: its job ends in an abort event, not a termination.
    import htcondor2

    events = [(e.cluster, e.type) for e in htcondor2.JobEventLog(str(d / "abort.log")).events(stop_after=0)]
    b_clusters = {c for c, t in events if t == htcondor2.JobEventType.EXECUTE}
    assert htcondor2.JobEventType.JOB_ABORTED in {t for _, t in events}
    assert any(t == htcondor2.JobEventType.JOB_ABORTED and c in b_clusters for c, t in events)


def test_maxjobs_one_runs_in_priority_order_without_overlap(tmp_path):
    d = copy(tmp_path, "maxjobs")
    result = dryrun(d / "maxjobs.dag", slots=2)
    assert result.exit_code == 0
    lines = (d / "order.txt").read_text().split("\n")[:-1]
    assert lines == ["start n3", "end n3", "start n2", "end n2", "start n1", "end n1", "start n4", "end n4"]


def test_final_runs_after_failure_with_dag_status(tmp_path):
    d = copy(tmp_path, "final")
    result = dryrun(d / "final.dag", slots=2)
    assert (d / "final.txt").read_text().split() == ["2", "1"]  # DAG_STATUS 2 = node failed
    assert result.failed == ["A"] and result.futile == ["B"]
    assert result.exit_code == 0  # the FINAL node's success decides the DAG (DAGMan manual)
    assert result.rescue_file is not None  # ... but the failed node can still be resumed


def test_plan_reports_the_clause_that_excludes_a_gpu_job(tmp_path, capsys):
    from reprogrid.cli import main

    result = plan(DAGS / "gpu" / "gpu.dag")
    assert result.exit_code == 1
    (gpu,) = result.unmatched
    assert gpu.node == "gpu" and "countMatches(MY.RequireGPUs" in gpu.reasons[0]
    cpu = [n for n in result.nodes if n.node == "cpu"][0]
    assert cpu.slots > 0 and "intel-xeon-gold-6148" in cpu.hardware_envs
    assert main(["dryrun", str(DAGS / "gpu" / "gpu.dag"), "--plan", "--pool", "ospool-2022"]) == 1
    assert "excluded by" in capsys.readouterr().out


def test_unmatchable_job_fails_its_node_in_execute_mode(tmp_path):
    d = copy(tmp_path, "gpu")
    result = dryrun(d / "gpu.dag", slots=1)
    assert result.failed == ["gpu"] and "cpu" in result.done
    assert result.exit_code == 1


def test_bad_dag_lines_are_user_errors_with_file_and_line(tmp_path):
    dag = tmp_path / "bad.dag"
    dag.write_text("JOB A a.sub\nPROVISIONER P other.sub\nVARS A x=\"unclosed\nPARENT A CHILD Z\n")
    with pytest.raises(UserError) as err:
        dryrun(dag)
    text = str(err.value)
    assert f"{dag}:2" in text and "PROVISIONER" in text
    assert f"{dag}:3" in text and f"{dag}:4" in text and "'Z'" in text


def test_cycles_are_rejected(tmp_path):
    dag = tmp_path / "cycle.dag"
    dag.write_text("JOB A a.sub\nJOB B a.sub\nPARENT A CHILD B\nPARENT B CHILD A\n")
    with pytest.raises(UserError, match="cycle"):
        plan(dag)
