"""The main job: a scaled-down original study, end to end, on this machine.

Renders the ``demo`` preset (every workload, two real software stacks, three emulated CPU
machines, two repeats, bundled sample data, short epochs), provisions its local stacks
(first run only, :mod:`reprogrid.prepare.envs`), runs it through the emulated schedd and
DAGMan, gathers the records, analyses them and writes the report. Each stage is the same
public function a user would call; this module only strings them together.
"""
from __future__ import annotations

import copy
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Set, Union

from reprogrid import emulator, tree
from reprogrid.access.nodestatus import read_node_status
from reprogrid.core.errors import Problem, UserError
from reprogrid.gather import gather, load_dataset
from reprogrid.prepare import envs
from reprogrid.render.study import render_study
from reprogrid.report.html import build_report
from reprogrid.spec import presets
from reprogrid.spec.validate import load_study, study_from_dict

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    submit_dir: Path
    report_html: Path
    summary_md: Path
    runs: int
    complete: int
    failed: int
    seconds: float
    exit_code: int
    #: jobs the emulated schedd ran this time (0 when an earlier demo had finished them all)
    jobs_run: int = 0
    #: True when an earlier, finished demo in the same folder was reused (nothing trained)
    reused: bool = False
    #: the dry run's outcome (None when reused); says "interrupted" and what was not run
    outcome: Optional[object] = None


def provision_stacks(study, *, skip: Set[str] = frozenset(), progress: Optional[bool] = None) -> None:  # noqa: ANN001
    """Build (on the first run) or reuse the demo's local software stacks, saying which."""
    names = [sw.name for sw, _ in envs.local_stacks(study) if sw.name not in skip]
    if not names:
        return
    show = sys.stderr.isatty() if progress is None else progress
    log.info(f"software stacks for {', '.join(names)} (first run: downloaded from the package index into "
        f"{envs.envs_root()}, then reused):")
    envs.build(study, only=names, say=log.info, pip_output=show)


def run_demo(
    out_dir: Union[str, Path] = "reprogrid-demo",
    *,
    slots: Optional[int] = None,
    pythons: Optional[Mapping[str, str]] = None,
    repeats: Optional[int] = None,
    progress: Optional[bool] = None,
    resume: bool = True,
    study: Optional[Mapping] = None,
) -> DemoResult:
    """Render, dry-run, gather and report the demo study under ``out_dir``.

    Re-running resumes: a rendered tree is kept and DAGMan's rescue logic runs only what
    is not done yet. ``pythons`` maps software environments to local interpreters (say
    a Keras 2 TensorFlow for one of them) so two stacks are really compared. A demo
    that finished is not run again: the second call trains nothing (``resume=False``
    starts over). ``study`` replaces the demo preset (a raw study dict, e.g. a tiny one).
    When stderr is not a terminal, one line per finished node is printed there.
    """
    started = time.monotonic()
    out = Path(out_dir)
    submit_dir = out / "submit"
    raw = copy.deepcopy(dict(study)) if study is not None else presets.demo()
    if repeats is not None:
        raw["repeats"] = repeats
    if pythons:
        known = {s["name"] for s in raw["software"]}
        for name, python in pythons.items():
            if name not in known:
                raise UserError("unknown software environment", [Problem(f"--python {name}", f"choose one of {', '.join(sorted(known))}")])
        for software in raw["software"]:
            if software["name"] in pythons:
                software["local_python"] = str(pythons[software["name"]])
    spec = study_from_dict(raw, source="demo preset")
    provision_stacks(spec, skip=set(pythons or ()), progress=progress)
    fresh = not (resume and tree.is_submit_dir(submit_dir))
    if not fresh:
        fresh = load_study(submit_dir / "study.yaml") != spec
    if fresh:
        render_study(spec, submit_dir, force=True)
    dag = submit_dir / tree.DAG_FILE
    reused = not fresh and finished_before(submit_dir)
    run = None if reused else emulator.dryrun(dag, slots=slots, progress=progress)
    if run is not None and run.interrupted:
        return DemoResult(submit_dir=submit_dir, report_html=out / "report" / "report.html",
                          summary_md=out / "report" / "summary.md", runs=spec.run_count, complete=len(run.done),
                          failed=len(run.failed), seconds=time.monotonic() - started, exit_code=run.exit_code,
                          jobs_run=run.jobs_run, outcome=run)
    result = gather(submit_dir, progress=progress)
    df = load_dataset(submit_dir)
    report = build_report(
        df, out / "report", title="reprogrid demo: a scaled-down coakley2022, emulated",
        provenance={"source": str(submit_dir), "counts": result.counts, "emulated": True},
    )
    counts: Dict[str, int] = dict(result.counts)
    return DemoResult(
        submit_dir=submit_dir, report_html=report.html, summary_md=report.markdown,
        runs=spec.run_count, complete=counts.get("complete", 0), failed=counts.get("failed", 0),
        seconds=time.monotonic() - started, exit_code=run.exit_code if run is not None else 0,
        jobs_run=run.jobs_run if run is not None else 0, reused=reused, outcome=run,
    )


def finished_before(submit_dir: Path) -> bool:
    """Whether an earlier run of this submit tree finished every node (DAGMan's node
    status file says so); then resuming has nothing left to run."""
    status = read_node_status(submit_dir / tree.NODE_STATUS_FILE)
    return bool(status and status.complete and status.nodes
                and all(state == "done" for state, _, _ in status.nodes.values()))
