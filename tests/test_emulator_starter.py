"""The emulated starter owns its job's processes, and the execute side's faults are job faults.

HTCondor's starter kills everything a job started when the job ends or is removed; a dry
run does too, and a killed dry run leaves nothing behind. A sandbox that cannot be made
puts the job on hold (the dry run removes it: -1002), with the DAG's logs, rescue DAG and
lock consistent, so the same command then recovers.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reprogrid.condor.bindings import htcondor2
from reprogrid.emulator import dryrun

ROOT = Path(__file__).resolve().parent.parent


def _marked(mark: str):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    if Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
                        found.append(int(pid))
            except OSError:
                pass
    return found


def _wait(pred, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _leaky_dag(d: Path, mark: str, then: str = "exit 0") -> Path:
    """One job that starts `sleep &`, `setsid sleep &` and a double-forked sleep, then `then`."""
    d.mkdir(parents=True, exist_ok=True)
    script = (f"sleep {mark}1 & setsid sleep {mark}2 & (sh -c ''sleep {mark}3 &'' &); "
              f"touch {d}/started; {then}")
    (d / "job.sub").write_text("executable = /bin/sh\n"
                               f"arguments = \"-c '{script}'\"\n"
                               "log = jobs.log\nqueue\n")
    (d / "leak.dag").write_text("JOB A job.sub\n")
    return d / "leak.dag"


def test_a_jobs_background_setsid_and_double_forked_children_end_with_the_job(tmp_path):
    mark = "61.0417"
    dag = _leaky_dag(tmp_path / "dag", mark)
    result = dryrun(dag, slots=2, scratch_dir=tmp_path)
    assert result.exit_code == 0 and (dag.parent / "started").exists()
    assert _wait(lambda: not _marked(mark), timeout=5), f"the job's processes outlived it: {_marked(mark)}"


def test_a_killed_dry_run_leaves_none_of_its_jobs_processes(tmp_path):
    mark = "62.0417"
    dag = _leaky_dag(tmp_path / "dag", mark, then=f"sleep {mark}9")
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "reprogrid", "dryrun", str(dag), "--slots", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait(lambda: (dag.parent / "started").exists() and len(_marked(mark)) >= 4, timeout=60), _marked(mark)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _wait(lambda: not _marked(mark), timeout=15), f"processes survived the killed dry run: {_marked(mark)}"


def test_a_sandbox_that_cannot_be_made_holds_the_job_and_the_next_run_recovers(tmp_path, capsys):
    """A's job turns the scratch root into a file, so B's sandbox cannot be created."""
    d = tmp_path / "dag"
    d.mkdir()
    (d / "break.sub").write_text(
        "universe = local\nexecutable = /bin/sh\n"
        "arguments = \"-c 'd=$(dirname $_CONDOR_SCRATCH_DIR); if [ -e flag ]; then rm -rf $d; echo x > $d; fi'\"\n"
        "log = jobs.log\nqueue\n")
    (d / "ok.sub").write_text("executable = /bin/sh\narguments = \"-c 'echo ok > out.txt'\"\n"
                              "should_transfer_files = YES\ntransfer_output_files = out.txt\n"
                              "log = jobs.log\nqueue\n")
    (d / "s.dag").write_text("JOB A break.sub\nJOB B ok.sub\nPARENT A CHILD B\nFINAL F ok.sub\n")
    (d / "flag").write_text("")
    first = dryrun(d / "s.dag", slots=2, scratch_dir=tmp_path)
    assert first.exit_code == 1 and first.failed == ["B"] and "F" not in first.not_run
    assert "ULOG_JOB_ABORTED" in first.reasons["B"]  # DAGMan's words for a removed job (-1002)
    assert "node B FAILED (held: Failed to create the job's sandbox" in capsys.readouterr().err  # and why, for people
    assert first.rescue_file is not None and first.rescue_file.exists()
    events = list(htcondor2().JobEventLog(str(d / "jobs.log")).events(0))
    kinds = htcondor2().JobEventType
    held = [e for e in events if e.type == kinds.JOB_HELD]
    aborted = [e.cluster for e in events if e.type == kinds.JOB_ABORTED]
    assert [e.cluster for e in held] == aborted and len(held) == 2  # B and F: held, then removed
    assert all("Failed to create the job's sandbox" in e["HoldReason"] for e in held), [dict(e) for e in held]
    assert "Failed to create the job's sandbox" in (d / "s.dag.dagman.out").read_text()
    assert not (d / "s.dag.lock").exists() or not _locked(d / "s.dag.lock")
    (d / "flag").unlink()
    second = dryrun(d / "s.dag", slots=2, scratch_dir=tmp_path)
    assert second.exit_code == 0 and "B" in second.done and (d / "out.txt").read_text() == "ok\n"


def _locked(path: Path) -> bool:
    import fcntl

    with open(path) as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def test_a_full_file_system_holds_the_job_with_no_space_left(tmp_path):
    """The issue's case: TMPDIR on a full file system. Needs a tiny tmpfs (mount: root)."""
    import pytest

    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): the file-in-the-way test covers the path")
    try:
        fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        d = tmp_path / "dag"
        d.mkdir()
        (d / "ok.sub").write_text("executable = /bin/true\nlog = jobs.log\nqueue\n")
        (d / "s.dag").write_text("JOB A ok.sub\n")
        result = dryrun(d / "s.dag", slots=1, scratch_dir=full)
        assert result.exit_code == 1 and result.failed == ["A"] and result.rescue_file is not None
        held = [e for e in htcondor2().JobEventLog(str(d / "jobs.log")).events(0)
                if e.type == htcondor2().JobEventType.JOB_HELD]
        assert len(held) == 1 and "No space left on device" in held[0]["HoldReason"], [dict(e) for e in held]
    finally:
        subprocess.run(["umount", str(full)], capture_output=True)


def test_each_jobs_ad_names_its_own_cluster_and_node_when_nodes_share_a_submit_file(tmp_path):
    """The starter's ``.job.ad`` (``$_CONDOR_JOB_AD``) is the job's own: nodes that share
    one parsed submit description each see their ClusterId, ProcId and DAGNodeName, even
    while another node of the same description is submitted as they start."""
    (tmp_path / "show.sh").write_text('#!/bin/sh\nsleep 0.05\n'
                                      'echo "$(basename "$_CONDOR_SCRATCH_DIR") '
                                      '$(grep -E "^(ClusterId|ProcId|DAGNodeName) = " "$_CONDOR_JOB_AD" | sort | tr "\\n" " ")" >> ads.txt\n')
    (tmp_path / "show.sh").chmod(0o755)
    (tmp_path / "j.sub").write_text("universe = local\nexecutable = show.sh\nlog = nodes.log\nqueue 2\n")
    (tmp_path / "d.dag").write_text("".join(f"JOB n{i} j.sub\n" for i in range(8)))
    result = dryrun(tmp_path / "d.dag", slots=2, progress=False)
    assert result.exit_code == 0
    lines = (tmp_path / "ads.txt").read_text().splitlines()
    assert len(lines) == 16
    for line in lines:  # "<node>.<cluster>.<proc> ClusterId = c DAGNodeName = "n" ProcId = p"
        tag, rest = line.split(" ", 1)
        node, cluster, proc = tag.rsplit(".", 2)
        assert rest.split() == ["ClusterId", "=", cluster, "DAGNodeName", "=", f'"{node}"', "ProcId", "=", proc], line


def test_a_child_whose_owner_was_handed_out_is_no_orphan_before_it_is_watched():
    """A job forked on the starter pool reaches the loop's watch a moment after it exists;
    a sweep in between must not take it for an orphan of an ended job: its owner marker
    counts as running from the moment it is handed out."""
    from reprogrid.emulator.starter.processes import OWNER_VAR, Processes

    processes = Processes(lambda pid: None, lambda pid: None)
    owner = processes.new_owner()
    child = subprocess.Popen(["sleep", "30"], env={**os.environ, OWNER_VAR: owner})
    try:
        time.sleep(0.2)  # exec'd: its environment carries the marker
        assert child.pid not in processes.sweep()
        assert child.poll() is None
        processes.forget(owner)  # no job: the same child is now an orphan of an ended owner
        assert child.pid in processes.sweep()
    finally:
        if child.poll() is None:
            child.kill()
        try:
            child.wait(timeout=5)
        except (ChildProcessError, subprocess.TimeoutExpired):
            pass


def test_a_copied_executable_is_never_busy_when_jobs_start_together(tmp_path):
    """A job's executable is copied into its sandbox on a pool thread while other threads
    fork other jobs; a fork that caught the copy open for writing made the job's exec fail
    with ETXTBSY ("Text file busy") and the job was held (a CI flake; before the fork gate,
    this DAG lost 2-8 of its 200 jobs in 5 of 6 runs on a loaded 2-core machine)."""
    body = "#!/bin/sh\nexit 0\n" + ("#" * 1023 + "\n") * 512  # a long copy: a wide window for a fork to land in
    (tmp_path / "job.sh").write_text(body)
    (tmp_path / "job.sh").chmod(0o755)
    (tmp_path / "j.sub").write_text("executable = job.sh\ntransfer_executable = true\n"
                                    "should_transfer_files = YES\nlog = jobs.log\nqueue\n")
    (tmp_path / "s.dag").write_text("".join(f"JOB n{i} j.sub\n" for i in range(200)))
    result = dryrun(tmp_path / "s.dag", slots=8, progress=False)
    held = [e for e in htcondor2().JobEventLog(str(tmp_path / "jobs.log")).events(0)
            if e.type == htcondor2().JobEventType.JOB_HELD]
    assert not held, [e.get("HoldReason") for e in held[:3]]
    assert result.exit_code == 0 and result.failed == []
