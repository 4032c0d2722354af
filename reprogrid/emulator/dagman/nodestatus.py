"""The node status file as DAGMan writes it: a DagStatus ad, one NodeStatus ad per node, StatusEnd.

New ClassAd syntax (``[ Attr = value; ... ]``), rewritten atomically on every update.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, List, Tuple

from reprogrid.core.files import write_text_atomic

from reprogrid.condor.dagcodes import (STATUS_DONE, STATUS_ERROR, STATUS_FUTILE, STATUS_NAMES, STATUS_NOT_READY,
                                       STATUS_POSTRUN, STATUS_PRERUN, STATUS_READY, STATUS_SUBMITTED)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _when(t: float) -> str:
    return time.ctime(t)


def format_node_status(dag_file: str, dag_status: int, nodes: Iterable[Tuple[str, int, str, int, int]],
                       now: float, next_update: float, idle_jobs: int = 0, note: str = "") -> str:
    """``nodes``: (name, NodeStatus, StatusDetails, RetryCount, JobProcsQueued) per node.

    ``dag_status`` is the DAG's own node status number (5 done, 6 error, 3 while running) and
    ``note`` its reason (success, failed, aborted, cycle, removed), written as DAGMan writes them.
    """
    rows = list(nodes)
    counts = {k: 0 for k in range(8)}
    for _, status, _, _, _ in rows:
        counts[status] += 1
    ts = int(now)
    out: List[str] = [
        "[",
        '  Type = "DagStatus";',
        f"  DagFiles = {{\n    {_q(dag_file)}\n  }};",
        f"  Timestamp = {ts}; /* {_q(_when(ts))} */",
        f"  DagStatus = {dag_status}; /* {_q(STATUS_NAMES[dag_status] + ' (' + note + ')')} */",
        f"  NodesTotal = {len(rows)};",
        f"  NodesDone = {counts[STATUS_DONE]};",
        f"  NodesPre = {counts[STATUS_PRERUN]};",
        f"  NodesQueued = {counts[STATUS_SUBMITTED]};",
        f"  NodesPost = {counts[STATUS_POSTRUN]};",
        f"  NodesReady = {counts[STATUS_READY]};",
        f"  NodesUnready = {counts[STATUS_NOT_READY]};",
        f"  NodesFutile = {counts[STATUS_FUTILE]};",
        f"  NodesFailed = {counts[STATUS_ERROR]};",
        "  JobProcsHeld = 0;",
        f"  JobProcsIdle = {idle_jobs}; /* includes held */",
        "]",
    ]
    for name, status, details, retries, queued in rows:
        out += [
            "[",
            '  Type = "NodeStatus";',
            f"  Node = {_q(name)};",
            f"  NodeStatus = {status}; /* {_q(STATUS_NAMES[status])} */",
            f"  StatusDetails = {_q(details)};",
            f"  RetryCount = {retries};",
            f"  JobProcsQueued = {queued};",
            "  JobProcsHeld = 0;",
            "]",
        ]
    nxt = int(next_update)
    out += ["[", '  Type = "StatusEnd";', f"  EndTime = {ts}; /* {_q(_when(ts))} */",
            f"  NextUpdate = {nxt}; /* {_q(_when(nxt) if nxt else 'none')} */", "]"]
    return "\n".join(out) + "\n"


def write_node_status(path: Path, text: str) -> None:
    write_text_atomic(path, text)
