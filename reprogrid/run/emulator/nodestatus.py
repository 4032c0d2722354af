"""The node status file as DAGMan writes it: a DagStatus ad, one NodeStatus ad per node, StatusEnd.

New ClassAd syntax (``[ Attr = value; ... ]``), rewritten atomically on every update.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Tuple

from reprogrid.core.files import write_text_atomic

STATUS_NOT_READY, STATUS_READY, STATUS_PRERUN, STATUS_SUBMITTED = 0, 1, 2, 3
STATUS_POSTRUN, STATUS_DONE, STATUS_ERROR, STATUS_FUTILE = 4, 5, 6, 7


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_node_status(dag_file: str, dag_status: int, nodes: Iterable[Tuple[str, int, str, int, int]],
                       now: float, next_update: float, idle_jobs: int = 0) -> str:
    """``nodes``: (name, NodeStatus, StatusDetails, RetryCount, JobProcsQueued) per node."""
    rows = list(nodes)
    counts = {k: 0 for k in range(8)}
    for _, status, _, _, _ in rows:
        counts[status] += 1
    ts = int(now)
    out: List[str] = [
        "[",
        '  Type = "DagStatus";',
        f"  DagFiles = {{\n    {_q(dag_file)}\n  }};",
        f"  Timestamp = {ts};",
        f"  DagStatus = {dag_status};",
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
        f"  JobProcsIdle = {idle_jobs};",
        "]",
    ]
    for name, status, details, retries, queued in rows:
        out += [
            "[",
            '  Type = "NodeStatus";',
            f"  Node = {_q(name)};",
            f"  NodeStatus = {status};",
            f"  StatusDetails = {_q(details)};",
            f"  RetryCount = {retries};",
            f"  JobProcsQueued = {queued};",
            "  JobProcsHeld = 0;",
            "]",
        ]
    out += ["[", '  Type = "StatusEnd";', f"  EndTime = {ts};", f"  NextUpdate = {int(next_update)};", "]"]
    return "\n".join(out) + "\n"


def write_node_status(path: Path, text: str) -> None:
    write_text_atomic(path, text)
