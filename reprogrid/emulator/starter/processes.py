"""The processes a dry run started, and everything they started: watched, reaped, killed.

Jobs and PRE/POST scripts are started by ``subprocess`` (each in its own session) and
reaped with ``os.wait4`` when their pidfd becomes readable, which also gives their CPU
time and peak memory for the event log.

A job's processes end with the job, as HTCondor's starter ends them. Every child gets
``_REPROGRID_OWNER=<dry run pid>.<n>`` in its environment (HTCondor's starter tracks a
job's family by an environment marker too) and the dry run is a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``, Linux): what a job leaves behind when its leader
exits — ``sleep &``, ``setsid``, double-forked daemons — is reparented to the dry run,
not to init. After a loop's reaps :meth:`Processes.sweep` reads the dry run's own children
(``/proc/<pid>/task/<pid>/children``: what is reparented lands there), and kills and reaps
those whose owner has ended; a process whose owner still runs is left alone. Only a pid
that is neither a watched child nor one of the run's helpers (the watchdog) has its
environment read. An owner counts as running from the moment its marker is handed out, so
a job forked on the pool but not yet watched is never taken for an orphan. The watchdog (``executor.Watchdog``)
kills by the same marker when the dry run itself dies. A process that empties its
environment escapes the marker (as it escapes HTCondor's without cgroups).

A job's launch (its sandbox, input transfers and ``fork_exec``, which waits for the
child's ``exec``: tens of milliseconds on a loaded machine) and sandbox removal (a turn's
sandboxes in one task) are off the loop's path: they run on a small thread pool (the GIL is released
while they wait on the kernel); a launched child, or the fault that stopped it, is handed
back to the loop through a self-pipe that :meth:`Processes.wait` selects on with the
children's pidfds. Launches handed over in a loop's turn go to the pool together, in
:meth:`Processes.wait`, after the ``commit`` hook (the schedd's: the turn's events
written to the logs, the watchdog told) has run, so no job runs before its events are on
disk.
"""
from __future__ import annotations

import collections
import ctypes
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Iterable, List, Optional, Set, Tuple

logger = logging.getLogger(__name__)

OWNER_VAR = "_REPROGRID_OWNER"
PR_SET_CHILD_SUBREAPER = 36
_SWEEP_ROUNDS = 64


@dataclass
class Child:
    """One watched child: a job's leader or a script."""

    proc: subprocess.Popen
    pidfd: int
    owner: str
    on_exit: Callable[[Optional[int], Optional[int], object], None]  # (exit code, signal, rusage)
    on_stop: Callable[[str], None]  # killed by a removal; the reason


class _Pool:
    """A few starter threads taking work from one queue: what a ThreadPoolExecutor does,
    without a Future per task (nothing here waits on one; a launch hands its result back
    through the loop's self-pipe)."""

    def __init__(self, size: int) -> None:
        self._queue: "queue.SimpleQueue[Optional[Callable[[], None]]]" = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"reprogrid-starter-{i}", daemon=True)
                         for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Callable[[], None]) -> None:
        self._queue.put(work)

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            try:
                work()
            except Exception:  # a task must not end its thread; launches return their faults themselves
                logger.exception("reprogrid dryrun: a starter task failed")

    def shutdown(self) -> None:
        """Let the queued tasks finish, then end the threads."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


def set_subreaper(on: bool) -> bool:
    """Make this process a child subreaper (Linux); False where it cannot be one."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def owner_of(pid: int) -> Optional[str]:
    """The ``_REPROGRID_OWNER`` marker in a process's environment (None when absent or gone)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    key = OWNER_VAR.encode() + b"="
    for item in data.split(b"\0"):
        if item.startswith(key):
            return item[len(key):].decode(errors="replace")
    return None


class Processes:
    """The dry run's children: a pidfd watch for each, and the sweep of what they left."""

    def __init__(self, adopt: Callable[[int], None], release: Callable[[int], None],
                 helpers: Iterable[int] = ()) -> None:
        self.pid = os.getpid()
        self.helpers: Set[int] = set(helpers)  # our own children that are no job's (the watchdog)
        self.commit: Callable[[], None] = lambda: None  # run before queued launches go to the pool
        self.prefix = f"{self.pid}."
        self.children: Dict[int, Child] = {}  # pidfd -> child
        self.live: Set[str] = set()  # owners whose leader runs
        self.seq = 0
        self.adopt, self.release = adopt, release
        self._children_file = f"/proc/{self.pid}/task/{self.pid}/children"
        self._children_fd: Optional[int] = None  # kept open: a pread gives the list afresh
        self.subreaper = False
        self.inflight = 0  # spawns handed to the pool, not yet back
        self._started: Deque[Tuple[Tuple, Callable[[Tuple], None]]] = collections.deque()
        self._queued: List[Callable[[], None]] = []  # launches not yet handed to the pool
        self._sweep_due = False
        self._pool: Optional[_Pool] = None
        self._wake_r, self._wake_w = -1, -1

    def __len__(self) -> int:
        return len(self.children) + self.inflight

    # -- off the loop's path ----------------------------------------------------------------------
    def _workers(self) -> _Pool:
        if self._pool is None:
            self._pool = _Pool(4)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
        return self._pool

    def spawn(self, start: Callable[[], Tuple], started: Callable[[Tuple], None]) -> None:
        """Run ``start`` (a job's launch: it returns its faults, it does not raise them) on
        the pool once :meth:`dispatch` hands it over; ``started(its result)`` runs later, in the loop."""
        self._workers()
        self.inflight += 1

        def work() -> None:
            try:
                result: Tuple = start()
            except Exception as err:  # a bug in a launch must reach the loop, not die in the pool
                result = (None, None, f"the starter failed: {type(err).__name__}: {err}")
            self._started.append((result, started))
            try:
                os.write(self._wake_w, b"!")
            except BlockingIOError:
                pass  # the pipe is full: the loop is awake anyway

        self._queued.append(work)

    def dispatch(self) -> None:
        """Run the ``commit`` hook, then hand the queued launches to the pool."""
        self.commit()
        if self._queued:
            queued, self._queued = self._queued, []
            pool = self._workers()
            for work in queued:
                pool.submit(work)

    def background(self, work: Callable[[], None]) -> None:
        """Run ``work`` (a sandbox removal) on the pool; nothing comes back."""
        self._workers().submit(work)

    def _take_started(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while self._started:
            result, started = self._started.popleft()
            self.inflight -= 1
            started(result)

    def _settle_spawns(self) -> None:
        """Wait until every spawn in flight is back (its child then watched or its error handled)."""
        self.dispatch()
        while self.inflight:
            select.select([self._wake_r], [], [], 0.5)
            self._take_started()

    def new_owner(self) -> str:
        """A fresh owner marker for the next child (its environment's ``OWNER_VAR``); it
        counts as running until its child is reaped, or :meth:`forget` when none started."""
        self.seq += 1
        owner = f"{self.prefix}{self.seq}"
        self.live.add(owner)
        return owner

    def forget(self, owner: str) -> None:
        """No child was started for ``owner``."""
        self.live.discard(owner)

    def start(self) -> None:
        self.subreaper = set_subreaper(True)

    def watch(self, proc: subprocess.Popen, owner: str, on_exit: Callable[[Optional[int], Optional[int], object], None],
              on_stop: Callable[[str], None]) -> None:
        self.adopt(proc.pid)
        self.live.add(owner)
        self.children[os.pidfd_open(proc.pid)] = Child(proc, 0, owner, on_exit, on_stop)

    def wait(self, timeout: float) -> None:
        """Dispatch the queued launches, reap the children that ended within ``timeout``
        seconds and run their ``on_exit``, hand the spawns that came back to their
        ``started``; then sweep what the reaped jobs left."""
        self.dispatch()
        fds = list(self.children)
        if self.inflight:
            fds.append(self._wake_r)
        if not fds:
            time.sleep(max(0.0, min(timeout, 0.5)))
            return
        readable, _, _ = select.select(fds, [], [], max(0.0, timeout))
        for fd in readable:
            if fd == self._wake_r:
                self._take_started()
            else:
                self._reap(fd)
        self._sweep_if_due()

    def _sweep_if_due(self) -> None:
        if self._sweep_due:
            self._sweep_due = False
            self.sweep()

    def _reap(self, fd: int) -> None:
        child = self.children.pop(fd)
        self._kill_group(child.proc.pid)  # the leader is a zombie: its pid is still its group's
        _, status, rusage = os.wait4(child.proc.pid, 0)
        child.proc.returncode = os.waitstatus_to_exitcode(status)
        os.close(fd)
        self.release(child.proc.pid)
        self._end_owner(child)
        code, signum = (None, os.WTERMSIG(status)) if os.WIFSIGNALED(status) else (os.WEXITSTATUS(status), None)
        child.on_exit(code, signum, rusage)

    @staticmethod
    def _kill_group(pgid: int) -> None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _end_owner(self, child: Child) -> None:
        """The leader is gone: any orphan of it reparented to us goes too (at the next sweep)."""
        self.live.discard(child.owner)
        self._sweep_due = self.subreaper

    def sweep(self) -> List[int]:
        """Kill and reap our reparented orphans whose owner ended; the pids that were ended."""
        ended: List[int] = []
        known = {c.proc.pid for c in self.children.values()} | self.helpers
        for _ in range(_SWEEP_ROUNDS):
            orphans = [pid for pid in self._own_children() if pid not in known and pid not in ended]
            doomed = [pid for pid in orphans if self._doomed(pid)]
            if not doomed:
                return ended
            for pid in doomed:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            for pid in doomed:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
                ended.append(pid)
        return ended

    def _own_children(self) -> List[int]:
        try:
            if self._children_fd is None:
                self._children_fd = os.open(self._children_file, os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(self._children_fd, 1 << 16, 0)
            while len(data) % (1 << 16) == 0 and data:  # a long list: read on
                more = os.pread(self._children_fd, 1 << 16, len(data))
                if not more:
                    break
                data += more
            return [int(p) for p in data.split()]
        except OSError:
            return []

    def _doomed(self, pid: int) -> bool:
        owner = owner_of(pid)
        if owner is None:
            return _is_zombie(pid) and pid not in _popen_pids()
        return owner.startswith(self.prefix) and owner not in self.live

    def kill_all(self, reason: str, grace: float = 5.0) -> None:
        """Remove everything still running: SIGTERM to each group, SIGKILL after ``grace``."""
        self.kill_some(lambda child: True, reason, grace)

    def kill_some(self, which: Callable[[Child], bool], reason: str, grace: float = 5.0) -> None:
        """Remove the children ``which`` picks, as :meth:`kill_all` does."""
        self._settle_spawns()
        doomed = {fd: child for fd, child in self.children.items() if which(child)}
        for child in doomed.values():
            try:
                os.killpg(child.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        for fd, child in doomed.items():
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            self._kill_group(child.proc.pid)
            child.proc.wait()
            os.close(fd)
            del self.children[fd]
            self.release(child.proc.pid)
            self._end_owner(child)
            child.on_stop(reason)
        self._sweep_if_due()

    def close(self) -> None:
        """The run is over: nothing of ours is left, and we stop being a subreaper (also when
        the last commit fails, e.g. a full disk under a log: the error goes on after it)."""
        try:
            self._settle_spawns()
            self.commit()  # what the last spawns' ends handed over (sandbox removals)
        finally:
            self._stop()

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()  # the last sandbox removals
            self._pool = None
            os.close(self._wake_r)
            os.close(self._wake_w)
        self.live.clear()
        if self.subreaper:
            self.sweep()
            set_subreaper(False)
            self.subreaper = False
        if self._children_fd is not None:
            os.close(self._children_fd)
            self._children_fd = None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _popen_pids() -> Set[int]:
    """Children some ``subprocess.Popen`` of this process still owns (never reaped here)."""
    return {p.pid for p in getattr(subprocess, "_active", None) or []}


__all__ = ["OWNER_VAR", "Processes", "owner_of", "set_subreaper"]
