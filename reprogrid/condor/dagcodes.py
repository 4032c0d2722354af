"""DAGMan's numbers, one owner: node status, DAG status and the special node return values.

Node status (``NodeStatus`` / ``DagStatus`` in a node status file, dag.cpp
``Job::status_t``), the DAG's exit reason (``$DAG_STATUS``, dagman_main.h ``DagStatus``)
and the ``$RETURN`` values DAGMan gives a node whose job never ran normally
(dagman_utils.h). The emulator writes them; ``access.status`` reads them.
"""
from __future__ import annotations

STATUS_NOT_READY, STATUS_READY, STATUS_PRERUN, STATUS_SUBMITTED = 0, 1, 2, 3
STATUS_POSTRUN, STATUS_DONE, STATUS_ERROR, STATUS_FUTILE = 4, 5, 6, 7
STATUS_NAMES = ("STATUS_NOT_READY", "STATUS_READY", "STATUS_PRERUN", "STATUS_SUBMITTED",
                "STATUS_POSTRUN", "STATUS_DONE", "STATUS_ERROR", "STATUS_FUTILE")

DAG_OK, DAG_ERROR, DAG_NODE_FAILED, DAG_ABORTED, DAG_REMOVED, DAG_CYCLE, DAG_HALTED = 0, 1, 2, 3, 4, 5, 6
DAG_STATUS_NAMES = ("DAG_STATUS_OK", "DAG_STATUS_ERROR", "DAG_STATUS_NODE_FAILED", "DAG_STATUS_ABORT",
                    "DAG_STATUS_RM", "DAG_STATUS_CYCLE", "DAG_STATUS_HALTED")

#: $RETURN of a node whose submit failed, whose job was aborted (removed, or held and
#: removed), whose PRE script failed.
RETURN_SUBMIT_FAILED, RETURN_JOB_ABORTED, RETURN_PRE_FAILED = -1001, -1002, -1004
