"""``reprogrid demo``: the scaled-down original study, end to end, schedd emulated."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from reprogrid.core.text import shown_block

ORDER = 1

EPILOG = """\
what it does (a few minutes on 2 cores):
  1. renders the `demo` preset: 3 workloads x 2 containers x 3 CPU environments x 2 repeats,
     bundled SAMPLE data (not the published datasets), 1-2 epochs
  2. runs the DAG through the emulated schedd + DAGMan: matchmaking against the built-in
     inventory of the 2022 OSPool machines, one sandbox per job, event log, rescue DAG
  3. gathers the per-run Parquet records, analyses them and writes an HTML report

Every job runs on THIS machine: the hardware environments are emulated, so the report
compares what this machine can compare (map a container to another local TensorFlow with
--python to see a real software difference). Run it again to resume after an interruption.

examples:
  reprogrid demo
  reprogrid demo -o /tmp/demo --slots 2
  reprogrid demo --python dockerhub-2.9.1=/path/to/tf215-venv/bin/python
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="run a scaled-down study end to end here (the main job)",
        description="Render, dry-run (schedd emulated), gather and report a scaled-down coakley2022 study.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-o", "--output", default="reprogrid-demo", metavar="DIR", help="where to put the submit tree and report (default: ./reprogrid-demo)")
    p.add_argument("--slots", type=int, default=None, help="parallel job slots (default: number of cores)")
    p.add_argument("--python", action="append", default=[], metavar="SOFTWARE_ENV=PYTHON",
                   help="run a software environment with this interpreter (default: this Python)")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming an earlier demo in DIR")
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
    print(f"reprogrid demo: a scaled-down coakley2022 study on bundled sample data, in {args.output}/")
    result = run_demo(args.output, slots=args.slots, pythons=pythons or None, resume=not args.fresh)
    summary = Path(result.summary_md).read_text(encoding="utf-8")
    print()
    print(shown_block(summary.strip()))
    print()
    print(f"{result.complete}/{result.runs} runs complete, {result.failed} failed, in {result.seconds:.0f} s")
    print(f"report:  {result.report_html}")
    print(f"summary: {result.summary_md}")
    print(f"submit tree (condor_submit_dag-ready): {shlex.quote(str(result.submit_dir) + '/study.dag')}")
    return 0 if result.exit_code == 0 else 1
