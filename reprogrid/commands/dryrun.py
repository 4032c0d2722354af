"""``reprogrid dryrun``: run a DAG here with the schedd and DAGMan emulated (or just plan it)."""
from __future__ import annotations

import argparse

ORDER = 45

EPILOG = """\
Runs every node of the DAG on this machine with DAGMan's semantics: PRE/POST scripts,
VARS, RETRY, ABORT-DAG-ON, CATEGORY/MAXJOBS throttles, the FINAL node, a node status
file, job event logs and <dag>.dagman.out. Each job gets its own scratch sandbox with
its transfer_input_files, .job.ad and .machine.ad; outputs come back as condor would
bring them. Container-universe jobs run on the host Python (REPROGRID_PYTHON is set to
the interpreter mapped to the job's software env). On failure a rescue DAG
(<dag>.rescue001, ...) is written; running the same command again resumes from the
newest one and runs only what is left. Ctrl-C stops running jobs and writes the rescue.

One dry run per DAG: <dag>.lock names the running one, and a second exits 2 with its pid.
A dry run that was killed (SIGKILL, a closed laptop) leaves the lock; the next run takes
it over with a note and recovers from <dag>.nodes.log as DAGMan does: nodes whose job
finished are not run again, job ids go on where they stopped. Jobs die with the dry run
that started them, and its scratch folders go with it.

--plan runs nothing: it matches every node's job against the machine inventory (the
built-in one, modelled on the original study's 13 hardware environments, or --pool) and
names the requirement clause that excludes any node matching nothing (exit 1).

examples:
  reprogrid dryrun submit/mystudy/study.dag
  reprogrid dryrun submit/mystudy/study.dag --plan
  condor_status -json > pool.json && reprogrid dryrun study.dag --plan --pool pool.json
  reprogrid dryrun study.dag --slots 4 --python dockerhub-2.8.0=/opt/tf28/bin/python
  reprogrid dryrun study.dag --map-url osdf:///ospool/ap40/data/me=./data
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dryrun", help="run (or --plan) a DAG locally with the schedd and DAGMan emulated",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dag", metavar="DAGFILE", help="the DAG input file (e.g. submit/mystudy/study.dag)")
    parser.add_argument("--plan", action="store_true", help="match jobs to machines, run nothing")
    parser.add_argument("--pool", metavar="FILE", help="machine inventory from `condor_status -json` (default: built-in)")
    parser.add_argument("--slots", type=int, metavar="N", help="local execution slots (default: number of cores)")
    parser.add_argument("--python", action="append", default=[], metavar="SOFTWARE_ENV=PYTHON",
                        help="interpreter for a software env's container jobs (repeatable)")
    parser.add_argument("--map-url", action="append", default=[], metavar="PREFIX=DIR",
                        help="serve URL inputs starting with PREFIX from local folder DIR (repeatable)")
    parser.add_argument("--no-rescue", action="store_true", help="ignore existing rescue DAGs (like -force)")
    parser.set_defaults(func=run)


def _pairs(values, flag):  # noqa: ANN001
    from reprogrid.core.errors import Problem, UserError
    out = {}
    for v in values:
        if "=" not in v or not v.split("=", 1)[0] or not v.split("=", 1)[1]:
            raise UserError(f"bad {flag}", [Problem(flag, f"{v!r}: expected NAME=VALUE")])
        k, val = v.split("=", 1)
        out[k] = val
    return out


def run(args: argparse.Namespace) -> int:
    from reprogrid.run.emulator.driver import dryrun, plan

    if args.plan:
        result = plan(args.dag, pool=args.pool)
        print(result.format())
        return result.exit_code
    outcome = dryrun(args.dag, slots=args.slots, pool=args.pool, pythons=_pairs(args.python, "--python"),
                     map_url=_pairs(args.map_url, "--map-url"), use_rescue=not args.no_rescue)
    if outcome.used_rescue:
        print(f"resumed from {outcome.used_rescue}")
    print(f"{len(outcome.done)} nodes done, {len(outcome.failed)} failed, {len(outcome.futile)} not run "
          f"({outcome.jobs_run} jobs in {outcome.seconds:.1f} s); log: {outcome.dagman_out}")
    if outcome.failed:
        print("failed: " + ", ".join(outcome.failed[:20]) + (" ..." if len(outcome.failed) > 20 else ""))
    if outcome.rescue_file:
        print(f"rescue DAG: {outcome.rescue_file} (run the same command again to resume)")
    return outcome.exit_code
