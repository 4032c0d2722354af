"""The rest of DAGMan's manual (HTCondor docs, automated-workflows/dagman-*.rst), one test per
behaviour, each quoting the manual's words it pins."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprogrid.emulator import dryrun
from reprogrid.emulator.dagman.dagfile import DagParseError, parse_dag

from dag_helpers import LOCAL, run, write  # noqa: E402  (tests/ is on sys.path)


def test_pre_script_return_is_minus_one_without_a_pre_script(tmp_path):
    """"$PRE_SCRIPT_RETURN variable evaluates to the return value of the PRE script of a node,
    if there is one. If there is no PRE script, this value will be -1." """
    write(tmp_path, {"d.dag": """\
        JOB A n.sub
        SCRIPT POST A post.sh $JOB $PRE_SCRIPT_RETURN
        JOB B n.sub
        SCRIPT PRE B pre.sh
        SCRIPT POST B post.sh $JOB $PRE_SCRIPT_RETURN
        """, "n.sub": LOCAL + "executable = /bin/true\nqueue\n",
        "pre.sh": "#!/bin/sh\nexit 0\n",
        "post.sh": "#!/bin/sh\necho \"$1=$2\" >> returns.txt\n"})
    result, out = run(tmp_path, "d.dag", slots=1)
    assert result.exit_code == 0, out
    assert sorted((tmp_path / "returns.txt").read_text().split()) == ["A=-1", "B=0"]


def test_a_vars_value_ending_in_an_escaped_backslash_keeps_the_next_pair(tmp_path):
    """"To use a double quote mark within a string, escape the double quote mark with the
    backslash character (\\"). To add the backslash character itself, use two backslashes (\\\\)." """
    write(tmp_path, {"d.dag": 'JOB A n.sub\nVARS A c="end\\\\" d="x"\n',
                     "n.sub": LOCAL + 'executable = /bin/echo\narguments = "$(d) $(c)"\noutput = out.txt\nqueue\n'})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0, out
    assert (tmp_path / "out.txt").read_text() == "x end\\\n"


def test_script_debug_appends_the_scripts_captured_streams_to_the_file(tmp_path):
    """"The optional DEBUG keyword will capture a script's specified standard output streams
    (STDOUT and/or STDERR) and write them to a specified debug file." ... "DAGMan will create
    the specified debug file if it does not already exist. Otherwise, the debug file is
    appended to." """
    write(tmp_path, {"d.dag": """\
        JOB A n.sub
        SCRIPT DEBUG a.debug STDOUT PRE A s.sh pre
        SCRIPT DEBUG a.debug ALL POST A s.sh post
        """, "n.sub": LOCAL + "executable = /bin/true\nqueue\n",
        "s.sh": "#!/bin/sh\necho \"out $1\"\necho \"err $1\" >&2\n",
        "a.debug": "before\n"})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0, out
    lines = (tmp_path / "a.debug").read_text().splitlines()
    assert lines[0] == "before"  # appended to
    assert re.match(r"^\*\*\* Node=A Type=PRE ExitCode=0 Completion=\d+ Cmd='s.sh pre'$", lines[1])
    assert lines[2] == "out pre"  # STDOUT only
    assert re.match(r"^\*\*\* Node=A Type=POST ExitCode=0 Completion=\d+ Cmd='s.sh post'$", lines[3])
    assert lines[4:] == ["out post", "err post"]  # ALL
    assert "out pre" not in out  # captured, not in dagman.out


def test_reject_marks_the_dag_as_not_to_run_even_from_a_splice(tmp_path):
    """REJECT: "Mark the DAG description file as rejected to prevent execution." condor_dagman
    parses the whole DAG (splices included), then exits 1 naming the first REJECT."""
    write(tmp_path, {"d.dag": "JOB A n.sub\nSPLICE S inner.dag\n", "inner.dag": "JOB B n.sub\nREJECT\n",
                     "n.sub": LOCAL + "executable = /bin/true\nqueue\n"})
    with pytest.raises(DagParseError, match="REJECT") as err:
        parse_dag(tmp_path / "d.dag")
    assert "Exiting because of REJECT specification" in str(err.value)  # condor_dagman's own words
    assert f"{tmp_path / 'inner.dag'}:2" in str(err.value) and err.value.exit_code == 1
    with pytest.raises(DagParseError):
        dryrun(tmp_path / "d.dag", slots=1)
    assert not (tmp_path / "nodes.log").exists()  # nothing ran


def test_dollar_dollar_expressions_see_dagmans_own_job_attributes(tmp_path):
    """DAGMan puts DAGParentNodeNames, DAGManJobId and DAGNodeName in each node job's ad; the
    schedd evaluates $$([ ... ]) "in the context of both the job and machine ad" (HTCondor
    manual, Submitting a Job)."""
    write(tmp_path, {"d.dag": "JOB A n.sub\nJOB B n.sub\nJOB C n.sub\nPARENT A B CHILD C\n",
                     "n.sub": "log = nodes.log\nexecutable = /bin/echo\n"
                              "arguments = \"$$([DAGParentNodeNames]) $$(DAGNodeName) $$([DAGManJobId])\"\n"
                              "output = $(JOB).out\nqueue\n"})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0, out
    assert (tmp_path / "C.out").read_text().split() == ["A,B", "C", "1"]


def test_jobstate_sequence_numbers_go_on_when_the_dag_reruns_from_a_rescue_file(tmp_path):
    """"The SequenceNumber is a monotonically-increasing number that represents each node run
    attempt due to retries or if the DAG is rerun from a rescue file." """
    write(tmp_path, {"d.dag": "JOBSTATE_LOG d.jobstate\nJOB A ok.sub\nJOB B flaky.sub\nPARENT A CHILD B\n",
                     "ok.sub": LOCAL + "executable = /bin/true\nqueue\n",
                     "flaky.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'test ! -e fail'\"\nqueue\n",
                     "fail": ""})
    first, out = run(tmp_path, "d.dag")
    assert first.exit_code == 1 and first.rescue_file is not None, out
    (tmp_path / "fail").unlink()
    second, out = run(tmp_path, "d.dag")
    assert second.exit_code == 0 and second.used_rescue is not None, out
    runs = (tmp_path / "d.jobstate").read_text().split("DAGMAN_STARTED")[1:]
    seqs = [{(line.split()[1], int(line.split()[-1])) for line in run.splitlines()[1:] if "INTERNAL" not in line}
            for run in runs]
    assert seqs == [{("A", 1), ("B", 2)}, {("B", 3)}]  # B's rerun from the rescue DAG is 3, not 1 again


def _most_at_once(log: Path, prefix: str) -> int:
    """The most jobs of nodes named ``prefix*`` running at once, from the event log."""
    from reprogrid.condor.bindings import htcondor2

    kinds = htcondor2().JobEventType
    node_of, running, most = {}, 0, 0
    for event in htcondor2().JobEventLog(str(log)).events(0):
        if event.type == kinds.SUBMIT:
            node_of[event.cluster] = str(event.get("LogNotes", "")).replace("DAG Node: ", "")
        elif node_of.get(event.cluster, "").startswith(prefix):
            if event.type == kinds.EXECUTE:
                running += 1
                most = max(most, running)
            elif event.type in (kinds.JOB_TERMINATED, kinds.JOB_ABORTED):
                running -= 1
    return most


def test_splice_throttles_are_overridden_from_above(tmp_path):
    """"For both global and non-global category throttles, settings at a higher level in the
    DAG override settings at a lower level. For example, the following will result in
    throttle settings of 2 for the +catY category and 10 for the A+catX category in the
    splice." (upper: MAXJOBS A+catX 10, MAXJOBS +catY 2; lower: MAXJOBS catX 5, MAXJOBS +catY 1)"""
    xs = [f"X{i}" for i in range(7)]
    ys = [f"Y{i}" for i in range(4)]
    write(tmp_path, {
        "upper.dag": "SPLICE A lower.dag\nMAXJOBS A+catX 10\nMAXJOBS +catY 2\n",
        "lower.dag": "".join(f"JOB {n} n.sub\nCATEGORY {n} catX\n" for n in xs)
                     + "".join(f"JOB {n} n.sub\nCATEGORY {n} +catY\n" for n in ys)
                     + "MAXJOBS catX 5\nMAXJOBS +catY 1\n",
        "n.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'sleep 0.2'\"\nqueue\n"})
    dag = parse_dag(tmp_path / "upper.dag")
    assert dag.maxjobs == {"A+catX": 10, "+catY": 2}
    assert {dag.nodes["A+X0"].category, dag.nodes["A+Y0"].category} == {"A+catX", "+catY"}
    result, out = run(tmp_path, "upper.dag", slots=20)
    assert result.exit_code == 0, out
    assert _most_at_once(tmp_path / "nodes.log", "A+X") == 7  # 10 from above, not the splice's 5
    assert _most_at_once(tmp_path / "nodes.log", "A+Y") == 2  # 2 from above, not the splice's 1


def test_dot_draws_the_dag_once_by_default_and_at_every_change_with_update(tmp_path):
    """"DONT-UPDATE Creates a single dot file when DAGMan begins executing. This is the default
    if the parameter UPDATE is not used." "UPDATE This will update the dot file every time a
    significant update happens." "DONT-OVERWRITE Creates a new dot file each time one is
    written as <filename>.<num>, where the number increases with each write." "INCLUDE
    Includes the contents of the specified file in the produced dot file after the graph's
    label line." """
    write(tmp_path, {"once.dag": "DOT once.dot\nJOB A n.sub\nJOB B n.sub\nPARENT A CHILD B\n",
                     "each.dag": "DOT each.dot UPDATE DONT-OVERWRITE INCLUDE head.dot\nJOB A n.sub\nJOB B n.sub\n"
                                 "PARENT A CHILD B\n",
                     "head.dot": "size=\"4,4\";\n",
                     "n.sub": LOCAL + "executable = /bin/true\nqueue\n"})
    result, out = run(tmp_path, "once.dag")
    assert result.exit_code == 0, out
    once = (tmp_path / "once.dot").read_text().splitlines()
    assert once[0] == "digraph DAG {" and once[1].startswith('    label="DAGMan Job status at ')
    assert '    "A" [shape=ellipse label="A (I)"];' in once  # drawn as the DAG began, not updated
    assert '    "A" -> "B";' in once and once[-1] == "}"
    result, out = run(tmp_path, "each.dag")
    assert result.exit_code == 0, out
    drawn = sorted(tmp_path.glob("each.dot.*"), key=lambda p: int(p.suffix[1:]))
    assert len(drawn) >= 3 and drawn[0].name == "each.dot.0" and not (tmp_path / "each.dot").exists()
    last = drawn[-1].read_text().splitlines()
    assert '    "B" [shape=ellipse label="B (Done)" style=bold];' in last
    assert last[3:6] == ["// Beginning of commands included from head.dot.", 'size="4,4";',
                         "// End of commands included from head.dot."]


def test_service_node_runs_alongside_the_dag_and_is_removed_when_it_ends(tmp_path):
    """"A SERVICE node is a special type of node that is always run at the beginning of a DAG."
    "If a DAGMan workflow finishes while there are SERVICE nodes still running, it will remove
    all running SERVICE nodes and exit." "A SERVICE node runs on a best-effort basis." """
    mark = "63.0417"
    write(tmp_path, {"d.dag": "JOB A n.sub\nJOB B n.sub\nPARENT A CHILD B\nSERVICE S s.sub\nSERVICE T bad.sub\n"
                              "FINAL F n.sub\n",
                     "n.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'sleep 0.5'\"\nqueue\n",
                     "s.sub": LOCAL + f"executable = /bin/sh\narguments = \"-c 'touch started; exec sleep {mark}'\"\nqueue\n",
                     "bad.sub": LOCAL + "executable = /bin/false\nqueue\n"})
    result, out = run(tmp_path, "d.dag")
    assert result.exit_code == 0 and sorted(result.done) == ["A", "B"], out  # T's failure is no error
    assert "S" not in result.failed + result.not_run and "T" not in result.failed + result.not_run
    assert "Starting service node S" in out and "Removing service node S" in out and (tmp_path / "started").exists()
    from reprogrid.condor.bindings import htcondor2

    kinds = htcondor2().JobEventType
    events = list(htcondor2().JobEventLog(str(tmp_path / "nodes.log")).events(0))
    s_cluster = next(e.cluster for e in events if e.type == kinds.SUBMIT and "DAG Node: S" in str(e.get("LogNotes")))
    assert any(e.type == kinds.JOB_ABORTED and e.cluster == s_cluster for e in events)
    import os
    alive = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, mark)]
    assert not alive, alive


def _cmdline_has(pid: str, mark: str) -> bool:
    try:
        return mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_splices_connected_by_pins_as_the_manual_draws_them(tmp_path):
    """"All output splice nodes connected to a given PIN_OUT will become parents of all input
    splice nodes connected to the corresponding PIN_IN." The manual's example: "node A1 will
    be the parent of B1 and B2; node A2 will be the parent of B3 and B4; and nodes B1, B2, B3
    and B4 will all be parents of C1." """
    write(tmp_path, {
        "top.dag": "SPLICE A spliceA.dag\nSPLICE B spliceB.dag\nSPLICE C spliceC.dag\nCONNECT A B\nCONNECT B C\n",
        "spliceA.dag": "JOB A1 n.sub\nJOB A2 n.sub\nPIN_OUT A1 1\nPIN_OUT A2 2\n",
        "spliceB.dag": "".join(f"JOB B{i} n.sub\n" for i in range(1, 5))
                       + "PIN_IN B1 1\nPIN_IN B2 1\nPIN_IN B3 2\nPIN_IN B4 2\n"
                       + "".join(f"PIN_OUT B{i} {i}\n" for i in range(1, 5)),
        "spliceC.dag": "JOB C1 n.sub\n" + "".join(f"PIN_IN C1 {i}\n" for i in range(1, 5)),
        "n.sub": LOCAL + "executable = /bin/sh\narguments = \"-c 'echo $(JOB) >> order.txt'\"\nqueue\n"})
    dag = parse_dag(tmp_path / "top.dag")
    assert [dag.nodes[f"B+B{i}"].parents for i in range(1, 5)] == [["A+A1"], ["A+A1"], ["A+A2"], ["A+A2"]]
    assert sorted(dag.nodes["C+C1"].parents) == ["B+B1", "B+B2", "B+B3", "B+B4"]
    result, out = run(tmp_path, "top.dag")
    assert result.exit_code == 0, out
    assert (tmp_path / "order.txt").read_text().split()[-1] == "C+C1"


def test_splice_connections_keep_the_manuals_restrictions(tmp_path):
    """"All "initial" nodes (nodes with no parents) of an input splice used in a CONNECT command
    must be connected to a PIN_IN." "Violating any of these restrictions will result in an
    error during the parsing of the DAG files." """
    write(tmp_path, {"top.dag": "SPLICE A a.dag\nSPLICE B b.dag\nCONNECT A B\n",
                     "a.dag": "JOB A1 n.sub\nPIN_OUT A1 1\n",
                     "b.dag": "JOB B1 n.sub\nJOB B2 n.sub\nPIN_IN B1 1\n",
                     "n.sub": LOCAL + "executable = /bin/true\nqueue\n"})
    with pytest.raises(DagParseError, match="B\\+B2 of splice B are not connected to a PIN_IN"):
        parse_dag(tmp_path / "top.dag")


@pytest.mark.parametrize("universe,slots", [("local", 2), ("vanilla", 1)])  # vanilla, 1 slot: procs wait for it
def test_a_final_node_whose_submit_file_queues_three_procs_runs_all_three(tmp_path, universe, slots):
    """"The FINAL node within the DAG is identified by JobName, and the HTCondor job is
    described by the contents of the HTCondor submit description file given by
    SubmitDescriptionFileName." ... "The success of a node is based upon the success of the
    job(s), PRE script, and POST script." ... "The success or failure of the FINAL node
    determines the success or failure of the entire DAG" (dagman-node-types.rst,
    node-pass-or-fail.rst)."""
    here = str(tmp_path)
    write(tmp_path, {"d.dag": "JOB A a.sub\nFINAL F fin.sub\n",
                     "a.sub": LOCAL + "executable = /bin/true\nqueue\n",
                     "fin.sub": f"universe = {universe}\nlog = nodes.log\nexecutable = /bin/sh\n"
                                f"arguments = \"-c 'echo $(Process) >> {here}/final.txt; [ -e {here}/fail.$(Process) ] && exit 3; exit 0'\"\n"
                                "queue 3\n"})
    result, out = run(tmp_path, "d.dag", slots=slots)
    assert result.exit_code == 0, out
    assert sorted((tmp_path / "final.txt").read_text().split()) == ["0", "1", "2"]  # every proc, not the first
    assert len(re.findall(r"Event: ULOG_JOB_TERMINATED for HTCondor Node F ", out)) == 3
    # one failing proc of the three fails the FINAL node, and with it the DAG
    (tmp_path / "final.txt").unlink()
    (tmp_path / "fail.1").write_text("")
    second, out = run(tmp_path, "d.dag", use_rescue=False, slots=slots)
    assert sorted((tmp_path / "final.txt").read_text().split()) == ["0", "1", "2"], out
    assert second.exit_code == 1, out
