"""DAGMan's node state machine: a node ready, its PRE script, job and POST script ended,
done or failed (retried, futile descendants), ABORT-DAG-ON, and recovery of a killed run.

``NodeMachine`` is the half of the emulated condor_dagman that moves nodes between
states (dag.cpp: ``ProcessSuccessfulSubmit``, ``ProcessJobProcEnd``, ``ProcessPostTermEvent``,
``TerminateJob``...); ``scheduler.Scheduler`` adds the loop, the throttles, submission,
the status file and the DAG's end. The job events reach it through :meth:`job_event`,
:meth:`cluster_done` and :meth:`job_stopped` (what condor_dagman reads from the event log).
"""
from __future__ import annotations

import heapq
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from reprogrid.condor.dagcodes import (DAG_ABORTED, DAG_NODE_FAILED, DAG_OK, RETURN_JOB_ABORTED, RETURN_PRE_FAILED,
                                       RETURN_SUBMIT_FAILED, STATUS_DONE, STATUS_ERROR, STATUS_FUTILE,
                                       STATUS_NOT_READY, STATUS_PRERUN, STATUS_READY)
from reprogrid.core.errors import UserError
from reprogrid.emulator.dagman.model import Dag, Node
from reprogrid.emulator.dagman.nodejobs import NodeJobs
from reprogrid.emulator.dagman.nodestate import NodeState
from reprogrid.emulator.dagman.outputs import Log, ProgressLine
from reprogrid.emulator.dagman.recovery import Recovered
from reprogrid.emulator.dagman.scriptrun import ScriptRunner
from reprogrid.emulator.dagman.scripts import JobstateLog
from reprogrid.emulator.schedd.queue import Cluster, Proc, Schedd
from reprogrid.emulator.starter import eventlog

#: dagman.out's event names -> the JOBSTATE_LOG's
_JOBSTATE = {"ULOG_SUBMIT": "SUBMIT", "ULOG_EXECUTE": "EXECUTE", "ULOG_JOB_HELD": "JOB_HELD",
             "ULOG_JOB_ABORTED": "JOB_ABORTED", "ULOG_JOB_TERMINATED": "JOB_TERMINATED"}


class NodeMachine:
    """Node transitions; the attributes are set by ``Scheduler.__init__``."""

    dag: Dag
    log: Log
    states: Dict[str, NodeState]  # the DAG's nodes (SERVICE nodes are not among them)
    by_name: Dict[str, NodeState]  # every node, SERVICE nodes too
    ready: List[Tuple[int, int, str]]
    blocked: List[str]
    halt_wait: List[str]
    cat_wait: Dict[str, List[str]]
    cat_running: Dict[str, int]
    cluster: int
    schedd: Schedd
    jobs: NodeJobs
    scripts: ScriptRunner
    jobstate: JobstateLog
    progress: ProgressLine
    counts: Dict[str, int]
    submitted_nodes: int
    dag_status: int
    aborted: Optional[int]
    removed: Optional[int]
    halted: bool
    late_failed: int
    recovered: Optional[Recovered] = None

    def _own_macros(self, st: NodeState) -> List[Tuple[str, str]]:
        own = [("JOB", st.node.name), ("RETRY", str(st.retries)), ("DAG_STATUS", str(self.dag_status)),
               ("FAILED_COUNT", str(self.counts["failed"]))]
        if st.node.parents:
            own.append(("DAG_PARENT_NAMES", ",".join(st.node.parents)))
        return own

    def _ready(self, st: NodeState) -> None:
        st.status = STATUS_READY
        if not st.node.final and (self.aborted is not None or self.removed is not None):
            return
        if self.halted and not st.node.final:
            self.halt_wait.append(st.node.name)  # DAGMan runs no PRE script and submits nothing while halted
            if st.node.pre is not None:
                st.status = STATUS_PRERUN  # its PRE script waits in DAGMan's script queue
            return
        self.jobstate.next_attempt(st.node.name)
        if self.jobstate.handle is not None and st.node.name not in self.jobstate.tags:
            self.jobstate.tags[st.node.name] = self.jobs.tag(st.node)
        if st.node.pre is not None:
            self.scripts.start(st, "PRE")
        else:
            self._queue_job(st)

    def _queue_job(self, st: NodeState) -> None:
        st.status = STATUS_READY
        heapq.heappush(self.ready, (-st.node.priority, st.order, st.node.name))

    def _node_done(self, st: NodeState) -> None:
        st.status = STATUS_DONE
        st.details = ""
        if st.node.service:  # runs on a best-effort basis: not one of the DAG's counts
            return
        self.counts["done"] += 1
        self.progress.node(st.node.name, True)
        if st.node.final:
            return
        for child in st.node.children:
            cs = self.states[child]
            cs.waiting -= 1
            if cs.waiting == 0 and cs.status == STATUS_NOT_READY:
                self._ready(cs)

    def _node_failed(self, st: NodeState, why: str, futile: bool = True, shown: str = "") -> None:
        """``why`` as DAGMan words it (the status file); ``shown``: what the progress line says instead."""
        node = st.node
        if node.service:  # "If this node fails ... this will not register as an error"
            st.status, st.details = STATUS_ERROR, why
            self.log(f"Service node {node.name} failed: {why}")
            return
        unless = node.retry_unless_exit is not None and st.ret == node.retry_unless_exit
        if (st.retries < node.retry and self.aborted is None and self.removed is None
                and not st.poisoned and not unless and not node.final):
            st.retries += 1
            self.log(f"Retrying node {node.name} (retry #{st.retries} of {node.retry})...")
            st.job, st.submitted, st.cluster = None, False, 0
            st.job_return, st.pre_return, st.ret = 0, -1, 0
            self._ready(st)
            return
        if unless and st.retries < node.retry:
            self.log(f"Aborting further retries of node {node.name} (last attempt returned {st.ret})")
        st.status = STATUS_ERROR
        st.details = why + (f" (after {st.retries} node retries)" if node.retry else "")
        self.counts["failed"] += 1
        self.progress.node(node.name, False, shown or why)
        if self.dag_status == DAG_OK and (self.aborted is None or node.final):
            self.dag_status = DAG_NODE_FAILED  # an abort sets the status after the node failed
        if futile:
            self._mark_futile(st)

    def _mark_futile(self, st: NodeState) -> None:
        stack = list(st.node.children)
        while stack:
            cs = self.states[stack.pop()]
            if cs.status == STATUS_NOT_READY:
                cs.status = STATUS_FUTILE
                cs.details = "Had an ancestor node fail"
                self.counts["futile"] += 1
                stack.extend(cs.node.children)

    def _check_abort(self, st: NodeState, what: str) -> bool:
        """ABORT-DAG-ON, checked after a PRE script, a job (without POST) and a POST script (dag.cpp)."""
        node = st.node
        if node.abort_on is None or st.ret != node.abort_on or self.aborted is not None or node.final:
            return False
        code = node.abort_return if node.abort_return is not None else st.ret
        self.log(f"Aborting DAG because we got the ABORT exit value from a {what}")
        self.aborted = code
        self.dag_status = DAG_ABORTED if code != 0 else DAG_OK
        self._drop_queues()
        return True

    def _drop_queues(self) -> None:
        """Nothing new starts after an abort or a removal (the FINAL node is started separately)."""
        self.ready, self.blocked, self.halt_wait = [], [], []
        self.cat_wait = {}
        self.scripts.drop()

    def recover(self, recovered: Recovered) -> None:
        """DAGMan's recovery mode, first part (call before :meth:`run`).

        Nodes whose job terminated with 0 in the killed run and have no POST script are
        DONE, as if a rescue DAG said so. Jobs submitted but never terminated are logged
        as aborted (their processes died with the killed run); their nodes run again.
        """
        self.recovered = rec = recovered
        self.log(f"Running in RECOVERY mode: {len(rec.finished)} node job(s) terminated in the killed run, "
                 f"{len(rec.orphans)} were running; next job id {self.cluster + 1}")
        for cluster, name in sorted(rec.orphans.items()):
            st = self.states.get(name)
            if st is not None and not st.node.noop:
                try:
                    log = Path(self.jobs.job_ads(st.node, cluster, self._own_macros(st))[0].eval("UserLog"))
                except (UserError, KeyError, ValueError, TypeError):
                    log = None
                self.schedd.write_event(log, eventlog.aborted_event(cluster, 0, "removed: the dry run that ran it was killed"))
        for name, code in rec.finished.items():
            st = self.states.get(name)
            if st is not None and code == 0 and st.node.post is None and not st.node.final:
                self.log(f"Node {name}: job terminated in the killed run with 0: DONE, not run again")
                st.node.done = True

    def _recover_rest(self) -> None:
        """Recovery, second part: a POST script runs again with the job's $RETURN (no
        POST-terminated event was logged); a failed job fails its node as it would have
        (retried if retries are left)."""
        rec = self.recovered
        if rec is None:
            return
        for name, code in rec.finished.items():
            st = self.states.get(name)
            if st is None or st.node.final or st.status != STATUS_NOT_READY or st.waiting:
                continue
            st.retries = max(0, rec.attempts.get(name, 1) - 1)
            st.job_return = st.ret = code
            self.log(f"Node {name}: job terminated in the killed run with {code}: not run again")
            if st.node.post is not None:
                self.scripts.start(st, "POST")
            else:
                self._node_failed(st, f"job exited with status {code} (in the killed run)")

    def pre_done(self, st: NodeState, code: int) -> None:
        node = st.node
        st.pre_return = code
        if node.pre_skip is not None and code == node.pre_skip:
            self.log(f"PRE_SKIP return value {code} indicates we are done (successfully) with node {node.name}")
            st.ret = 0
            self._node_done(st)
            return
        if code != 0:
            self.log(f"PRE Script of Node {node.name} failed with status {code}")
            st.ret, st.job_return = code, RETURN_PRE_FAILED
            self._check_abort(st, "PRE script")
            if self.dag.config.get("DAGMAN_ALWAYS_RUN_POST", "false").lower() == "true" and node.post:
                self.scripts.start(st, "POST")
            else:
                self._node_failed(st, f"PRE Script failed with status {code}")
            return
        self.log(f"PRE Script of node {node.name} completed successfully.")
        st.ret = 0
        self._check_abort(st, "PRE script")
        if (self.aborted is None and self.removed is None) or node.final:
            self._queue_job(st)

    def post_done(self, st: NodeState, code: int) -> None:
        node = st.node
        st.ret = code
        self._check_abort(st, "POST script")
        if code == 0:
            self.log(f"POST Script of node {node.name} completed successfully.")
            self._node_done(st)
        else:
            self.log(f"POST Script of node {node.name} failed with status {code}")
            self._node_failed(st, f"POST Script failed with status {code}")

    def _submit_failed(self, st: NodeState, why: str) -> None:
        """DAGMan: no retry after a submit failure; the POST script runs with $RETURN = -1001."""
        node = st.node
        self.log(f"Event: ULOG_SUBMIT_FAILURE for HTCondor Node {node.name} (-1.-1.-1) {why}")
        self.log(f"Shortcutting node {node.name} retries because of submit failure(s)")
        self.jobstate.event(node.name, "SUBMIT_FAILURE")
        st.poisoned = True
        st.ret = st.job_return = RETURN_SUBMIT_FAILED
        if node.post is not None:
            self.scripts.start(st, "POST")
        else:
            self._node_failed(st, "Job submit failed")

    def _noop(self, st: NodeState) -> None:
        self.log(f"Node {st.node.name} is a NOOP node: not submitted")
        st.job_return = st.ret = 0
        if st.node.post is not None:
            self.scripts.start(st, "POST")
        else:
            self._check_abort(st, "job")
            self._node_done(st)

    def job_event(self, event: str, cluster: Cluster, proc: Proc, note: str = "") -> None:
        """dagman.out's event line (dag.cpp, PrintEvent, which tools such as Pegasus grep) and
        the JOBSTATE_LOG line of one job event; a hold or a termination also says why."""
        name, jid = cluster.node, f"{cluster.id}.{proc.index}"
        self.log(f"Event: {event} for HTCondor Node {name} ({jid}.0) {{{self.log.stamp()}}}")
        self.jobstate.event(name, _JOBSTATE[event], jid)
        st = self.by_name[name]
        if event == "ULOG_EXECUTE":
            st.details = "not_idle"
        elif event == "ULOG_JOB_HELD":
            self.log(f"Node {name} job proc ({jid}.0) held: {note}; "
                     "DAGMan would wait for condor_release, the dry run removes the job")
            if not st.details.startswith("held"):
                st.details = f"held: {note}"
        elif event == "ULOG_JOB_TERMINATED":
            code, signum = proc.code, proc.signum
            what = f"failed with status {code}." if signum is None else f"failed with signal {signum}."
            self.log(f"Node {name} job proc ({jid}.0) "
                     + ("completed successfully." if code == 0 and signum is None else what))

    def cluster_done(self, cluster: Cluster) -> None:
        """All procs of the node's cluster ended: the node's job part is over (dag.cpp ProcessJobProcEnd)."""
        st = self.by_name[cluster.node]
        node = st.node
        self.submitted_nodes -= 0 if node.service else 1
        self._release_category(node)
        ret = 0
        for p in st.procs:  # the first failing proc decides the return value
            r = RETURN_JOB_ABORTED if p.aborted else (p.code if p.signum is None else -p.signum)
            if r != 0:
                ret = r  # type: ignore[assignment]
                break
        st.job_return = st.ret = ret
        self.jobstate.event(node.name, "JOB_SUCCESS" if ret == 0 else "JOB_FAILURE", str(ret))
        if node.post is not None:
            self.scripts.start(st, "POST")
            return
        # an abort on the job's exit value leaves the descendants NOT_READY (htcondor's
        # job_dagman_abort-final-A); after a PRE or POST script they are FUTILE (abort-final-B)
        futile = not self._check_abort(st, "job")
        if ret == 0:
            self._node_done(st)
        elif any(p.aborted for p in st.procs):
            self._node_failed(st, f"HTCondor reported ULOG_JOB_ABORTED event for job proc ({st.cluster}.0.0)", futile,
                              shown=st.details if st.details.startswith("held: ") else "")  # the hold's reason
        elif ret < 0:
            self._node_failed(st, f"Job proc ({st.cluster}.0.0) failed with signal {-ret}", futile)
        else:
            self._node_failed(st, f"Job proc ({st.cluster}.0.0) failed with status {ret}", futile)

    def job_stopped(self, cluster: Cluster, reason: str) -> None:
        """A job removed by an abort or a removal: the node stays in its state (the status file
        shows it as ERROR at the end, as DAGMan does)."""
        st = self.by_name[cluster.node]
        st.details = f"stopped ({reason})"
        self.log(f"Node {st.node.name}: job stopped ({reason})")
        if self.dag.final is not None and not st.node.final and not st.node.service and st.status != STATUS_ERROR:
            # DAGMan reads the aborted events while the FINAL node runs: the node fails, but the
            # FINAL node's $FAILED_COUNT does not count it yet (htcondor's job_dagman_abort-final-A)
            st.status = STATUS_ERROR
            st.details = f"HTCondor reported ULOG_JOB_ABORTED event for job proc ({st.cluster}.0.0)"
            self.late_failed += 1

    def _release_category(self, node: Node) -> None:
        cat = node.category
        if cat is None or cat not in self.cat_running:
            return
        self.cat_running[cat] -= 1
        waiting = self.cat_wait.get(cat)
        if waiting:
            name = waiting.pop(0)
            s = self.states[name]
            heapq.heappush(self.ready, (-s.node.priority, s.order, name))
