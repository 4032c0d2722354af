"""Crash safety of a dry run, as DAGMan's: the per-DAG lock file and recovery mode.

``DagLock`` is ``<dag>.lock``: held (``flock``) by the running dry run and by its
watchdog, holding their pid and the first job id of the run. A second dry run of the
same DAG is refused (exit 2, naming the first one's pid). A lock left by a killed run
(its holder gone, the kernel has released the ``flock``) is taken over with a note, and
that run's nodes log is read back (:func:`recover`) as DAGMan's recovery mode does: nodes
whose job terminated are finished with that job's exit code (a POST script then runs
again, as DAGMan does when no POST-terminated event was logged), jobs submitted but never
terminated are logged as aborted and run again. Job ids keep increasing across runs of
one DAG (:func:`last_cluster`), so the logs never hold two jobs with one id.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from reprogrid.core.errors import Problem, UserError
from reprogrid.condor.bindings import htcondor2

_EVENT_ID = re.compile(rb"^\d{3} \((\d+)\.\d+\.\d+\) ", re.M)
_TAIL = 1 << 16


class DagLock:
    """``<dag>.lock``: one dry run per DAG at a time; a dead holder's lock is taken over."""

    def __init__(self, dag_path: Path) -> None:
        self.dag_path = dag_path
        self.path = Path(str(dag_path) + ".lock")
        self.fd: Optional[int] = None
        self.previous: Optional[Dict[str, Any]] = None
        self.written = False

    def acquire(self) -> Optional[Dict[str, Any]]:
        """Take the lock; return the content of a stale lock taken over (None when fresh).

        Raises ``UserError`` (exit 2) when a live process holds it.
        """
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = _read(fd)
                os.close(fd)
                pid = info.get("pid", "?")
                raise UserError(f"{self.dag_path.name} is being run already", [Problem(
                    str(self.path), f"held by reprogrid dryrun pid {pid} (started {info.get('started', '?')}); "
                    f"wait for it to finish, or stop it (kill {pid}) and run the same command again to resume")]) from None
            mine, now = os.fstat(fd), _stat(self.path)
            if now is None or (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
                os.close(fd)  # the holder removed it between our open and our lock: try again
                continue
            self.fd = fd
            self.previous = _read(fd) or None
            return self.previous
        raise UserError("cannot lock the DAG", [Problem(str(self.path), "it keeps changing; is another dry run starting?")])

    def write(self, first_cluster: int) -> None:
        """Record who holds the lock and the first job id of this run (kept on take-over)."""
        assert self.fd is not None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "first_cluster": first_cluster, "dag": str(self.dag_path)}
        data = (json.dumps(info) + "\n").encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)
        self.written = True

    def release(self) -> None:
        """Remove the lock file (a clean exit: the next run starts fresh, not in recovery).

        A stale lock we took over but never got to write (the DAG did not parse, say) is
        left as it was, so the killed run's recovery is not lost.
        """
        if self.fd is None:
            return
        if self.written or self.previous is None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self.fd)
        self.fd = None


def _stat(path: Path) -> Optional[os.stat_result]:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _read(fd: int) -> Dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data.decode() or "{}")
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def last_cluster(*logs: Optional[Path]) -> int:
    """The highest job id (cluster) in these event logs (0 when none): the next run goes on from it."""
    best = 0
    for path in logs:
        if path is None or not path.is_file():
            continue
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL))
            ids = [int(m.group(1)) for m in _EVENT_ID.finditer(handle.read())]
        best = max([best, *ids])
    return best


@dataclass
class Recovered:
    """What a killed run's nodes log says (events of its own jobs only)."""

    finished: Dict[str, int] = field(default_factory=dict)  # node -> return value (-signal)
    attempts: Dict[str, int] = field(default_factory=dict)  # node -> jobs submitted
    orphans: Dict[int, str] = field(default_factory=dict)  # cluster -> node: never terminated
    events: int = 0


def recover(nodes_log: Path, since_cluster: int) -> Recovered:
    """Read ``nodes_log`` (htcondor2.JobEventLog) for jobs with id >= ``since_cluster``."""
    out = Recovered()
    if not nodes_log.is_file() or nodes_log.stat().st_size == 0:
        return out
    node_of: Dict[int, str] = {}
    reader = htcondor2().JobEventLog(str(nodes_log))
    try:
        for event in reader.events(stop_after=0):
            out.events += 1
            cluster = int(event.cluster)
            if cluster < since_cluster:
                continue
            kind = int(event.type)
            if kind == 0:
                notes = str(event.get("LogNotes", ""))
                name = notes.split("DAG Node:", 1)[1].strip() if "DAG Node:" in notes else None
                if name:
                    node_of[cluster] = name
                    out.attempts[name] = out.attempts.get(name, 0) + 1
                    out.orphans[cluster] = name
                    out.finished.pop(name, None)
            elif kind == 5 and cluster in node_of:
                out.orphans.pop(cluster, None)
                if event.get("TerminatedNormally", False):
                    out.finished[node_of[cluster]] = int(event.get("ReturnValue", 0))
                else:
                    out.finished[node_of[cluster]] = -int(event.get("TerminatedBySignal", 0) or 0)
            elif kind in (9, 12) and cluster in node_of:
                out.orphans.pop(cluster, None)
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()
    return out
