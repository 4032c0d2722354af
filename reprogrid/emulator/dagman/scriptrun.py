"""DAGMan's PRE and POST scripts: started under the MAXPRE/MAXPOST throttles, DEFER, and
their end handed back to the node's state machine.

A script runs in the node's directory with DAGMan's macros replaced (``scripts``), its
output appended to dagman.out, in a session of its own with a parent-death signal; it is
watched and reaped with the jobs (``starter.processes``). A script that returns its
DEFER status is run again after the DEFER time, and counts neither as success nor failure.
"""
from __future__ import annotations

import heapq
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from reprogrid.condor.dagcodes import STATUS_POSTRUN, STATUS_PRERUN
from reprogrid.emulator.dagman.model import Script
from reprogrid.emulator.dagman.nodestate import NodeState
from reprogrid.emulator.dagman.scripts import ScriptContext, script_argv
from reprogrid.emulator.starter.executor import die_with_parent
from reprogrid.emulator.starter.forkgate import FORK_GATE
from reprogrid.emulator.starter.processes import OWNER_VAR

if TYPE_CHECKING:  # the scheduler owns the runner; imported for the annotation only
    from reprogrid.emulator.dagman.scheduler import Scheduler


class ScriptRunner:
    """The PRE/POST scripts of a DAG run: throttles, deferral, start and end."""

    def __init__(self, dagman: "Scheduler") -> None:
        self.dagman = dagman
        dag = dagman.dag
        self.limits = {"PRE": dag.int_config("DAGMAN_MAX_PRE_SCRIPTS", 20),
                       "POST": dag.int_config("DAGMAN_MAX_POST_SCRIPTS", 20)}
        self.running = {"PRE": 0, "POST": 0}
        self.waiting: Dict[str, List[str]] = {"PRE": [], "POST": []}
        self.deferred: List[Tuple[float, int, str, str]] = []  # (when, order, node, kind)

    def drop(self) -> None:
        """Nothing new starts (an abort or a removal)."""
        self.waiting = {"PRE": [], "POST": []}
        self.deferred = []

    def context(self, st: NodeState) -> ScriptContext:
        d = self.dagman
        codes = [None if p.aborted else (p.code if p.signum is None else -p.signum) for p in st.procs]
        return ScriptContext(
            node=st.node.name, retry=st.retries, max_retries=st.node.retry, dag_status=d.dag_status,
            failed=d.counts["failed"], futile=d.counts["futile"], done=d.counts["done"],
            queued=d.submitted_nodes, nodes=len(d.states), dag_id=d.dag_id, cluster=st.cluster,
            proc=len(st.procs) - 1 if st.procs else 0, job_count=len(st.procs), success=st.job_return == 0,
            job_return=st.job_return, pre_return=st.pre_return, exit_codes=codes)

    def _argv(self, st: NodeState, kind: str, script: Script) -> Tuple[List[str], str]:
        """(argv with the executable found, the command line as DAGMan ran it)."""
        d = self.dagman
        argv = script_argv(script.argv, kind, self.context(st), d.log)
        command = " ".join(argv)
        exe = argv[0]
        cwd = d.dag.node_dir(st.node)
        if os.sep in exe:
            argv[0] = str(cwd / exe) if not os.path.isabs(exe) else exe
        elif (cwd / exe).exists():
            argv[0] = str(cwd / exe)
        else:
            argv[0] = shutil.which(exe) or exe
        return argv, command

    def start(self, st: NodeState, kind: str) -> None:
        d = self.dagman
        limit = self.limits[kind]
        if limit and self.running[kind] >= limit:
            self.waiting[kind].append(st.node.name)
            return
        script = st.node.pre if kind == "PRE" else st.node.post
        assert script is not None
        st.status = STATUS_PRERUN if kind == "PRE" else STATUS_POSTRUN
        argv, command = self._argv(st, kind, script)
        d.log(f"Running {kind} script of Node {st.node.name}...")
        d.jobstate.event(st.node.name, f"{kind}_SCRIPT_STARTED", self.jobstate_id(st, kind))
        d.schedd.flush_logs()  # a script may read the job's events: they are on disk before it starts
        owner = d.processes.new_owner()
        debug = None if script.debug_file is None else (tempfile.TemporaryFile(), tempfile.TemporaryFile())
        try:
            with FORK_GATE.forking():  # not while a launch writes a job's executable (see forkgate)
                proc = subprocess.Popen(argv, cwd=str(d.dag.node_dir(st.node)), stdin=subprocess.DEVNULL,
                                        stdout=debug[0] if debug else d.log.fileno(),
                                        stderr=debug[1] if debug else subprocess.STDOUT, start_new_session=True,
                                        env={**os.environ, OWNER_VAR: owner}, preexec_fn=die_with_parent())
        except OSError as err:
            d.processes.forget(owner)
            d.log(f"{kind} script of node {st.node.name} could not start: {err}")
            self.done(st, kind, 1 if not isinstance(err, FileNotFoundError) else 127)
            return
        self.running[kind] += 1
        d.processes.watch(proc, owner, lambda code, signum, _rusage: self._exited(st, kind, code, signum, debug, command),
                          lambda reason: self._stopped(st, kind, reason))

    def _write_debug(self, st: NodeState, kind: str, code: Optional[int], signum: Optional[int],
                     captured: tuple, command: str) -> None:
        """SCRIPT DEBUG: the manual's "capture a script's specified standard output streams
        (STDOUT and/or STDERR) and write them to a specified debug file", appended, after
        condor_dagman's header line (script.cpp, ``Script::WriteDebug``)."""
        script = st.node.pre if kind == "PRE" else st.node.post
        assert script is not None and script.debug_file is not None
        what = f"Signal={signum}" if signum is not None else f"ExitCode={code}"
        text = f"*** Node={st.node.name} Type={kind} {what} Completion={int(time.time())} Cmd='{command}'\n".encode()
        for handle, stream in zip(captured, ("STDOUT", "STDERR")):
            if script.debug_type in (stream, "ALL"):
                handle.seek(0)
                text += handle.read()
            handle.close()
        path = Path(script.debug_file)
        if not path.is_absolute():
            path = self.dagman.dag.node_dir(st.node) / path
        try:
            with open(path, "ab") as fh:
                fh.write(text)
        except OSError as err:
            self.dagman.log(f"ERROR: Failed to open {path} to write {kind} script output for {st.node.name}: {err}")

    def _exited(self, st: NodeState, kind: str, code: Optional[int], signum: Optional[int],
                debug: Optional[tuple] = None, command: str = "") -> None:
        if debug is not None:
            self._write_debug(st, kind, code, signum, debug, command)
        self.running[kind] -= 1
        self.done(st, kind, code if code is not None else -signum)  # type: ignore[operator]
        if self.waiting[kind]:
            self.start(self.dagman.by_name[self.waiting[kind].pop(0)], kind)

    def _stopped(self, st: NodeState, kind: str, reason: str) -> None:
        self.running[kind] -= 1
        st.details = f"stopped ({reason})"
        self.dagman.log(f"Node {st.node.name}: {kind} stopped ({reason})")

    @staticmethod
    def jobstate_id(st: NodeState, kind: str) -> str:
        return f"{st.cluster}.0" if kind == "POST" and st.cluster else "-"

    def done(self, st: NodeState, kind: str, code: int) -> None:
        d = self.dagman
        node = st.node
        script = node.pre if kind == "PRE" else node.post
        if script is not None and script.defer_status is not None and code == script.defer_status:
            d.log(f"Deferring {kind} script of node {node.name} for {script.defer_time} s (DEFER {code})")
            heapq.heappush(self.deferred, (time.time() + script.defer_time, st.order, node.name, kind))
            return
        ok = "SUCCESS" if code == 0 else "FAILURE"
        if kind == "POST":
            d.jobstate.event(node.name, "POST_SCRIPT_TERMINATED", self.jobstate_id(st, kind))
        d.jobstate.event(node.name, f"{kind}_SCRIPT_{ok}", self.jobstate_id(st, kind))
        if kind == "PRE":
            d.pre_done(st, code)
        else:
            d.post_done(st, code)

    def start_deferred(self) -> None:
        now = time.time()
        while self.deferred and self.deferred[0][0] <= now:
            _, _, name, kind = heapq.heappop(self.deferred)
            self.start(self.dagman.by_name[name], kind)
