"""``reprogrid init``, ``validate`` and ``render``: from a study spec to a submit tree."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import List, Optional

from reprogrid.core.errors import Problem, UserError
from reprogrid.core.text import shown
from reprogrid.commands._parser import add_command, exit_codes


INIT_EPILOG = """\
examples:
  reprogrid init --preset coakley2022 -o study.yaml   # the original study (780 runs)
  reprogrid init --preset demo -o demo.yaml           # scaled down, bundled sample data
  reprogrid init --preset coakley2022                 # print it instead
  reprogrid init --workload train.py -o study.yaml    # your own script: a command or entry workload
  reprogrid init --workload train.py --metric val_loss --lower-is-better -o study.yaml

With --workload, a script defining main(seed, determinism, data_dir, output_dir) becomes an
entry workload (the job calls it); any other script a command workload (`python train.py`,
which writes $REPROGRID_OUTPUT_DIR/metrics.json). Modules it imports from its own folder are
shipped too. See docs/user-guide.md, "Your own workload".
""" + exit_codes('0  written (or printed)')

VALIDATE_EPILOG = """\
Every problem is reported at once, with its place in the spec and the fix, e.g.
  hardware[3].gpu.capability: expected a number like 8.0, got "eight"
  workloads[0].files[1]: utils.py does not exist in .; shipped files are relative to the spec's folder
  workloads[1].entry: 'main' is not defined at the top level of train.py (it defines train); ...
Your workloads' files are checked, and an entry's function found, without importing them.

Pins are judged against today's OSPool (a built-in, dated description of what it
advertises) unless --pool names a condor_status -json capture or ospool-2022 (the
paper's 2022 pool). Warnings name each hardware environment the pool cannot honour or
cannot tell apart from another, and what to pin instead; placeholders such as YOUR_USER
and local data inputs that do not exist are reported too.
""" + exit_codes('0  valid (warnings do not fail; reprogrid pool check exits 1 on unmatched pins)', bad_input='2  invalid: every problem is listed with its place in the spec and the fix')

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
then: reprogrid dryrun submit/mystudy   (local, schedd emulated)
""" + exit_codes("0  rendered (warnings about pins today's pool cannot honour do not fail)")


POOL_HELP = ("judge the hardware pins against this pool: a condor_status -json capture, today (default: "
             "the built-in, dated description of today's OSPool) or ospool-2022 (the paper's 2022 pool)")
MAX_RUNS_HELP = ("refuse a study of more than N runs (default 100,000, or $REPROGRID_MAX_RUNS): "
                 "a typo in repeats must not render for ever")


def _print_warnings(warnings) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _init_text(args: argparse.Namespace) -> str:
    from reprogrid.spec.presets import preset_yaml

    if args.workload is None:
        return preset_yaml(args.preset or "coakley2022")
    from reprogrid.spec.workload_code import workload_spec_yaml
    from reprogrid.spec.validate import study_from_dict

    if args.preset:
        raise UserError("give --preset or --workload, not both", [Problem("--preset", "drop one of them")])
    script = Path(args.workload)
    if not script.is_file():
        raise UserError(f"{script} does not exist", [Problem("--workload", "give the path of your training script, e.g. --workload train.py")])
    spec_dir = Path(args.output).parent if args.output not in (None, "-") else Path(".")
    if not script.resolve().is_relative_to(spec_dir.resolve()):
        raise UserError(f"{script} is not inside {spec_dir.resolve()}", [Problem(
            "-o", "shipped files are relative to the spec's folder: write the spec in the script's folder (or above it)")])
    try:
        text = workload_spec_yaml(script, spec_dir, metric=args.metric, higher_is_better=not args.lower_is_better,
                                  entry=args.entry, spec_name=Path(args.output).name if args.output not in (None, "-") else "study.yaml")
    except (SyntaxError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {script}", [Problem(str(script), f"{err}; fix the script first")]) from err
    import yaml

    study_from_dict(yaml.safe_load(text), source=f"the spec for {script}", base_dir=spec_dir)  # what we write is valid
    return text


def cmd_init(args: argparse.Namespace) -> int:
    text = _init_text(args)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        raise UserError(f"{out} exists", [Problem(str(out), "pass --force to overwrite it, or choose another -o")])
    from reprogrid.core.files import write_text_atomic  # late: validate writes nothing

    write_text_atomic(out, text)
    what = f"workload {args.workload}" if args.workload else f"preset {args.preset or 'coakley2022'}"
    print(f"wrote {shown(out)} ({what}); next: reprogrid validate {shlex.quote(str(out))} && "
          f"reprogrid render {shlex.quote(str(out))} -o submit/{shlex.quote(out.stem)}")
    return 0


def pool_warnings(study, pool: Optional[str], base_dir: Path) -> List[str]:  # noqa: ANN001
    """What validate and render warn about beyond the spec itself: pins judged against
    today's OSPool (or ``--pool``), placeholders and missing local inputs."""
    from reprogrid.condor.ospool_today import pool_ads
    from reprogrid.access.poolcheck import pool_findings
    from reprogrid.spec.validate import input_warnings

    ads, label = pool_ads(pool)
    print(f"pins judged against: {label}", file=sys.stderr)
    return pool_findings(study, ads, label) + input_warnings(study, base_dir)


def cmd_validate(args: argparse.Namespace) -> int:
    from reprogrid.render.pins import study_warnings
    from reprogrid.spec.validate import load_study

    study = load_study(args.spec, max_runs=args.max_runs)
    _print_warnings(study_warnings(study) + pool_warnings(study, args.pool, Path(args.spec).parent))
    runs = study.runs()
    print(
        f"{args.spec}: valid. {len(runs)} runs = {len(study.workloads)} workloads x "
        f"{len(study.software)} software x {len(study.hardware)} hardware x {study.repeats} repeats"
    )
    for w in study.workloads:
        if w.kind != "builtin":
            shipped = f"; ships {', '.join(w.files)}" if w.files else ""
            print(f"  {w.name}: {w.kind} {' '.join(w.command) if w.command else w.entry}{shipped}; "
                  f"primary metric {w.primary_metric} ({'higher' if w.higher_is_better else 'lower'} is better)")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from reprogrid.render.study import render_study
    from reprogrid.spec.validate import load_study

    spec = Path(args.spec)
    study = load_study(spec, max_runs=args.max_runs)
    out = Path(args.output) if args.output else Path("submit") / study.study_id
    extra = pool_warnings(study, args.pool, spec.parent)
    result = render_study(study, out, template_dir=args.templates, base_dir=spec.parent, force=args.force,
                          max_runs=args.max_runs)
    _print_warnings(list(result.warnings) + extra)
    print(f"rendered {result.runs} runs into {shown(out)}/")
    print(f"  on an access point: condor_submit_dag {shlex.quote(str(result.dag_file))}")
    print(f"  here, emulated:     reprogrid dryrun {shlex.quote(str(result.dag_file))}")
    return 0


def register(subparsers, only: Optional[str] = None) -> None:
    """Add the parsers of ``init``, ``validate`` and ``render`` (or of the one named ``only``)."""
    for name, add in (("init", _add_init), ("validate", _add_validate), ("render", _add_render)):
        if only in (None, name):
            add(subparsers)


def _add_init(subparsers) -> None:
    from reprogrid.spec.presets import PRESETS

    p = add_command(subparsers, "init", help="write a study spec from a preset", epilog=INIT_EPILOG,
                    description="Write a study spec (YAML) from a preset, to edit and render.")
    p.add_argument("--preset", choices=sorted(PRESETS), help="which study to start from (default: coakley2022)")
    p.add_argument("--workload", metavar="SCRIPT", help="write a study around your own training script instead of a preset")
    p.add_argument("--entry", metavar="FUNCTION", help="with --workload: the function the job calls (default: detected)")
    p.add_argument("--metric", default="accuracy", help="with --workload: the primary metric your code reports (default accuracy)")
    p.add_argument("--lower-is-better", action="store_true", help="with --workload: a lower metric is better (a loss)")
    p.add_argument("-o", "--output", help="file to write (default: print to stdout)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_init)


def _add_validate(subparsers) -> None:
    p = add_command(subparsers, "validate", help="check a study spec; list every problem with its fix", epilog=VALIDATE_EPILOG,
                    description="Validate a study spec without writing anything.")
    p.add_argument("spec", help="the study YAML file")
    p.add_argument("--pool", metavar="FILE|today|ospool-2022", default=None, help=POOL_HELP)
    p.add_argument("--max-runs", type=int, metavar="N", help=MAX_RUNS_HELP)
    p.set_defaults(func=cmd_validate)


def _add_render(subparsers) -> None:
    p = add_command(subparsers, "render", help="render a study into a DAG + submit files", epilog=RENDER_EPILOG,
                    description="Render a study spec into a submit tree that condor_submit_dag accepts.")
    p.add_argument("spec", help="the study YAML file")
    p.add_argument("-o", "--output", metavar="DIR", help="submit folder to write (default: submit/<study name>)")
    p.add_argument("--templates", metavar="DIR", help="folder of .j2 templates overriding the built-in ones by name")
    p.add_argument("--force", action="store_true", help="replace a previous rendering even if it holds results")
    p.add_argument("--pool", metavar="FILE|today|ospool-2022", default=None, help=POOL_HELP)
    p.add_argument("--max-runs", type=int, metavar="N", help=MAX_RUNS_HELP)
    p.set_defaults(func=cmd_render)
