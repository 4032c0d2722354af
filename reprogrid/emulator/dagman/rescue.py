"""Rescue DAGs: find the newest ``<dag>.rescueNNN``, and write the next one, as DAGMan does.

The format is DAGMan's (``dag.cpp``, ``Dag::WriteRescue``, rescue DAG version 2.1.0): a
comment header with the counts and the failed nodes (the FINAL node included when it
failed), then ``DONE <node>`` for every finished node (never the FINAL node). With
``DAGMAN_RESET_RETRIES_UPON_RESCUE`` (true by default) no ``RETRY`` lines are written, so a
rerun gets the DAG file's full retries; when false, each node with retries gets a
``RETRY node remaining`` line. Numbers stop at ``DAGMAN_MAX_RESCUE_NUM`` (100 by default):
the last file is overwritten from then on. It is read together with the original DAG file.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from reprogrid.core.files import write_text_atomic
from reprogrid.emulator.dagman.model import Dag

RESCUE_DAG_VERSION = "2.1.0"
MAX_RESCUE_DEFAULT = 100
_RESCUE_RE = re.compile(r"\.rescue(\d{3,})$")


def rescue_files(dag_path: "str | Path") -> List[Path]:
    """Existing rescue files of ``dag_path``, oldest number first."""
    dag_path = Path(dag_path)
    found = []
    for candidate in dag_path.parent.glob(dag_path.name + ".rescue*"):
        m = _RESCUE_RE.search(candidate.name)
        if m and candidate.name[: m.start()] == dag_path.name:
            found.append((int(m.group(1)), candidate))
    return [p for _, p in sorted(found)]


def newest_rescue(dag_path: "str | Path") -> Optional[Path]:
    files = rescue_files(dag_path)
    return files[-1] if files else None


def next_rescue_path(dag_path: "str | Path", max_number: int = MAX_RESCUE_DEFAULT) -> Path:
    files = rescue_files(dag_path)
    number = int(_RESCUE_RE.search(files[-1].name).group(1)) + 1 if files else 1  # type: ignore[union-attr]
    return Path(f"{dag_path}.rescue{min(number, max(1, max_number)):03d}")


def format_rescue(dag: Dag, done: Iterable[str], failed: Iterable[str], now: Optional[float] = None,
                  retries: Optional[Dict[str, int]] = None) -> str:
    """``retries``: retries already used per node, or None to reset them (the default)."""
    done_set = set(done)
    failed_list = list(failed)
    tm = time.gmtime(now if now is not None else time.time())
    lines = [
        "# Rescue DAG file, created after running",
        f"#   the {dag.path.name} DAG file",
        f"# Created {tm.tm_mon}/{tm.tm_mday}/{tm.tm_year} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} UTC",
        f"# Rescue DAG version: {RESCUE_DAG_VERSION}",
        "#",
        f"# Total number of Nodes: {len(dag.nodes)}",
        f"# Nodes premarked DONE: {len([n for n in done_set if n in dag.nodes and not dag.nodes[n].final])}",
        f"# Nodes that failed: {len(failed_list)}",
        "#   " + "".join(f"{name}," for name in failed_list) + "<ENDLIST>",
        "",
    ]
    for node in dag.nodes.values():
        if node.name in done_set and not node.final:
            lines.append(f"DONE {node.name}")
        if retries is not None and node.retry > 0:
            used = retries.get(node.name, 0)
            lines.append(f"# {used} of {node.retry} retries already performed; {node.retry - used} remaining")
            line = f"RETRY {node.name} {node.retry - used}"
            if node.retry_unless_exit is not None:
                line += f" UNLESS-EXIT {node.retry_unless_exit}"
            lines.append(line)
    return "\n".join(lines) + "\n"


def write_rescue(dag: Dag, done: Iterable[str], failed: Iterable[str], path: Optional[Path] = None,
                 max_number: int = MAX_RESCUE_DEFAULT, retries: Optional[Dict[str, int]] = None) -> Path:
    """Write the rescue file atomically (the next number, or ``path`` again) and return its path."""
    path = path or next_rescue_path(dag.path, max_number)
    write_text_atomic(path, format_rescue(dag, done, failed, retries=retries))
    return path
