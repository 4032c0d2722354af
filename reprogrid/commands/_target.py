"""What a command was pointed at: a submit folder or its DAG file, resolved and said aloud.

Every command that works on a rendered study (``submit``, ``dryrun``, ``status``,
``gather``, ``report``) takes either ``SUBMIT_DIR`` or ``SUBMIT_DIR/study.dag``;
:func:`resolve` turns either into both and prints, on stderr, one line saying which it
got, so a user never has to guess. Their parsers take it through
``_parser.add_submit_target``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.text import shown


@dataclass(frozen=True)
class Target:
    """The submit folder and DAG file a command works on, and what the user typed."""

    submit_dir: Path
    dag: Path
    given: str  # "submit folder" or "DAG file"


def resolve(path: Union[str, Path], command: str, *, need_dag: bool = True, quiet: bool = False) -> Target:
    """``path`` (a submit folder or a ``.dag`` file) -> :class:`Target`; UserError naming the fix.

    ``need_dag``: a folder must hold ``study.dag`` (dryrun, submit); otherwise a folder
    holding only results or a manifest is enough (status, gather, report).
    """
    p = Path(path)
    if not p.exists():
        raise UserError.of(f"{p} does not exist", [Problem(
            str(p), "not a folder or a DAG file here: pass a submit folder written by reprogrid render "
            "(or its study.dag); "
            "render one with: reprogrid render study.yaml -o DIR")])
    if p.is_dir():
        dag = p / tree.DAG_FILE
        if need_dag and not dag.is_file():
            raise UserError.of(f"no {tree.DAG_FILE} in {p}", [Problem(
                str(dag), "missing: pass a folder written by reprogrid render, or the DAG file itself")])
        target = Target(p, dag, "submit folder")
    elif p.suffix == ".dag" or p.name.startswith(tree.DAG_FILE):
        target = Target(p.parent if str(p.parent) else Path("."), p, "DAG file")
    else:
        raise UserError.of(f"{p} is neither a submit folder nor a DAG file", [Problem(
            str(p), "pass the submit folder written by reprogrid render (e.g. submit/mystudy) "
            "or its DAG file (submit/mystudy/study.dag)")])
    if not quiet:
        say(command, target)
    return target


def say(command: str, target: Target) -> None:
    """One line on stderr: which of the two forms the command got, and what it uses."""
    if target.given == "DAG file":
        text = f"got the DAG file {target.dag}; submit folder {target.submit_dir}"
    else:
        text = f"got the submit folder {target.submit_dir}; DAG {target.dag}"
    print(shown(f"reprogrid {command}: {text}"), file=sys.stderr)  # paths a user typed

