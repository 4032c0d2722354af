"""The emulated schedd: the job queue, matchmaking against the machine ads, the user logs.

DAGMan talks to it only as condor_dagman talks to a schedd: :meth:`Schedd.submit` a
cluster (one job ad per proc), and hear back what the job event log says
(:class:`JobEvents`: submitted, executing, held, aborted, terminated) — the emulator
hands the events over in memory instead of DAGMan re-reading the file, but the same
events are written to the user log and the DAG's nodes log first. Removal is
:meth:`Schedd.remove_all` (condor_rm of every job, for an abort or a removal of the DAG).

Idle procs start when a local slot and a matching machine with room are free; the
machine's resources are reserved while the proc runs. A proc that no machine in the
inventory can match, whose ``$$()`` cannot be expanded, or whose sandbox cannot be made
goes on hold; a dry run cannot wait for condor_release, so it is removed at once and
DAGMan sees the aborted event (``$RETURN`` -1002). The starter (``starter.executor``)
runs each proc.

Procs of one submit description share one cached job ad; what differs per proc (cluster,
proc, node: ``jobads.PROC_ATTRS``) is kept beside it in :attr:`Proc.attrs`, and what the
schedd reads from an ad (``jobads.AdFacts``) is worked out once per ad. A turn's events,
the watchdog's news and the sandboxes to remove go out together in :meth:`Schedd.commit`,
which ``starter.processes`` runs before it hands the turn's launches to its pool.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Protocol, Sequence, Tuple

from reprogrid.condor.bindings import ad_number, classad
from reprogrid.condor.matchmaking import Matchmaker, job_requests
from reprogrid.emulator.schedd.jobads import AdFacts, expand_job_ad
from reprogrid.emulator.starter import eventlog
from reprogrid.emulator.starter.executor import Executor, Launch, is_local, remove_sandbox
from reprogrid.emulator.starter.processes import Processes
from reprogrid.emulator.starter.transfer import TransferError

HOLD_BY_DRYRUN = "removed by reprogrid dryrun: a held job waits for condor_release"
_LOCAL_MACHINE = classad.ClassAd({"Name": "local@submit", "Machine": "submit", "ReprogridHardwareEnv": "submit-host"})


@dataclass
class Proc:
    """One job proc of a cluster."""

    ad: classad.ClassAd  # shared by the procs of one submit description: never edited
    index: int
    facts: AdFacts
    attrs: Dict[str, object] = field(default_factory=dict)  # this proc's own attributes (jobads.PROC_ATTRS)
    expanded: bool = False  # ``ad`` is this proc's own copy, its $$() expanded
    machine: Optional[int] = None
    launch: Optional[Launch] = None
    local_slots: int = 0
    owner: str = ""  # the marker of its processes
    code: Optional[int] = None  # exit code; None while running or when aborted
    signum: Optional[int] = None
    finished: bool = False
    aborted: bool = False


@dataclass
class Cluster:
    """One submitted cluster: a DAG node's job(s)."""

    id: int
    node: str
    procs: List[Proc]
    pending: List[int] = field(default_factory=list)  # procs not yet started
    running: int = 0

    @property
    def finished(self) -> bool:
        return not self.pending and self.running == 0 and all(p.finished for p in self.procs)


class JobEvents(Protocol):
    """What the schedd's event log tells DAGMan (condor_dagman reads the same from the file)."""

    def job_event(self, event: str, cluster: Cluster, proc: Proc, note: str = "") -> None: ...

    def cluster_done(self, cluster: Cluster) -> None: ...

    def job_stopped(self, cluster: Cluster, reason: str) -> None: ...


class Schedd:
    """The queue of submitted clusters and the slots, machines and user logs they use."""

    def __init__(self, machines: Sequence[classad.ClassAd], slots: int, executor: Executor, processes: Processes,
                 log, nodes_log: Optional[Path], listener: JobEvents) -> None:  # noqa: ANN001 - log: a callable
        self.slots = max(1, slots)
        self.free_slots = self.slots
        self.executor, self.processes, self.log = executor, processes, log
        self.matchmaker = Matchmaker(machines)
        self.machines = list(machines)
        self.free: List[List[int]] = [
            [ad_number(m.get("Cpus"), 1 << 30), ad_number(m.get("Memory"), 1 << 40), ad_number(m.get("Disk"), 1 << 50),
             ad_number(m.get("GPUs"), 0)] for m in self.machines]
        self.events = eventlog.EventLogs()
        self.nodes_log = nodes_log
        self.listener = listener
        self.idle = 0
        self.running_jobs = 0
        self.jobs_run = 0
        self.freed = False  # a proc ended since the last take_freed(): blocked clusters may fit now
        self._ac_cache: Dict[int, tuple] = {}
        self._facts: Dict[int, AdFacts] = {}  # id(shared ad) -> its facts (which keep the ad alive)
        self._removals: List[Path] = []  # sandboxes to remove, handed to the pool at the commit
        processes.commit = self.commit

    def facts(self, ad: classad.ClassAd) -> AdFacts:
        hit = self._facts.get(id(ad))
        if hit is None or hit.ad is not ad:
            hit = self._facts[id(ad)] = AdFacts(ad, is_local(ad), job_requests(ad))
        return hit

    def commit(self) -> None:
        """The turn's end: its events to the logs, the watchdog told, the sandboxes of
        ended jobs handed to the pool for removal (launches follow, in ``processes``)."""
        self.events.flush()
        self.executor.commit()
        if self._removals:
            paths, self._removals = self._removals, []
            self.processes.background(lambda: [remove_sandbox(p) for p in paths])  # type: ignore[func-returns-value]

    # -- what DAGMan calls ----------------------------------------------------------------------
    def submit(self, node: str, cluster_id: int, ads: List[classad.ClassAd], dag_id: int, parents: str) -> Cluster:
        """condor_submit: one cluster, a submit event per proc."""
        procs = [Proc(ad=ad, index=i, facts=self.facts(ad),
                      attrs={"ClusterId": cluster_id, "ProcId": i, "DAGNodeName": node, "DAGManJobId": dag_id,
                             "DAGParentNodeNames": parents}) for i, ad in enumerate(ads)]
        cluster = Cluster(cluster_id, node, procs, list(range(len(ads))))
        now = time.time()
        for proc in cluster.procs:
            self.write_event(proc.facts.log, eventlog.submit_event(cluster_id, proc.index, node, now))
            self.listener.job_event("ULOG_SUBMIT", cluster, proc)
        self.idle += len(ads)
        return cluster

    def start(self, cluster: Cluster) -> Optional[bool]:
        """Start the cluster's idle procs; None when one must wait for resources."""
        while cluster.pending:
            index = cluster.pending.pop(0)
            if self._start_proc(cluster, cluster.procs[index]) is None:
                cluster.pending.insert(0, index)
                return None
        return True

    def hold_pending(self, cluster: Cluster, reason: str) -> None:
        """Every idle proc of the cluster goes on hold (and is removed)."""
        pending, cluster.pending = cluster.pending, []
        for index in pending:
            self._hold(cluster, cluster.procs[index], reason)

    def remove(self, cluster: Cluster, reason: str) -> None:
        """condor_rm of one cluster: its running procs are killed (an aborted event each)."""
        owners = {p.owner for p in cluster.procs if not p.finished and p.owner}
        self.processes.kill_some(lambda child: child.owner in owners, reason)

    def full(self) -> bool:
        """Every local slot is taken."""
        return self.free_slots == 0

    def flush_logs(self) -> None:
        self.events.flush()

    def close_logs(self) -> None:
        self.events.close()

    def take_freed(self) -> bool:
        freed, self.freed = self.freed, False
        return freed

    def remove_all(self, reason: str) -> None:
        """condor_rm of everything running (jobs and, through the same processes, scripts)."""
        self.processes.kill_all(reason)

    def write_event(self, user: Optional[Path], text: str) -> None:
        """An event to the job's user log and to the DAG's nodes log."""
        if user is not None:
            self.events.write(user, text)
        if self.nodes_log is not None and user != self.nodes_log:
            self.events.write(self.nodes_log, text)

    # -- matching ---------------------------------------------------------------------------------
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

    def _match(self, cluster: Cluster, proc: Proc, local: bool, req: Tuple[int, int, int, int]):  # noqa: ANN202
        """(machine index or None, machine ad) for the proc; None when it waits, False when held."""
        ad = proc.ad
        mi, possible = (None, True) if local else self._pick_machine(ad, req)
        if not possible:
            self._hold(cluster, proc, "no machine in the inventory matches the job: "
                       + "; ".join(self.matchmaker.explain(ad)))
            return False
        if mi is None and not local:
            return None  # matching machines exist but are full: stay idle until one frees up
        machine = self.machines[mi] if mi is not None else _LOCAL_MACHINE
        if proc.facts.machine_refs:
            try:
                own = classad.parseOne(ad.printOld())
                own.update(proc.attrs)  # $$([DAGParentNodeNames]) and the like read the proc's own
                expand_job_ad(own, machine)
                proc.ad, proc.facts, proc.expanded = own, AdFacts(own, proc.facts.local, proc.facts.requests), True
            except ValueError as err:
                self._hold(cluster, proc, f"Failed to expand $$ expression: {err}")
                return False
        return mi, machine

    # -- running procs ---------------------------------------------------------------------------
    def _start_proc(self, cluster: Cluster, proc: Proc) -> Optional[bool]:
        """Run one proc: None when it must wait for resources, False when it went on hold."""
        local, req = proc.facts.local, proc.facts.requests
        need = 0 if local else min(max(1, req[0]), self.slots)
        if need > self.free_slots:
            return None
        matched = self._match(cluster, proc, local, req)
        if not matched:
            return matched
        mi, machine = matched
        slot = f"slot{self.slots - self.free_slots + 1}@{machine.get('Machine', machine.get('Name', 'localhost'))}"
        started = time.time()
        self._launch(cluster, proc, machine, slot, max(1, need), started)
        if mi is not None:
            f = self.free[mi]
            f[0] -= req[0]; f[1] -= req[1]; f[2] -= req[2]; f[3] -= req[3]
        proc.machine, proc.local_slots = mi, need
        cluster.running += 1
        self.free_slots -= need
        self.idle -= 1
        self.running_jobs += 1
        self.write_event(proc.facts.log, eventlog.execute_event(cluster.id, proc.index, slot, started))
        self.listener.job_event("ULOG_EXECUTE", cluster, proc)
        return True

    def _launch(self, cluster: Cluster, proc: Proc, machine: classad.ClassAd, slot: str, cpus: int,
                started: float) -> None:
        """The starter's part, on the pool: sandbox, transfer, spawn. Its faults come back as
        the job's (a hold), never as a crash of the dry run."""
        tag = f"{cluster.node}.{cluster.id}.{proc.index}"
        owner = self.processes.new_owner()
        ad, executor, facts = proc.ad, self.executor, proc.facts
        text = facts.text_for(proc.attrs)

        def work() -> Tuple[Optional[Launch], object, str]:
            try:
                if facts.template is None:  # once per shared job ad (an ad with $$() expanded has facts of its own);
                    facts.template = executor.template(ad)  # two threads may both make it: the same value
                launch = executor.prepare(ad, machine, tag, slot, cpus, owner, text, facts.template)
            except TransferError as err:
                executor.discard(tag)
                return None, None, str(err)
            except OSError as err:
                executor.discard(tag)
                return None, None, f"Failed to create the job's sandbox ({err.filename or tag}): {err.strerror or err}"
            launch.started = started
            try:
                return launch, executor.spawn(launch), ""
            except OSError as err:
                executor.finish(ad, launch, keep_outputs=False)
                return launch, None, f"cannot execute {launch.argv[0]}: {err.strerror or err}"

        self.processes.spawn(work, lambda result: self._spawned(cluster, proc, owner, *result))

    def _spawned(self, cluster: Cluster, proc: Proc, owner: str, launch: Optional[Launch], child, why: str) -> None:  # noqa: ANN001
        """The starter came back: watch the job's process, or put the job on hold with why it could not start."""
        if launch is not None and launch.note:
            self.log(f"Node {cluster.node}: {launch.note}")
        if child is not None:
            proc.launch, proc.owner = launch, owner
            self.processes.watch(child, owner, lambda code, signum, rusage: self._proc_finished(cluster, proc, code, signum, rusage),
                                 lambda reason: self._stopped(cluster, proc, reason))
            return
        self.processes.forget(owner)
        self._release(cluster, proc)
        self.idle += 1  # _hold counts it out again
        self._hold(cluster, proc, why)

    def _remove(self, path: Path) -> None:
        self._removals.append(path)

    def _hold(self, cluster: Cluster, proc: Proc, reason: str) -> None:
        """The job goes on hold. DAGMan would wait for condor_release; a dry run cannot, so the
        job is removed (condor_rm) and DAGMan's handling of an aborted job follows (-1002)."""
        log = proc.facts.log
        self.write_event(log, eventlog.held_event(cluster.id, proc.index, reason))
        self.write_event(log, eventlog.aborted_event(cluster.id, proc.index, HOLD_BY_DRYRUN))
        self.idle -= 1
        proc.aborted = proc.finished = True
        self.listener.job_event("ULOG_JOB_HELD", cluster, proc, reason)
        self.listener.job_event("ULOG_JOB_ABORTED", cluster, proc)
        if cluster.finished:
            self.listener.cluster_done(cluster)

    def _release(self, cluster: Cluster, proc: Proc) -> None:
        self.running_jobs -= 1
        cluster.running -= 1
        self.free_slots += proc.local_slots
        proc.local_slots = 0
        if proc.machine is not None:
            req = proc.facts.requests
            f = self.free[proc.machine]
            f[0] += req[0]; f[1] += req[1]; f[2] += req[2]; f[3] += req[3]
            proc.machine = None
        self.freed = True

    def _proc_finished(self, cluster: Cluster, proc: Proc, code: Optional[int], signum: Optional[int],
                       rusage: Optional[object] = None) -> None:
        log = proc.facts.log
        self._release(cluster, proc)
        held = None
        if proc.launch is not None:
            try:
                self.executor.finish(proc.ad, proc.launch, remove=self._remove)
            except (TransferError, OSError) as err:
                held = str(err)
            proc.launch = None
        rss = int(getattr(rusage, "ru_maxrss", 0)) if rusage is not None else 0
        if rss:
            self.write_event(log, eventlog.image_size_event(cluster.id, proc.index, rss))
        if held is not None:
            self.idle += 1  # _hold counts it out again
            self._hold(cluster, proc, held)
            return
        req = proc.facts.requests
        cpu = (getattr(rusage, "ru_utime", 0.0) + getattr(rusage, "ru_stime", 0.0)) if rusage else 0.0
        self.write_event(log, eventlog.terminated_event(cluster.id, proc.index, code, signum, cpu, req[0], req[1], req[2]))
        self.jobs_run += 1
        proc.code, proc.signum, proc.finished = code, signum, True
        self.listener.job_event("ULOG_JOB_TERMINATED", cluster, proc)
        if cluster.finished:
            self.listener.cluster_done(cluster)

    def _stopped(self, cluster: Cluster, proc: Proc, reason: str) -> None:
        """A proc killed by a removal: an aborted event; DAGMan hears of it as it exits."""
        self.write_event(proc.facts.log, eventlog.aborted_event(cluster.id, proc.index, reason))
        self._release(cluster, proc)
        if proc.launch is not None:
            self.executor.finish(proc.ad, proc.launch, keep_outputs=False, remove=self._remove)
            proc.launch = None
        self.listener.job_stopped(cluster, reason)


__all__ = ["Cluster", "JobEvents", "Proc", "Schedd"]
