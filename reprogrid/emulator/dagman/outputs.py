"""What DAGMan writes about a running DAG, other than the DAG files: dagman.out and the rest.

``Log`` is the ``<dag>.dagman.out`` log (timestamped lines, buffered); ``ProgressLine``
the one-line progress bar on a terminal; ``status_rows`` / ``dag_node_status`` the
node status file's content (dag.cpp, ``DumpNodeStatus``) and ``summary_lines`` DAGMan's
``print_status`` block, which tools grep in dagman.out.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Iterable, List, Optional, Tuple

from reprogrid.core.files import AppendFile
from reprogrid.core.text import shown
from reprogrid.condor.dagcodes import (DAG_ABORTED, DAG_CYCLE, DAG_STATUS_NAMES, STATUS_DONE, STATUS_ERROR,
                                       STATUS_FUTILE, STATUS_NOT_READY, STATUS_POSTRUN, STATUS_PRERUN, STATUS_READY,
                                       STATUS_SUBMITTED)
from reprogrid.emulator.dagman.nodestate import NodeState
from reprogrid.emulator.starter.eventlog import SecondStamps


class Log:
    """The ``<dag>.dagman.out``-style log: timestamped lines, buffered."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = AppendFile(path, buffering=1 << 16)  # its write errors name the log

    def __call__(self, message: str) -> None:
        self.handle.write(self.stamp() + " " + message + "\n")

    stamp = SecondStamps("%m/%d/%y %H:%M:%S")  # now, as dagman.out writes it

    def fileno(self) -> int:
        self.handle.flush()
        return self.handle.fileno()

    def close(self) -> None:
        self.handle.close()


class ProgressLine:
    """A one-line progress bar on stderr (TTY only): done / running / idle / failed.

    With ``lines`` (for a stderr that is not a terminal: a CI log, a redirect) it draws
    no bar but prints one line per node that finishes, so a long run is never silent.
    """

    def __init__(self, total: int, enabled: bool, lines: bool = False, stream: Optional[IO[str]] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr  # like core.progress: the caller's terminal
        self.total, self.enabled, self.last = total, enabled, 0.0
        self.lines = lines and not enabled
        self.finished = 0
        self.started = time.monotonic()

    def node(self, name: str, ok: bool, why: str = "") -> None:
        """One line for a node that finished (``lines`` mode only)."""
        self.finished += 1
        if not self.lines:
            return
        state = "done" if ok else f"FAILED ({why})" if why else "FAILED"
        self.stream.write(f"[{self.finished}/{self.total} {time.monotonic() - self.started:6.0f} s] "
                         f"node {shown(name)} {shown(state)}\n")  # DAG node names are data: escaped
        self.stream.flush()

    def update(self, done: int, running: int, idle: int, failed: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] done {done}/{self.total}  "
                         f"running {running}  idle {idle}  failed {failed} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()




_WAS = {STATUS_PRERUN: "Was STATUS_PRERUN", STATUS_SUBMITTED: "Was STATUS_SUBMITTED",
        STATUS_POSTRUN: "Was STATUS_POSTRUN"}


def status_row(s: NodeState, end: bool) -> Tuple[str, int, str, int, int]:
    """(name, NodeStatus, StatusDetails, RetryCount, JobProcsQueued) of one node."""
    status, details = s.status, s.details
    if end and status in _WAS:
        # DAGMan's last status file shows nodes it removed as ERROR (dag.cpp, markNodesError)
        details, status = _WAS[status], STATUS_ERROR
    elif status == STATUS_DONE and s.node.done:
        details = "User defined as DONE"
    queued = len(s.procs) - sum(1 for p in s.procs if p.finished) if status == STATUS_SUBMITTED else 0
    return (s.node.name, status, details, s.retries, queued)


def dag_node_status(end: bool, succeeded: bool, removed: bool, dag_status: int, failed: int) -> Tuple[int, str]:
    """The DAG's own NodeStatus number and note in the status file (dag.cpp, DumpNodeStatus)."""
    if not end:
        return STATUS_SUBMITTED, ""
    if succeeded:
        return STATUS_DONE, "success"
    if removed:
        return STATUS_ERROR, "removed"
    if dag_status == DAG_ABORTED:
        return STATUS_ERROR, "aborted"
    if dag_status == DAG_CYCLE and not failed:
        return STATUS_ERROR, "cycle"
    return STATUS_ERROR, "failed"


def summary_lines(dag_status: int, states: Iterable[NodeState]) -> List[str]:
    """DAGMan's ``print_status`` block."""
    by = {k: 0 for k in range(8)}
    total = 0
    for s in states:
        by[s.status] += 1
        total += 1
    return [f"DAG status: {dag_status} ({DAG_STATUS_NAMES[dag_status]})",
            f"Of {total} nodes total:",
            " Done     Pre   Queued    Post   Ready   Un-Ready   Failed   Futile",
            "  ===     ===      ===     ===     ===        ===      ===      ===",
            f"{by[STATUS_DONE]:5d}   {by[STATUS_PRERUN]:5d}    {by[STATUS_SUBMITTED]:5d}   {by[STATUS_POSTRUN]:5d}   "
            f"{by[STATUS_READY]:5d}      {by[STATUS_NOT_READY]:5d}    {by[STATUS_ERROR]:5d}    {by[STATUS_FUTILE]:5d}",
            "0 job proc(s) currently held"]
