"""``reprogrid status``: progress of a submitted or emulated study, optionally followed."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional, Set

from reprogrid.commands._parser import TARGET_NOTE, add_command, exit_codes, add_submit_target
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import not_regular
from reprogrid.core.text import shown_block
from reprogrid.access.status import LOG_NAME, STATUS_NAME, StatusTracker


EPILOG = """\
examples:
  reprogrid status submit/mystudy               # once
  reprogrid status submit/mystudy --watch       # refresh every 30 s until the DAG ends
  reprogrid status submit/mystudy --watch 5 --json

States: done, running, idle (queued), held, failed (after DAGMan's retries, or removed),
waiting (not submitted yet). Read from SUBMIT_DIR/study.dag.status (DAGMan's node
status file) and SUBMIT_DIR/logs/study.log (the job event log), the same for the real
pool and `reprogrid dryrun`. The event log is read incrementally: the reader's position
is kept in logs/.reprogrid-status.json, so a large log is not read again each time.
The same words as report and gather: a run that ended without a record is "failed"
in both (report lists what it cannot analyse as failed or missing, as gather did).
""" + TARGET_NOTE + exit_codes('0  every run is done', '1  some run failed', '3  runs are still pending (waiting, idle, running or held)')


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "status", help="progress of a study: runs done / running / idle / held / failed",
        description="Show how far a submitted (or emulated) study has come, by software and "
                    "hardware environment.",
        epilog=EPILOG)
    add_submit_target(parser, needs_dag=False)
    parser.add_argument("--watch", nargs="?", type=float, const=30.0, default=None, metavar="SECONDS",
                        help="keep updating every SECONDS (default 30) until the DAG is over")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not keep the event-log reader's position in the submit tree")
    parser.set_defaults(func=run)


def _show(progress, as_json: bool, clear: bool) -> None:
    if clear:
        sys.stdout.write("\x1b[H\x1b[2J")
    if as_json:
        print(json.dumps(progress.as_dict()))
    else:
        print(shown_block(progress.describe()))  # node names and hold reasons come from logs: no raw escapes
    sys.stdout.flush()


def _exit_code(progress) -> int:
    if not progress.finished:
        return 3
    return 1 if any(r.state == "failed" for r in progress.runs) else 0


def _check_inputs(submit_dir: Path) -> None:
    """The event log and the node status file, when there, must be files (a FIFO or a link to
    /dev/zero would block or never end)."""
    problems = []
    for path in (submit_dir / LOG_NAME, submit_dir / STATUS_NAME):
        what = not_regular(str(path)) if os.path.lexists(path) else None
        if what:
            problems.append(Problem(str(path), f"is {what}, not a regular file; DAGMan writes a file here: "
                                               "remove it (it is written again) or check the submit folder"))
    if problems:
        raise UserError.of("cannot read the study's logs", problems)


_NODE_KEYWORDS = {"JOB": 1, "FINAL": 1, "PROVISIONER": 1, "SERVICE": 1, "SUBDAG": 2}


def _declared_nodes(dag: Path) -> Optional[Set[str]]:
    """The node names ``dag`` declares (None when that cannot be told: no DAG, INCLUDE, SPLICE)."""
    try:
        lines = dag.read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    names: Set[str] = set()
    for line in lines:
        words = line.split()
        keyword = words[0].upper() if words else ""
        if keyword in ("INCLUDE", "SPLICE"):
            return None
        at = _NODE_KEYWORDS.get(keyword)
        if at is not None and len(words) > at:
            names.add(words[at])
    return names


def _only_declared(progress, declared: Optional[Set[str]]) -> None:  # noqa: ANN001
    """Nodes a log names but the DAG does not declare are not waited for: they are named in a warning."""
    strays = sorted(n for n in progress.other_nodes if declared is not None and n not in declared)
    for name in strays:
        del progress.other_nodes[name]
    if strays:
        progress.warnings.append(f"the logs name {len(strays)} node(s) the DAG does not declare, ignored: "
                                 + ", ".join(strays[:5]) + (" ..." if len(strays) > 5 else ""))


def run(args: argparse.Namespace) -> int:
    from reprogrid.commands._target import resolve

    target = resolve(args.submit_dir, "status", need_dag=False)
    _check_inputs(Path(target.submit_dir))
    tracker = StatusTracker(target.submit_dir, cache=not args.no_cache)
    declared = _declared_nodes(target.dag)
    progress = tracker.update()
    _only_declared(progress, declared)
    if args.watch is None:
        _show(progress, args.json, clear=False)
        return _exit_code(progress)
    interval = max(float(args.watch), 0.5)
    clear = sys.stdout.isatty() and not args.json
    while True:
        _show(progress, args.json, clear)
        if progress.finished:
            return _exit_code(progress)
        if not args.json and not clear:
            print(f"-- next update in {interval:g} s (Ctrl-C to stop)", flush=True)
        time.sleep(interval)
        progress = tracker.update()
        _only_declared(progress, declared)
