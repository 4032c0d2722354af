"""What DAGMan knows of each node while the DAG runs, and what a run of the DAG comes to.

``NodeState`` is one node's place in DAGMan's state machine (dag.cpp's ``Job``: status,
parents still to finish, retries, the return values of its PRE script and job, its
cluster); ``DagOutcome`` is the end of a run (exit code, DAG status, the nodes by outcome,
the rescue DAG written).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from reprogrid.condor.dagcodes import STATUS_NOT_READY
from reprogrid.emulator.dagman.model import Node
from reprogrid.emulator.schedd.queue import Cluster, Proc


@dataclass
class NodeState:
    node: Node
    status: int = STATUS_NOT_READY
    waiting: int = 0  # parents not yet done
    retries: int = 0
    pre_return: int = -1  # the manual: "If there is no PRE script, this value will be -1"
    job_return: int = 0
    ret: int = 0  # return value of the last part that ran
    cluster: int = 0
    job: Optional[Cluster] = None  # the schedd's cluster of this attempt
    submitted: bool = False
    poisoned: bool = False  # a submit failure: no retry (DAGMan's PoisonRetries)
    details: str = ""
    order: int = 0

    @property
    def procs(self) -> List[Proc]:
        return self.job.procs if self.job is not None else []


@dataclass
class DagOutcome:
    exit_code: int
    dag_status: int
    done: List[str]
    failed: List[str]
    futile: List[str]
    rescue_file: Optional[Path]
    aborted: bool = False
    interrupted: bool = False
    jobs_run: int = 0
    seconds: float = 0.0
    #: nodes that neither finished nor failed (FINAL included, e.g. after Ctrl-C)
    not_run: List[str] = field(default_factory=list)
    #: failed node -> why it failed (the hold reason, the exit status)
    reasons: Dict[str, str] = field(default_factory=dict)
