"""reprogrid export: a gathered study -> a Workflow Run RO-Crate (Provenance Run Crate)."""
from __future__ import annotations

import argparse

from reprogrid.commands._parser import add_command, add_submit_target, exit_codes

EPILOG = """\
The crate holds the study spec, the DAG and submit files, the job bundle, every run's record
(one CreateAction per run, with its status, times, container and the machine's fingerprint),
the gathered dataset, the report and the analysis' answer. It holds no absolute path of this
machine and no secret. Data files are referenced by URL (or name) and sha256, not copied,
unless --include-data. Licence and authors come from the spec's `license` and `authors`.

examples:
  reprogrid export submit/mystudy -o mystudy.crate.zip
  reprogrid export submit/mystudy -o mystudy-crate --include-data
  reprogrid report mystudy.crate.zip                # the same answer, from the crate

""" + exit_codes("0  crate written",
                  bad_input="2  bad input (not a gathered submit folder, an output that is not a crate): the message names it and the fix")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "export", help="write a gathered study as a Workflow Run RO-Crate (folder or .zip)",
        description=__doc__, epilog=EPILOG)
    add_submit_target(parser, needs_dag=False)
    parser.add_argument("-o", "--output", required=True, metavar="CRATE", help="crate folder, or a file ending in .zip")
    parser.add_argument("--include-data", action="store_true", help="copy the data files found here into the crate")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reprogrid.commands._target import resolve
    from reprogrid.export import export_crate

    submit_dir = resolve(Path(args.submit_dir), "export", need_dag=False).submit_dir
    out = export_crate(submit_dir, Path(args.output), include_data=args.include_data)
    print(f"crate: {out}")
    return 0
