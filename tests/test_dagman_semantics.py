"""DAGMan behaviours the dry run must share, one test each (issue: the emulator behaves as DAGMan does).

Each expected outcome cites the DAGMan manual section or condor_dagman's source it comes from
(htcondor ``src/condor_dagman``): these are the divergences the emulator had, pinned.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reprogrid.emulator.dagman.dagfile import DagParseError, parse_dag
from reprogrid.emulator.dagman.rescue import rescue_files

from dag_helpers import LOCAL, run, write  # noqa: E402  (tests/ is on sys.path)


# -- 1. node macros and cluster ids (dagman_submit.cpp, DagSubmit::InitVars) -------------------
def test_node_macros_are_defined_for_every_node(tmp_path):
    write(tmp_path, {
        "d.dag": """\
            JOB A n.sub
            JOB B n.sub
            PARENT A CHILD B
            RETRY B 1
            """,
        "n.sub": LOCAL + """\
            executable = /bin/echo
            arguments = "job=$(JOB) retry=$(RETRY) status=$(DAG_STATUS) failed=$(FAILED_COUNT) parents=$(DAG_PARENT_NAMES) dag=$(DAGManJobId)"
            output = $(JOB).$(Cluster).txt
            queue
            """})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0, out
    a, b = sorted(tmp_path.glob("A.*.txt")), sorted(tmp_path.glob("B.*.txt"))
    assert [p.name for p in a + b] == ["A.2.txt", "B.3.txt"]  # cluster 1 is the DAGMan job itself
    assert a[0].read_text().split() == ["job=A", "retry=0", "status=0", "failed=0", "parents=", "dag=1"]
    assert b[0].read_text().split() == ["job=B", "retry=0", "status=0", "failed=0", "parents=A", "dag=1"]


def test_cluster_ids_keep_rising_across_a_resume(tmp_path):
    write(tmp_path, {"d.dag": "JOB A ok.sub\nJOB B bad.sub\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n",
                     "bad.sub": LOCAL + "executable = /bin/false\nqueue\n"})
    first, _ = run(tmp_path, "d.dag")
    assert first.exit_code == 1 and first.rescue_file is not None
    second, _ = run(tmp_path, "d.dag")
    ids = [int(m) for m in re.findall(r"^000 \((\d+)\.", (tmp_path / "nodes.log").read_text(), re.M)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 3, ids  # never two jobs 2.0 in one log


# -- 2. VARS placement (DAGMAN_DEFAULT_APPEND_VARS = False) ---------------------------------------
def test_vars_are_prepended_so_the_submit_file_wins(tmp_path):
    write(tmp_path, {"d.dag": 'JOB A n.sub\nVARS A word="from-vars" other="seen"\nVARS A APPEND late="appended"\n',
                     "n.sub": LOCAL + """\
                        executable = /bin/echo
                        word = from-file
                        late = from-file
                        if defined other
                          flag = defined
                        endif
                        arguments = "$(word) $(flag) $(late)"
                        output = a.txt
                        queue
                        """})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0, out
    assert (tmp_path / "a.txt").read_text().split() == ["from-file", "defined", "appended"]


# -- 3. ABORT-DAG-ON ----------------------------------------------------------------------------
def test_abort_dag_on_fires_on_success_with_return(tmp_path):
    write(tmp_path, {"d.dag": "JOB A ok.sub\nJOB B ok.sub\nPARENT A CHILD B\nABORT-DAG-ON A 0 RETURN 7\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n"})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 7 and result.aborted, out
    assert result.done == ["A"] and "Aborting DAG because we got the ABORT exit value from a job" in out
    assert result.rescue_file is not None and "DONE A" in result.rescue_file.read_text()


def test_abort_with_final_stops_queued_nodes(tmp_path):
    write(tmp_path, {"d.dag": """\
        JOB A ok.sub
        JOB B1 ok.sub
        JOB B2 ok.sub
        JOB B3 ok.sub
        PARENT A CHILD B1 B2 B3
        ABORT-DAG-ON A 0 RETURN 3
        FINAL F ok.sub
        """, "ok.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo $(JOB) >> ran.txt'\"\nqueue\n"})
    result, out = run(tmp_path, "d.dag")
    assert (tmp_path / "ran.txt").read_text().split() == ["A", "F"], out
    assert result.exit_code == 0  # the FINAL node succeeded (Dag::DoneSuccess)


# -- 5. submit failures and holds -----------------------------------------------------------------
def test_held_job_runs_post_with_minus_1002_and_retries(tmp_path):
    write(tmp_path, {"d.dag": "JOB A held.sub\nSCRIPT POST A post.sh $RETURN\nRETRY A 1\n",
                     "held.sub": "universe = vanilla\nexecutable = /bin/true\nlog = nodes.log\n"
                                 "transfer_input_files = missing.txt\nqueue\n",
                     "post.sh": "#!/bin/sh\necho $1 >> post.txt\nexit 1\n"})
    result, out = run(tmp_path, "d.dag")
    assert (tmp_path / "post.txt").read_text().split() == ["-1002", "-1002"], out  # POST runs, RETRY applies
    assert result.failed == ["A"]
    log = (tmp_path / "nodes.log").read_text()
    assert "Job was held." in log and "Job was aborted." in log


# -- 4. multi-proc clusters ----------------------------------------------------------------------
def test_every_proc_of_a_cluster_runs(tmp_path):
    write(tmp_path, {"d.dag": 'JOB A three.sub\nVARS A tag="x"\nJOB B items.sub\n',
                     "three.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo $(Process) >> three.txt'\"\nqueue 3\n",
                     "items.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo $(item) >> items.txt; [ $(item) != b ]'\"\n"
                                          "queue item from (\n  a\n  b\n)\n"})
    result, out = run(tmp_path, "d.dag")
    assert sorted((tmp_path / "three.txt").read_text().split()) == ["0", "1", "2"]
    assert sorted((tmp_path / "items.txt").read_text().split()) == ["a", "b"]
    assert result.done == ["A"] and result.failed == ["B"], out  # one failed proc fails the node


# -- 6. $$() from the matched machine ----------------------------------------------------------
def test_dollar_dollar_expands_from_the_machine_ad(tmp_path):
    from reprogrid.condor.pool import ads_from_json
    machine = [{"Name": "slot1@m", "Machine": "m", "Arch": "X86_64", "OpSys": "LINUX", "Cpus": 4, "Memory": 4096,
                "Disk": 10_000_000, "HasFileTransfer": True, "Requirements": True, "GLIDEIN_Site": "Here"}]
    write(tmp_path, {"d.dag": "JOB A m.sub\n",
                     "m.sub": "universe = vanilla\nexecutable = /bin/echo\nlog = nodes.log\n"
                              "arguments = \"$$(GLIDEIN_Site) $$([Cpus * 2]) $$(Missing:none)\"\noutput = m.txt\nqueue\n"})
    result, out = run(tmp_path, "d.dag", machines=ads_from_json(machine))
    assert result.exit_code == 0, out
    assert (tmp_path / "m.txt").read_text().split() == ["Here", "8", "none"]


# -- 7. script macros (script.cpp, Script::BackgroundRun) ----------------------------------------
def test_script_macros_and_pre_restrictions(tmp_path):
    write(tmp_path, {"d.dag": """\
        JOB A two.sub
        SCRIPT PRE A args.sh pre $NODE $RETURN $DAGID $NODE_COUNT
        SCRIPT POST A args.sh post $JOB $CLUSTERID $JOBID $SUCCESS $RETURN $EXIT_CODES $EXIT_CODE_COUNTS $JOB_COUNT $DONE_COUNT $FAILED_COUNT $QUEUED_COUNT $BOGUS
        """,
        "two.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'exit $(Process)'\"\nqueue 2\n",
        "args.sh": "#!/bin/sh\necho \"$@\" >> args.txt\n"})
    result, out = run(tmp_path, "d.dag")
    pre, post = (tmp_path / "args.txt").read_text().splitlines()
    assert pre == "pre A $RETURN 1 1"  # $RETURN stays literal in a PRE script ...
    assert "Warning: $RETURN macro should not be used as a PRE script argument!" in out  # ... with DAGMan's warning
    assert post == "post A 2 2.1 False 1 0,1 0:1,1:1 2 0 0 0 $BOGUS"
    assert "Warning: unrecognized macro $BOGUS in node A POST script arguments" in out
    assert result.exit_code == 0


# -- 8. rescue DAGs -------------------------------------------------------------------------------
def test_final_failure_alone_writes_a_rescue_that_reruns_only_final(tmp_path):
    write(tmp_path, {"d.dag": "JOB A ok.sub\nFINAL F fin.sub\n",
                     "ok.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo A >> ran.txt'\"\nqueue\n",
                     "fin.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo F >> ran.txt; [ -e fixed ]'\"\nqueue\n"})
    first, _ = run(tmp_path, "d.dag")
    assert first.exit_code == 1 and first.rescue_file is not None
    text = first.rescue_file.read_text()
    assert "#   F,<ENDLIST>" in text and "DONE A" in text and "DONE F" not in text
    (tmp_path / "fixed").write_text("")
    second, _ = run(tmp_path, "d.dag")
    assert second.exit_code == 0
    assert (tmp_path / "ran.txt").read_text().split() == ["A", "F", "F"]


def test_abort_with_return_zero_writes_no_rescue(tmp_path):
    write(tmp_path, {"d.dag": "JOB A bad.sub\nJOB B ok.sub\nPARENT A CHILD B\nABORT-DAG-ON A 1 RETURN 0\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n", "bad.sub": LOCAL + "executable = /bin/false\nqueue\n"})
    result, _ = run(tmp_path, "d.dag")
    assert result.exit_code == 0 and result.rescue_file is None and not rescue_files(tmp_path / "d.dag")


def test_rescue_numbers_stop_at_max_rescue_num(tmp_path):
    write(tmp_path, {"d.dag": "CONFIG d.config\nJOB A bad.sub\n", "d.config": "DAGMAN_MAX_RESCUE_NUM = 2\n",
                     "bad.sub": LOCAL + "executable = /bin/false\nqueue\n"})
    names = [run(tmp_path, "d.dag")[0].rescue_file.name for _ in range(3)]
    assert names == ["d.dag.rescue001", "d.dag.rescue002", "d.dag.rescue002"]


def test_interrupt_runs_final_with_dag_status_4(tmp_path):
    write(tmp_path, {"d.dag": "JOB A slow.sub\nFINAL F fin.sub\n",
                     "slow.sub": LOCAL + "executable = /bin/sleep\narguments = 30\nqueue\n",
                     "fin.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo $(DAG_STATUS) > final.txt'\"\nqueue\n"})
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-m", "reprogrid", "dryrun", str(tmp_path / "d.dag"), "--slots", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    log = tmp_path / "d.dag.dagman.out"
    for _ in range(300):
        if log.exists() and "Submitting HTCondor Node A" in log.read_text():
            break
        __import__("time").sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert (tmp_path / "final.txt").read_text().strip() == "4"
    assert (tmp_path / "d.dag.rescue001").exists()


# -- 9. node status file (dag.cpp, Dag::DumpNodeStatus) -----------------------------------------
def test_status_file_uses_node_status_numbers_and_ends(tmp_path):
    write(tmp_path, {"d.dag": "NODE_STATUS_FILE d.status\nJOB A ok.sub\nJOB B bad.sub\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n", "bad.sub": LOCAL + "executable = /bin/false\nqueue\n"})
    run(tmp_path, "d.dag")
    text = (tmp_path / "d.status").read_text()
    assert re.search(r'DagStatus = 6; /\* "STATUS_ERROR \(failed\)" \*/', text)
    assert "NextUpdate = 0;" in text and "NodesFailed = 1;" in text
    from reprogrid.access.nodestatus import read_node_status  # the status reader still parses it
    parsed = read_node_status(tmp_path / "d.status")
    assert parsed.dag_status == 6


# -- 10. parsing (DAGMan's dag_parser.cpp) ------------------------------------------------------
def test_parsing_as_dagman_lexes(tmp_path):
    write(tmp_path, {"d.dag": """\
        JOB A {
            universe = local
            executable = /bin/echo
            arguments = "$(code)"
            output = a.txt
            log = nodes.log
        }
        SUBMIT-DESCRIPTION shared {
            universe = local
            executable = /bin/true
            log = nodes.log
        }
        JOB B shared
        VARS A code=1
        RETRY B 2 UNLESS_EXIT 3
        INCLUDE more.dag
        PARENT A CHILD B
        """, "more.dag": "JOB C shared\n"})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0 and sorted(result.done) == ["A", "B", "C"], out
    assert (tmp_path / "a.txt").read_text().strip() == "1"
    assert parse_dag(tmp_path / "d.dag").nodes["B"].retry_unless_exit == 3


@pytest.mark.parametrize("line,what", [("JOB A+B x.sub", "illegal character '+'"),
                                       ("JOB A x.sub\nABORT-DAG-ON A 1 RETURN 300", "between 0 and 255"),
                                       ("PROVISIONER P x.sub", "PROVISIONER nodes")])
def test_refused_lines_name_file_line_and_fix(tmp_path, line, what):
    (tmp_path / "d.dag").write_text(line + "\n")
    with pytest.raises(DagParseError, match=re.escape(what)) as err:
        parse_dag(tmp_path / "d.dag")
    assert f"{tmp_path / 'd.dag'}:" in str(err.value)


def test_parse_error_exits_1_like_condor_dagman(tmp_path, capsys):
    from reprogrid.cli import main
    (tmp_path / "d.dag").write_text("JOB A+B x.sub\n")
    assert main(["dryrun", str(tmp_path / "d.dag")]) == 1
    assert "illegal character" in capsys.readouterr().err


# -- 11. SUBDAG EXTERNAL and the halt file ------------------------------------------------------
def test_subdag_external_runs_through_the_emulator(tmp_path):
    write(tmp_path, {"top.dag": "JOB A ok.sub\nSUBDAG EXTERNAL S inner.dag DIR sub\nPARENT A CHILD S\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n",
                     "sub/inner.dag": "JOB X ok.sub\n", "sub/ok.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo X > x.txt'\"\nqueue\n"})
    result, out = run(tmp_path, "top.dag")
    assert result.exit_code == 0 and sorted(result.done) == ["A", "S"], out
    assert (tmp_path / "sub" / "x.txt").read_text().strip() == "X"
    assert (tmp_path / "sub" / "inner.dag.dagman.out").exists()


def test_halt_file_stops_new_work_and_writes_rescue(tmp_path):
    write(tmp_path, {"d.dag": "JOB A halt.sub\nJOB B ok.sub\nPARENT A CHILD B\nFINAL F ok.sub\n",
                     "halt.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'touch d.dag.halt; sleep 1'\"\nqueue\n",
                     "ok.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo $(JOB) $(DAG_STATUS) >> ran.txt'\"\nqueue\n"})
    result, out = run(tmp_path, "d.dag")
    assert (tmp_path / "ran.txt").read_text().splitlines() == ["F 6"], out  # B never ran; FINAL sees DAG_STATUS_HALTED
    assert result.rescue_file is not None and "DONE A" in result.rescue_file.read_text()
    assert "Exiting because DAG is halted" in out


# -- 12. dagman.out wording tools grep for --------------------------------------------------------
def test_dagman_out_uses_dagmans_wording(tmp_path):
    write(tmp_path, {"d.dag": "JOB A ok.sub\nSCRIPT PRE A skip.sh\nPRE_SKIP A 3\nJOB B ok.sub\nSCRIPT POST B ok.sh\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n",
                     "skip.sh": "#!/bin/sh\nexit 3\n", "ok.sh": "#!/bin/sh\nexit 0\n"})
    _, out = run(tmp_path, "d.dag")
    for line in ("PRE_SKIP return value 3 indicates we are done (successfully) with node A",
                 "POST Script of node B completed successfully.", "Running POST script of Node B...",
                 "DAG status: 0 (DAG_STATUS_OK)", "Node B job proc (", "EXITING WITH STATUS 0"):
        assert line in out


def test_script_arguments_split_on_whitespace_only(tmp_path):
    # script.cpp: StringTokenIterator(_cmd, " \t") -- quotes are not special in a SCRIPT line
    (tmp_path / "d.dag").write_text('JOB A a.sub\nSCRIPT POST A s.sh "a b" $RETURN\n')
    assert parse_dag(tmp_path / "d.dag").nodes["A"].post.argv == ["s.sh", '"a', 'b"', "$RETURN"]
