"""Write a job event log (the ``log =`` user log) in HTCondor's text format.

Events: submit (000), execute (001), image size (006), terminated (005), aborted (009),
held (012). The text matches what the schedd/starter write closely enough that
``htcondor2.JobEventLog`` parses every field we write. The events of one turn of the
dry run's loop reach each file in one write at the turn's end, before any job of that
turn starts or any script runs (``starter.processes`` dispatches launches only after
them), so a killed dry run's logs hold every event of what it started; half an event left
by a kill mid-write is cut off before the next one is appended.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional
from reprogrid.core.files import AppendFile

from reprogrid.condor import eventcodes as ev

# the event numbers (condor.eventcodes, checked against the bindings' JobEventType)
_SUBMIT = f"{ev.SUBMIT:03d}"
_EXECUTE = f"{ev.EXECUTE:03d}"
_IMAGE_SIZE = f"{ev.IMAGE_SIZE:03d}"
_JOB_TERMINATED = f"{ev.JOB_TERMINATED:03d}"
_JOB_ABORTED = f"{ev.JOB_ABORTED:03d}"
_JOB_HELD = f"{ev.JOB_HELD:03d}"
#: how far back from a log's end a complete event is looked for
_TAIL_BYTES = 1 << 16
HOST = "<127.0.0.1:0?addrs=127.0.0.1-0&alias=reprogrid-dryrun>"
_USAGE = "Usr 0 00:00:00, Sys 0 00:00:00"


class SecondStamps:
    """``time.strftime(fmt)`` of a second, worked out once per second: events and log lines
    come in bursts, and strftime is most of what writing one costs."""

    __slots__ = ("fmt", "_last")

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._last = (-1, "")

    def __call__(self, t: Optional[float] = None) -> str:
        second = int(t if t is not None else time.time())
        if self._last[0] != second:
            self._last = (second, time.strftime(self.fmt, time.localtime(second)))
        return self._last[1]


_stamp = SecondStamps("%Y-%m-%d %H:%M:%S")  # as the schedd and starter write events


def _id(cluster: int, proc: int) -> str:
    return f"({cluster:03d}.{proc:03d}.000)"


def _usage(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"Usr 0 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}, Sys 0 00:00:00"


def submit_event(cluster: int, proc: int, node: Optional[str], t: Optional[float] = None) -> str:
    text = f"{_SUBMIT} {_id(cluster, proc)} {_stamp(t)} Job submitted from host: {HOST}\n"
    if node:
        text += f"    DAG Node: {node}\n"
    return text + "...\n"


def execute_event(cluster: int, proc: int, slot: str, t: Optional[float] = None) -> str:
    return (f"{_EXECUTE} {_id(cluster, proc)} {_stamp(t)} Job executing on host: {HOST}\n"
            f"\tSlotName: {slot}\n...\n")


def image_size_event(cluster: int, proc: int, rss_kb: int, t: Optional[float] = None) -> str:
    mb = (rss_kb + 1023) // 1024
    return (f"{_IMAGE_SIZE} {_id(cluster, proc)} {_stamp(t)} Image size of job updated: {rss_kb}\n"
            f"\t{mb}  -  MemoryUsage of job (MB)\n"
            f"\t{rss_kb}  -  ResidentSetSize of job (KB)\n...\n")


def terminated_event(cluster: int, proc: int, return_value: Optional[int], signal: Optional[int],
                     cpu_seconds: float = 0.0, request_cpus: int = 1, request_memory: int = 0,
                     request_disk: int = 0, t: Optional[float] = None) -> str:
    if signal is None:
        head = f"\t(1) Normal termination (return value {return_value})\n"
    else:
        head = f"\t(0) Abnormal termination (signal {signal})\n\t(0) No core file\n"
    run = _usage(cpu_seconds)
    return (
        f"{_JOB_TERMINATED} {_id(cluster, proc)} {_stamp(t)} Job terminated.\n" + head +
        f"\t\t{run}  -  Run Remote Usage\n"
        f"\t\t{_USAGE}  -  Run Local Usage\n"
        f"\t\t{run}  -  Total Remote Usage\n"
        f"\t\t{_USAGE}  -  Total Local Usage\n"
        "\t0  -  Run Bytes Sent By Job\n"
        "\t0  -  Run Bytes Received By Job\n"
        "\t0  -  Total Bytes Sent By Job\n"
        "\t0  -  Total Bytes Received By Job\n"
        "\tPartitionable Resources :    Usage  Request Allocated\n"
        f"\t   Cpus                 :                 {request_cpus}         {request_cpus}\n"
        f"\t   Disk (KB)            :        0 {request_disk:8d} {request_disk:9d}\n"
        f"\t   Memory (MB)          :        0 {request_memory:8d} {request_memory:9d}\n"
        "...\n"
    )


def aborted_event(cluster: int, proc: int, reason: str, t: Optional[float] = None) -> str:
    return f"{_JOB_ABORTED} {_id(cluster, proc)} {_stamp(t)} Job was aborted.\n\t{reason}\n...\n"


def held_event(cluster: int, proc: int, reason: str, code: int = 0, subcode: int = 0,
               t: Optional[float] = None) -> str:
    return (f"{_JOB_HELD} {_id(cluster, proc)} {_stamp(t)} Job was held.\n\t{reason}\n"
            f"\tCode {code} Subcode {subcode}\n...\n")


def repair_tail(path: Path) -> bool:
    """Cut an event log back to its last complete event (``...`` line); True when cut.

    A writer killed in the middle of an event leaves half of it; the next event appended
    after it would make the log unreadable from there on.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:
        return False
    with open(path, "rb+") as handle:
        start = max(0, size - _TAIL_BYTES)
        handle.seek(start)
        tail = handle.read()
        if tail.endswith(b"...\n"):
            return False
        cut = tail.rfind(b"\n...\n")
        keep = start + cut + 5 if cut >= 0 else (4 if tail.startswith(b"...\n") and start == 0 else 0)
        handle.truncate(keep)
    return True


class EventLogs:
    """Append-only writers for every user log the DAG's jobs name; the events written since
    the last :meth:`flush` wait in memory and reach each file in one write."""

    def __init__(self) -> None:
        self._handles: Dict[Path, AppendFile] = {}
        self._pending: Dict[Path, List[str]] = {}

    def write(self, path: Optional[Path], text: str) -> None:
        if path is None:
            return
        pending = self._pending.get(path)
        if pending is None:
            if path not in self._handles:  # opened at its first event: a log that cannot be made fails here
                path.parent.mkdir(parents=True, exist_ok=True)
                repair_tail(path)
                self._handles[path] = AppendFile(path, buffering=1 << 16)  # its write errors name the log
            pending = self._pending[path] = []
        pending.append(text)

    def flush(self) -> None:
        """Write the waiting events: one write (and flush) per log."""
        while self._pending:
            path = next(iter(self._pending))
            text = "".join(self._pending.pop(path))  # taken first: never written twice
            handle = self._handles[path]
            handle.write(text)
            handle.flush()

    def close(self) -> None:
        self.flush()
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
