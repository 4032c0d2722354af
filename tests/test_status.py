"""`reprogrid status`: run states from a real-format job event log (read with
htcondor2.JobEventLog, incrementally) and DAGMan's node status file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprogrid.access import status
from reprogrid.access.nodestatus import read_node_status
from reprogrid.cli import main

SW = ("dockerhub-2.8.0", "ngc-22.03")
HW = ("amd-epyc-7302", "a100")


def run_id(sw: str, hw: str) -> str:
    return f"mnist_convnet--{sw.replace('.', '_')}--{hw}--r0"


R = {(i, j): run_id(sw, hw) for i, sw in enumerate(SW) for j, hw in enumerate(HW)}
R1, R2, R3, R4 = R[0, 0], R[0, 1], R[1, 0], R[1, 1]


# --- the event log format (HTCondor manual, "Job event log codes"), as schedd/shadow write it

def _head(code: int, cluster: int, second: int, text: str) -> str:
    return f"{code:03d} ({cluster:03d}.000.000) 2024-05-01 12:{second // 60:02d}:{second % 60:02d} {text}\n"


def submitted(cluster: int, node: str, t: int) -> str:
    return (_head(0, cluster, t, "Job submitted from host: <128.105.68.10:9618?addrs=128.105.68.10-9618&noUDP&sock=schedd_1_2>")
            + f"    DAG Node: {node}\n...\n")


def executing(cluster: int, t: int) -> str:
    return (_head(1, cluster, t, "Job executing on host: <192.168.1.7:9618?addrs=192.168.1.7-9618&noUDP&sock=startd_5_6>")
            + "\tSlotName: slot1_3@glidein_1234@node7.example.edu\n...\n")


def terminated(cluster: int, t: int, value: int) -> str:
    usage = "Usr 0 00:01:02, Sys 0 00:00:03"
    return (_head(5, cluster, t, "Job terminated.")
            + f"\t(1) Normal termination (return value {value})\n"
            + f"\t\t{usage}  -  Run Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n"
            + f"\t\t{usage}  -  Total Remote Usage\n\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n"
            + "\t1024  -  Run Bytes Sent By Job\n\t2048  -  Run Bytes Received By Job\n"
            + "\t1024  -  Total Bytes Sent By Job\n\t2048  -  Total Bytes Received By Job\n"
            + "\tPartitionable Resources :    Usage  Request Allocated\n"
            + "\t   Cpus                 :                 1         1\n"
            + "\t   Disk (KB)            :       10  8388608   8388608\n"
            + "\t   Memory (MB)          :      300     4096      4096\n...\n")


def held(cluster: int, t: int, reason: str) -> str:
    return _head(12, cluster, t, "Job was held.") + f"\t{reason}\n\tCode 34 Subcode 0\n...\n"


def released(cluster: int, t: int) -> str:
    return _head(13, cluster, t, "Job was released.") + "\tvia condor_release (by user alice)\n...\n"


def aborted(cluster: int, t: int) -> str:
    return _head(9, cluster, t, "Job was aborted.") + "\tvia condor_rm (by user alice)\n...\n"


def node_status(timestamp: int, nodes, dag_status: int = 0) -> str:
    """A node status file as DAGMan writes it (HTCondor manual, NODE_STATUS_FILE)."""
    out = ["[", '  Type = "DagStatus";', '  DagFiles = {\n    "study.dag"\n  };',
           f"  Timestamp = {timestamp};", f"  DagStatus = {dag_status};", f"  NodesTotal = {len(nodes)};",
           "  NodesDone = 0;", "  NodesPre = 0;", "  NodesQueued = 0;", "  NodesPost = 0;", "  NodesReady = 0;",
           "  NodesUnready = 0;", "  NodesFailed = 0;", "  JobProcsHeld = 0;", "  JobProcsIdle = 0;", "]"]
    for name, code, details, held_procs in nodes:
        out += ["[", '  Type = "NodeStatus";', f'  Node = "{name}";', f"  NodeStatus = {code};",
                f'  StatusDetails = "{details}";', "  RetryCount = 0;", f"  JobProcsQueued = {int(code == 3)};",
                f"  JobProcsHeld = {held_procs};", "]"]
    out += ["[", '  Type = "StatusEnd";', f"  EndTime = {timestamp};", f"  NextUpdate = {timestamp + 30};", "]"]
    return "\n".join(out) + "\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "submit"
    (d / "logs").mkdir(parents=True)
    runs = [{"run_id": R[i, j], "workload": "mnist_convnet", "software_env": SW[i], "hardware_env": HW[j],
             "cell": R[i, j][:-4], "repeat": 0, "seed": 1, "device": "cpu"} for i in range(2) for j in range(2)]
    (d / "manifest.json").write_text(json.dumps({"schema": "reprogrid.manifest/1",
                                                  "study": {"name": "tiny"}, "runs": runs}))
    return d


FIRST = (submitted(101, R1, 0) + submitted(102, R2, 1) + submitted(103, R3, 2) + submitted(104, R4, 3)
         + executing(101, 10) + executing(102, 11) + terminated(101, 70, 0) + held(103, 20, "Disk quota exceeded"))
FIRST_EVENTS = 8
MORE = terminated(102, 90, 1) + released(103, 95) + executing(104, 96) + executing(103, 97)


def states(progress) -> dict:
    return {r.run_id: r.state for r in progress.runs}


def test_event_log_states_and_groups(tree: Path):
    (tree / "logs" / "study.log").write_text(FIRST)
    progress = status.study_status(tree, cache=False)
    assert states(progress) == {R1: "done", R2: "running", R3: "held", R4: "idle"}
    assert progress.events_read == FIRST_EVENTS
    by_sw = progress.counts("software_env")
    assert by_sw[SW[0]] == {"done": 1, "running": 1} and by_sw[SW[1]] == {"held": 1, "idle": 1}
    assert progress.counts("hardware_env")[HW[1]] == {"running": 1, "idle": 1}
    assert [r.detail for r in progress.runs if r.state == "held"] == ["Disk quota exceeded"]
    text = progress.describe()
    assert "study tiny: 4 runs - done 1, running 1, idle 1, held 1, failed 0, waiting 0" in text
    assert f"  {R3}: Disk quota exceeded" in text


def test_appended_events_are_read_without_rereading(tree: Path):
    log = tree / "logs" / "study.log"
    log.write_text(FIRST)
    follower = status.EventLogFollower(log)
    assert follower.poll() == FIRST_EVENTS
    assert follower.poll() == 0
    # Change, in place and at equal length, an event already read (R1's exit code), then
    # append: a follower that re-read from the start would now see R1 failed.
    text = log.read_text()
    assert text.count("(return value 0)") == 1
    log.write_text(text.replace("(return value 0)", "(return value 7)"))
    with open(log, "a") as handle:
        handle.write(MORE)
    assert follower.poll() == 4
    assert follower.events_read == FIRST_EVENTS + 4
    got = {name: node.state for name, node in follower.nodes.items()}
    assert got == {R1: "done", R2: "failed", R3: "running", R4: "running"}
    assert follower.nodes[R2].note == "exit code 1"
    fresh = status.EventLogFollower(log)
    fresh.poll()
    assert fresh.nodes[R1].state == "failed"  # the in-place change was real


def test_partial_event_waits_for_its_end(tree: Path):
    log = tree / "logs" / "study.log"
    log.write_text(submitted(101, R1, 0))
    follower = status.EventLogFollower(log)
    assert follower.poll() == 1
    whole = executing(101, 5)
    cut = whole.index("...")
    with open(log, "a") as handle:
        handle.write(whole[:cut])
    assert follower.poll() == 0 and follower.nodes[R1].state == "idle"
    with open(log, "a") as handle:
        handle.write(whole[cut:])
    assert follower.poll() == 1 and follower.nodes[R1].state == "running"


def test_cli_resumes_from_the_saved_position(tree: Path, capsys):
    log = tree / "logs" / "study.log"
    log.write_text(FIRST)
    assert main(["status", str(tree), "--json"]) == 3  # still running
    first = json.loads(capsys.readouterr().out)
    assert first["counts"] == {"done": 1, "running": 1, "held": 1, "idle": 1}
    assert (tree / status.CACHE_NAME).is_file()
    log.write_text(log.read_text().replace("(return value 0)", "(return value 7)"))
    with open(log, "a") as handle:
        handle.write(MORE + terminated(103, 99, 0) + terminated(104, 99, 0))
    assert main(["status", str(tree), "--json"]) == 1  # all over, one failed
    second = json.loads(capsys.readouterr().out)
    assert second["counts"] == {"done": 3, "failed": 1}  # R1 still done: not re-read
    assert {r["run_id"]: r["attempts"] for r in second["runs"]} == {R1: 1, R2: 1, R3: 1, R4: 1}
    # without the cache, the whole (changed) log is read again
    assert main(["status", str(tree), "--json", "--no-cache"]) == 1
    assert json.loads(capsys.readouterr().out)["counts"] == {"done": 2, "failed": 2}


def test_a_rewritten_log_is_read_from_the_start(tree: Path):
    log = tree / "logs" / "study.log"
    log.write_text(FIRST)
    tracker = status.StatusTracker(tree)
    assert tracker.update().events_read == FIRST_EVENTS
    log.write_text(submitted(201, R4, 0) + executing(201, 1))  # a new dry run replaced it
    progress = status.StatusTracker(tree).update()
    assert states(progress) == {R1: "waiting", R2: "waiting", R3: "waiting", R4: "running"}
    assert progress.events_read == 2


def test_retries_and_removal(tree: Path):
    (tree / "logs" / "study.log").write_text(
        submitted(101, R1, 0) + executing(101, 1) + terminated(101, 2, 1)
        + submitted(105, R1, 3)  # DAGMan's RETRY: a new cluster for the same node
        + submitted(102, R2, 4) + aborted(102, 5))
    progress = status.study_status(tree, cache=False)
    run = {r.run_id: r for r in progress.runs}
    assert (run[R1].state, run[R1].attempts) == ("idle", 2)
    assert run[R2].state == "failed" and run[R2].detail.startswith("removed")


def test_node_status_file(tree: Path):
    (tree / "study.dag.status").write_text(node_status(2_000_000_000, [
        (R1, 5, "", 0), (R2, 6, "Job exited with status 1", 0), (R3, 3, "", 1), (R4, 3, "idle", 0),
        ("gather", 0, "", 0)], dag_status=6))
    progress = status.study_status(tree, cache=False)
    assert states(progress) == {R1: "done", R2: "failed", R3: "held", R4: "idle"}
    assert progress.other_nodes == {"gather": "waiting"}
    assert progress.dag_status == "failed"  # DagStatus 6 = STATUS_ERROR, as DAGMan writes it
    assert not progress.finished
    parsed = read_node_status(tree / "study.dag.status")
    assert parsed.complete and parsed.nodes[R2] == ("failed", "Job exited with status 1", 0)


def test_newer_source_wins(tree: Path):
    # the node status file is older than the events (DAGMan writes it every 30 s or more)
    (tree / "study.dag.status").write_text(node_status(1, [(R1, 3, "idle", 0), (R2, 1, "", 0),
                                                           (R3, 0, "", 0), (R4, 0, "", 0)]))
    (tree / "logs" / "study.log").write_text(submitted(101, R1, 0) + executing(101, 5))
    assert states(status.study_status(tree, cache=False))[R1] == "running"
    assert states(status.study_status(tree, cache=False))[R2] == "waiting"
    (tree / "study.dag.status").write_text(node_status(2_000_000_000, [(R1, 5, "", 0)]))
    assert states(status.study_status(tree, cache=False))[R1] == "done"


def test_reads_what_the_emulator_writes(tree: Path):
    from reprogrid.emulator.starter import eventlog
    from reprogrid.emulator.dagman import nodestatus

    (tree / "logs" / "study.log").write_text(
        eventlog.submit_event(7, 0, R1, 1.0e9) + eventlog.execute_event(7, 0, "slot1@x", 1.0e9 + 1)
        + eventlog.terminated_event(7, 0, 0, None, 3.0, 1, 4096, 100, 1.0e9 + 2)
        + eventlog.submit_event(8, 0, R2, 1.0e9 + 3) + eventlog.held_event(8, 0, "no", 1, 0, 1.0e9 + 4))
    (tree / "study.dag.status").write_text(nodestatus.format_node_status(
        "study.dag", 0, [(R1, 5, "", 0, 0), (R2, 3, "idle", 0, 1), (R3, 1, "", 0, 0), (R4, 0, "", 0, 0),
                         ("gather", 0, "", 0, 0)], now=1.0e9 + 2, next_update=1.0e9 + 32))
    progress = status.study_status(tree, cache=False)
    assert states(progress) == {R1: "done", R2: "held", R3: "waiting", R4: "waiting"}


def test_not_a_submit_tree(tmp_path: Path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_watch_stops_when_the_dag_is_over(tree: Path, capsys):
    (tree / "logs" / "study.log").write_text(
        "".join(submitted(100 + k, r, k) + terminated(100 + k, 10 + k, 0) for k, r in enumerate((R1, R2, R3, R4))))
    assert main(["status", str(tree), "--watch", "0.5"]) == 0
    assert "done 4" in capsys.readouterr().out


def test_a_status_of_an_unchanged_log_writes_nothing(tree: Path):
    """Warm: the saved position is read, not written again, when no event is new (issue 28)."""
    log = tree / "logs" / "study.log"
    log.write_text(FIRST)
    status.study_status(tree)
    cache = tree / status.CACHE_NAME
    before = cache.stat()
    again = status.study_status(tree)
    assert states(again) == {R1: "done", R2: "running", R3: "held", R4: "idle"}
    after = cache.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    with open(log, "a") as handle:
        handle.write(MORE)
    assert states(status.study_status(tree))[R2] == "failed"
    assert cache.stat().st_mtime_ns != before.st_mtime_ns or cache.stat().st_ino != before.st_ino


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_event_times_are_the_bindings_timestamps(tmp_path: Path, zone: str, monkeypatch):
    """Status reads each event's time without strptime; it is the same number as
    ``JobEvent.timestamp``, in any local time zone, across a daylight-saving change."""
    import time

    from reprogrid.access import eventtime
    from reprogrid.condor.bindings import htcondor2
    from reprogrid.emulator.starter import eventlog

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        log = tmp_path / "study.log"
        start = 1_710_050_000  # 2024-03-10 05:53 UTC: New York's clocks go forward at 07:00 UTC
        with open(log, "w") as handle:
            for i in range(300):
                t = start + 97 * i
                handle.write(eventlog.submit_event(100 + i, 0, f"node{i}", t) + eventlog.execute_event(100 + i, 0, "s", t + 31))
        events = list(htcondor2().JobEventLog(str(log)).events(0))
        assert len(events) == 600
        assert [eventtime.iso_time(e["EventTime"]) for e in events] == [e.timestamp for e in events]
        follower = status.EventLogFollower(log)
        follower.poll()
        assert follower.nodes["node299"].time == events[-1].timestamp
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_nodes_time_is_its_last_events_and_an_unusual_form_is_the_bindings(tmp_path: Path, monkeypatch):
    """A poll sets each node's time once, from its last event; an ``EventTime`` form the
    fast path does not know (fractional seconds here) is the bindings' ``timestamp``."""
    from reprogrid.access import eventtime
    from reprogrid.condor.bindings import htcondor2
    from reprogrid.emulator.starter import eventlog

    log = tmp_path / "study.log"
    with open(log, "w") as handle:
        handle.write(eventlog.submit_event(100, 0, "a", 1_700_000_000) + eventlog.submit_event(101, 0, "b", 1_700_000_100))
        handle.write(eventlog.execute_event(100, 0, "s", 1_700_000_190) + eventlog.image_size_event(100, 0, 5, 1_700_009_999))
    events = list(htcondor2().JobEventLog(str(log)).events(0))
    follower = status.EventLogFollower(log)
    assert follower.poll() == 4
    assert follower.nodes["a"].time == events[2].timestamp and follower.nodes["b"].time == events[1].timestamp
    for iso in ("2023-11-14T22:13:20.5", "2023-11-14T22:13:20"):
        fake = type("E", (), {})()
        fake._data = {"EventTime": iso}
        assert eventtime.bindings_time(iso) == htcondor2().JobEvent.timestamp.fget(fake)
    monkeypatch.setattr(eventtime, "iso_time", lambda iso: None)  # every form unknown: the bindings decide
    monkeypatch.setattr(status, "iso_time", lambda iso: None)
    again = status.EventLogFollower(log)
    again.poll()
    assert again.nodes["a"].time == events[2].timestamp and again.nodes["b"].time == events[1].timestamp


def test_counts_keep_the_groups_and_states_in_the_order_they_first_appear():
    """``counts`` (the report's tables) counts each group's states, groups and states in the
    order they first appear in the runs, as one Counter per run would."""
    from collections import Counter

    runs = [status.RunState(f"r{i}", f"sw{i % 3}", f"hw{(i * 7) % 4}", "w", state)
            for i, state in enumerate(["done", "held", "done", "failed", "idle", "done", "running", "held", "done"] * 3)]
    progress = status.StudyProgress("s", runs)
    for key in (None, "software_env", "hardware_env"):
        expected: dict = {}
        for run in runs:
            expected.setdefault(getattr(run, key) if key else "all", Counter())[run.state] += 1
        got = progress.counts(key)
        assert list(got) == list(expected) and all(list(got[g].items()) == list(expected[g].items()) for g in got)
    assert status.StudyProgress("s", []).counts() == {} and status.StudyProgress("s", []).counts("workload") == {}


def test_the_item_reader_reads_what_the_classad_does(tree: Path, monkeypatch):
    """``bindings.ad_item_reader`` reads an attribute as ``ad[key]`` does (``KeyError`` where
    missing); without classad2's own item read, status reads through ``ad[key]``, the same states."""
    from reprogrid.condor import bindings

    ad = bindings.classad2().ClassAd({"EventTypeNumber": 5, "EventTime": "2024-01-01T00:00:00", "Note": "x"})
    handle_of, read = bindings.ad_item_reader()
    for key in ("EventTypeNumber", "EventTime", "Note"):
        assert read(handle_of(ad), key, True) == ad[key]
    with pytest.raises(KeyError):
        read(handle_of(ad), "Cluster", True)
    (tree / "logs" / "study.log").write_text(FIRST)
    fast = states(status.study_status(tree, cache=False))

    class NoItemRead:
        pass

    monkeypatch.setattr(bindings, "import_module", lambda name: NoItemRead())
    handle_of, read = bindings.ad_item_reader()
    assert read(handle_of(ad), "Note", True) == "x"
    assert states(status.study_status(tree, cache=False)) == fast == {R1: "done", R2: "running", R3: "held", R4: "idle"}


def test_new_event_ads_are_the_public_iterators_ads(tmp_path: Path):
    """``bindings.new_event_ads`` yields the ClassAds ``JobEventLog.events(0)`` yields, only
    the events not read yet (an appended event after the first pass), and does not wait at the end."""
    from reprogrid.condor import bindings

    log = tmp_path / "study.log"
    log.write_text(FIRST)

    def texts(ads) -> list:
        return [str(ad) for ad in ads]

    expected = texts(e._data for e in bindings.htcondor2().JobEventLog(str(log)).events(0))
    assert len(expected) == FIRST_EVENTS
    reader = bindings.htcondor2().JobEventLog(str(log))
    assert texts(bindings.new_event_ads(reader)) == expected
    assert texts(bindings.new_event_ads(reader)) == []  # nothing new: no wait, nothing yielded
    with open(log, "a") as handle:
        handle.write(MORE)
    more = texts(bindings.new_event_ads(reader))
    assert len(more) == 4 and more == texts(e._data for e in bindings.htcondor2().JobEventLog(str(log)).events(0))[8:]



def test_node_name_of_reads_a_mapping_or_a_handle():
    """A submit event's node: the first ``DAG Node:`` line of its notes (spaces around the key and
    the value ignored), else the structured notes' ``DAGNodeName``; the same through ``read``."""
    from reprogrid.condor import bindings

    cases = [({"LogNotes": "DAG Node: a"}, "a"), ({"LogNotes": "  other: x\n DAG Node :  b  \nDAG Node: c"}, "b"),
             ({"LogNotes": "DAG Node:   \n"}, None), ({"LogNotes": "DAGNode: d"}, None), ({}, None),
             ({"LogNotes": "x", "StructuredNotes": {"DAGNodeName": "e"}}, "e")]
    handle_of, read = bindings.ad_item_reader()
    for mapping, name in cases:
        assert status.node_name_of(mapping) == name
        ad = bindings.classad2().ClassAd(mapping)
        assert status.node_name_of(handle_of(ad), read) == name


def test_an_older_cache_is_read_again_from_the_start(tree: Path):
    log = tree / "logs" / "study.log"
    log.write_text(FIRST)
    status.study_status(tree)
    cache = tree / status.CACHE_NAME
    state = json.loads(cache.read_text())
    state["nodes"] = {name: {"state": "done"} for name in state["nodes"]}  # the /1 form, under the new schema
    cache.write_text(json.dumps(state))
    progress = status.study_status(tree)
    assert states(progress) == {R1: "done", R2: "running", R3: "held", R4: "idle"}
    assert progress.events_read == FIRST_EVENTS


def test_event_codes_are_the_bindings_numbers():
    """condor.eventcodes (read and written without importing the bindings) equals both enums."""
    from reprogrid.condor import eventcodes
    from reprogrid.condor.bindings import htcondor, htcondor2

    for name in eventcodes.NAMES:
        assert getattr(eventcodes, name) == int(getattr(htcondor.JobEventType, name)) == \
            int(getattr(htcondor2().JobEventType, name)), name


def test_an_unchanged_log_is_not_opened_and_a_touched_one_is(tree: Path, monkeypatch):
    """Warm: the log's stat key (size, mtime, inode) says it is unchanged, so no reader is
    unpickled; a log touched without a new event is read again and its new key saved."""
    log = tree / "logs" / "study.log"
    log.write_text(FIRST)
    first = status.study_status(tree)
    cache = tree / status.CACHE_NAME
    saved = json.loads(cache.read_text())
    st = log.stat()
    assert saved["seen"] == [st.st_size, st.st_mtime_ns, st.st_ino]
    loads = []
    real = status._load_reader
    monkeypatch.setattr(status, "_load_reader", lambda pickled: loads.append(1) or real(pickled))
    again = status.study_status(tree)
    assert states(again) == states(first) and again.events_read == FIRST_EVENTS and loads == []
    import os
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: nothing new, but it must be looked at
    touched = status.study_status(tree)
    assert states(touched) == states(first) and touched.events_read == FIRST_EVENTS and loads == [1]
    assert json.loads(cache.read_text())["seen"][1] == st.st_mtime_ns + 10**9
    status.study_status(tree)
    assert loads == [1]  # the new key was saved: unchanged again
    with open(log, "a") as handle:
        handle.write(MORE)
    assert states(status.study_status(tree))[R2] == "failed" and loads == [1, 1]


def test_a_log_read_up_to_a_damaged_event_is_read_again(tree: Path):
    """A read that stopped at a damaged event keeps no stat key, so the next status, log
    unchanged, still resumes the reader (which goes on past it) rather than skipping the log."""
    log = tree / "logs" / "study.log"
    log.write_text(FIRST + "005 (this is not an event\n...\n" + MORE)
    first = status.study_status(tree)
    assert "cannot read an event after 8 events" in first.warnings[0] and first.events_read == FIRST_EVENTS
    assert json.loads((tree / status.CACHE_NAME).read_text())["seen"] is None
    again = status.study_status(tree)
    assert again.events_read == FIRST_EVENTS + 4 and states(again)[R2] == "failed"
    assert json.loads((tree / status.CACHE_NAME).read_text())["seen"] is not None


def test_an_unchanged_node_status_file_is_taken_from_the_cache(tree: Path, monkeypatch):
    """A finished DAG's node status file is parsed once; its stat key says when to parse it again."""
    (tree / "logs" / "study.log").write_text(FIRST)
    path = tree / "study.dag.status"
    path.write_text(node_status(1, [(R1, 5, "", 0), (R2, 6, "Job exited with status 1", 0), (R3, 3, "", 1),
                                    (R4, 3, "idle", 0), ("gather", 0, "", 0)], dag_status=6))
    first = status.study_status(tree)
    parsed = []
    monkeypatch.setattr(status, "read_node_status", lambda p: parsed.append(p) or read_node_status(p))
    again = status.study_status(tree)
    assert parsed == [] and states(again) == states(first) and again.dag_status == first.dag_status == "failed"
    assert again.other_nodes == first.other_nodes == {"gather": "waiting"}
    path.write_text(node_status(2_000_000_000, [(R1, 5, "", 0), (R2, 5, "", 0), (R3, 5, "", 0), (R4, 5, "", 0),
                                      ("gather", 5, "", 0)], dag_status=5))  # DAGMan rewrote it
    done = status.study_status(tree)
    assert len(parsed) == 1 and set(states(done).values()) == {"done"} and done.dag_status == "done"
    assert states(status.study_status(tree)) == states(done) and len(parsed) == 1  # its new key was saved
