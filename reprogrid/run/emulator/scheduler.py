"""The DAGMan loop over an emulated schedd: node states, scripts, retries, throttles, slots.

One process, no threads: children (jobs and PRE/POST scripts) are started with
``subprocess`` and reaped with ``os.wait4`` (which also gives their CPU time and peak
memory for the event log) when their pidfd becomes readable. Node semantics follow the
DAGMan manual: the last part of a node that ran decides its success; RETRY re-runs the
whole node (PRE, job, POST) unless the UNLESS-EXIT value came back; ABORT-DAG-ON stops
everything; the FINAL node runs after success or failure with $DAG_STATUS; a partial
rescue DAG records what finished.
"""
from __future__ import annotations

import heapq
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple


from reprogrid.run.emulator import eventlog
from reprogrid.core.errors import UserError
from reprogrid.run.emulator.executor import Executor, Launch, die_with_parent, is_local
from reprogrid.run.emulator.jobads import JobAdCache
from reprogrid.condor.matchmaking import Matchmaker, job_requests
from reprogrid.run.emulator.model import Dag, Node, Script
from reprogrid.run.emulator.nodestatus import STATUS_DONE, STATUS_ERROR, STATUS_FUTILE, STATUS_NOT_READY, STATUS_POSTRUN, STATUS_PRERUN, STATUS_READY, STATUS_SUBMITTED, format_node_status, write_node_status
from reprogrid.run.emulator.rescue import write_rescue
from reprogrid.run.emulator.transfer import TransferError
from reprogrid.run.emulator.recovery import Recovered
from reprogrid.condor.bindings import classad

DAG_OK, DAG_ERROR, DAG_NODE_FAILED, DAG_ABORTED, DAG_REMOVED = 0, 1, 2, 3, 4
RETURN_PRE_FAILED = -1004


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class NodeState:
    node: Node
    status: int = STATUS_NOT_READY
    waiting: int = 0  # parents not yet done
    retries: int = 0
    pre_return: int = -1
    job_return: Optional[int] = None
    ret: int = 0  # return value of the last part that ran
    cluster: int = 0
    ad: Optional[classad.ClassAd] = None
    machine: Optional[int] = None
    launch: Optional[Launch] = None
    local_slots: int = 0
    details: str = ""
    order: int = 0


@dataclass
class Child:
    kind: str  # "job" | "PRE" | "POST"
    state: NodeState
    proc: subprocess.Popen
    pidfd: int
    started: float


class Log:
    """The ``<dag>.dagman.out``-style log: timestamped lines, buffered."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = open(path, "a", buffering=1 << 16)

    def __call__(self, message: str) -> None:
        self.handle.write(time.strftime("%m/%d/%y %H:%M:%S ") + message + "\n")

    def fileno(self) -> int:
        self.handle.flush()
        return self.handle.fileno()

    def close(self) -> None:
        self.handle.close()


class ProgressLine:
    """A one-line progress bar on stderr (TTY only): done / running / idle / failed."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.last = total, enabled, 0.0

    def update(self, done: int, running: int, idle: int, failed: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] done {done}/{self.total}  "
                         f"running {running}  idle {idle}  failed {failed} ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


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


class Scheduler:
    def __init__(self, dag: Dag, machines: Sequence[classad.ClassAd], slots: int, executor: Executor,
                 log: Log, progress: bool = False, node_log: bool = True) -> None:
        self.dag = dag
        self.slots = max(1, slots)
        self.free_slots = self.slots
        self.executor = executor
        self.log = log
        self.ads = JobAdCache()
        self.matchmaker = Matchmaker(machines)
        self.machines = list(machines)
        self.free: List[List[int]] = []
        for m in self.machines:
            c, mem, disk, gpus = (m.get(a, 0) for a in ("Cpus", "Memory", "Disk", "GPUs"))
            self.free.append([_i(c, 1 << 30), _i(mem, 1 << 40), _i(disk, 1 << 50), _i(gpus, 0)])
        self.states: Dict[str, NodeState] = {}
        for i, node in enumerate(dag.nodes.values()):
            self.states[node.name] = NodeState(node=node, order=i)
        self.ready: List[Tuple[int, int, str]] = []  # heap of (-priority, order, name)
        self.blocked: List[str] = []
        self.cat_wait: Dict[str, List[str]] = {}
        self.cat_running: Dict[str, int] = {}
        self.children: Dict[int, Child] = {}  # pidfd -> child
        self.deferred: List[Tuple[float, int, str, str]] = []  # (when, order, node, kind)
        self.cluster = 0
        self.jobs_run = 0
        self.running_jobs = 0
        self.max_jobs = dag.int_config("DAGMAN_MAX_JOBS_SUBMITTED", 0)
        self.max_pre = dag.int_config("DAGMAN_MAX_PRE_SCRIPTS", 20)
        self.max_post = dag.int_config("DAGMAN_MAX_POST_SCRIPTS", 20)
        self.scripts_running = {"PRE": 0, "POST": 0}
        self.script_wait: Dict[str, List[str]] = {"PRE": [], "POST": []}
        self.events = eventlog.EventLogs()
        self.nodes_log = Path(str(dag.path) + ".nodes.log") if node_log else None
        self.dag_status = DAG_OK
        self.aborted: Optional[int] = None
        self.final_started = False
        self.progress = ProgressLine(len(dag.nodes), progress)
        self.status_path = None
        if dag.node_status is not None:
            p = Path(dag.node_status.path)
            self.status_path = p if p.is_absolute() else dag.folder / p
        self.last_status = 0.0
        self.last_flush = 0.0
        self.counts = {"done": 0, "failed": 0}
        self.idle = 0
        self._ac_cache: Dict[int, tuple] = {}

    # -- bookkeeping ------------------------------------------------------------------------
    def _ready(self, st: NodeState) -> None:
        st.status = STATUS_READY
        if st.node.pre is not None:
            self._start_script(st, "PRE")
        else:
            self._queue_job(st)

    def _queue_job(self, st: NodeState) -> None:
        st.status = STATUS_SUBMITTED
        st.details = "idle"
        self.idle += 1
        heapq.heappush(self.ready, (-st.node.priority, st.order, st.node.name))

    def _node_done(self, st: NodeState) -> None:
        st.status = STATUS_DONE
        st.details = ""
        self.counts["done"] += 1
        self.log(f"Node {st.node.name} job proc ({st.cluster}.0.0) completed successfully."
                 if st.cluster else f"Node {st.node.name} completed successfully.")
        if st.node.final:
            return
        for child in st.node.children:
            cs = self.states[child]
            cs.waiting -= 1
            if cs.waiting == 0 and cs.status == STATUS_NOT_READY and self.aborted is None:
                self._ready(cs)

    def _node_failed(self, st: NodeState, why: str, retry_ok: bool = True) -> None:
        node = st.node
        self.log(f"Node {node.name} failed: {why}")
        if self._check_abort(st):
            st.status = STATUS_ERROR
            self.counts["failed"] += 1
            return
        if (retry_ok and st.retries < node.retry and self.aborted is None
                and not (node.retry_unless_exit is not None and st.ret == node.retry_unless_exit)):
            st.retries += 1
            self.log(f"Retrying node {node.name} (retry #{st.retries} of {node.retry})...")
            st.job_return, st.pre_return, st.cluster = None, -1, 0
            self._ready(st)
            return
        if node.retry_unless_exit is not None and st.ret == node.retry_unless_exit and st.retries < node.retry:
            self.log(f"Aborting further retries of node {node.name} (last attempt returned {st.ret})")
        st.status = STATUS_ERROR
        st.details = why
        self.counts["failed"] += 1
        if not node.final and self.dag_status == DAG_OK:
            self.dag_status = DAG_NODE_FAILED
        self._mark_futile(st)

    def _mark_futile(self, st: NodeState) -> None:
        stack = list(st.node.children)
        while stack:
            cs = self.states[stack.pop()]
            if cs.status == STATUS_NOT_READY:
                cs.status = STATUS_FUTILE
                stack.extend(cs.node.children)

    def _check_abort(self, st: NodeState) -> bool:
        node = st.node
        if node.abort_on is not None and st.ret == node.abort_on and self.aborted is None:
            code = node.abort_return if node.abort_return is not None else st.ret
            self.log(f"Aborting DAG because node {node.name} returned {st.ret} (ABORT-DAG-ON), DAG exit value {code}")
            self.aborted = code
            self.dag_status = DAG_ABORTED if code != 0 else DAG_OK
            return True
        return False

    # -- recovery (a killed run's nodes log, see recovery.py) ---------------------------------------
    recovered: Optional["Recovered"] = None

    def recover(self, recovered: "Recovered") -> None:
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
                    user_log = Path(self._job_ad(st).eval("UserLog"))
                except (UserError, KeyError, ValueError, TypeError):
                    user_log = None
                self._event(user_log, eventlog.aborted_event(cluster, 0, "removed: the dry run that ran it was killed"))
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
                self._start_script(st, "POST")
            else:
                self._node_failed(st, f"job exited with status {code} (in the killed run)")

    # -- scripts ------------------------------------------------------------------------------
    def _script_argv(self, st: NodeState, script: Script) -> List[str]:
        node = st.node
        values = {
            "$JOB": node.name, "$RETRY": str(st.retries), "$MAX_RETRIES": str(node.retry),
            "$JOBID": f"{st.cluster}.0" if st.cluster else "0.0",
            "$RETURN": str(st.job_return if st.job_return is not None else (RETURN_PRE_FAILED if st.pre_return not in (-1, 0) else 0)),
            "$PRE_SCRIPT_RETURN": str(st.pre_return), "$DAG_STATUS": str(self.dag_status),
            "$FAILED_COUNT": str(self.counts["failed"]),
        }
        argv = [values.get(a, a) for a in script.argv]
        exe = argv[0]
        cwd = self.dag.node_dir(node)
        if os.sep in exe:
            argv[0] = str(cwd / exe) if not os.path.isabs(exe) else exe
        elif (cwd / exe).exists():
            argv[0] = str(cwd / exe)
        else:
            argv[0] = shutil.which(exe) or exe
        return argv

    def _start_script(self, st: NodeState, kind: str) -> None:
        limit = self.max_pre if kind == "PRE" else self.max_post
        if limit and self.scripts_running[kind] >= limit:
            self.script_wait[kind].append(st.node.name)
            return
        script = st.node.pre if kind == "PRE" else st.node.post
        assert script is not None
        st.status = STATUS_PRERUN if kind == "PRE" else STATUS_POSTRUN
        argv = self._script_argv(st, script)
        self.log(f"Running {kind} script of Node {st.node.name}: {' '.join(argv)}")
        try:
            proc = subprocess.Popen(argv, cwd=str(self.dag.node_dir(st.node)), stdin=subprocess.DEVNULL,
                                    stdout=self.log.fileno(), stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent())
            self.executor.adopt(proc.pid)
        except OSError as err:
            self.log(f"{kind} script of node {st.node.name} could not start: {err}")
            self._script_done(st, kind, 1 if not isinstance(err, FileNotFoundError) else 127)
            return
        self.scripts_running[kind] += 1
        self._watch(Child(kind, st, proc, _pidfd(proc.pid), time.time()))

    def _script_done(self, st: NodeState, kind: str, code: int) -> None:
        node = st.node
        script = node.pre if kind == "PRE" else node.post
        if script is not None and script.defer_status is not None and code == script.defer_status:
            self.log(f"Deferring {kind} script of node {node.name} for {script.defer_time} s (DEFER {code})")
            heapq.heappush(self.deferred, (time.time() + script.defer_time, st.order, node.name, kind))
            return
        self.log(f"{kind} Script of node {node.name} completed with status {code}")
        st.ret = code
        if kind == "PRE":
            st.pre_return = code
            if node.pre_skip is not None and code == node.pre_skip:
                self.log(f"Node {node.name} PRE_SKIP: skipping the job and the POST script")
                st.ret = 0
                self._node_done(st)
            elif code != 0:
                if self.dag.config.get("DAGMAN_ALWAYS_RUN_POST", "false").lower() == "true" and node.post:
                    self._start_script(st, "POST")
                else:
                    self._node_failed(st, f"PRE script failed with status {code}")
            else:
                self._queue_job(st)
        else:
            if code == 0:
                self._node_done(st)
            else:
                self._node_failed(st, f"POST script failed with status {code}")

    # -- jobs -----------------------------------------------------------------------------------
    def _vars(self, st: NodeState) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for k, v in st.node.vars:
            out[k] = v.replace("$(JOB)", st.node.name).replace("$(RETRY)", str(st.retries))
        if st.node.final:
            out.setdefault("DAG_STATUS", str(self.dag_status))
            out.setdefault("FAILED_COUNT", str(self.counts["failed"]))
        return out

    def _job_ad(self, st: NodeState) -> classad.ClassAd:
        node = st.node
        folder = self.dag.node_dir(node)
        submit = Path(node.submit_file)
        path = submit if submit.is_absolute() else folder / submit
        ads = self.ads.ads(path, folder, self._vars(st), node.where)
        if len(ads) > 1:
            self.log(f"Warning: {path} queues {len(ads)} jobs; the emulator runs the first one per node")
        return ads[0]

    def _try_submit(self) -> None:
        """Start idle jobs while slots, throttles and machines allow (highest priority first)."""
        while self.ready:
            if self.max_jobs and self.running_jobs >= self.max_jobs:
                return
            _, _, name = heapq.heappop(self.ready)
            st = self.states[name]
            if self.aborted is not None and not st.node.final:
                continue
            cat = st.node.category
            if cat is not None and cat in self.dag.maxjobs and self.cat_running.get(cat, 0) >= self.dag.maxjobs[cat]:
                self.cat_wait.setdefault(cat, []).append(name)
                continue
            if st.node.noop:
                self.idle -= 1
                self.log(f"Node {name} is a NOOP node: not submitted")
                self._job_finished(st, 0, None, noop=True)
                continue
            started = self._start_job(st)
            if started is None:  # blocked on resources: wait for something to finish
                self.blocked.append(name)
                if self.free_slots == 0:
                    return

    def _pick_machine(self, ad: classad.ClassAd, req: Tuple[int, int, int, int]) -> Tuple[Optional[int], bool]:
        """(machine index with room, whether any machine could ever run it)."""
        groups = self.matchmaker.groups()
        matching = self.matchmaker.matching_groups(ad, self._ac_key(ad))
        if not matching:
            return None, False
        cpus, mem, disk, gpus = req
        for gi in matching:
            for mi in groups[gi].members:
                f = self.free[mi]
                if f[0] >= cpus and f[1] >= mem and f[2] >= disk and f[3] >= gpus:
                    return mi, True
        return None, True

    def _ac_key(self, ad: classad.ClassAd) -> tuple:
        key = self._ac_cache.get(id(ad))
        if key is None:
            key = self._ac_cache[id(ad)] = self.matchmaker.autocluster_key(ad)
        return key

    def _start_job(self, st: NodeState) -> Optional[bool]:
        node = st.node
        try:
            ad = self._job_ad(st)
        except UserError as err:  # condor_submit would fail: the node fails ($RETURN -1001)
            self.idle -= 1
            self.log(f"Node {node.name}: submit failed: {err}")
            st.ret = -1001
            self._node_failed(st, f"submit failed: {err}")
            return False
        local = is_local(ad)
        req = job_requests(ad)
        need = 0 if local else min(max(1, req[0]), self.slots)
        if need > self.free_slots:
            return None
        if local:
            mi, possible = None, True
        else:
            mi, possible = self._pick_machine(ad, req)
            if possible and mi is None:
                return None  # matching machines exist but are full: stay idle until one frees up
        self.cluster += 1
        st.cluster = self.cluster
        ad["ClusterId"] = st.cluster
        ad["ProcId"] = 0
        ad["DAGNodeName"] = node.name
        user_log = Path(ad.eval("UserLog")) if "UserLog" in ad else None
        st.ad = ad
        st.job_return = None
        now = time.time()
        self._event(user_log, eventlog.submit_event(st.cluster, 0, node.name, now))
        self.log(f"Submitting HTCondor Node {node.name} job(s)... assigned HTCondor ID ({st.cluster}.0.0)")
        if not possible:
            why = "; ".join(self.matchmaker.explain(ad))
            self.idle -= 1
            self._event(user_log, eventlog.held_event(st.cluster, 0, f"no machine in the inventory matches the job: {why}"))
            self.log(f"Node {node.name}: job ({st.cluster}.0.0) can never run here: {why}")
            st.ret = -1
            self._node_failed(st, f"no machine matches: {why}", retry_ok=False)
            return False
        machine = self.machines[mi] if mi is not None else _LOCAL_MACHINE
        slot = f"slot{self.slots - self.free_slots + 1}@{machine.get('Machine', machine.get('Name', 'localhost'))}"
        try:
            launch = self.executor.prepare(ad, machine, f"{node.name}.{st.cluster}", slot, max(1, need))
        except TransferError as err:
            self.idle -= 1
            self._hold(st, user_log, str(err))
            return False
        if launch.note:
            self.log(f"Node {node.name}: {launch.note}")
        try:
            launch.started = time.time()
            proc = self.executor.spawn(launch)
        except OSError as err:
            self.idle -= 1
            self.executor.finish(ad, launch, keep_outputs=False)
            self._hold(st, user_log, f"cannot execute {launch.argv[0]}: {err.strerror or err}")
            return False
        if mi is not None:
            f = self.free[mi]
            f[0] -= req[0]; f[1] -= req[1]; f[2] -= req[2]; f[3] -= req[3]
        st.machine = mi
        st.launch = launch
        st.local_slots = need
        st.details = "running"
        self.free_slots -= need
        self.idle -= 1
        self.running_jobs += 1
        if node.category is not None:
            self.cat_running[node.category] = self.cat_running.get(node.category, 0) + 1
        self._event(user_log, eventlog.execute_event(st.cluster, 0, slot, launch.started))
        self._watch(Child("job", st, proc, _pidfd(proc.pid), launch.started))
        return True

    def _hold(self, st: NodeState, user_log: Optional[Path], reason: str) -> None:
        self._event(user_log, eventlog.held_event(st.cluster, 0, reason))
        self._event(user_log, eventlog.aborted_event(st.cluster, 0, "removed by DAGMan: the job was held"))
        st.ret = -1002
        self._node_failed(st, f"job held: {reason}")

    def _event(self, user_log: Optional[Path], text: str) -> None:
        if user_log is not None:
            self.events.write(user_log, text)
        if self.nodes_log is not None and user_log != self.nodes_log:
            self.events.write(self.nodes_log, text)

    def _release(self, st: NodeState) -> None:
        self.running_jobs -= 1
        self.free_slots += st.local_slots
        st.local_slots = 0
        if st.machine is not None and st.ad is not None:
            req = job_requests(st.ad)
            f = self.free[st.machine]
            f[0] += req[0]; f[1] += req[1]; f[2] += req[2]; f[3] += req[3]
            st.machine = None
        cat = st.node.category
        if cat is not None:
            self.cat_running[cat] -= 1
            waiting = self.cat_wait.get(cat)
            if waiting:
                name = waiting.pop(0)
                s = self.states[name]
                heapq.heappush(self.ready, (-s.node.priority, s.order, name))
        if self.blocked:
            for name in self.blocked:
                s = self.states[name]
                heapq.heappush(self.ready, (-s.node.priority, s.order, name))
            self.blocked = []

    def _job_finished(self, st: NodeState, code: Optional[int], signum: Optional[int], noop: bool = False,
                      rusage: Optional[object] = None) -> None:
        node = st.node
        user_log = None
        if not noop and st.ad is not None:
            user_log = Path(st.ad.eval("UserLog")) if "UserLog" in st.ad else None
            self._release(st)
            held = None
            if st.launch is not None:
                try:
                    self.executor.finish(st.ad, st.launch)
                except (TransferError, OSError) as err:
                    held = str(err)
                st.launch = None
            if rusage is not None:
                rss = int(getattr(rusage, "ru_maxrss", 0))
                if rss:
                    self._event(user_log, eventlog.image_size_event(st.cluster, 0, rss))
            if held is not None:
                self._hold(st, user_log, held)
                return
            req = job_requests(st.ad)
            cpu = (getattr(rusage, "ru_utime", 0.0) + getattr(rusage, "ru_stime", 0.0)) if rusage else 0.0
            self._event(user_log, eventlog.terminated_event(st.cluster, 0, code, signum, cpu, req[0], req[1], req[2]))
            self.jobs_run += 1
        st.job_return = code if signum is None else -signum
        st.ret = st.job_return
        self.log(f"Node {node.name} job proc ({st.cluster}.0.0) terminated: "
                 + (f"return value {code}" if signum is None else f"signal {signum}"))
        if node.post is not None:
            self._start_script(st, "POST")
        elif st.ret == 0:
            self._node_done(st)
        else:
            self._node_failed(st, f"job exited with {'signal ' + str(signum) if signum else 'status ' + str(code)}")

    # -- processes ----------------------------------------------------------------------------
    def _watch(self, child: Child) -> None:
        self.children[child.pidfd] = child

    def _reap(self, child: Child) -> None:
        pid, status, rusage = os.wait4(child.proc.pid, 0)
        child.proc.returncode = os.waitstatus_to_exitcode(status)
        os.close(child.pidfd)
        del self.children[child.pidfd]
        self.executor.release(child.proc.pid)
        code, signum = (None, os.WTERMSIG(status)) if os.WIFSIGNALED(status) else (os.WEXITSTATUS(status), None)
        st = child.state
        if child.kind == "job":
            self._job_finished(st, code, signum, rusage=rusage)
        else:
            self.scripts_running[child.kind] -= 1
            self._script_done(st, child.kind, code if code is not None else -signum)  # type: ignore[operator]
            waiting = self.script_wait[child.kind]
            if waiting:
                self._start_script(self.states[waiting.pop(0)], child.kind)

    def _wait(self, timeout: float) -> None:
        fds = list(self.children)
        if not fds:
            time.sleep(max(0.0, min(timeout, 0.5)))
            return
        readable, _, _ = select.select(fds, [], [], max(0.0, timeout))
        for fd in readable:
            self._reap(self.children[fd])

    def _kill_all(self, reason: str) -> None:
        for child in list(self.children.values()):
            try:
                os.killpg(child.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        for child in list(self.children.values()):
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.proc.wait()
            os.close(child.pidfd)
            st = child.state
            if child.kind == "job" and st.ad is not None:
                user_log = Path(st.ad.eval("UserLog")) if "UserLog" in st.ad else None
                self._event(user_log, eventlog.aborted_event(st.cluster, 0, reason))
                self._release(st)
                if st.launch is not None:
                    self.executor.finish(st.ad, st.launch, keep_outputs=False)
                    st.launch = None
            else:
                self.scripts_running[child.kind] -= 1
            st.status = STATUS_READY
            st.details = "stopped"
            self.log(f"Node {st.node.name}: {child.kind} stopped ({reason})")
        self.children.clear()

    # -- status ---------------------------------------------------------------------------------
    def _write_status(self, force: bool = False) -> None:
        mono = time.monotonic()
        if force or mono - self.last_flush >= 0.2:  # logs reach the disk in batches
            self.last_flush = mono
            self.events.flush()
            self.log.handle.flush()
        self.progress.update(self.counts["done"], self.running_jobs, self.idle, self.counts["failed"], force)
        if self.status_path is None:
            return
        now = time.time()
        spec = self.dag.node_status
        if not force and now - self.last_status < max(1, spec.min_update):  # type: ignore[union-attr]
            return
        self.last_status = now
        rows = [(s.node.name, s.status, s.details, s.retries,
                 1 if s.status == STATUS_SUBMITTED else 0) for s in self.states.values()]
        text = format_node_status(self.dag.path.name, self.dag_status, rows, now,
                                  now + spec.min_update, self.idle)  # type: ignore[union-attr]
        write_node_status(self.status_path, text)

    # -- main loop ------------------------------------------------------------------------------
    def _pump(self) -> None:
        while True:
            if self.aborted is not None:
                return
            now = time.time()
            while self.deferred and self.deferred[0][0] <= now:
                _, _, name, kind = heapq.heappop(self.deferred)
                self._start_script(self.states[name], kind)
            self._try_submit()
            if not self.children and not self.deferred:
                if self.ready or self.blocked:
                    # nothing running yet nothing can start: resources can never be freed
                    for name in [n for _, _, n in self.ready] + self.blocked:
                        st = self.states[name]
                        st.ret = -1
                        self.idle -= 1
                        self._node_failed(st, "no slot can ever fit the job's requests", retry_ok=False)
                    self.ready, self.blocked = [], []
                    continue
                return
            timeout = 0.5
            if self.deferred:
                timeout = min(timeout, self.deferred[0][0] - time.time())
            self._wait(timeout)
            self._write_status()

    def run(self) -> DagOutcome:
        t0 = time.time()
        self.log("******************************************************")
        self.log(f"** reprogrid dryrun: emulated condor_scheduniv_exec / DAGMan for {self.dag.path}")
        self.log(f"** {len(self.dag.nodes)} nodes, {self.slots} local slots, {len(self.machines)} machine ads")
        self.log("******************************************************")
        for w in self.dag.warnings:
            self.log(f"Warning: {w}")
        final = self.states.get(self.dag.final) if self.dag.final else None
        for st in self.states.values():
            st.waiting = len(st.node.parents)
        for st in self.states.values():
            if st.node.done and not st.node.final:
                st.status = STATUS_DONE
                self.counts["done"] += 1
                for child in st.node.children:
                    self.states[child].waiting -= 1
        self._recover_rest()
        pre_done = self.counts["done"]
        if pre_done:
            self.log(f"{pre_done} node(s) already DONE (rescue DAG or DONE): not run again")
        for st in self.states.values():
            if st.status == STATUS_NOT_READY and st.waiting == 0 and not st.node.final:
                self._ready(st)
        self.matchmaker.note_job_refs([])
        interrupted: Optional[int] = None
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):  # noqa: ANN001
            raise Interrupted(signum)

        for s in old:
            signal.signal(s, handler)
        try:
            try:
                self._write_status(force=True)
                self._pump()
                if self.aborted is not None:
                    self._kill_all("removed by DAGMan: ABORT-DAG-ON")
            except Interrupted as intr:
                interrupted = intr.signum
                self.log(f"Received signal {intr.signum}: stopping running jobs")
                self._kill_all(f"removed by reprogrid dryrun (signal {intr.signum})")
                self.dag_status = DAG_REMOVED
            failed = [s.node.name for s in self.states.values() if s.status == STATUS_ERROR and not s.node.final]
            if final is not None and interrupted is None:
                self.log(f"Starting final node {final.node.name} (DAG_STATUS {self.dag_status}, {len(failed)} failed)")
                self.aborted_saved, self.aborted = self.aborted, None
                self._ready(final)
                try:
                    self._pump()
                except Interrupted as intr:
                    interrupted = intr.signum
                    self._kill_all(f"removed by reprogrid dryrun (signal {intr.signum})")
                self.aborted = self.aborted_saved
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        done = [s.node.name for s in self.states.values() if s.status == STATUS_DONE and not s.node.final]
        failed = [s.node.name for s in self.states.values() if s.status == STATUS_ERROR and not s.node.final]
        futile = [s.node.name for s in self.states.values() if s.status == STATUS_FUTILE]
        unfinished = [s for s in self.states.values() if s.status != STATUS_DONE and not s.node.final]
        if interrupted is not None:
            exit_code = 128 + interrupted
        elif self.aborted is not None:
            exit_code = self.aborted
        elif failed or unfinished:
            exit_code = 1
        else:
            exit_code = 0
        if final is not None and interrupted is None:
            # the FINAL node's success or failure decides the DAG's (DAGMan manual)
            exit_code = 0 if final.status == STATUS_DONE else (exit_code or 1)
        rescue = None
        if unfinished and (exit_code != 0 or failed or interrupted is not None):
            rescue = write_rescue(self.dag, done, failed)
            self.log(f"Writing Rescue DAG file {rescue}")
        self._write_status(force=True)
        self.events.close()
        self.progress.close()
        self.log(f"Nodes: {len(done)} done, {len(failed)} failed, {len(futile)} futile, "
                 f"{len(self.states)} total; {self.jobs_run} jobs run in {time.time() - t0:.1f} s")
        self.log(f"**** condor_scheduniv_exec.0.0 (condor_DAGMAN) pid {os.getpid()} EXITING WITH STATUS {exit_code}")
        return DagOutcome(exit_code=exit_code, dag_status=self.dag_status, done=done, failed=failed,
                       futile=futile, rescue_file=rescue, aborted=self.aborted is not None,
                       interrupted=interrupted is not None, jobs_run=self.jobs_run,
                       seconds=time.time() - t0)


def _i(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return int(value)
    return default


def _pidfd(pid: int) -> int:
    return os.pidfd_open(pid)


_LOCAL_MACHINE = classad.ClassAd({"Name": "local@submit", "Machine": "submit", "ReprogridHardwareEnv": "submit-host"})
