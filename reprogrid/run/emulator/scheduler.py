"""The DAGMan loop over an emulated schedd: node states, scripts, retries, throttles, slots.

One process, no threads: children (jobs and PRE/POST scripts) are started with
``subprocess`` and reaped with ``os.wait4`` (which also gives their CPU time and peak
memory for the event log) when their pidfd becomes readable. Node semantics follow the
DAGMan manual and condor_dagman's source (``dag.cpp``, ``dagman_submit.cpp``,
``dagman_main.cpp``): the last part of a node that ran decides its success; RETRY re-runs
the whole node unless the UNLESS-EXIT value came back or the submit failed; ABORT-DAG-ON
is checked after every PRE script, job and POST script; the FINAL node runs after
success, failure, abort, halt, a cycle or removal (a signal) with ``$DAG_STATUS``; every
proc of a multi-proc cluster runs and the node succeeds when all of them do; a held job
is removed (DAGMan would wait for condor_release) and its node fails with -1002.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple


from reprogrid.run.emulator import eventlog
from reprogrid.core.errors import UserError
from reprogrid.run.emulator.executor import Executor, Launch, die_with_parent, is_local
from reprogrid.run.emulator.jobads import JobAdCache, expand_job_ad, references
from reprogrid.condor.matchmaking import Matchmaker, job_requests
from reprogrid.run.emulator.model import Dag, Node, Script
from reprogrid.run.emulator.nodestatus import STATUS_DONE, STATUS_ERROR, STATUS_FUTILE, STATUS_NOT_READY, STATUS_POSTRUN, STATUS_PRERUN, STATUS_READY, STATUS_SUBMITTED, format_node_status, write_node_status
from reprogrid.run.emulator.rescue import write_rescue
from reprogrid.run.emulator.scripts import JobstateLog, ScriptContext, job_tag, script_argv
from reprogrid.run.emulator.transfer import TransferError
from reprogrid.run.emulator.recovery import Recovered, last_cluster
from reprogrid.condor.bindings import classad
from reprogrid.core.files import AppendFile
from reprogrid.core.text import shown

DAG_OK, DAG_ERROR, DAG_NODE_FAILED, DAG_ABORTED, DAG_REMOVED, DAG_CYCLE, DAG_HALTED = 0, 1, 2, 3, 4, 5, 6
RETURN_SUBMIT_FAILED, RETURN_JOB_ABORTED, RETURN_PRE_FAILED = -1001, -1002, -1004


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class Proc:
    """One job proc of a node's cluster."""

    ad: classad.ClassAd
    index: int
    machine: Optional[int] = None
    launch: Optional[Launch] = None
    local_slots: int = 0
    code: Optional[int] = None  # exit code; None while running or when aborted
    signum: Optional[int] = None
    finished: bool = False
    aborted: bool = False


@dataclass
class NodeState:
    node: Node
    status: int = STATUS_NOT_READY
    waiting: int = 0  # parents not yet done
    retries: int = 0
    pre_return: int = 0
    job_return: int = 0
    ret: int = 0  # return value of the last part that ran
    cluster: int = 0
    procs: List[Proc] = field(default_factory=list)
    pending: List[int] = field(default_factory=list)  # procs not yet started
    running: int = 0  # procs running
    submitted: bool = False
    poisoned: bool = False  # a submit failure: no retry (DAGMan's PoisonRetries)
    details: str = ""
    order: int = 0

    @property
    def ad(self) -> Optional[classad.ClassAd]:
        return self.procs[0].ad if self.procs else None


@dataclass
class Child:
    kind: str  # "job" | "PRE" | "POST"
    state: NodeState
    proc: subprocess.Popen
    pidfd: int
    started: float
    job: Optional[Proc] = None


class Log:
    """The ``<dag>.dagman.out``-style log: timestamped lines, buffered."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = AppendFile(path, buffering=1 << 16)  # its write errors name the log

    def __call__(self, message: str) -> None:
        self.handle.write(time.strftime("%m/%d/%y %H:%M:%S ") + message + "\n")

    def fileno(self) -> int:
        self.handle.flush()
        return self.handle.fileno()

    def close(self) -> None:
        self.handle.close()


class ProgressLine:
    """A one-line progress bar on stderr (TTY only): done / running / idle / failed.

    With ``lines`` (for a stderr that is not a terminal: a CI log, a redirect) it draws
    no bar but prints one line per node that finishes, so a long run is never silent.
    """

    def __init__(self, total: int, enabled: bool, lines: bool = False) -> None:
        self.total, self.enabled, self.last = total, enabled, 0.0
        self.lines = lines and not enabled
        self.finished = 0
        self.started = time.monotonic()

    def node(self, name: str, ok: bool, why: str = "") -> None:
        """One line for a node that finished (``lines`` mode only)."""
        self.finished += 1
        if not self.lines:
            return
        state = "done" if ok else f"FAILED ({why})" if why else "FAILED"
        sys.stderr.write(f"[{self.finished}/{self.total} {time.monotonic() - self.started:6.0f} s] "
                         f"node {shown(name)} {shown(state)}\n")  # DAG node names are data: escaped
        sys.stderr.flush()

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
    #: nodes that neither finished nor failed (FINAL included, e.g. after Ctrl-C)
    not_run: List[str] = field(default_factory=list)
    #: failed node -> why it failed (the hold reason, the exit status)
    reasons: Dict[str, str] = field(default_factory=dict)




class Scheduler:
    def __init__(self, dag: Dag, machines: Sequence[classad.ClassAd], slots: int, executor: Executor,
                 log: Log, progress: bool = False, node_log: bool = True, lines: bool = False) -> None:
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
        self.halt_wait: List[str] = []
        self.cat_wait: Dict[str, List[str]] = {}
        self.cat_running: Dict[str, int] = {}
        self.children: Dict[int, Child] = {}  # pidfd -> child
        self.deferred: List[Tuple[float, int, str, str]] = []  # (when, order, node, kind)
        self.events = eventlog.EventLogs()
        self.nodes_log = Path(str(dag.path) + ".nodes.log") if node_log else None
        self.dag_id = last_cluster(self.nodes_log) + 1  # the DAGMan job's own cluster
        self.cluster = self.dag_id
        self.jobs_run = 0
        self.running_jobs = 0  # job procs running
        self.submitted_nodes = 0
        self.max_jobs = dag.int_config("DAGMAN_MAX_JOBS_SUBMITTED", 0)
        self.max_pre = dag.int_config("DAGMAN_MAX_PRE_SCRIPTS", 20)
        self.max_post = dag.int_config("DAGMAN_MAX_POST_SCRIPTS", 20)
        self.scripts_running = {"PRE": 0, "POST": 0}
        self.script_wait: Dict[str, List[str]] = {"PRE": [], "POST": []}
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
        self.idle = 0
        self.rescue: Optional[Path] = None
        self.late_failed = 0  # nodes removed by an abort or removal, counted once the FINAL node ran
        self._ac_cache: Dict[int, tuple] = {}
        self._refs: Dict[str, frozenset] = {}
        self._dollar2: Dict[int, bool] = {}
        self._checked: Dict[int, list] = {}  # id -> the ads (kept so the id stays theirs)

    # -- node bookkeeping ---------------------------------------------------------------------
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
            self.jobstate.tags[st.node.name] = self._job_tag(st.node)
        if st.node.pre is not None:
            self._start_script(st, "PRE")
        else:
            self._queue_job(st)

    def _queue_job(self, st: NodeState) -> None:
        st.status = STATUS_READY
        heapq.heappush(self.ready, (-st.node.priority, st.order, st.node.name))

    def _node_done(self, st: NodeState) -> None:
        st.status = STATUS_DONE
        st.details = ""
        self.counts["done"] += 1
        self.progress.node(st.node.name, True)
        if st.node.final:
            return
        for child in st.node.children:
            cs = self.states[child]
            cs.waiting -= 1
            if cs.waiting == 0 and cs.status == STATUS_NOT_READY:
                self._ready(cs)

    def _node_failed(self, st: NodeState, why: str, futile: bool = True) -> None:
        node = st.node
        unless = node.retry_unless_exit is not None and st.ret == node.retry_unless_exit
        if (st.retries < node.retry and self.aborted is None and self.removed is None
                and not st.poisoned and not unless and not node.final):
            st.retries += 1
            self.log(f"Retrying node {node.name} (retry #{st.retries} of {node.retry})...")
            self._reset_attempt(st)
            self._ready(st)
            return
        if unless and st.retries < node.retry:
            self.log(f"Aborting further retries of node {node.name} (last attempt returned {st.ret})")
        st.status = STATUS_ERROR
        st.details = why + (f" (after {st.retries} node retries)" if node.retry else "")
        self.counts["failed"] += 1
        self.progress.node(node.name, False, why)
        if self.dag_status == DAG_OK and (self.aborted is None or node.final):
            self.dag_status = DAG_NODE_FAILED  # an abort sets the status after the node failed
        if futile:
            self._mark_futile(st)

    def _reset_attempt(self, st: NodeState) -> None:
        st.procs, st.pending, st.running, st.submitted = [], [], 0, False
        st.cluster, st.job_return, st.pre_return, st.ret = 0, 0, 0, 0

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
        self.ready, self.blocked, self.halt_wait, self.deferred = [], [], [], []
        self.cat_wait = {}
        self.script_wait = {"PRE": [], "POST": []}

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
                    user_log = Path(self._job_ads(st, cluster)[0].eval("UserLog"))
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
    def _script_context(self, st: NodeState) -> ScriptContext:
        codes = [None if p.aborted else (p.code if p.signum is None else -p.signum) for p in st.procs]
        return ScriptContext(
            node=st.node.name, retry=st.retries, max_retries=st.node.retry, dag_status=self.dag_status,
            failed=self.counts["failed"], futile=self.counts["futile"], done=self.counts["done"],
            queued=self.submitted_nodes, nodes=len(self.states), dag_id=self.dag_id, cluster=st.cluster,
            proc=len(st.procs) - 1 if st.procs else 0, job_count=len(st.procs), success=st.job_return == 0,
            job_return=st.job_return, pre_return=st.pre_return, exit_codes=codes)

    def _script_argv(self, st: NodeState, kind: str, script: Script) -> List[str]:
        argv = script_argv(script.argv, kind, self._script_context(st), self.log)
        exe = argv[0]
        cwd = self.dag.node_dir(st.node)
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
        argv = self._script_argv(st, kind, script)
        self.log(f"Running {kind} script of Node {st.node.name}...")
        self.jobstate.event(st.node.name, f"{kind}_SCRIPT_STARTED", self._jobstate_id(st, kind))
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

    def _jobstate_id(self, st: NodeState, kind: str) -> str:
        return f"{st.cluster}.0" if kind == "POST" and st.cluster else "-"

    def _script_done(self, st: NodeState, kind: str, code: int) -> None:
        node = st.node
        script = node.pre if kind == "PRE" else node.post
        if script is not None and script.defer_status is not None and code == script.defer_status:
            self.log(f"Deferring {kind} script of node {node.name} for {script.defer_time} s (DEFER {code})")
            heapq.heappush(self.deferred, (time.time() + script.defer_time, st.order, node.name, kind))
            return
        ok = "SUCCESS" if code == 0 else "FAILURE"
        if kind == "POST":
            self.jobstate.event(node.name, "POST_SCRIPT_TERMINATED", self._jobstate_id(st, kind))
        self.jobstate.event(node.name, f"{kind}_SCRIPT_{ok}", self._jobstate_id(st, kind))
        if kind == "PRE":
            self._pre_done(st, code)
        else:
            self._post_done(st, code)

    def _pre_done(self, st: NodeState, code: int) -> None:
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
                self._start_script(st, "POST")
            else:
                self._node_failed(st, f"PRE Script failed with status {code}")
            return
        self.log(f"PRE Script of node {node.name} completed successfully.")
        st.ret = 0
        self._check_abort(st, "PRE script")
        if (self.aborted is None and self.removed is None) or node.final:
            self._queue_job(st)

    def _post_done(self, st: NodeState, code: int) -> None:
        node = st.node
        st.ret = code
        self._check_abort(st, "POST script")
        if code == 0:
            self.log(f"POST Script of node {node.name} completed successfully.")
            self._node_done(st)
        else:
            self.log(f"POST Script of node {node.name} failed with status {code}")
            self._node_failed(st, f"POST Script failed with status {code}")

    # -- submission ---------------------------------------------------------------------------
    def _macros(self, st: NodeState, text: str) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
        """(prepended, appended) submit variables, as DAGMan's ``InitVars`` builds them.

        DAGMan's own macros are passed only when the submit text (or a VARS value) can see them,
        so nodes that do not use them share one parsed description.
        """
        node = st.node
        own = [("JOB", node.name), ("RETRY", str(st.retries)), ("DAG_STATUS", str(self.dag_status)),
               ("FAILED_COUNT", str(self.counts["failed"]))]
        if node.parents:
            own.append(("DAG_PARENT_NAMES", ",".join(node.parents)))
        used = self._referenced(text)
        if node.vars:
            used = used | self._referenced("\n".join(v for _, v in node.vars))
        prepend = [(k, v) for k, v in own if k in used]
        append = [("DAGManJobId", str(self.dag_id))] if "DAGManJobId" in used else []
        for (k, v), appended in zip(node.vars, node.vars_append):
            (append if appended else prepend).append((k, v))
        return prepend, append

    def _referenced(self, text: str) -> frozenset:
        hit = self._refs.get(text)
        if hit is None:
            names = ("JOB", "RETRY", "DAG_STATUS", "FAILED_COUNT", "DAG_PARENT_NAMES", "DAGManJobId")
            hit = self._refs[text] = frozenset(n for n in names if references(text, n))
        return hit

    def _job_tag(self, node: Node) -> str:
        if node.inline is not None:
            return job_tag(node.inline)
        if node.subdag is not None or node.noop:
            return "-"
        submit = Path(node.submit_file)
        try:
            return job_tag(self.ads.text(submit if submit.is_absolute() else self.dag.node_dir(node) / submit, node.where))
        except UserError:
            return "-"

    def _job_ads(self, st: NodeState, cluster: int) -> List[classad.ClassAd]:
        node = st.node
        folder = self.dag.node_dir(node)
        if node.subdag is not None:
            return [self._subdag_ad(st, folder)]
        if node.inline is not None:
            source: "Path | str" = node.inline
            text = node.inline
        else:
            submit = Path(node.submit_file)
            source = submit if submit.is_absolute() else folder / submit
            text = self.ads.text(source, node.where)
        prepend, append = self._macros(st, text)
        ads = self.ads.node_ads(source, folder, prepend, append, cluster, node.where)
        if id(ads[0]) not in self._checked:  # cached ads are checked once
            _check_executable(ads[0], folder)
            self._checked[id(ads[0])] = ads
        return ads

    def _subdag_ad(self, st: NodeState, folder: Path) -> classad.ClassAd:
        """SUBDAG EXTERNAL: the nested DAG runs through this emulator, as a local job of the node."""
        sub = Path(st.node.subdag or "")
        path = sub if sub.is_absolute() else folder / sub
        if not path.is_file():
            raise UserError(f"cannot read the sub-DAG {path}", [])
        args = ["-m", "reprogrid", "dryrun", str(path), "--slots", str(self.slots)]
        return classad.ClassAd({
            "JobUniverse": 7, "Cmd": sys.executable, "Iwd": str(folder), "GetEnv": True,
            "Arguments": " ".join("'" + a.replace("'", "''") + "'" for a in args),
            "Out": str(path) + ".lib.out", "Err": str(path) + ".lib.err",
        })

    def _submit(self, st: NodeState) -> bool:
        """condor_submit the node's job(s): one new cluster, a submit event per proc."""
        node = st.node
        self.log(f"Submitting HTCondor Node {node.name} job(s)...")
        cluster = self.cluster + 1
        try:
            ads = self._job_ads(st, cluster)
        except UserError as err:
            self._submit_failed(st, str(err))
            return False
        self.cluster = cluster
        st.cluster, st.submitted, st.status, st.details = cluster, True, STATUS_SUBMITTED, "idle"
        st.procs = [Proc(ad=ad, index=i) for i, ad in enumerate(ads)]
        st.pending = list(range(len(ads)))
        parents = ",".join(node.parents)
        now = time.time()
        for proc in st.procs:
            ad = proc.ad
            ad["ClusterId"], ad["ProcId"], ad["DAGNodeName"] = cluster, proc.index, node.name
            ad["DAGManJobId"], ad["DAGParentNodeNames"] = self.dag_id, parents
            self._event(self._user_log(ad), eventlog.submit_event(cluster, proc.index, node.name, now))
            self._log_event("ULOG_SUBMIT", node.name, cluster, proc.index)
            self.jobstate.event(node.name, "SUBMIT", f"{cluster}.{proc.index}")
        self.log(f"\tassigned HTCondor ID ({cluster}.0.0)")
        self.idle += len(ads)
        self.submitted_nodes += 1
        if node.category is not None:
            self.cat_running[node.category] = self.cat_running.get(node.category, 0) + 1
        return True

    def _submit_failed(self, st: NodeState, why: str) -> None:
        """DAGMan: no retry after a submit failure; the POST script runs with $RETURN = -1001."""
        node = st.node
        self.log(f"Event: ULOG_SUBMIT_FAILURE for HTCondor Node {node.name} (-1.-1.-1) {why}")
        self.log(f"Shortcutting node {node.name} retries because of submit failure(s)")
        self.jobstate.event(node.name, "SUBMIT_FAILURE")
        st.poisoned = True
        st.ret = st.job_return = RETURN_SUBMIT_FAILED
        if node.post is not None:
            self._start_script(st, "POST")
        else:
            self._node_failed(st, "Job submit failed")

    def _user_log(self, ad: classad.ClassAd) -> Optional[Path]:
        return Path(ad.eval("UserLog")) if "UserLog" in ad else None

    def _try_submit(self) -> None:
        """Submit ready nodes and start idle procs while slots, throttles and machines allow."""
        while self.ready:
            entry = heapq.heappop(self.ready)
            name = entry[2]
            st = self.states[name]
            if (self.aborted is not None or self.removed is not None) and not st.node.final:
                continue
            if not st.submitted:
                if self.halted and not st.node.final:
                    self.halt_wait.append(name)
                    continue
                if self.max_jobs and self.submitted_nodes >= self.max_jobs:
                    heapq.heappush(self.ready, entry)
                    return
                cat = st.node.category
                if cat is not None and cat in self.dag.maxjobs and self.cat_running.get(cat, 0) >= self.dag.maxjobs[cat]:
                    self.cat_wait.setdefault(cat, []).append(name)
                    continue
                if st.node.noop:
                    self._noop(st)
                    continue
                if not self._submit(st):
                    continue
            if self._start_procs(st) is None:  # blocked on resources: wait for something to finish
                self.blocked.append(name)
                if self.free_slots == 0:
                    return

    def _noop(self, st: NodeState) -> None:
        self.log(f"Node {st.node.name} is a NOOP node: not submitted")
        st.job_return = st.ret = 0
        if st.node.post is not None:
            self._start_script(st, "POST")
        else:
            self._check_abort(st, "job")
            self._node_done(st)

    def _start_procs(self, st: NodeState) -> Optional[bool]:
        while st.pending:
            index = st.pending.pop(0)
            if self._start_proc(st, st.procs[index]) is None:
                st.pending.insert(0, index)
                return None
        return True

    # -- the schedd: matching and running procs -----------------------------------------------
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

    def _start_proc(self, st: NodeState, proc: Proc) -> Optional[bool]:
        """Run one proc: None when it must wait for resources, False when it went on hold."""
        node, ad = st.node, proc.ad
        local = is_local(ad)
        req = job_requests(ad)
        need = 0 if local else min(max(1, req[0]), self.slots)
        if need > self.free_slots:
            return None
        mi, possible = (None, True) if local else self._pick_machine(ad, req)
        if not possible:
            why = "; ".join(self.matchmaker.explain(ad))
            self._hold(st, proc, f"no machine in the inventory matches the job: {why}")
            return False
        if mi is None and not local:
            return None  # matching machines exist but are full: stay idle until one frees up
        machine = self.machines[mi] if mi is not None else _LOCAL_MACHINE
        if self._has_machine_refs(ad):
            try:
                proc.ad = ad = classad.parseOne(ad.printOld())
                expand_job_ad(ad, machine)
            except ValueError as err:
                self._hold(st, proc, f"Failed to expand $$ expression: {err}")
                return False
        slot = f"slot{self.slots - self.free_slots + 1}@{machine.get('Machine', machine.get('Name', 'localhost'))}"
        user_log = self._user_log(ad)
        try:
            launch = self.executor.prepare(ad, machine, f"{node.name}.{st.cluster}.{proc.index}", slot, max(1, need))
            if launch.note:
                self.log(f"Node {node.name}: {launch.note}")
            launch.started = time.time()
            child = self.executor.spawn(launch)
        except TransferError as err:
            self._hold(st, proc, str(err))
            return False
        except OSError as err:
            self.executor.finish(ad, launch, keep_outputs=False)
            self._hold(st, proc, f"cannot execute {launch.argv[0]}: {err.strerror or err}")
            return False
        if mi is not None:
            f = self.free[mi]
            f[0] -= req[0]; f[1] -= req[1]; f[2] -= req[2]; f[3] -= req[3]
        proc.machine, proc.launch, proc.local_slots = mi, launch, need
        st.details = "not_idle"
        st.running += 1
        self.free_slots -= need
        self.idle -= 1
        self.running_jobs += 1
        self._event(user_log, eventlog.execute_event(st.cluster, proc.index, slot, launch.started))
        self.jobstate.event(node.name, "EXECUTE", f"{st.cluster}.{proc.index}")
        self._log_event("ULOG_EXECUTE", node.name, st.cluster, proc.index)
        self._watch(Child("job", st, child, _pidfd(child.pid), launch.started, job=proc))
        return True

    def _has_machine_refs(self, ad: classad.ClassAd) -> bool:
        hit = self._dollar2.get(id(ad))
        if hit is None:
            hit = self._dollar2[id(ad)] = "$$(" in ad.printOld()
        return hit

    def _hold(self, st: NodeState, proc: Proc, reason: str) -> None:
        """The job goes on hold. DAGMan would wait for condor_release; a dry run cannot, so the
        job is removed (condor_rm) and DAGMan's handling of an aborted job follows (-1002)."""
        user_log = self._user_log(proc.ad)
        self._event(user_log, eventlog.held_event(st.cluster, proc.index, reason))
        self._event(user_log, eventlog.aborted_event(st.cluster, proc.index,
                                                     "removed by reprogrid dryrun: a held job waits for condor_release"))
        self.jobstate.event(st.node.name, "JOB_HELD", f"{st.cluster}.{proc.index}")
        self._log_event("ULOG_JOB_HELD", st.node.name, st.cluster, proc.index)
        self._log_event("ULOG_JOB_ABORTED", st.node.name, st.cluster, proc.index)
        self.jobstate.event(st.node.name, "JOB_ABORTED", f"{st.cluster}.{proc.index}")
        self.log(f"Node {st.node.name} job proc ({st.cluster}.{proc.index}.0) held: {reason}; "
                 "DAGMan would wait for condor_release, the dry run removes the job")
        self.idle -= 1
        proc.aborted = proc.finished = True
        if not st.details.startswith("held"):
            st.details = f"held: {reason}"
        if not st.pending and st.running == 0 and all(p.finished for p in st.procs):
            self._cluster_done(st)

    def _log_event(self, name: str, node: str, cluster: int, proc: int) -> None:
        """dagman.out's event line (dag.cpp, PrintEvent), which tools such as Pegasus grep."""
        self.log(f"Event: {name} for HTCondor Node {node} ({cluster}.{proc}.0) {{{time.strftime('%m/%d/%y %H:%M:%S')}}}")

    def _event(self, user_log: Optional[Path], text: str) -> None:
        if user_log is not None:
            self.events.write(user_log, text)
        if self.nodes_log is not None and user_log != self.nodes_log:
            self.events.write(self.nodes_log, text)

    def _release(self, st: NodeState, proc: Proc) -> None:
        self.running_jobs -= 1
        st.running -= 1
        self.free_slots += proc.local_slots
        proc.local_slots = 0
        if proc.machine is not None:
            req = job_requests(proc.ad)
            f = self.free[proc.machine]
            f[0] += req[0]; f[1] += req[1]; f[2] += req[2]; f[3] += req[3]
            proc.machine = None
        if self.blocked:
            for name in self.blocked:
                s = self.states[name]
                heapq.heappush(self.ready, (-s.node.priority, s.order, name))
            self.blocked = []

    def _proc_finished(self, st: NodeState, proc: Proc, code: Optional[int], signum: Optional[int],
                       rusage: Optional[object] = None) -> None:
        user_log = self._user_log(proc.ad)
        self._release(st, proc)
        held = None
        if proc.launch is not None:
            try:
                self.executor.finish(proc.ad, proc.launch)
            except (TransferError, OSError) as err:
                held = str(err)
            proc.launch = None
        rss = int(getattr(rusage, "ru_maxrss", 0)) if rusage is not None else 0
        if rss:
            self._event(user_log, eventlog.image_size_event(st.cluster, proc.index, rss))
        if held is not None:
            self.idle += 1  # _hold counts it out again
            self._hold(st, proc, held)
            return
        req = job_requests(proc.ad)
        cpu = (getattr(rusage, "ru_utime", 0.0) + getattr(rusage, "ru_stime", 0.0)) if rusage else 0.0
        self._event(user_log, eventlog.terminated_event(st.cluster, proc.index, code, signum, cpu, req[0], req[1], req[2]))
        self.jobstate.event(st.node.name, "JOB_TERMINATED", f"{st.cluster}.{proc.index}")
        self._log_event("ULOG_JOB_TERMINATED", st.node.name, st.cluster, proc.index)
        self.jobs_run += 1
        proc.code, proc.signum, proc.finished = code, signum, True
        what = f"failed with status {code}." if signum is None else f"failed with signal {signum}."
        self.log(f"Node {st.node.name} job proc ({st.cluster}.{proc.index}.0) "
                 + ("completed successfully." if code == 0 and signum is None else what))
        if not st.pending and st.running == 0 and all(p.finished for p in st.procs):
            self._cluster_done(st)

    def _cluster_done(self, st: NodeState) -> None:
        """All procs of the node's cluster ended: the node's job part is over (dag.cpp ProcessJobProcEnd)."""
        node = st.node
        self.submitted_nodes -= 1
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
            self._start_script(st, "POST")
            return
        # an abort on the job's exit value leaves the descendants NOT_READY (htcondor's
        # job_dagman_abort-final-A); after a PRE or POST script they are FUTILE (abort-final-B)
        futile = not self._check_abort(st, "job")
        if ret == 0:
            self._node_done(st)
        elif any(p.aborted for p in st.procs):
            self._node_failed(st, f"HTCondor reported ULOG_JOB_ABORTED event for job proc ({st.cluster}.0.0)", futile)
        elif ret < 0:
            self._node_failed(st, f"Job proc ({st.cluster}.0.0) failed with signal {-ret}", futile)
        else:
            self._node_failed(st, f"Job proc ({st.cluster}.0.0) failed with status {ret}", futile)

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
            assert child.job is not None
            self._proc_finished(st, child.job, code, signum, rusage=rusage)
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
            self._stopped(child, reason)
        self.children.clear()

    def _stopped(self, child: Child, reason: str) -> None:
        """A child killed by an abort or a removal: its job gets an aborted event; the node stays
        in its state (the status file shows it as ERROR at the end, as DAGMan does)."""
        st = child.state
        if child.kind == "job" and child.job is not None:
            proc = child.job
            self._event(self._user_log(proc.ad), eventlog.aborted_event(st.cluster, proc.index, reason))
            self._release(st, proc)
            if proc.launch is not None:
                self.executor.finish(proc.ad, proc.launch, keep_outputs=False)
                proc.launch = None
        else:
            self.scripts_running[child.kind] -= 1
        st.details = f"stopped ({reason})"
        self.log(f"Node {st.node.name}: {child.kind} stopped ({reason})")
        if child.kind == "job" and self.dag.final is not None and not st.node.final and st.status != STATUS_ERROR:
            # DAGMan reads the aborted events while the FINAL node runs: the node fails, but the
            # FINAL node's $FAILED_COUNT does not count it yet (htcondor's job_dagman_abort-final-A)
            st.status = STATUS_ERROR
            st.details = f"HTCondor reported ULOG_JOB_ABORTED event for job proc ({st.cluster}.0.0)"
            self.late_failed += 1

    # -- status -------------------------------------------------------------------------------
    def _write_status(self, force: bool = False, end: bool = False) -> None:
        mono = time.monotonic()
        if force or mono - self.last_flush >= 0.2:  # logs reach the disk in batches
            self.last_flush = mono
            self.events.flush()
            self.jobstate.flush()
            self.log.handle.flush()
        self.progress.update(self.counts["done"], self.running_jobs, self.idle, self.counts["failed"], force)
        if self.status_path is None:
            return
        now = time.time()
        spec = self.dag.node_status
        if not force and now - self.last_status < max(1, spec.min_update):  # type: ignore[union-attr]
            return
        self.last_status = now
        rows = [self._status_row(s, end) for s in self.states.values()]
        number, note = self._dag_node_status(end)
        text = format_node_status(self.dag.path.name, number, rows, now,
                                  0 if end else now + spec.min_update, 0 if end else self.idle, note)  # type: ignore[union-attr]
        write_node_status(self.status_path, text)

    def _status_row(self, s: NodeState, end: bool) -> Tuple[str, int, str, int, int]:
        status, details = s.status, s.details
        if end and status in (STATUS_PRERUN, STATUS_SUBMITTED, STATUS_POSTRUN):
            # DAGMan's last status file shows nodes it removed as ERROR (dag.cpp, markNodesError)
            details = {STATUS_PRERUN: "Was STATUS_PRERUN", STATUS_SUBMITTED: "Was STATUS_SUBMITTED",
                       STATUS_POSTRUN: "Was STATUS_POSTRUN"}[status]
            status = STATUS_ERROR
        elif status == STATUS_DONE and s.node.done:
            details = "User defined as DONE"
        queued = len(s.procs) - sum(1 for p in s.procs if p.finished) if status == STATUS_SUBMITTED else 0
        return (s.node.name, status, details, s.retries, queued)

    def _dag_node_status(self, end: bool) -> Tuple[int, str]:
        """The DAG's own NodeStatus number and note in the status file (dag.cpp, DumpNodeStatus)."""
        if not end:
            return STATUS_SUBMITTED, ""
        if self._succeeded():
            return STATUS_DONE, "success"
        if self.removed is not None:
            return STATUS_ERROR, "removed"
        if self.dag_status == DAG_ABORTED:
            return STATUS_ERROR, "aborted"
        if self.dag_status == DAG_CYCLE and not self.counts["failed"]:
            return STATUS_ERROR, "cycle"
        return STATUS_ERROR, "failed"

    def _succeeded(self) -> bool:
        """DAGMan's DoneSuccess(true): every node done, or the FINAL node done, or an abort with RETURN 0."""
        final = self.states.get(self.dag.final) if self.dag.final else None
        if final is not None and final.status == STATUS_DONE:
            return True
        if all(s.status == STATUS_DONE for s in self.states.values()):
            return True
        return self.aborted is not None and self.dag_status == DAG_OK

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
                self._ready(self.states[name])
        self.halted = halted

    def _start_deferred(self) -> None:
        now = time.time()
        while self.deferred and self.deferred[0][0] <= now:
            _, _, name, kind = heapq.heappop(self.deferred)
            self._start_script(self.states[name], kind)

    def _fail_unplaceable(self) -> None:
        """Nothing runs, yet idle procs cannot start: their requests can never fit a local slot."""
        for name in [n for _, _, n in self.ready] + self.blocked:
            st = self.states[name]
            if not st.submitted and not self._submit(st):
                continue
            for index in st.pending:
                self._hold(st, st.procs[index], "no slot can ever fit the job's requests")
            st.pending = []
            if st.submitted and st.status == STATUS_SUBMITTED and st.running == 0 and all(p.finished for p in st.procs):
                self._cluster_done(st)
        self.ready, self.blocked = [], []

    def _pump(self) -> None:
        while True:
            if self.aborted is not None and not self.final_started:
                return
            self._check_halt()
            if not self.halted:
                self._start_deferred()
            self._try_submit()
            if not self.children and not (self.deferred and not self.halted):
                if (self.ready or self.blocked) and not self.halted:
                    self._fail_unplaceable()
                    continue
                return
            timeout = 0.5
            if self.deferred:
                timeout = min(timeout, self.deferred[0][0] - time.time())
            self._wait(timeout)
            self._write_status()

    def _start(self) -> None:
        self.log("******************************************************")
        self.log(f"** reprogrid dryrun: emulated condor_scheduniv_exec.{self.dag_id}.0 (CONDOR_DAGMAN) for {self.dag.path}")
        self.log(f"** {len(self.dag.nodes)} nodes, {self.slots} local slots, {len(self.machines)} machine ads")
        self.log("******************************************************")
        self.jobstate.internal(f"DAGMAN_STARTED {self.dag_id}.0")
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
        self._recover_rest()
        pre_done = self.progress.finished = self.counts["done"]
        if pre_done:
            self.log(f"{pre_done} node(s) already DONE (rescue DAG or DONE): not run again")
        for st in self.states.values():
            if st.status == STATUS_NOT_READY and st.waiting == 0 and not st.node.final:
                self._ready(st)
        self.matchmaker.note_job_refs([])

    def _main_phase(self) -> None:
        try:
            self._write_status(force=True)
            self._pump()
            if self.aborted is not None:
                self.log("Aborting DAG...")
                if self.aborted != 0:  # the rescue DAG is written before the jobs are removed
                    self._write_rescue()
                self._kill_all("DAG Abort: DAG is exiting and writing rescue file.")
        except Interrupted as intr:
            self.log(f"Received signal {intr.signum}: the DAG is removed")
            self.removed = intr.signum
            self.dag_status = DAG_REMOVED
            self._drop_queues()
            self._write_rescue()
            self._kill_all("DAG Removed: User removed scheduler job from queue.")
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
        self._log_summary()
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
            self._kill_all(f"DAG Removed: signal {intr.signum}")

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
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        return self._finish(t0)

    def _finish(self, t0: float) -> DagOutcome:
        final = self.states.get(self.dag.final) if self.dag.final else None
        exit_code = self._exit_value()
        if final is not None and final.status != STATUS_NOT_READY and self.removed is None:
            # the FINAL node's success or failure decides the DAG's (Dag::DoneSuccess / DoneFailed)
            exit_code = 0 if self._succeeded() else (exit_code or 1)
            if final.status == STATUS_ERROR:
                self._write_rescue()
        self.counts["failed"] += self.late_failed
        done = [s.node.name for s in self.states.values() if s.status == STATUS_DONE and not s.node.final]
        failed = [s.node.name for s in self.states.values() if s.status == STATUS_ERROR and not s.node.final]
        futile = [s.node.name for s in self.states.values() if s.status == STATUS_FUTILE]
        self._write_status(force=True, end=True)
        self._log_summary()
        self.jobstate.internal(f"DAGMAN_FINISHED {exit_code}")
        self.events.close()
        self.jobstate.close()
        self.progress.close()
        self.log(f"{self.jobs_run} jobs run in {time.time() - t0:.1f} s")
        self.log(f"**** condor_scheduniv_exec.{self.dag_id}.0 (condor_DAGMAN) pid {os.getpid()} EXITING WITH STATUS {exit_code}")
        return DagOutcome(exit_code=exit_code, dag_status=self.dag_status, done=done, failed=failed,
                          futile=futile, rescue_file=self.rescue, aborted=self.aborted is not None,
                          interrupted=self.removed is not None, jobs_run=self.jobs_run,
                          seconds=time.time() - t0, **self._leftovers())

    def _leftovers(self) -> Dict[str, object]:
        """The nodes that did not run (FINAL included) and why each failed node failed."""
        return {"not_run": [s.node.name for s in self.states.values() if s.status not in (STATUS_DONE, STATUS_ERROR)],
                "reasons": {s.node.name: s.details for s in self.states.values()
                            if s.status == STATUS_ERROR and not s.node.final}}

    def _log_summary(self) -> None:
        """DAGMan's ``print_status`` block, which tools grep in dagman.out."""
        names = ["DAG_STATUS_OK", "DAG_STATUS_ERROR", "DAG_STATUS_NODE_FAILED", "DAG_STATUS_ABORT",
                 "DAG_STATUS_RM", "DAG_STATUS_CYCLE", "DAG_STATUS_HALTED"]
        by = {k: 0 for k in range(8)}
        for s in self.states.values():
            by[s.status] += 1
        self.log(f"DAG status: {self.dag_status} ({names[self.dag_status]})")
        self.log(f"Of {len(self.states)} nodes total:")
        self.log(" Done     Pre   Queued    Post   Ready   Un-Ready   Failed   Futile")
        self.log("  ===     ===      ===     ===     ===        ===      ===      ===")
        self.log(f"{by[STATUS_DONE]:5d}   {by[STATUS_PRERUN]:5d}    {by[STATUS_SUBMITTED]:5d}   {by[STATUS_POSTRUN]:5d}   "
                 f"{by[STATUS_READY]:5d}      {by[STATUS_NOT_READY]:5d}    {by[STATUS_ERROR]:5d}    {by[STATUS_FUTILE]:5d}")
        self.log("0 job proc(s) currently held")


def _check_executable(ad: classad.ClassAd, folder: Path) -> None:
    """condor_submit's executable checks: one must be given, and exist unless it is not transferred
    (htcondor's job_dagman_submit_fails_post: a missing executable is a submit failure)."""
    cmd = ad.get("Cmd")
    container = ad.get("WantContainer") is True or "ContainerImage" in ad or ad.get("WantDocker") is True
    if not cmd:
        if not container:
            raise UserError("No 'executable' parameter was provided", [])
        return
    if ad.get("TransferExecutable", True) is False or container or "$$(" in str(cmd):
        return
    path = Path(str(cmd))
    iwd = Path(str(ad.get("Iwd", folder)))
    if not (path if path.is_absolute() else iwd / path).exists():
        raise UserError(f"Can't access executable file {cmd}: No such file or directory", [])


def _i(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return int(value)
    return default


def _pidfd(pid: int) -> int:
    return os.pidfd_open(pid)


_LOCAL_MACHINE = classad.ClassAd({"Name": "local@submit", "Machine": "submit", "ReprogridHardwareEnv": "submit-host"})
