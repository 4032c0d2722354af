"""A dry run killed with SIGKILL, then the same command: nothing finished runs again,
nothing of the killed run lives on; and two dry runs of one DAG never run together."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprogrid.condor.bindings import htcondor2

MARK = "37.125"  # the slow jobs' sleep: found in /proc to detect orphans


def _write_dag(d: Path, pause: float = 0.0) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    runs, slow = d / "runs.txt", d / "SLOW"
    slow.write_text("")
    script = (f"echo $(name) >> {runs}; if [ -e {slow} ] && [ $(name) != a ] && [ $(name) != b ]; "
              f"then sleep {MARK} & wait; fi; sleep {pause}")
    (d / "job.sub").write_text(
        "executable = /bin/sh\n"
        f"arguments = \"-c '{script}'\"\n"
        "log = jobs.log\nrequest_memory = 16\nrequest_disk = 16\nqueue\n")
    (d / "k.dag").write_text("".join(f'JOB {n} job.sub\nVARS {n} name="{n}"\n' for n in "abcd")
                             + "PARENT a CHILD d\nFINAL fin job.sub\nVARS fin name=\"fin\"\n")
    return d / "k.dag"


def _cmd(dag: Path):
    return [sys.executable, "-m", "reprogrid", "dryrun", str(dag), "--slots", "4"]


def _env(tmp: Path):
    (tmp / "scratch").mkdir(exist_ok=True)
    return dict(os.environ, TMPDIR=str(tmp / "scratch"), PYTHONPATH=str(Path(__file__).parent.parent))


def _orphans():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def _wait(pred, step=0.05, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def _start_and_wait_running(dag: Path, env) -> subprocess.Popen:
    proc = subprocess.Popen(_cmd(dag), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = dag.parent / "runs.txt"
    assert _wait(lambda: runs.exists() and {"a", "b", "c", "d"} <= set(runs.read_text().split())
                 and len(_orphans()) >= 2), "the slow jobs did not start"
    return proc


def test_sigkill_then_same_command_runs_only_what_did_not_finish(tmp_path):
    dag = _write_dag(tmp_path / "dag")
    env = _env(tmp_path)
    proc = _start_and_wait_running(dag, env)
    time.sleep(0.3)  # a and b have terminated (their events are flushed at termination)
    proc.kill()
    proc.wait()
    # the jobs (and their own children) die with the dry run; its sandboxes go too
    assert _wait(lambda: not _orphans(), timeout=10), f"orphans left: {_orphans()}"
    assert _wait(lambda: not any((tmp_path / "scratch").iterdir()), timeout=10), list((tmp_path / "scratch").iterdir())
    assert (dag.parent / "k.dag.lock").exists()  # a killed run leaves its lock: the next one recovers

    (dag.parent / "SLOW").unlink()
    done = subprocess.run(_cmd(dag), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "note:" in done.stderr and "recovering" in done.stderr
    runs = (dag.parent / "runs.txt").read_text().split()
    assert runs.count("a") == 1 and runs.count("b") == 1  # finished before the kill: not run again
    assert runs.count("c") == 2 and runs.count("d") == 2 and runs.count("fin") == 1
    assert not (dag.parent / "k.dag.lock").exists()
    assert not any((tmp_path / "scratch").iterdir())

    events = list(htcondor2().JobEventLog(str(dag.parent / "k.dag.nodes.log")).events(0))
    submits = [int(e.cluster) for e in events if int(e.type) == 0]
    assert submits == sorted(submits) and len(submits) == len(set(submits)) == 7  # ids go on across runs
    aborted = {int(e.cluster) for e in events if int(e.type) == 9}
    terminated = {int(e.cluster) for e in events if int(e.type) == 5}
    assert aborted | terminated == set(submits) and not aborted & terminated  # nothing left "running"


@pytest.mark.parametrize("started", [0, 1, 3, 5])
def test_sigkill_at_any_moment_never_runs_a_finished_node_twice(tmp_path, started):
    """Killed once ``started`` jobs have started (0: as soon as it holds the lock), then run again."""
    dag = _write_dag(tmp_path / "dag", pause=0.3)
    (dag.parent / "SLOW").unlink()
    env = _env(tmp_path)
    runs_file = dag.parent / "runs.txt"
    proc = subprocess.Popen(_cmd(dag), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _wait(lambda: proc.poll() is not None or (dag.parent / "k.dag.lock").exists() and (
        started == 0 or runs_file.exists() and len(runs_file.read_text().split()) >= started), 0.005)
    proc.kill()
    assert proc.wait() == -signal.SIGKILL  # the kill landed inside the run
    done = subprocess.run(_cmd(dag), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = (dag.parent / "runs.txt").read_text().split()
    events = list(htcondor2().JobEventLog(str(dag.parent / "k.dag.nodes.log")).events(0))
    node_of = {int(e.cluster): str(e.get("LogNotes", "")).split(": ")[-1] for e in events if int(e.type) == 0}
    ok = [node_of[int(e.cluster)] for e in events if int(e.type) == 5 and e.get("ReturnValue") == 0]
    assert sorted(ok) == sorted(set(ok)) and set("abcd") <= set(ok)  # each node finished once
    for node in "abcd":
        assert runs.count(node) <= list(node_of.values()).count(node)  # every start was logged
    assert _wait(lambda: not any((tmp_path / "scratch").iterdir()), timeout=10)


def test_second_dry_run_of_a_dag_is_refused_naming_the_first(tmp_path):
    dag = _write_dag(tmp_path / "dag")
    env = _env(tmp_path)
    first = _start_and_wait_running(dag, env)
    try:
        second = subprocess.run(_cmd(dag), env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    finally:
        (dag.parent / "SLOW").unlink()  # the FINAL node DAGMan runs after the removal need not sleep
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert not _orphans()
    runs = (dag.parent / "runs.txt").read_text().split()
    assert runs.count("a") == 1  # the refused run started nothing


@pytest.mark.parametrize("partial", [b"000 (005.000.000) 2024-01-01 00:00:00 Job submi", b""])
def test_half_written_event_is_cut_before_appending(tmp_path, partial):
    from reprogrid.emulator.dagman.recovery import last_cluster
    from reprogrid.emulator.starter.eventlog import repair_tail
    from reprogrid.emulator.starter import eventlog

    log = tmp_path / "x.log"
    log.write_text(eventlog.submit_event(4, 0, "n"))
    with open(log, "ab") as handle:
        handle.write(partial)
    assert repair_tail(log) == bool(partial)
    assert log.read_text() == eventlog.submit_event(4, 0, "n") and last_cluster(log) == 4
