"""reprogrid dryrun: run a DAG here with the schedd and DAGMan emulated (or just plan it)."""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from reprogrid.commands._parser import add_command, add_submit_target, exit_codes
from reprogrid.core.text import shown, shown_block


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

One dry run per DAG: <dag>.lock names the running one, and a second exits 2 with its pid.
A dry run that was killed (SIGKILL, a closed laptop) leaves the lock; the next run takes
it over with a note and recovers from <dag>.nodes.log as DAGMan does: nodes whose job
finished are not run again, job ids go on where they stopped. Jobs die with the dry run
that started them, and its scratch folders go with it.

When stderr is not a terminal (a CI log, a redirect) one line is printed per finished
node instead of the progress bar.

--plan runs nothing: it matches every node's job against the machine inventory (by
default the built-in 2022 one, modelled on the original study's 13 hardware environments,
which it names on stderr; --pool today or a capture for today's pool),
prints per requested hardware environment the runs, matching slots and kinds of slot
and the first match (the per-node table with --verbose), and names the requirement
clause that excludes any node matching nothing.

""" + exit_codes(
    "0  the DAG succeeded by DAGMan's rule: a DAG with a FINAL node takes the FINAL node's status,\n"
    "     so runs may have failed (a line on stderr says how many and why); with --strict, 0 only\n"
    "     when every node succeeded",
    "1  some node failed (or, with --strict, any run failed); --plan: some node matches no machine",
    after=["130 interrupted (Ctrl-C); run the same command again to resume"]) + """
examples:
  reprogrid dryrun submit/mystudy                  # the submit folder, or its DAG:
  reprogrid dryrun submit/mystudy/study.dag
  reprogrid dryrun submit/mystudy --strict         # exit 1 if any run failed (for CI)
  reprogrid dryrun submit/mystudy --plan [--verbose]
  condor_status -json > pool.json && reprogrid dryrun study.dag --plan --pool pool.json
  reprogrid dryrun study.dag --slots 4 --python dockerhub-2.8.0=/opt/tf28/bin/python
  reprogrid dryrun study.dag --map-url osdf:///ospool/ap40/data/me=./data
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "dryrun", help="run (or --plan) a DAG locally with the schedd and DAGMan emulated",
        description=__doc__, epilog=EPILOG)
    add_submit_target(parser, "dag", needs_dag=True)
    parser.add_argument("--plan", action="store_true", help="match jobs to machines, run nothing")
    parser.add_argument("--verbose", action="store_true", help="with --plan: also the per-node table")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any node failed, even if the FINAL node succeeded (for CI)")
    parser.add_argument("--pool", metavar="FILE|ospool-2022|today",
                        help="machines to match against: a condor_status -json capture, today or ospool-2022. "
                        "--plan judges against the same default pool as validate, render and pool check (today's "
                        "OSPool); running emulates the 2022 pool the paper ran on (which the demo's pins need)")
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
    from reprogrid.emulator.dagman.dagfile import DagParseError
    from reprogrid.emulator.driver import dryrun, plan

    try:
        return _run(args, dryrun, plan)
    except DagParseError as err:  # condor_dagman exits 1 when it cannot parse the DAG
        print(shown_block(f"reprogrid dryrun: {err}"), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, dryrun, plan) -> int:  # noqa: ANN001
    from reprogrid.commands._target import resolve
    from reprogrid.condor.ospool_today import PAPER, pool_ads

    target = resolve(args.dag, "dryrun")
    if args.plan:  # judged against the one default pool (condor/ospool_today.DEFAULT_POOL)
        machines, label = pool_ads(args.pool)
        print(f"reprogrid dryrun: judged against: {label}", file=sys.stderr)
        result = plan(target.dag, machines=machines)
        print(shown_block(result.format(verbose=args.verbose)))  # node names come from the DAG file
        return result.exit_code
    machines, label = pool_ads(args.pool or PAPER)
    print(f"reprogrid dryrun: machines: {label}", file=sys.stderr)
    outcome = dryrun(target.dag, slots=args.slots, machines=machines, pythons=_pairs(args.python, "--python"),
                     map_url=_pairs(args.map_url, "--map-url"), use_rescue=not args.no_rescue)
    if outcome.used_rescue:
        print(f"resumed from {outcome.used_rescue}")
    print(shown_block(outcome_line(outcome)))
    if outcome.failed:
        print(shown("failed: " + ", ".join(outcome.failed[:20]) + (" ..." if len(outcome.failed) > 20 else "")))
    if outcome.rescue_file:
        print(f"rescue DAG: {outcome.rescue_file} (run the same command again to resume)")
    line = failure_line(outcome)
    if line:
        print(shown_block(f"reprogrid dryrun: {line}"), file=sys.stderr)
    if args.strict and outcome.exit_code == 0 and (outcome.failed or outcome.not_run):
        return 1
    return outcome.exit_code


def outcome_line(outcome) -> str:  # noqa: ANN001
    """``N nodes done, F failed, R not run`` (and ``interrupted``), as dryrun and demo print it."""
    head = "interrupted: " if outcome.interrupted else ""
    return (f"{head}{len(outcome.done)} nodes done, {len(outcome.failed)} failed, {len(outcome.not_run)} not run "
            f"({outcome.jobs_run} jobs in {outcome.seconds:.1f} s); log: {outcome.dagman_out}")


def failure_line(outcome) -> str:  # noqa: ANN001
    """How many nodes failed and why, the reasons grouped (job ids left out), or '' when none did."""
    from reprogrid.emulator.failures import grouped_reasons

    if not outcome.failed:
        return ""
    submit_dir = Path(outcome.dagman_out).parent if getattr(outcome, "dagman_out", None) else None
    groups = grouped_reasons(submit_dir, outcome.failed, outcome.reasons)
    total = len(outcome.failed)
    rule = ""
    if outcome.exit_code == 0:
        rule = ("; the DAG still exits 0 because its FINAL node succeeded (DAGMan's rule): "
                "pass --strict to exit 1 when any run failed")
    shown = "; ".join(f"{count} of {total}: {why}" for why, count in groups[:3])
    more = f"; and {len(groups) - 3} other reason(s)" if len(groups) > 3 else ""
    return f"{total} node(s) failed - {shown}{more}{rule}; details in {outcome.dagman_out}"
