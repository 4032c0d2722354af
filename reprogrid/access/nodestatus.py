"""DAGMan's node status file (``study.dag.status``), read for ``reprogrid status``.

DagStatus / NodeStatus / StatusEnd ads in new ClassAd syntax, rewritten as a whole by
DAGMan every so often (``NODE_STATUS_FILE``); :func:`read_node_status` parses it with the
v2 bindings into a state per node, in the words of ``access.status``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from reprogrid.condor import dagcodes as dc
from reprogrid.condor.bindings import classad2
from reprogrid.core.errors import Problem, UserError

_NODE_STATUS = {dc.STATUS_NOT_READY: "waiting", dc.STATUS_READY: "waiting", dc.STATUS_PRERUN: "waiting",
                dc.STATUS_SUBMITTED: "idle", dc.STATUS_POSTRUN: "running", dc.STATUS_DONE: "done",
                dc.STATUS_ERROR: "failed", dc.STATUS_FUTILE: "failed"}


@dataclass(frozen=True)
class NodeStatusFile:
    """A parsed node status file."""

    timestamp: int
    dag_status: Optional[int]
    nodes: Dict[str, Tuple[str, str, int]]  # name -> (state, StatusDetails, RetryCount)
    complete: bool


def read_node_status(path: Union[str, Path]) -> Optional[NodeStatusFile]:
    """Parse DAGMan's node status file; None when it does not exist (yet)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UserError.of("cannot read the node status file", [Problem(str(path), str(err))]) from err
    except UnicodeDecodeError as err:
        raise UserError.of("the node status file is not valid", [Problem(str(path), (
            f"byte {err.start} is not UTF-8 ({err.reason}): DAGMan writes it as text, so it was damaged or "
            "overwritten; delete it (DAGMan writes it again) or check the disk"))]) from None
    ads_module = classad2()
    timestamp, dag_status, complete = 0, None, False
    nodes: Dict[str, Tuple[str, str, int]] = {}
    try:
        for ad in ads_module.parseAds(text, ads_module.ParserType.New):
            kind = ad.get("Type")
            if kind == "DagStatus":
                timestamp = int(ad.get("Timestamp", 0))
                dag_status = int(ad["DagStatus"]) if "DagStatus" in ad else None
            elif kind == "NodeStatus":
                code = int(ad.get("NodeStatus", 0))
                details = str(ad.get("StatusDetails", "") or "")
                state = _NODE_STATUS.get(code, "waiting")
                if code == dc.STATUS_SUBMITTED:
                    state = "held" if int(ad.get("JobProcsHeld", 0) or 0) > 0 else \
                        ("idle" if details.lower() == "idle" else "running")
                nodes[str(ad["Node"])] = (state, details, int(ad.get("RetryCount", 0) or 0))
            elif kind == "StatusEnd":
                complete = True
    except Exception as err:  # classad2 parse errors; a file caught mid-write is not
        raise UserError.of("the node status file is not valid", [Problem(str(path), str(err))]) from err
    return NodeStatusFile(timestamp, dag_status, nodes, complete)
