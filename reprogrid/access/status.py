"""Progress of a submitted (or emulated) study: which runs are done, running, idle, held, failed.

Owns reading the two files DAGMan keeps up to date in a submit tree, the same for the
real pool and the emulator:

- the node status file (``study.dag.status``), read by ``access.nodestatus`` (and kept in
  the cache under its stat key);
- the job event log (``logs/study.log``), read with ``htcondor2.JobEventLog``
  incrementally: a :class:`EventLogFollower` keeps its reader, and its position can be
  saved (the reader pickles) so the next ``reprogrid status`` reads only new events;
  a log unchanged since it was read to its end (same size, modification time and inode)
  is not opened at all, so such a status imports no HTCondor bindings.

Events are mapped to runs by the DAG node name that DAGMan writes into each submit
event (``DAG Node: <run_id>``); later events follow by cluster.proc. The newer of the
two sources decides a run's state. Totals are grouped by software and hardware
environment from ``manifest.json``.
"""
from __future__ import annotations

import base64
import io
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from operator import attrgetter
from pathlib import Path
from stat import S_ISREG
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from reprogrid import tree
from reprogrid.condor import dagcodes as dc
from reprogrid.condor.eventcodes import (  # HTCondor's event numbers, plain ints for fast comparison
    EXECUTABLE_ERROR, EXECUTE, JOB_ABORTED, JOB_EVICTED, JOB_HELD, JOB_RECONNECT_FAILED, JOB_RELEASED, JOB_TERMINATED,
    JOB_UNSUSPENDED, POST_SCRIPT_TERMINATED, SHADOW_EXCEPTION, SUBMIT)
from reprogrid.access.eventtime import bindings_time, iso_time
from reprogrid.access.nodestatus import NodeStatusFile, read_node_status
from reprogrid.condor.bindings import ad_item_reader, htcondor2, new_event_ads
from reprogrid.core.digest import sha256
from reprogrid.core.files import write_text_atomic

STATES = ("done", "running", "idle", "held", "failed", "waiting")
LOG_NAME = tree.LOG_FILE
STATUS_NAME = tree.NODE_STATUS_FILE
CACHE_NAME = "logs/.reprogrid-status.json"
CACHE_SCHEMA = "reprogrid.status-cache/3"  # /2: nodes as field lists; /3: the log's stat key, the node status file
# DagStatus in a node status file is a node status number (dag.cpp, Dag::DumpNodeStatus), not an exit code
_DAG_STATUS = {dc.STATUS_NOT_READY: "not ready", dc.STATUS_READY: "ready", dc.STATUS_PRERUN: "PRE script",
               dc.STATUS_SUBMITTED: "running", dc.STATUS_POSTRUN: "POST script", dc.STATUS_DONE: "done",
               dc.STATUS_ERROR: "failed", dc.STATUS_FUTILE: "futile"}


@dataclass(slots=True)  # one per run: 100,000 runs stay small
class NodeProgress:
    """What the event log says about one DAG node."""

    state: str = "waiting"
    cluster: Optional[int] = None
    proc: Optional[int] = None
    submits: int = 0
    time: int = 0
    hold_reason: Optional[str] = None
    return_value: Optional[int] = None
    note: Optional[str] = None


_NODE_FIELDS = tuple(f.name for f in fields(NodeProgress))
_node_values = attrgetter(*_NODE_FIELDS)  # a node's fields as a tuple, in order (the cache's form)


def _item(ad: Any, key: str, _strict: bool = True) -> Any:
    """``ad[key]``, in the form of ``bindings.ad_item_reader``'s ``read``."""
    return ad[key]


def node_name_of(event: Any, read: Any = _item) -> Optional[str]:
    """The DAG node a submit event belongs to (``DAG Node: <name>`` in its log notes, or the
    structured notes' ``DAGNodeName``). ``event`` is a mapping, or what ``read`` reads
    (``read(event, key, True)`` is the attribute or ``KeyError``)."""
    try:
        text = read(event, "LogNotes", True)
    except KeyError:
        text = None
    for line in str(text or "").splitlines():
        key, sep, value = line.partition(":")  # the key and value stripped below, as the line would be
        if sep and key.strip() == "DAG Node":
            value = value.strip()
            if value:
                return value
    try:
        notes = read(event, "StructuredNotes", True)
    except KeyError:
        notes = None
    if notes is not None:
        try:
            name = notes.get("DAGNodeName") if hasattr(notes, "get") else None
        except Exception:  # a ClassAd without the attribute
            name = None
        if name:
            return str(name)
    return None


# the events that change a node's state, by type number; other types (image size...) are skipped
_TO_RUNNING = frozenset((EXECUTE, JOB_UNSUSPENDED))
_TO_IDLE = frozenset((JOB_EVICTED, SHADOW_EXCEPTION, JOB_RELEASED, JOB_RECONNECT_FAILED))
_RELEVANT = _TO_RUNNING | _TO_IDLE | {SUBMIT, JOB_HELD, JOB_TERMINATED, POST_SCRIPT_TERMINATED, JOB_ABORTED,
                                     EXECUTABLE_ERROR}


def _apply(nodes: Dict[str, NodeProgress], jobs: Dict[str, str], handle: Any, read: Any, kind: int) -> Optional[str]:
    """Update ``nodes`` (by node name) and ``jobs`` (``"cluster.proc"`` -> node) with one event
    of a relevant type (``kind``, its ``EventTypeNumber``), but the node's time (see
    :meth:`EventLogFollower.poll`, the one caller); return the node it was about, or None.

    ``read(handle, key, True)`` is the event ClassAd's ``ad[key]`` (``bindings.ad_item_reader``):
    each read is a call into the bindings, so only what the event's type needs is read.
    """
    try:  # ``(event.cluster, event.proc)`` in two reads, not four (-1 where the event has none)
        cluster = read(handle, "Cluster", True)
    except KeyError:
        cluster = -1
    try:
        proc = read(handle, "Proc", True)
    except KeyError:
        proc = -1
    job = f"{cluster}.{proc}"
    if kind == SUBMIT:
        name = node_name_of(handle, read)
        if name is None:
            return None
        jobs[job] = name
        node = nodes.get(name)
        if node is None:
            node = nodes[name] = NodeProgress()
        node.state, node.cluster, node.proc = "idle", cluster, proc
        node.submits += 1
        node.hold_reason = node.return_value = node.note = None
        return name
    name = jobs.get(job)
    if name is None:
        return None
    node = nodes[name]
    if kind in _TO_RUNNING:
        node.state = "running"
    elif kind in _TO_IDLE:
        node.state, node.hold_reason = "idle", None
    elif kind == JOB_HELD:
        node.state = "held"
        node.hold_reason = str(_get(handle, read, "HoldReason") or "held")
    elif kind in (JOB_TERMINATED, POST_SCRIPT_TERMINATED):
        _terminated(node, handle, read)
    elif kind == JOB_ABORTED:
        node.state, node.note = "failed", f"removed: {_get(handle, read, 'Reason') or 'condor_rm'}"
    else:  # EXECUTABLE_ERROR
        node.state, node.note = "failed", "executable error"
    return name


def _get(handle: Any, read: Any, key: str) -> Any:
    """``ad.get(key)`` through ``read`` (see :func:`_apply`)."""
    try:
        return read(handle, key, True)
    except KeyError:
        return None


def _terminated(node: NodeProgress, handle: Any, read: Any) -> None:
    try:
        normal = bool(read(handle, "TerminatedNormally", True))
    except KeyError:
        normal = True
    try:
        value = read(handle, "ReturnValue", True)
    except KeyError:
        value = None
    node.return_value = int(value) if value is not None else None
    ok = normal and node.return_value == 0
    node.state = "done" if ok else "failed"
    if not normal:
        node.note = f"killed by signal {_get(handle, read, 'TerminatedBySignal')}"
    elif not ok:
        node.note = f"exit code {node.return_value}"


def _head_digest(path: Path) -> Tuple[int, str]:
    """Length and sha256 of the log's first event (how a rewritten log is recognised)."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    end = head.find(b"\n...\n")
    head = head[: end + 5] if end >= 0 else head
    return len(head), sha256(head).hexdigest()


def _load_reader(pickled: str) -> Any:
    """Unpickle a saved reader, and nothing else (the cache lives in a user's folder)."""
    import pickle  # late, here and in to_state: a status whose log is unchanged unpickles nothing

    class OnlyJobEventLog(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module.startswith("htcondor2") and name == "JobEventLog":
                return getattr(__import__(module, fromlist=[name]), name)
            raise pickle.UnpicklingError(f"refusing {module}.{name} in a status cache")

    return OnlyJobEventLog(io.BytesIO(base64.b64decode(pickled))).load()


def _key_of(st: os.stat_result) -> Tuple[int, int, int]:
    """``(size, mtime_ns, inode)``: equal keys, same file."""
    return st.st_size, st.st_mtime_ns, st.st_ino


class EventLogFollower:
    """Follows one job event log: each :meth:`poll` reads only the events appended since.

    ``events_read`` counts every event this follower (and the saved state it resumed
    from) has read; it grows by exactly the number of new events per poll.
    """

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path).absolute()
        self.nodes: Dict[str, NodeProgress] = {}
        self.jobs: Dict[str, str] = {}
        self.events_read = 0
        self.errors: List[str] = []
        self._reader: Any = None
        self._head: Optional[Tuple[int, str]] = None
        #: the log's stat key when it was last read to its end without error (taken before that read)
        self.seen: Optional[Tuple[int, int, int]] = None
        self._saved: Optional[Tuple[str, int]] = None  # a saved reader not unpickled yet, and the size it was saved at

    def _open(self, st: Optional[os.stat_result]) -> bool:
        """Open the log (``st``: its stat, None when it cannot be read) unless it is open already."""
        if self._reader is not None:
            return True
        if st is None or not S_ISREG(st.st_mode) or st.st_size == 0:
            return False
        self._reader = htcondor2().JobEventLog(str(self.path))
        self._head = _head_digest(self.path)
        return True

    def _rewritten(self, st: Optional[os.stat_result]) -> bool:
        """Whether the log (``st``: its stat) no longer starts with the event it started with when opened."""
        if self._head is None or st is None or not S_ISREG(st.st_mode):
            return self._head is not None
        length, digest = self._head
        current = _head_digest(self.path)
        return current[1] != digest if length == current[0] else True

    def reset(self) -> None:
        """Forget everything; the next poll reads the log from its start."""
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:
                pass
        self.__init__(self.path)  # type: ignore[misc]

    def poll(self) -> int:
        """Read the events appended since the last poll (never blocks); return how many.

        A log whose stat key is the one it had when last read to its end is not opened."""
        try:  # the log is stat'ed once per poll: its key, and whether it is there to read
            st: Optional[os.stat_result] = os.stat(self.path)
        except OSError:
            st = None
        key = None if st is None else _key_of(st)
        if key is not None and key == self.seen:
            return 0
        if self._saved is not None:
            if not self._resume(st):
                self.reset()
        elif self._reader is not None and self._rewritten(st):
            self.reset()
        if not self._open(st):
            return 0
        count, clean = 0, True
        nodes, jobs, relevant, apply = self.nodes, self.jobs, _RELEVANT, _apply
        handle_of, read = ad_item_reader()  # read(handle_of(ad), key, True) is ad[key], a call less
        # each node's time is that of its last event: the EventTime text is kept per node
        # and made a number once per node after the read, not once per event
        last: Dict[str, Any] = {}
        try:
            for handle in map(handle_of, new_event_ads(self._reader)):  # each event's ClassAd, read directly
                kind = read(handle, "EventTypeNumber", True)
                if kind in relevant:  # an event of no interest costs one read
                    name = apply(nodes, jobs, handle, read, kind)
                    if name is not None:
                        last[name] = read(handle, "EventTime", True)
                count += 1
        except Exception as err:  # a damaged event; later polls retry from the same place
            clean = False
            message = f"{self.path}: cannot read an event after {self.events_read + count} events ({err})"
            if message not in self.errors:
                self.errors.append(message)
        for name, iso in last.items():
            seconds = iso_time(iso)
            nodes[name].time = bindings_time(iso) if seconds is None else seconds
        self.events_read += count
        self.seen = key if clean else None
        return count

    def _resume(self, st: Optional[os.stat_result]) -> bool:
        """Unpickle the saved reader (the bindings' import); False when the log (``st``: its
        stat, taken by :meth:`poll`) was rewritten or truncated since it was saved, or the
        saved reader cannot be read."""
        pickled, size = self._saved  # type: ignore[misc]
        self._saved = None
        try:
            if st is None or self._rewritten(st) or st.st_size < size:
                return False
            htcondor2()
            self._reader = _load_reader(pickled)
        except Exception:  # a damaged or foreign cache: read from the start instead
            return False
        return True

    # -- saving and resuming the position ------------------------------------------

    def to_state(self) -> Dict[str, Any]:
        """Plain data (JSON-able) from which :meth:`from_state` resumes without re-reading."""
        if self._reader is not None:
            import pickle

            reader = base64.b64encode(pickle.dumps(self._reader)).decode()
            size = self.path.stat().st_size if self.path.is_file() else 0
        else:
            reader, size = self._saved if self._saved is not None else (None, 0)
        return {
            "schema": CACHE_SCHEMA,
            "log": str(self.path),
            "head": list(self._head) if self._head else None,
            "size": size,
            "seen": list(self.seen) if self.seen is not None else None,
            "reader": reader,
            "events_read": self.events_read,
            "jobs": self.jobs,
            # a list per node (the fields in order): asdict per node was a tenth of a cold status
            "nodes": {name: _node_values(node) for name, node in self.nodes.items()},
        }

    @classmethod
    def from_state(cls, path: Union[str, Path], state: Mapping[str, Any]) -> "EventLogFollower":
        """Resume from :meth:`to_state`; start afresh when the state is for another log. The
        saved reader is unpickled when there is something to read (see :meth:`poll`)."""
        follower = cls(path)
        try:
            if state.get("schema") != CACHE_SCHEMA or state.get("log") != str(follower.path):
                return follower
            if not state.get("reader") or not state.get("head"):
                return follower
            follower._head = (int(state["head"][0]), str(state["head"][1]))
            follower._saved = (str(state["reader"]), int(state.get("size", 0)))
            seen = state.get("seen")
            follower.seen = (int(seen[0]), int(seen[1]), int(seen[2])) if seen else None
            follower.events_read = int(state["events_read"])
            follower.jobs = {str(k): str(v) for k, v in state["jobs"].items()}
            width = len(_NODE_FIELDS)
            follower.nodes = {str(k): NodeProgress(*v) for k, v in state["nodes"].items() if len(v) == width}
            if len(follower.nodes) != len(state["nodes"]):
                return cls(path)
        except Exception:  # a damaged or foreign cache: read from the start instead
            return cls(path)
        return follower


@dataclass
class RunState:
    run_id: str
    software_env: str
    hardware_env: str
    workload: str
    state: str = "waiting"
    detail: Optional[str] = None
    attempts: int = 0


@dataclass
class StudyProgress:
    """Where a study stands: a state per run, and counts by environment."""

    study: str
    runs: List[RunState]
    other_nodes: Dict[str, str] = field(default_factory=dict)
    dag_status: Optional[str] = None
    status_time: Optional[int] = None
    events_read: int = 0
    warnings: List[str] = field(default_factory=list)

    def counts(self, key: Optional[str] = None) -> Dict[str, Counter]:
        """``{group: Counter(state -> runs)}``; ``key`` is ``software_env``, ``hardware_env``,
        ``workload`` or None (one group, ``"all"``)."""
        states = map(attrgetter("state"), self.runs)
        if not key:
            return {"all": Counter(states)} if self.runs else {}
        out: Dict[str, Counter] = {}  # groups and states in the order they first appear
        for (group, state), runs in Counter(zip(map(attrgetter(key), self.runs), states)).items():
            counter = out.get(group)
            if counter is None:
                counter = out[group] = Counter()
            counter[state] = runs
        return out

    @property
    def finished(self) -> bool:
        """Every run done or failed (and the FINAL node too, when there is one)."""
        runs_over = all(r.state in ("done", "failed") for r in self.runs)
        others_over = all(s in ("done", "failed") for s in self.other_nodes.values())
        return runs_over and others_over

    def as_dict(self) -> Dict[str, Any]:
        return {
            "study": self.study,
            "total": len(self.runs),
            "counts": dict(self.counts().get("all", Counter())),
            "by_software": {k: dict(v) for k, v in self.counts("software_env").items()},
            "by_hardware": {k: dict(v) for k, v in self.counts("hardware_env").items()},
            "other_nodes": self.other_nodes,
            "dag_status": self.dag_status,
            "finished": self.finished,
            "runs": [asdict(r) for r in self.runs],
            "warnings": self.warnings,
        }

    def describe(self, max_listed: int = 8) -> str:
        """A plain-text report: totals, tables by software and hardware, held and failed runs."""
        total = Counter({s: 0 for s in STATES})
        total.update(self.counts().get("all", Counter()))
        head = f"study {self.study}: {len(self.runs)} runs - " + ", ".join(f"{s} {total[s]}" for s in STATES)
        lines = [head]
        if self.dag_status:
            lines.append(f"DAG: {self.dag_status}")
        for title, key in (("software environment", "software_env"), ("hardware environment", "hardware_env")):
            groups = self.counts(key)
            width = max([len(title)] + [len(g) for g in groups])
            lines.append("")
            lines.append(f"{title:<{width}}  " + " ".join(f"{s:>7}" for s in ("total",) + STATES))
            for group, counter in groups.items():
                cells = [sum(counter.values())] + [counter[s] for s in STATES]
                lines.append(f"{group:<{width}}  " + " ".join(f"{c:>7}" for c in cells))
        for state in ("held", "failed"):
            listed = [r for r in self.runs if r.state == state]
            if listed:
                lines.append("")
                lines.append(f"{state} ({len(listed)}):")
                for run in listed[:max_listed]:
                    lines.append(f"  {run.run_id}" + (f": {run.detail}" if run.detail else ""))
                if len(listed) > max_listed:
                    lines.append(f"  ... and {len(listed) - max_listed} more")
        for name, state in self.other_nodes.items():
            lines.append(f"\nnode {name}: {state}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def combine(manifest: Mapping[str, Any], follower: Optional[EventLogFollower],
            node_status: Optional[NodeStatusFile]) -> StudyProgress:
    """One state per manifest run from the event log and the node status file (newer wins)."""
    events = follower.nodes if follower else {}
    status_nodes = node_status.nodes if node_status else {}
    status_time = node_status.timestamp if node_status else 0
    runs = []
    for entry in manifest["runs"]:
        run = RunState(entry["run_id"], entry["software_env"], entry["hardware_env"], entry["workload"])
        ev = events.get(run.run_id)
        ns = status_nodes.get(run.run_id)
        if ev is not None:
            run.attempts = ev.submits
        if ev is not None and (ns is None or ev.time > status_time):
            run.state = ev.state
            run.detail = ev.hold_reason if ev.state == "held" else ev.note
        elif ns is not None:
            run.state = ns[0]
            run.detail = ns[1] if ns[0] in ("held", "failed") and ns[1] else None
            if ns[0] == "failed" and ev is not None and ev.note and not run.detail:
                run.detail = ev.note
        runs.append(run)
    known = {r.run_id for r in runs}
    others: Dict[str, str] = {}
    for name, (state, _, _) in status_nodes.items():
        if name not in known:
            others[name] = state
    for name, node in events.items():
        if name not in known and (name not in others or node.time > status_time):
            others[name] = node.state
    dag = None
    if node_status and node_status.dag_status is not None:
        dag = _DAG_STATUS.get(node_status.dag_status, str(node_status.dag_status))
    study = str(manifest.get("study", {}).get("name", "?"))
    progress = StudyProgress(study, runs, others, dag, status_time or None,
                             follower.events_read if follower else 0,
                             list(follower.errors) if follower else [])
    if node_status is not None and not node_status.complete:
        progress.warnings.append("the node status file has no StatusEnd ad (caught while being written?)")
    return progress


class StatusTracker:
    """The status of one submit tree, updated incrementally (``update`` reads only what is new).

    With ``cache=True`` the event-log reader's position and what it learnt are kept in
    ``logs/.reprogrid-status.json``, so the next ``reprogrid status`` resumes there.
    """

    def __init__(self, submit_dir: Union[str, Path], cache: bool = True) -> None:
        self.submit_dir = Path(submit_dir)
        self.manifest = tree.read_manifest(self.submit_dir)
        self.cache_path = self.submit_dir / CACHE_NAME if cache else None
        log = self.submit_dir / LOG_NAME
        self.follower = EventLogFollower(log)
        self._status_key: Optional[Tuple[int, int, int]] = None
        self._status: Optional[NodeStatusFile] = None
        if self.cache_path is not None and self.cache_path.is_file():
            try:
                state = json.loads(self.cache_path.read_text(encoding="utf-8"))
                self.follower = EventLogFollower.from_state(log, state)
                self._status_key, self._status = _saved_node_status(state)
            except (OSError, ValueError):
                pass
        self._saved_status_key = self._status_key

    def _node_status(self) -> Optional[NodeStatusFile]:
        """The node status file, parsed again only when its stat key changed (so a status of a
        finished DAG takes it from the cache, without the bindings)."""
        path = self.submit_dir / STATUS_NAME
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._status_key, self._status = None, None
            return None
        key = _key_of(stat)
        if key != self._status_key:
            self._status = read_node_status(path)
            self._status_key = key
        return self._status

    def update(self) -> StudyProgress:
        """Read new events and the node status file; return the study's progress."""
        seen = self.follower.seen
        new_events = self.follower.poll()
        progress = combine(self.manifest, self.follower, self._node_status())
        # saved when something new was read (or the log changed without a new event: its stat key
        # is kept, so the next status need not open it); a status of unchanged files writes nothing
        changed = new_events or self.follower.seen != seen or self._status_key != self._saved_status_key
        if self.cache_path is not None and self.follower.events_read and (changed or not self.cache_path.is_file()):
            state = self.follower.to_state()
            if self._status is not None and self._status_key is not None:
                state["node_status"] = dict(vars(self._status), key=list(self._status_key))
            try:
                # compact and unchecked for cycles (plain data): half json.dumps' time at 5,000 runs
                write_text_atomic(self.cache_path, json.dumps(state, check_circular=False, separators=(",", ":")))
                self._saved_status_key = self._status_key
            except OSError as err:  # a read-only submit tree: status still works
                progress.warnings.append(f"cannot save the reader's position ({err})")
        return progress


def _saved_node_status(state: Any) -> Tuple[Optional[Tuple[int, int, int]], Optional[NodeStatusFile]]:
    """The node status file as a cache of this schema saved it, with its stat key; else Nones."""
    saved = state.get("node_status") if isinstance(state, dict) and state.get("schema") == CACHE_SCHEMA else None
    try:
        key = tuple(int(k) for k in saved["key"])
        nodes = {str(n): (str(v[0]), str(v[1]), int(v[2])) for n, v in saved["nodes"].items()}
        dag_status = saved["dag_status"]
        parsed = NodeStatusFile(int(saved["timestamp"]), None if dag_status is None else int(dag_status), nodes,
                                bool(saved["complete"]))
        return (key[0], key[1], key[2]), parsed
    except Exception:  # none saved, or a damaged cache: the file is parsed
        return None, None


def study_status(submit_dir: Union[str, Path], cache: bool = True) -> StudyProgress:
    """One-shot status of a submit tree (see :class:`StatusTracker` to follow it)."""
    return StatusTracker(submit_dir, cache=cache).update()


__all__ = [
    "EventLogFollower", "NodeProgress", "RunState", "STATES", "StatusTracker", "StudyProgress",
    "combine", "node_name_of", "study_status",
]
