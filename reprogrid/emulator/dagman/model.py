"""The DAG as DAGMan sees it after parsing: nodes, scripts, edges, throttles.

Plain data, no I/O. ``dagfile.parse_dag`` builds it; the scheduler walks it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple


@dataclass
class Script:
    """A PRE or POST script: executable and arguments split on whitespace, as DAGMan does."""

    kind: str  # "PRE" | "POST"
    argv: List[str]
    defer_status: Optional[int] = None
    defer_time: int = 0
    where: str = ""
    debug_file: Optional[str] = None  # SCRIPT DEBUG file (relative to the node's directory)
    debug_type: str = ""  # STDOUT | STDERR | ALL

    @property
    def command(self) -> str:
        return " ".join(self.argv)


@dataclass
class Node:
    """One DAG node (JOB or FINAL)."""

    name: str
    submit_file: str
    directory: str = ""  # the DIR option, relative to the DAG's folder (or absolute)
    noop: bool = False
    done: bool = False  # DONE on the JOB line or a DONE line in a rescue DAG
    final: bool = False
    service: bool = False  # SERVICE: runs alongside the DAG, removed when it ends
    vars: List[Tuple[str, str]] = field(default_factory=list)  # in order; last one wins
    vars_append: List[bool] = field(default_factory=list)  # per VARS pair: APPEND (True) or PREPEND
    inline: Optional[str] = None  # an inline submit description (JOB A { ... } or SUBMIT-DESCRIPTION)
    subdag: Optional[str] = None  # SUBDAG EXTERNAL: the sub-DAG file, run by a nested emulator
    retry: int = 0
    retry_unless_exit: Optional[int] = None
    pre: Optional[Script] = None
    post: Optional[Script] = None
    pre_skip: Optional[int] = None
    abort_on: Optional[int] = None
    abort_return: Optional[int] = None
    category: Optional[str] = None
    priority: int = 0
    parents: List[str] = field(default_factory=list)
    children: List[str] = field(default_factory=list)
    where: str = ""  # "file:line" of its JOB line

    def vars_dict(self) -> Dict[str, str]:
        return dict(self.vars)


@dataclass
class NodeStatusFileSpec:
    path: str
    min_update: int = 60
    always_update: bool = False


@dataclass
class DotSpec:
    """DOT filename [UPDATE | DONT-UPDATE] [OVERWRITE | DONT-OVERWRITE] [INCLUDE header]."""

    path: str
    update: bool = False
    overwrite: bool = True
    include: Optional[str] = None


@dataclass
class Dag:
    """A parsed DAG: nodes in file order, the FINAL node, throttles and options."""

    path: Path
    nodes: Dict[str, Node] = field(default_factory=dict)
    final: Optional[str] = None
    maxjobs: Dict[str, int] = field(default_factory=dict)  # category -> limit
    node_status: Optional[NodeStatusFileSpec] = None
    config_file: Optional[str] = None
    config: Dict[str, str] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)
    descriptions: Dict[str, str] = field(default_factory=dict)  # SUBMIT-DESCRIPTION name -> text
    jobstate_log: Optional[str] = None
    cycle: Optional[List[str]] = None  # a cycle DAGMan would report at the end (DAG_STATUS 5)
    reject: Optional[str] = None  # where the first REJECT is (file:line)
    dot: Optional[DotSpec] = None
    pins_in: Dict[int, List[str]] = field(default_factory=dict)  # PIN_IN number -> nodes
    pins_out: Dict[int, List[str]] = field(default_factory=dict)  # PIN_OUT number -> nodes
    rescue_file: Optional[Path] = None  # the rescue DAG applied on top, if any

    @property
    def folder(self) -> Path:
        return self.path.parent

    def node_dir(self, node: Node) -> Path:
        """The folder DAGMan runs the node's condor_submit and scripts in."""
        if not node.directory:
            return self.folder
        return (self.folder / node.directory).resolve()

    def int_config(self, key: str, default: int) -> int:
        value = self.config.get(key.upper())
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            return default
