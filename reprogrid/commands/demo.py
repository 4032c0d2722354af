"""reprogrid demo: the scaled-down original study, end to end, schedd emulated."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from reprogrid.core.text import shown_block
from reprogrid.commands._parser import add_command


EPILOG = """\
what it does (a few minutes on 2 cores once its software stack is provisioned):
  1. renders the `demo` preset: 3 workloads x 2 software stacks x 3 CPU machines x 2 repeats,
     bundled SAMPLE data (not the published datasets), 1-2 epochs. The stacks are real:
     tf-keras3 is this machine's TensorFlow (Keras 3), tf-2.15-keras2 is TensorFlow 2.15
     with Keras 2, which the FIRST run installs into a cached virtualenv (about 600 MB from
     the package index, a few minutes, with progress; see `reprogrid envs list`)
  2. runs the DAG through the emulated schedd + DAGMan: matchmaking against the built-in
     inventory of the 2022 OSPool machines, one sandbox per job, event log, rescue DAG.
     Each emulated machine gives its jobs the thread pools its real host would (64, 80
     and 40 logical CPUs), so thread-pool effects are real; its CPU and GPU are not
  3. gathers the per-run Parquet records, analyses them and writes an HTML report that
     finds the outcome differences and the attributes (software stack, thread pools) that
     explain them

Run it again and it resumes: an interrupted demo runs only what is left, a finished
one runs nothing (it gathers and reports again); --fresh starts over. When stderr is not
a terminal, one line per finished node is printed there instead of a progress bar.

exit codes:
  0  the DAG succeeded (by DAGMan's rule its FINAL node decides; a line on stderr says
     how many runs failed and why); with --strict, only when every run succeeded
  1  the DAG failed, or (--strict) some run failed
  2  bad input (an option): the message names it and the fix
  130 interrupted (Ctrl-C): run the same command again to resume

examples:
  reprogrid demo
  reprogrid demo -o /tmp/demo --slots 2
  reprogrid demo --strict                     # for CI: exit 1 if any run failed
  reprogrid demo --python tf-2.15-keras2=/path/to/tf215-venv/bin/python   # skip the install
"""


def register(subparsers) -> None:
    p = add_command(
        subparsers, "demo", help="run a scaled-down study end to end here (the main job)",
        description="Render, dry-run (schedd emulated), gather and report a scaled-down coakley2022 study.",
        epilog=EPILOG,
    )
    p.add_argument("-o", "--output", default="reprogrid-demo", metavar="DIR", help="where to put the submit tree and report (default: ./reprogrid-demo)")
    p.add_argument("--slots", type=int, default=None, help="parallel job slots (default: number of cores)")
    p.add_argument("--python", action="append", default=[], metavar="SOFTWARE_ENV=PYTHON",
                   help="run a software environment with this interpreter (default: this Python)")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming an earlier demo in DIR")
    p.add_argument("--strict", action="store_true", help="exit 1 when any run failed (for CI)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reprogrid.demo import run_demo
    from reprogrid.core.errors import Problem, UserError

    pythons = {}
    for item in args.python:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UserError("bad --python", [Problem(f"--python {item}", "expected SOFTWARE_ENV=/path/to/python")])
        pythons[name] = path
    print(f"reprogrid demo: a scaled-down coakley2022 study on bundled sample data, in {args.output}/; jobs "
          "matched against the built-in 2022 OSPool inventory (it replays the paper's pool) and run here")
    result = run_demo(args.output, slots=args.slots, pythons=pythons or None, resume=not args.fresh)
    return report_demo(result, strict=args.strict)


def report_demo(result, strict: bool = False) -> int:  # noqa: ANN001
    """Print what the demo did; the exit code (see EPILOG)."""
    import sys

    from reprogrid.commands.dryrun import failure_line, outcome_line

    outcome = result.outcome
    if outcome is not None and outcome.interrupted:
        print(outcome_line(outcome))
        print(f"reprogrid demo: interrupted; run the same command again to resume ({len(outcome.not_run)} "
              "nodes not run)", file=sys.stderr)
        return outcome.exit_code or 130
    summary = Path(result.summary_md).read_text(encoding="utf-8")
    print()
    print(shown_block(summary.strip()))
    print()
    if result.reused:
        print(f"resumed: an earlier demo in {result.submit_dir.parent}/ had finished every run, so nothing was "
              "trained (gathered and reported again; --fresh to start over)")
    elif outcome is not None:
        print(outcome_line(outcome))
    print(f"{result.complete}/{result.runs} runs complete, {result.failed} failed, {result.jobs_run} jobs run, "
          f"in {result.seconds:.0f} s")
    print(f"report:  {result.report_html}")
    print(f"summary: {result.summary_md}")
    print(f"submit tree (condor_submit_dag-ready): {shlex.quote(str(result.submit_dir) + '/study.dag')}")
    line = failure_line(outcome) if outcome is not None else ""
    if line:
        print(f"reprogrid demo: {line}", file=sys.stderr)
    if result.exit_code != 0:
        return 1
    if strict and result.complete < result.runs:
        print(f"reprogrid demo: --strict: {result.runs - result.complete} of {result.runs} runs did not complete",
              file=sys.stderr)
        return 1
    return 0
