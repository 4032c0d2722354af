"""``reprogrid submit``: submit a rendered study's DAG to the schedd (or print the command)."""
from __future__ import annotations

import argparse
import shlex
import sys

from reprogrid.access import submission
from reprogrid.commands._parser import TARGET_NOTE, add_command, exit_codes, add_submit_target


EPILOG = """\
examples:
  reprogrid submit submit/mystudy                   # on an OSG access point
  reprogrid submit submit/mystudy --print           # show the condor_submit_dag command
  reprogrid submit submit/mystudy --maxidle 200 --schedd ap40.uw.osg-htc.org

Then watch it with `reprogrid status submit/mystudy --watch`. On a machine without
HTCondor (a laptop, CI), run the same tree locally with the schedd emulated:
  reprogrid dryrun submit/mystudy

""" + TARGET_NOTE + exit_codes('0  submitted (or, with --print, the command printed)', bad_input='2  bad input, or no HTCondor schedd here: the message names it and the fix')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "submit", help="submit a rendered study's DAG to HTCondor (or --print the command)",
        description="Submit SUBMIT_DIR/study.dag through the HTCondor Python bindings "
                    "(htcondor2.Submit.from_dag + Schedd.submit), as condor_submit_dag would.",
        epilog=EPILOG)
    add_submit_target(parser, needs_dag=True)
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="print the equivalent condor_submit_dag command and exit")
    parser.add_argument("--schedd", metavar="NAME", help="submit to this schedd (default: the local one)")
    parser.add_argument("--maxidle", type=int, metavar="N", help="at most N idle jobs at once")
    parser.add_argument("--batch-name", metavar="NAME", help="batch name (default: reprogrid-<study name>)")
    parser.add_argument("--force", action="store_true", help="overwrite the DAGMan files of an earlier submission and start over "
                        "(without it, a rescue DAG resumes where the last one stopped)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reprogrid.commands._target import resolve

    args.submit_dir = str(resolve(args.submit_dir, "submit").submit_dir)
    dag = submission.find_dag(args.submit_dir)
    options = submission.SubmitOptions(
        batch_name=args.batch_name or submission.batch_name(args.submit_dir),
        max_idle=args.maxidle, force=args.force)
    if args.print_only:
        print(shlex.join(submission.submit_dag_command(dag, options, args.schedd)))
        return 0
    done = submission.submit(args.submit_dir, options, args.schedd)
    print(f"submitted {done.dag} as DAGMan job {done.cluster}")
    print(f"watch it with: {shlex.join(['reprogrid', 'status', str(args.submit_dir), '--watch'])}",
          file=sys.stderr)
    return 0
