"""The one way a command builds its parser: help formatter, exit-code epilog, the submit target.

Every command adds its parser (and its sub-commands' parsers) through :func:`add_command`,
ends its epilog with :func:`exit_codes`, and takes a rendered study through
:func:`add_submit_target` (a submit folder or its DAG file, resolved by ``_target.resolve``).
"""
from __future__ import annotations

import argparse
from typing import Any, Sequence

BAD_INPUT = "2  bad input (a file, folder or option): the message names it and the fix"
TARGET_NOTE = "SUBMIT_DIR may also be given as its DAG file (submit/mystudy/study.dag).\n"


def add_command(subparsers: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """``subparsers.add_parser(name, ...)`` with the commands' help formatter (epilogs keep their lines)."""
    kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    return subparsers.add_parser(name, **kwargs)


def exit_codes(*lines: str, bad_input: str = BAD_INPUT, after: Sequence[str] = ()) -> str:
    """The ``exit codes:`` block of a command's --help: ``lines`` (0 first), then 2, then ``after``."""
    return "exit codes:\n" + "".join(f"  {line}\n" for line in (*lines, bad_input, *after))


def add_submit_target(parser: argparse.ArgumentParser, dest: str = "submit_dir", *, needs_dag: bool = False) -> None:
    """The positional argument naming a rendered study: its submit folder or its DAG file."""
    what = "submit folder (holding study.dag)" if needs_dag else "submit folder"
    parser.add_argument(dest, metavar="SUBMIT_DIR", help=f"the {what} written by reprogrid render, or its study.dag")
