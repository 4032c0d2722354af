"""reprogrid import: published results of other studies -> a dataset gather and report read."""
from __future__ import annotations

import argparse
import shlex

from reprogrid.commands._parser import add_command, exit_codes


EPILOG = """\
sources:
  coakley2022   the per-run table of Coakley, Kirkpatrick, Gundersen (eScience 2022):
                a CSV with one row per training run (columns as in the study's
                published per-run results; see docs/user-guide.md, "Importing")

examples:
  reprogrid import coakley2022 coakley2022_runs.csv -o coakley
  reprogrid import coakley2022 coakley2022_runs.csv -o coakley --paper-only   # the paper's 780 runs
  reprogrid report coakley -o coakley-report
  reprogrid import crate their-study.crate.zip -o theirs

""" + exit_codes('0  imported')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "import", help="import another study's published results into the result schema",
        description=__doc__, epilog=EPILOG)
    sources = parser.add_subparsers(dest="source", metavar="SOURCE")
    coakley = add_command(
        sources, "coakley2022", help="Coakley et al. 2022 per-run CSV", description=__doc__, epilog=EPILOG)
    coakley.add_argument("csv", metavar="CSV", help="coakley2022_runs.csv")
    coakley.add_argument("-o", "--output", required=True, metavar="DIR", help="dataset folder to write (replaced atomically)")
    coakley.add_argument("--paper-only", action="store_true",
                         help="keep the paper's four software environments (780 runs); drop the cuDNN rebuild and Colab runs")
    coakley.set_defaults(func=run)
    crate = add_command(
        sources, "crate", help="the dataset of another reprogrid study's RO-Crate (`reprogrid export`)", description=__doc__,
        epilog=EPILOG)
    crate.add_argument("crate", metavar="CRATE", help="crate folder or .zip")
    crate.add_argument("-o", "--output", required=True, metavar="DIR", help="dataset folder to write (replaced atomically)")
    crate.set_defaults(func=run_crate)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def run(args: argparse.Namespace) -> int:
    from reprogrid.gather.importers import import_coakley2022, write_imported

    df = import_coakley2022(args.csv, paper_only=args.paper_only)
    rows = write_imported(df, args.output, source=str(args.csv))
    print(f"imported {rows} runs ({df['workload'].nunique()} workloads, {df['software_env'].nunique()} software x "
          f"{df['hardware_env'].nunique()} hardware environments) into {args.output}")
    print(f"next: reprogrid report {shlex.quote(str(args.output))}")
    return 0


def run_crate(args: argparse.Namespace) -> int:
    from reprogrid.export import dataset_dir, open_crate
    from reprogrid.gather.dataset import load_dataset
    from reprogrid.gather.importers import write_imported

    with open_crate(args.crate) as folder:
        df = load_dataset(dataset_dir(folder))
    rows = write_imported(df, args.output, source=str(args.crate))
    print(f"imported {rows} runs of {df['study_name'].nunique()} study from the crate {args.crate} into {args.output}")
    print(f"next: reprogrid report {shlex.quote(str(args.output))}")
    return 0
