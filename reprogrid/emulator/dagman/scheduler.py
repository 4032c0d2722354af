"""The DAGMan loop over an emulated schedd: node states, retries, throttles, abort, FINAL.

DAGMan's part only: it submits a node's cluster to the schedd (``schedd.queue``), hears
the job events back (:meth:`Scheduler.job_event`, what condor_dagman reads from the event
log) and removes jobs on an abort or a removal; PRE/POST scripts are ``scriptrun``'s.
Node semantics follow the DAGMan manual and condor_dagman's source (``dag.cpp``,
``dagman_submit.cpp``, ``dagman_main.cpp``): the last part of a node that ran decides
its success; RETRY re-runs the whole node unless the UNLESS-EXIT value came back or the
submit failed; ABORT-DAG-ON is checked after every PRE script, job and POST script; the
FINAL node runs after success, failure, abort, halt, a cycle or removal (a signal) with
``$DAG_STATUS``; every proc of a multi-proc cluster runs and the node succeeds when all
of them do; a held job is removed (DAGMan would wait for condor_release) and its node
fails with -1002.
"""
from __future__ import annotations

import heapq
import os
import signal
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from reprogrid.condor.bindings import classad
from reprogrid.condor.dagcodes import (DAG_CYCLE, DAG_ERROR, DAG_HALTED, DAG_NODE_FAILED, DAG_OK, DAG_REMOVED,
                                       STATUS_DONE, STATUS_ERROR, STATUS_FUTILE, STATUS_NOT_READY, STATUS_READY,
                                       STATUS_SUBMITTED)
from reprogrid.core.errors import UserError
from reprogrid.emulator.dagman.dot import DotFile
from reprogrid.emulator.dagman.model import Dag, Node
from reprogrid.emulator.dagman.nodejobs import NodeJobs
from reprogrid.emulator.dagman.nodes import NodeMachine
from reprogrid.emulator.dagman.nodestate import DagOutcome, NodeState
from reprogrid.emulator.dagman.nodestatus import format_node_status, write_node_status
from reprogrid.emulator.dagman.outputs import Log, ProgressLine, dag_node_status, status_row, summary_lines
from reprogrid.emulator.dagman.recovery import Recovered, last_cluster
from reprogrid.emulator.dagman.rescue import write_rescue
from reprogrid.emulator.dagman.scriptrun import ScriptRunner
from reprogrid.emulator.dagman.scripts import JobstateLog
from reprogrid.emulator.schedd.queue import Schedd
from reprogrid.emulator.starter.executor import Executor
from reprogrid.emulator.starter.processes import Processes

class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Scheduler(NodeMachine):
    """condor_dagman: the node state machine, throttles and the DAG's end."""

    def __init__(self, dag: Dag, machines: Sequence[classad.ClassAd], slots: int, executor: Executor,
                 log: Log, progress: bool = False, node_log: bool = True, lines: bool = False) -> None:
        self.dag, self.log = dag, log
        self.slots = max(1, slots)
        self.by_name: Dict[str, NodeState] = {n.name: NodeState(node=n, order=i) for i, n in enumerate(dag.nodes.values())}
        self.states = {name: st for name, st in self.by_name.items() if not st.node.service}
        self.services = [st for st in self.by_name.values() if st.node.service]
        for i, st in enumerate(self.services):  # submitted before the DAG's other nodes
            st.order = -len(self.services) + i
        self.ready: List[Tuple[int, int, str]] = []  # heap of (-priority, order, name)
        self.blocked: List[str] = []
        self.halt_wait: List[str] = []
        self.cat_wait: Dict[str, List[str]] = {}
        self.cat_running: Dict[str, int] = {}
        self.nodes_log = Path(str(dag.path) + ".nodes.log") if node_log else None
        self.dag_id = last_cluster(self.nodes_log) + 1  # the DAGMan job's own cluster
        self.cluster = self.dag_id
        self.processes = Processes(executor.adopt, executor.release, executor.helper_pids())
        self.schedd = Schedd(machines, self.slots, executor, self.processes, log, self.nodes_log, self)
        self.jobs = NodeJobs(dag, self.slots, self.dag_id)
        self.scripts = ScriptRunner(self)
        self.submitted_nodes = 0
        self.max_jobs = dag.int_config("DAGMAN_MAX_JOBS_SUBMITTED", 0)
        self.dag_status = DAG_OK
        self.aborted: Optional[int] = None  # the DAG exit value ABORT-DAG-ON asked for
        self.removed: Optional[int] = None  # the signal that removed the DAG
        self.halted = False
        self.halt_path = Path(str(dag.path) + ".halt")
        self.last_halt_check = 0.0
        self.final_started = False
        self.progress = ProgressLine(len(dag.nodes), progress, lines)
        self.status_path = None
        if dag.node_status is not None:
            p = Path(dag.node_status.path)
            self.status_path = p if p.is_absolute() else dag.folder / p
        js = Path(dag.jobstate_log) if dag.jobstate_log else None
        self.jobstate = JobstateLog(None if js is None else (js if js.is_absolute() else dag.folder / js))
        self.last_status = 0.0
        self.last_flush = 0.0
        self.counts = {"done": 0, "failed": 0, "futile": 0}
        self.rescue: Optional[Path] = None
        self.late_failed = 0  # nodes removed by an abort or removal, counted once the FINAL node ran
        self.recovered: Optional[Recovered] = None
        self.dot = DotFile(dag.dot, dag.folder) if dag.dot is not None else None




    # -- submission ---------------------------------------------------------------------------
    def _submit(self, st: NodeState) -> bool:
        """condor_submit the node's job(s): one new cluster, a submit event per proc."""
        node = st.node
        self.log(f"Submitting HTCondor Node {node.name} job(s)...")
        cluster = self.cluster + 1
        try:
            ads = self.jobs.job_ads(node, cluster, self._own_macros(st))
        except UserError as err:
            self._submit_failed(st, str(err))
            return False
        self.cluster = cluster
        st.cluster, st.submitted, st.status, st.details = cluster, True, STATUS_SUBMITTED, "idle"
        st.job = self.schedd.submit(node.name, cluster, ads, self.dag_id, ",".join(node.parents))
        self.log(f"\tassigned HTCondor ID ({cluster}.0.0)")
        self.submitted_nodes += 0 if node.service else 1
        if node.category is not None:
            self.cat_running[node.category] = self.cat_running.get(node.category, 0) + 1
        return True


    def _throttled(self, st: NodeState, entry: Tuple[int, int, str]) -> Optional[bool]:
        """True when the node may be submitted now; False when it waits on a queue; None: stop."""
        name = st.node.name
        if self.halted and not st.node.final:
            self.halt_wait.append(name)
            return False
        if self.max_jobs and self.submitted_nodes >= self.max_jobs:
            heapq.heappush(self.ready, entry)
            return None
        cat = st.node.category
        if cat is not None and cat in self.dag.maxjobs and self.cat_running.get(cat, 0) >= self.dag.maxjobs[cat]:
            self.cat_wait.setdefault(cat, []).append(name)
            return False
        return True

    def _try_submit(self) -> None:
        """Submit ready nodes and start idle procs while slots, throttles and machines allow."""
        if self.schedd.take_freed() and self.blocked:
            for name in self.blocked:
                s = self.by_name[name]
                heapq.heappush(self.ready, (-s.node.priority, s.order, name))
            self.blocked = []
        while self.ready:
            entry = heapq.heappop(self.ready)
            st = self.by_name[entry[2]]
            if (self.aborted is not None or self.removed is not None) and not st.node.final:
                continue
            if not st.submitted:
                go = self._throttled(st, entry)
                if go is None:
                    return
                if not go:
                    continue
                if st.node.noop:
                    self._noop(st)
                    continue
                if not self._submit(st):
                    continue
            if self.schedd.start(st.job) is None:  # blocked on resources: wait for something to finish
                self.blocked.append(st.node.name)
                if self.schedd.full():
                    return




    # -- status -------------------------------------------------------------------------------
    def write_status(self, force: bool = False, end: bool = False) -> None:
        mono = time.monotonic()
        if force or mono - self.last_flush >= 0.2:  # logs reach the disk in batches
            self.last_flush = mono
            self.schedd.flush_logs()
            self.jobstate.flush()
            self.log.handle.flush()
        self.progress.update(self.counts["done"], self.schedd.running_jobs, self.schedd.idle, self.counts["failed"], force)
        if self.dot is not None:
            self.dot.update((self.counts["done"], self.counts["failed"], self.submitted_nodes, len(self.ready),
                             sum(self.scripts.running.values())), self.dag.nodes.values(), lambda n: self.by_name[n].status)
        if self.status_path is None:
            return
        now = time.time()
        spec = self.dag.node_status
        if not force and now - self.last_status < max(1, spec.min_update):  # type: ignore[union-attr]
            return
        self.last_status = now
        rows = [status_row(s, end) for s in self.states.values()]
        number, note = dag_node_status(end, self.succeeded(), self.removed is not None, self.dag_status,
                                       self.counts["failed"])
        idle = 0 if end else self.schedd.idle
        text = format_node_status(self.dag.path.name, number, rows, now,
                                  0 if end else now + spec.min_update, idle, note)  # type: ignore[union-attr]
        write_node_status(self.status_path, text)

    def succeeded(self) -> bool:
        """DAGMan's DoneSuccess(true): every node done, or the FINAL node done, or an abort with RETURN 0."""
        final = self.states.get(self.dag.final) if self.dag.final else None
        if final is not None and final.status == STATUS_DONE:
            return True
        if all(s.status == STATUS_DONE for s in self.states.values()):
            return True
        return self.aborted is not None and self.dag_status == DAG_OK

    def log_summary(self) -> None:
        for line in summary_lines(self.dag_status, self.states.values()):
            self.log(line)

    # -- main loop ----------------------------------------------------------------------------
    def _check_halt(self) -> None:
        """The halt file ``<dag>.halt``: no PRE script and no new submission while it exists."""
        now = time.monotonic()
        if now - self.last_halt_check < 0.5:
            return
        self.last_halt_check = now
        halted = self.halt_path.exists()
        if halted and not self.halted:
            self.log(f"DAG is halted because halt file {self.halt_path} exists")
        elif self.halted and not halted:
            self.log("DAG going from halted to running state")
            self.halted = False
            waiting, self.halt_wait = self.halt_wait, []
            for name in waiting:
                self._ready(self.by_name[name])
        self.halted = halted

    def _fail_unplaceable(self) -> None:
        """Nothing runs, yet idle procs cannot start: their requests can never fit a local slot."""
        for name in [n for _, _, n in self.ready] + self.blocked:
            st = self.by_name[name]
            if not st.submitted and not self._submit(st):
                continue
            self.schedd.hold_pending(st.job, "no slot can ever fit the job's requests")
            if st.submitted and st.status == STATUS_SUBMITTED and st.job.finished:
                self.cluster_done(st.job)
        self.ready, self.blocked = [], []

    def _pump(self) -> None:
        while True:
            if self.aborted is not None and not self.final_started:
                return
            self._check_halt()
            if not self.halted:
                self.scripts.start_deferred()
            self._try_submit()
            if len(self.processes) <= self._services_running() and not (self.scripts.deferred and not self.halted):
                if (self.ready or self.blocked) and not self.halted:
                    self._fail_unplaceable()
                    continue
                return
            timeout = 0.5
            if self.scripts.deferred:
                timeout = min(timeout, self.scripts.deferred[0][0] - time.time())
            self.processes.wait(timeout)
            self.write_status()

    def _services_running(self) -> int:
        return sum(st.job.running for st in self.services if st.job is not None)

    def _remove_services(self) -> None:
        """The DAG is over: "it will remove all running SERVICE nodes and exit" (Dag::RemoveServiceNodes)."""
        for st in self.services:
            if st.job is not None and st.job.running:
                self.log(f"Removing service node {st.node.name}")
                self.schedd.remove(st.job, "DAG finished: removing the SERVICE node")

    def _start(self) -> None:
        self.log("******************************************************")
        self.log(f"** reprogrid dryrun: emulated condor_scheduniv_exec.{self.dag_id}.0 (CONDOR_DAGMAN) for {self.dag.path}")
        self.log(f"** {len(self.dag.nodes)} nodes, {self.slots} local slots, {len(self.schedd.machines)} machine ads")
        self.log("******************************************************")
        self.jobstate.internal(f"DAGMAN_STARTED {self.dag_id}.0")
        if self.dag.rescue_file is not None or self.recovered is not None:
            self.jobstate.continue_numbers()
        for w in self.dag.warnings:
            self.log(f"Warning: {w}")
        for st in self.states.values():
            st.waiting = len(st.node.parents)
        for st in self.states.values():
            if st.node.done and not st.node.final:
                st.status = STATUS_DONE
                self.counts["done"] += 1
                for child in st.node.children:
                    self.states[child].waiting -= 1
        if self.dot is not None:  # DAGMan draws the DAG once as it begins executing
            self.dot.write(self.dag.nodes.values(), lambda n: self.by_name[n].status)
        self._recover_rest()
        pre_done = self.progress.finished = self.counts["done"]
        if pre_done:
            self.log(f"{pre_done} node(s) already DONE (rescue DAG or DONE): not run again")
        for st in self.services:  # "always run at the beginning of a DAG"
            self.log(f"Starting service node {st.node.name}...")
            self._ready(st)
        for st in self.states.values():
            if st.status == STATUS_NOT_READY and st.waiting == 0 and not st.node.final:
                self._ready(st)
        self.schedd.matchmaker.note_job_refs([])

    def _main_phase(self) -> None:
        try:
            self.write_status(force=True)
            self._pump()
            if self.aborted is not None:
                self.log("Aborting DAG...")
                if self.aborted != 0:  # the rescue DAG is written before the jobs are removed
                    self._write_rescue()
                self.schedd.remove_all("DAG Abort: DAG is exiting and writing rescue file.")
        except Interrupted as intr:
            self.log(f"Received signal {intr.signum}: the DAG is removed")
            self.removed = intr.signum
            self.dag_status = DAG_REMOVED
            self._drop_queues()
            self._write_rescue()
            self.schedd.remove_all("DAG Removed: User removed scheduler job from queue.")
        self._settle_status()

    def _unfinished(self) -> List[NodeState]:
        return [s for s in self.states.values() if s.status != STATUS_DONE and not s.node.final]

    def _settle_status(self) -> None:
        """The DAG status once the non-FINAL nodes are over (dagman_main.cpp, condor_event_timer)."""
        if self.removed is not None or self.aborted is not None:
            return
        if self.halted and self._unfinished():
            self.log("Exiting because DAG is halted and no jobs or scripts are running")
            self.dag_status = DAG_HALTED
        elif self.counts["failed"]:
            self.log("ERROR: the following Node(s) failed: " + " ".join(
                s.node.name for s in self.states.values() if s.status == STATUS_ERROR))
            self.dag_status = DAG_NODE_FAILED
        elif self._unfinished():
            self.log("ERROR: DAG finished but not all nodes are complete -- checking for a cycle...")
            if self.dag.cycle:
                self.log("... ERROR: a cycle exists in the dag, please check input: " + " -> ".join(self.dag.cycle))
                self.dag_status = DAG_CYCLE
            else:
                self.dag_status = DAG_ERROR

    def _exit_value(self) -> int:
        if self.removed is not None:
            return 128 + self.removed
        if self.aborted is not None:
            return self.aborted
        return 0 if self.dag_status == DAG_OK and not self._unfinished() else 1

    def _final_phase(self) -> None:
        final = self.states.get(self.dag.final) if self.dag.final else None
        if final is None or final.status != STATUS_NOT_READY:
            return
        self.log_summary()
        for st in self.states.values():  # Dag::StartFinalNode empties the ready queue
            if st.status == STATUS_READY and not st.node.final:
                st.status = STATUS_NOT_READY
        self._drop_queues()
        self.log("Starting final node...")
        self.final_started = True
        self._ready(final)
        try:
            self._pump()
        except Interrupted as intr:
            self.log(f"Received signal {intr.signum} while the FINAL node runs: stopping it")
            self.removed = self.removed or intr.signum
            self.schedd.remove_all(f"DAG Removed: signal {intr.signum}")

    def _write_rescue(self) -> None:
        limit = self.dag.int_config("DAGMAN_MAX_RESCUE_NUM", 100)
        if limit <= 0:
            self.log("No rescue DAG written because DAGMAN_MAX_RESCUE_NUM is 0")
            return
        reset = self.dag.config.get("DAGMAN_RESET_RETRIES_UPON_RESCUE", "true").lower() not in ("false", "0", "no")
        done = [s.node.name for s in self.states.values() if s.status == STATUS_DONE and not s.node.final]
        failed = [s.node.name for s in self.states.values() if s.status == STATUS_ERROR]
        retries = None if reset else {s.node.name: s.retries for s in self.states.values()}
        self.rescue = write_rescue(self.dag, done, failed, path=self.rescue, max_number=limit, retries=retries)
        self.log(f"Writing Rescue DAG to {self.rescue}...")

    def run(self) -> DagOutcome:
        t0 = time.time()
        self.processes.start()
        self._start()
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):  # noqa: ANN001
            raise Interrupted(signum)

        for s in old:
            signal.signal(s, handler)
        try:
            self._main_phase()
            if self._exit_value() != 0 and self.rescue is None:  # written before the FINAL node runs
                self._write_rescue()
            self._final_phase()
            self._remove_services()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            self.processes.close()
        return self._finish(t0)

    def _finish(self, t0: float) -> DagOutcome:
        final = self.states.get(self.dag.final) if self.dag.final else None
        exit_code = self._exit_value()
        if final is not None and final.status != STATUS_NOT_READY and self.removed is None:
            # the FINAL node's success or failure decides the DAG's (Dag::DoneSuccess / DoneFailed)
            exit_code = 0 if self.succeeded() else (exit_code or 1)
            if final.status == STATUS_ERROR:
                self._write_rescue()
        self.counts["failed"] += self.late_failed
        self.write_status(force=True, end=True)
        self.log_summary()
        self.jobstate.internal(f"DAGMAN_FINISHED {exit_code}")
        self.schedd.close_logs()
        self.jobstate.close()
        self.progress.close()
        self.log(f"{self.schedd.jobs_run} jobs run in {time.time() - t0:.1f} s")
        self.log(f"**** condor_scheduniv_exec.{self.dag_id}.0 (condor_DAGMAN) pid {os.getpid()} EXITING WITH STATUS {exit_code}")
        by = {k: [s.node.name for s in self.states.values() if s.status == k and not s.node.final]
              for k in (STATUS_DONE, STATUS_ERROR)}
        return DagOutcome(
            exit_code=exit_code, dag_status=self.dag_status, done=by[STATUS_DONE], failed=by[STATUS_ERROR],
            futile=[s.node.name for s in self.states.values() if s.status == STATUS_FUTILE], rescue_file=self.rescue,
            aborted=self.aborted is not None, interrupted=self.removed is not None, jobs_run=self.schedd.jobs_run,
            seconds=time.time() - t0,
            not_run=[s.node.name for s in self.states.values() if s.status not in (STATUS_DONE, STATUS_ERROR)],
            reasons={s.node.name: s.details for s in self.states.values() if s.status == STATUS_ERROR and not s.node.final})


__all__ = ["DagOutcome", "Interrupted", "Scheduler"]
