"""reprogrid data fetch|verify|stage: the study's data files, checked, and staged to OSDF."""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from reprogrid.commands._parser import add_command, exit_codes


EPILOG = """\
mnist.npz and imdb.npz come from the Keras datasets bucket and must match the sha256
keras.datasets uses; creditcard.csv needs a Kaggle login (kaggle.com/datasets/
mlg-ulb/creditcardfraud), so give its path or URL. The bundled SAMPLE files are
recognised as samples; nothing made from them is the paper's data.

examples:
  reprogrid data fetch data/ --creditcard ~/Downloads/creditcard.csv
  reprogrid data verify data/
  reprogrid data stage data/ --osdf osdf:///ospool/ap40/data/alice/reprogrid --spec study.yaml
  reprogrid data stage data/ --osdf osdf:///ospool/ap40/data/alice/reprogrid --run

""" + exit_codes('0  fetch/verify: every file (present) checks out; stage: commands printed or run', '1  fetch/verify: a file failed its check (or verify found none); stage: a copy failed')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "data", help="fetch, verify and stage the study's data files", description=__doc__,
        epilog=EPILOG)
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

    fetch = add_command(sub, "fetch", help="download mnist.npz / imdb.npz (verified) and bring in creditcard.csv",
                        epilog=EPILOG)
    fetch.add_argument("folder", metavar="DIR", type=Path)
    fetch.add_argument("--creditcard", metavar="PATH_OR_URL", help="creditcard.csv from Kaggle (a local path or URL)")
    fetch.add_argument("--base-url", metavar="URL", default=None,
                       help="where mnist.npz and imdb.npz are (default: the Keras datasets bucket)")
    fetch.set_defaults(func=run_fetch)

    verify = add_command(sub, "verify", help="check the data files in a folder (canonical, sample, or a problem)",
                         epilog=EPILOG)
    verify.add_argument("folder", metavar="DIR", type=Path)
    verify.set_defaults(func=run_verify)

    stage = add_command(sub, "stage", help="copy verified data files to an OSDF folder; rewrite a spec's inputs",
                        epilog=EPILOG)
    stage.add_argument("folder", metavar="DIR", type=Path)
    stage.add_argument("--osdf", required=True, metavar="URL", help="osdf:///ospool/apXX/data/USER/folder")
    stage.add_argument("--spec", type=Path, metavar="STUDY_YAML", help="also write a copy of this spec with data.inputs on OSDF")
    stage.add_argument("--spec-out", type=Path, metavar="PATH", help="where that copy goes (default: <spec>.osdf.yaml)")
    stage.add_argument("--run", action="store_true", help="run the copies (pelican, osdf or stashcp on PATH) instead of printing them")
    stage.set_defaults(func=run_stage)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _print_checks(checks) -> None:
    width = max([len(c.name) for c in checks] + [4])
    for c in checks:
        print(f"{c.name:<{width}}  {c.status:<17}  {c.detail}")


def run_fetch(args: argparse.Namespace) -> int:
    from reprogrid.prepare import datafiles

    checks = datafiles.fetch(args.folder, base_url=args.base_url or datafiles.DEFAULT_BASE_URL, creditcard=args.creditcard)
    _print_checks(checks)
    if not args.creditcard and not (args.folder / "creditcard.csv").is_file():
        print("creditcard.csv: not fetched (needs a Kaggle login); pass --creditcard PATH_OR_URL")
    return 0 if all(c.ok for c in checks) else 1


def run_verify(args: argparse.Namespace) -> int:
    from reprogrid.prepare import datafiles

    checks = datafiles.verify_dir(args.folder)
    _print_checks(checks)
    present = [c for c in checks if c.status != datafiles.MISSING]
    return 0 if present and all(c.ok for c in present) else 1


def run_stage(args: argparse.Namespace) -> int:
    from reprogrid.prepare import datafiles
    from reprogrid.core.errors import Problem, UserError
    from reprogrid.core.files import write_text_atomic

    tool = datafiles.find_stage_tool()
    commands = datafiles.stage_plan(args.folder, args.osdf, tool or "pelican")
    if args.spec:
        if not args.spec.is_file():
            raise UserError.of("spec not found", [Problem("--spec", f"{args.spec} does not exist")])
        names = [Path(cmd[-1]).name for cmd in commands]
        out = args.spec_out or args.spec.with_name(args.spec.stem + ".osdf.yaml")
        write_text_atomic(out, datafiles.rewrite_spec_inputs(args.spec.read_text(), args.osdf, names))
        print(f"wrote {out} (data.inputs -> {datafiles.normalise_osdf_folder(args.osdf)}/...)")
    if not args.run:
        if tool is None:
            print("# none of pelican, osdf, stashcp is on PATH here; run these on an OSG access point:")
        for argv in commands:
            print(datafiles.format_command(argv))
        return 0
    if tool is None:
        raise UserError.of("cannot stage", [Problem("--run", "none of pelican, osdf, stashcp is on PATH; run this on an OSG access point or drop --run to print the commands")])
    for argv in commands:
        print("+ " + datafiles.format_command(argv), flush=True)
        result = subprocess.run(argv)
        if result.returncode != 0:
            print(f"reprogrid data stage: {argv[0]} exited {result.returncode}; the remaining files were not copied")
            return 1
    return 0
