"""``reprogrid init``, ``validate`` and ``render``: from a study spec to a submit tree."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import write_text_atomic
from reprogrid.core.text import shown

ORDER = 10

INIT_EPILOG = """\
examples:
  reprogrid init --preset coakley2022 -o study.yaml   # the original study (780 runs)
  reprogrid init --preset demo -o demo.yaml           # scaled down, bundled sample data
  reprogrid init --preset coakley2022                 # print it instead
"""

VALIDATE_EPILOG = """\
Every problem is reported at once, with its place in the spec and the fix, e.g.
  hardware[3].gpu.capability: expected a number like 8.0, got "eight"
Exit codes: 0 valid, 2 invalid. Warnings (pins the pool cannot honour) do not fail.
"""

RENDER_EPILOG = """\
writes, atomically (a failure leaves nothing behind):
  DIR/study.dag            submit it with: condor_submit_dag DIR/study.dag
  DIR/cells/*.sub          one submit description per workload x software x hardware
  DIR/gather.sub           the FINAL node (runs `reprogrid gather` on the access point)
  DIR/bundle/              the job wrapper and the job side as one zipapp
  DIR/manifest.json        every expected run, so gather can tell missing from failed
examples:
  reprogrid render study.yaml -o submit/mystudy
  reprogrid render study.yaml -o submit/mystudy --templates my_templates/   # override any .j2
then: reprogrid dryrun submit/mystudy/study.dag   (local, schedd emulated)
"""


MAX_RUNS_HELP = ("refuse a study of more than N runs (default 100,000, or $REPROGRID_MAX_RUNS): "
                 "a typo in repeats must not render for ever")


def _print_warnings(warnings) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    from reprogrid.spec.presets import preset_yaml

    text = preset_yaml(args.preset)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        raise UserError(f"{out} exists", [Problem(str(out), "pass --force to overwrite it, or choose another -o")])
    write_text_atomic(out, text)
    print(f"wrote {shown(out)} (preset {args.preset}); next: reprogrid render {shlex.quote(str(out))} -o submit/{args.preset}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from reprogrid.render.hardware import study_warnings
    from reprogrid.spec.validate import load_study

    study = load_study(args.spec, max_runs=args.max_runs)
    _print_warnings(study_warnings(study))
    runs = study.runs()
    print(
        f"{args.spec}: valid. {len(runs)} runs = {len(study.workloads)} workloads x "
        f"{len(study.software)} software x {len(study.hardware)} hardware x {study.repeats} repeats"
    )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from reprogrid.render.study import render_study
    from reprogrid.spec.validate import load_study

    spec = Path(args.spec)
    study = load_study(spec, max_runs=args.max_runs)
    out = Path(args.output) if args.output else Path("submit") / study.study_id
    result = render_study(study, out, template_dir=args.templates, base_dir=spec.parent, force=args.force,
                          max_runs=args.max_runs)
    _print_warnings(result.warnings)
    print(f"rendered {result.runs} runs into {shown(out)}/")
    print(f"  on an access point: condor_submit_dag {shlex.quote(str(result.dag_file))}")
    print(f"  here, emulated:     reprogrid dryrun {shlex.quote(str(result.dag_file))}")
    return 0


def register(subparsers) -> None:
    from reprogrid.spec.presets import PRESETS

    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("init", help="write a study spec from a preset", epilog=INIT_EPILOG, formatter_class=fmt,
                              description="Write a study spec (YAML) from a preset, to edit and render.")
    p.add_argument("--preset", choices=sorted(PRESETS), default="coakley2022", help="which study to start from (default: coakley2022)")
    p.add_argument("-o", "--output", help="file to write (default: print to stdout)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_init)

    p = subparsers.add_parser("validate", help="check a study spec; list every problem with its fix", epilog=VALIDATE_EPILOG,
                              formatter_class=fmt, description="Validate a study spec without writing anything.")
    p.add_argument("spec", help="the study YAML file")
    p.add_argument("--max-runs", type=int, metavar="N", help=MAX_RUNS_HELP)
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser("render", help="render a study into a DAG + submit files", epilog=RENDER_EPILOG, formatter_class=fmt,
                              description="Render a study spec into a submit tree that condor_submit_dag accepts.")
    p.add_argument("spec", help="the study YAML file")
    p.add_argument("-o", "--output", metavar="DIR", help="submit folder to write (default: submit/<study name>)")
    p.add_argument("--templates", metavar="DIR", help="folder of .j2 templates overriding the built-in ones by name")
    p.add_argument("--force", action="store_true", help="replace a previous rendering even if it holds results")
    p.add_argument("--max-runs", type=int, metavar="N", help=MAX_RUNS_HELP)
    p.set_defaults(func=cmd_render)
