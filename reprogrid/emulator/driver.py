"""The emulated schedd and DAGMan: run a DAG on this machine with DAGMan's semantics.

``dryrun(dag_path, ...)`` executes the DAG (picking up the newest rescue DAG), writing
the job event logs, the node status file, ``<dag>.dagman.out`` and, on failure, the
next rescue DAG. ``plan(dag_path, ...)`` runs nothing: it matches every node's job
against the machine inventory and explains the nodes that match nothing.

The driver owns the run's frame: the DAG's lock, recovery after a killed run, the scratch
root and its watchdog; the parts are ``dagman`` (the DAG file, the node state machine),
``schedd`` (queue, matchmaking, holds) and ``starter`` (sandbox, transfers, processes,
event log). What the dry run promises and what it cannot know: docs/dryrun.md.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union


from reprogrid import tree
from reprogrid.condor.inventory import builtin_machine_ads
from reprogrid.condor.pool import load_pool
from reprogrid.prepare.envs import manifest_interpreters
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.text import shown
from reprogrid.emulator.dagman.dagfile import parse_dag
from reprogrid.emulator.starter.executor import Executor, Watchdog, is_local, make_scratch
from reprogrid.emulator.schedd.jobads import JobAdCache, references
from reprogrid.emulator.dagman.recovery import DagLock, last_cluster, recover
from reprogrid.emulator.starter.eventlog import repair_tail
from reprogrid.condor.matchmaking import Matchmaker
from reprogrid.emulator.dagman.rescue import newest_rescue
from reprogrid.emulator.dagman.nodestate import DagOutcome
from reprogrid.emulator.dagman.outputs import Log
from reprogrid.emulator.dagman.scheduler import Scheduler
from reprogrid.emulator.starter.transfer import UrlMapper
from reprogrid.condor.bindings import classad

logger = logging.getLogger(__name__)
PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["dryrun", "plan", "DryRunResult", "PlanResult", "NodePlan", "default_machines", "software_pythons"]


@dataclass
class DryRunResult(DagOutcome):
    """What a dry run did (the scheduler's outcome, plus where its files are).

    ``exit_code`` is what condor_dagman would exit with.
    """

    used_rescue: Optional[Path] = None
    dagman_out: Optional[Path] = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class NodePlan:
    node: str
    slots: int
    hardware_envs: List[str]
    reasons: List[str] = field(default_factory=list)
    note: str = ""
    requested: str = ""  # the hardware environment the job asks for (ReprogridHardwareEnv), if any


@dataclass
class PlanResult:
    nodes: List[NodePlan]
    total_slots: int
    autoclusters: int
    machine_groups: int

    @property
    def unmatched(self) -> List[NodePlan]:
        return [n for n in self.nodes if n.slots == 0 and not n.note]

    @property
    def exit_code(self) -> int:
        return 1 if self.unmatched else 0

    def summary(self) -> List[str]:
        """Per requested environment: runs, matching slots and slot kinds, and the first match."""
        envs: Dict[str, List[NodePlan]] = {}
        for n in self.nodes:
            envs.setdefault(n.requested or (n.note and "(no job / local)") or "(not named)", []).append(n)
        width = max([len(k) for k in envs] + [len("environment")])
        lines = [f"{'environment'.ljust(width)}  {'runs':>5}  {'slots':>6}  {'kinds':>5}  first match"]
        for env, nodes in envs.items():
            kinds = sorted({h for n in nodes for h in n.hardware_envs})
            first = next((n for n in nodes if n.slots), None)
            where = (nodes[0].note if nodes[0].note else
                     f"{first.node} -> {', '.join(first.hardware_envs[:3])}" if first else "NOTHING MATCHES")
            lines.append(f"{env.ljust(width)}  {len(nodes):5d}  {max(n.slots for n in nodes):6d}  {len(kinds):5d}  {where}")
        return lines

    def format(self, verbose: bool = True) -> str:
        lines = [f"{len(self.nodes)} nodes, {self.autoclusters} autoclusters, "
                 f"{self.machine_groups} kinds of machine ({self.total_slots} slots)", ""]
        lines += self.summary()
        if not verbose:
            lines += ["", "(the per-node table: add --verbose)"]
            return "\n".join(lines + self._unmatched_lines(verbose=False))
        lines.append("")
        width = max([len(n.node) for n in self.nodes] + [4])
        lines.append(f"{'node'.ljust(width)}  slots  hardware")
        for n in self.nodes:
            where = n.note or (", ".join(n.hardware_envs) if n.hardware_envs else "NOTHING MATCHES")
            lines.append(f"{n.node.ljust(width)}  {n.slots:5d}  {where}")
        return "\n".join(lines + self._unmatched_lines())

    def _unmatched_lines(self, verbose: bool = True) -> List[str]:
        lines: List[str] = []
        if self.unmatched:
            lines += ["", f"{len(self.unmatched)} node(s) match no machine:"]
            seen = set()
            for n in self.unmatched:
                if not verbose and n.requested and n.requested in seen:
                    continue
                seen.add(n.requested)
                lines.append(f"  {n.node}:" if verbose or not n.requested else
                             f"  {n.requested} (e.g. {n.node}):")
                lines += [f"    excluded by: {r}" for r in n.reasons]
        return lines


def default_machines() -> List[classad.ClassAd]:
    """The built-in inventory (``reprogrid.condor.inventory.builtin_machine_ads``)."""
    return list(builtin_machine_ads())


def _machines(pool: Optional[PathLike], machines: Optional[Sequence[classad.ClassAd]]) -> List[classad.ClassAd]:
    if machines is not None:
        return list(machines)
    if pool is not None:
        return load_pool(pool)
    return default_machines()


def software_pythons(dag_path: PathLike, overrides: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Software env -> local interpreter: ``manifest.json`` next to the DAG, then ``overrides``.

    In the manifest an explicit ``local_python`` wins over a provisioned ``local`` stack
    (``reprogrid.prepare.envs``); ``overrides`` (``--python``) win over both.
    """
    submit_dir = Path(dag_path).parent
    manifest = tree.read_manifest(submit_dir) if tree.is_submit_dir(submit_dir) else {}
    out = tree.local_pythons(manifest)
    stacks = manifest_interpreters(manifest.get("software") or {}, skip=set(out) | set(overrides or {}))
    out = {**stacks, **out}
    out.update(overrides or {})
    return out


def dryrun(dag_path: PathLike, *, slots: Optional[int] = None, pool: Optional[PathLike] = None,
           machines: Optional[Sequence[classad.ClassAd]] = None, pythons: Optional[Mapping[str, str]] = None,
           map_url: Optional[Mapping[str, PathLike]] = None, progress: Optional[bool] = None,
           use_rescue: bool = True, scratch_dir: Optional[PathLike] = None,
           lines: Optional[bool] = None) -> DryRunResult:
    """Execute the DAG at ``dag_path`` here, as condor_submit_dag + the schedd would.

    ``slots`` defaults to the number of cores; ``pool`` (a ``condor_status -json`` file)
    or ``machines`` replace the built-in inventory; ``pythons`` maps software env names
    to interpreters (on top of ``manifest.json``'s ``local_python``); ``map_url`` maps URL
    prefixes to local folders for ``osdf://``/``https://`` inputs. The newest rescue DAG
    is used unless ``use_rescue`` is False. ``lines``: one stderr line per finished node
    (default: when no progress bar is drawn, i.e. stderr is not a terminal).
    """
    dag_path = Path(dag_path).absolute()
    # The standard library finds the temporary folder by creating and removing a probe file
    # in it; done before the lock, a SIGKILL of a run that holds the lock cannot leave that
    # probe behind, beside the scratch the watchdog removes (the result is cached).
    tempfile.gettempdir()
    lock = DagLock(dag_path)
    previous = lock.acquire()  # a second dry run of this DAG stops here (exit 2)
    try:
        rescue = newest_rescue(dag_path) if use_rescue else None
        dag = parse_dag(dag_path, rescue=rescue)
        inventory = _machines(pool, machines)
        slot_count = slots if slots is not None else (os.cpu_count() or 1)
        if slot_count < 1:
            raise UserError("bad slot count", [Problem("--slots", "must be at least 1")])
        log = Log(Path(str(dag_path) + ".dagman.out"))
        try:
            if rescue is not None:
                log(f"Using rescue DAG {rescue}")
            recovered = _start_or_recover(dag_path, lock, previous, log)
            outcome = _run(dag, inventory, slot_count, log, recovered, lock,
                           Executor, dict(dag_path=dag_path, pythons=pythons, map_url=map_url,
                                          progress=progress, scratch_dir=scratch_dir, lines=lines))
        finally:
            log.close()
    finally:
        lock.release()
    return DryRunResult(**vars(outcome), used_rescue=rescue, dagman_out=log.path)


def _start_or_recover(dag_path: Path, lock: DagLock, previous: Optional[dict], log: Log):
    """After a killed run (its stale lock taken over), what that run's nodes log says
    finished (DAGMan's recovery mode); None otherwise. The lock records where this run's
    job ids start, for the run after it."""
    nodes_log = Path(str(dag_path) + ".nodes.log")
    repair_tail(nodes_log)
    start = last_cluster(nodes_log)
    if previous is None:
        lock.write(start + 1)
        return None
    note = (f"{lock.path.name} was left by reprogrid dryrun pid {previous.get('pid', '?')}, which is gone: "
            f"taking it over and recovering from {nodes_log.name} (finished nodes are not run again)")
    logger.warning("dryrun: note: %s", shown(note))  # the lock file is data: escaped
    log(note)
    try:
        first = max(1, int(previous.get("first_cluster", 1) or 1))
    except (TypeError, ValueError, OverflowError):  # a damaged lock: recover from the whole nodes log
        first = 1
    lock.write(first)
    return recover(nodes_log, first)


def _run(dag, inventory, slot_count: int, log: Log, recovered, lock: DagLock,  # noqa: ANN001
         executor_type, opts: dict) -> DagOutcome:
    """Run the scheduler with a scratch root and a watchdog that clean up on every exit path."""
    scratch_root = make_scratch(opts["scratch_dir"])
    watchdog = Watchdog(scratch_root, keep_fds=(lock.fd,) if lock.fd is not None else ())
    try:
        executor = executor_type(scratch_root, UrlMapper(opts["map_url"]), software_pythons(opts["dag_path"], opts["pythons"]))
        executor.watchdog = watchdog
        show = sys.stderr.isatty() if opts["progress"] is None else opts["progress"]
        lines = (not show) if opts.get("lines") is None else opts["lines"]
        # job ids keep increasing across runs of one DAG: the scheduler starts above the
        # highest id in the nodes log (read after a killed run's tail was repaired)
        scheduler = Scheduler(dag, inventory, slot_count, executor, log, progress=show, lines=lines)
        if recovered is not None:
            scheduler.recover(recovered)
        return scheduler.run()
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
        watchdog.close()


def plan(dag_path: PathLike, *, pool: Optional[PathLike] = None,
         machines: Optional[Sequence[classad.ClassAd]] = None) -> PlanResult:
    """Match every node's job against the inventory without running anything."""
    dag_path = Path(dag_path).absolute()
    dag = parse_dag(dag_path)
    inventory = _machines(pool, machines)
    mm = Matchmaker(inventory)
    cache = JobAdCache()
    jobs = []
    for node in dag.nodes.values():
        if node.noop or node.subdag is not None:
            jobs.append((node, None))
            continue
        folder = dag.node_dir(node)
        if node.inline is not None:
            source: "Path | str" = node.inline
        else:
            submit = Path(node.submit_file)
            source = submit if submit.is_absolute() else folder / submit
        text = node.inline if node.inline is not None else cache.text(source, node.where)  # type: ignore[arg-type]
        own = {"JOB": node.name, "RETRY": "0", "DAG_STATUS": "0", "FAILED_COUNT": "0",
               "DAG_PARENT_NAMES": ",".join(node.parents)}
        prepend = [(k, v) for k, v in own.items() if references(text, k)]
        prepend += [kv for kv, app in zip(node.vars, node.vars_append) if not app]
        append = [kv for kv, app in zip(node.vars, node.vars_append) if app]
        jobs.append((node, cache.node_ads(source, folder, prepend, append, 1, node.where)[0]))
    mm.note_job_refs(ad for _, ad in jobs if ad is not None)
    groups = mm.groups()
    keys = {}
    per_key: Dict[tuple, tuple] = {}
    rows: List[NodePlan] = []
    for node, ad in jobs:
        if ad is None:
            rows.append(NodePlan(node.name, 0, [], note="NOOP (no job)" if node.noop else "SUBDAG EXTERNAL (a nested DAG)"))
            continue
        if is_local(ad):
            rows.append(NodePlan(node.name, 0, [], note="local universe: runs on the access point"))
            continue
        key = keys.get(id(ad))
        if key is None:
            key = keys[id(ad)] = mm.autocluster_key(ad)
        summary = per_key.get(key)
        if summary is None:
            matching = mm.matching_groups(ad, key)
            summary = per_key[key] = (sum(len(groups[g].members) for g in matching),
                                      sorted({groups[g].hardware_env for g in matching}),
                                      [] if matching else mm.explain(ad))
        row = NodePlan(node.name, summary[0], summary[1], list(summary[2]),
                       requested=str(ad.get("ReprogridHardwareEnv") or ""))
        rows.append(row)
    return PlanResult(nodes=rows, total_slots=len(inventory), autoclusters=len(set(keys.values())),
                      machine_groups=len(groups))
