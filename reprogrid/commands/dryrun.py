"""``reprogrid dryrun``: run a DAG here with the schedd and DAGMan emulated (or just plan it)."""
from __future__ import annotations

import argparse

ORDER = 45

EPILOG = """\
Runs every node of the DAG on this machine with DAGMan's semantics (checked against
HTCondor's own DAGMan tests; see docs/dryrun.md): PRE/POST scripts and their $macros,
VARS (prepended, as DAGMan does), RETRY, ABORT-DAG-ON, CATEGORY/MAXJOBS throttles, the
FINAL node, multi-proc clusters, SPLICE, INCLUDE, SUBDAG EXTERNAL, the halt file
(touch <dag>.halt), a node status file, JOBSTATE_LOG, job event logs and
<dag>.dagman.out. The exit code is condor_dagman's (1 for a DAG it cannot parse).
A held job cannot wait for condor_release here: it is removed and its node fails
($RETURN -1002, POST runs, RETRY applies). Each job gets its own scratch sandbox with
its transfer_input_files, .job.ad and .machine.ad; outputs come back as condor would
bring them. Container-universe jobs run on the host Python (REPROGRID_PYTHON is set to
the interpreter mapped to the job's software env: --python, else the spec's local_python,
else its provisioned `local` stack, see `reprogrid envs --help`). Each job gets the
environment its matched machine would give it: OMP_NUM_THREADS and the starter's other
thread variables set to the slot's CPUs, TensorFlow's default pools sized from the
machine's logical CPUs (DetectedCpus). Its instruction set, CPU and GPU stay this host's. On failure a rescue DAG
(<dag>.rescue001, ...) is written; running the same command again resumes from the
newest one and runs only what is left. Ctrl-C stands for condor_rm of the DAGMan job:
running jobs stop, the rescue DAG is written and the FINAL node runs with DAG_STATUS 4
(a second Ctrl-C stops it too).

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
    import sys

    from reprogrid.run.emulator.dagfile import DagParseError
    from reprogrid.run.emulator.driver import dryrun, plan

    try:
        return _run(args, dryrun, plan)
    except DagParseError as err:  # condor_dagman exits 1 when it cannot parse the DAG
        print(f"reprogrid dryrun: {err}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, dryrun, plan) -> int:  # noqa: ANN001
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
