"""reprogrid gather: per-run records of a submit folder -> one checked Parquet dataset."""
from __future__ import annotations

import argparse
import sys

from reprogrid.commands._parser import TARGET_NOTE, add_command, exit_codes, add_submit_target


EPILOG = """\
Every run of manifest.json is classified as complete, failed (with its recorded error),
missing, duplicate or corrupt; records not in the manifest are listed as unexpected.
The dataset (hive-partitioned by workload) and _gather_report.json are replaced
atomically; source files in results/ are only read. Gathering twice gives the same
dataset. The DAG's FINAL node runs this command, so by default it exits 0 whenever it
wrote a dataset, even a partial one; --strict exits 1 unless every run is complete.

examples:
  reprogrid gather submit/mystudy                  # -> submit/mystudy/dataset/
  reprogrid gather submit/mystudy --strict         # exit 1 if anything is not complete
  reprogrid gather submit/mystudy -o /tmp/ds --json   # the full report as JSON on stdout
  python -c "import reprogrid.gather as g; print(g.load_dataset('submit/mystudy'))"

""" + TARGET_NOTE + exit_codes('0  a dataset was written (even a partial one, unless --strict)', '1  --strict: some run is not complete, or a record is unexpected')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "gather", help="collect per-run results into one Parquet dataset, checked against the manifest",
        description=__doc__, epilog=EPILOG)
    add_submit_target(parser, needs_dag=False)
    parser.add_argument("-o", "--output", metavar="DIR", help="dataset folder (default: SUBMIT_DIR/dataset)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any run is failed, missing, duplicate or corrupt, or a record is unexpected")
    parser.add_argument("--json", action="store_true", help="print the gather report as JSON instead of a summary")
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="reader threads (default: 2 x cores, at most 8)")
    parser.add_argument("--progress", action="store_true", default=None, help="draw the progress bar even when stderr is not a terminal")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from reprogrid.gather.collect import gather

    from reprogrid.commands._target import resolve

    target = resolve(args.submit_dir, "gather", need_dag=False)
    result = gather(target.submit_dir, output=args.output, workers=args.workers, progress=args.progress)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(result.summary())
        for line in _lock_lines(result.software, target.submit_dir, args.output):
            print(line)
    if args.strict and not result.ok:
        return 1
    return 0


def _lock_lines(software, submit_dir, output) -> list:  # noqa: ANN001
    """Per software environment with a stack lock (``software``: the manifest's): ran as
    declared, or what differed."""
    locks = {str(n): dict(e["lock"]) for n, e in software.items() if isinstance(e, dict) and e.get("lock")}
    if not locks:
        return []  # before the imports below: they load pandas, which a study without locks never needs
    from reprogrid.gather.dataset import load_dataset
    from reprogrid.core.errors import UserError
    from reprogrid.analysis.locks import compare_with_locks, lock_sentence
    try:
        df = load_dataset(output or submit_dir)
    except (UserError, OSError):  # no dataset (nothing gathered): nothing to compare
        return []
    if "distributions_json" not in df.columns:
        return [lock_sentence(r) for r in compare_with_locks(locks, [])]
    return [lock_sentence(r) for r in compare_with_locks(locks, zip(df["software_env"], df["distributions_json"]))]
