"""The ``reprogrid`` command line: a thin layer over the package's public functions.

Each subcommand lives in ``reprogrid/commands/<module>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (taking the parsed
arguments, returning an exit code). Commands are registered here, explicitly, in
:data:`COMMANDS` (name, module, one-line summary); a command's module is imported only
when that command runs (or for the full parser), so ``reprogrid --help`` imports no stage.
The CLI owns the output: library code logs through ``logging`` and ``-v``/``-q`` set what
reaches stderr. A ``UserError`` becomes its message on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, NamedTuple, Optional, Sequence

from reprogrid import __version__
from reprogrid.core.errors import UserError
from reprogrid.core.text import shown_block

DESCRIPTION = """\
reprogrid turns a reproducibility study of deep-learning results into HTCondor work,
runs it on the OSPool (or locally, with the schedd emulated) and reports how far the
results move when only the hardware and software environment change.

typical flow:
  reprogrid demo                                 # scaled-down study, end to end, locally
  reprogrid init --preset coakley2022 -o study.yaml
  reprogrid plan --hardware 6 --gpu 2 --into study.yaml   # which machines? from today's pool
  reprogrid validate study.yaml
  reprogrid render study.yaml -o submit/mystudy   # DAG + submit files + job bundle
  reprogrid dryrun submit/mystudy                 # run it here, schedd emulated
  condor_submit_dag submit/mystudy/study.dag      # ...or on an OSG access point
  reprogrid gather submit/mystudy && reprogrid report submit/mystudy
  reprogrid export submit/mystudy -o mystudy.crate.zip   # the study as a checkable RO-Crate

Commands that work on a rendered study take its submit folder or its study.dag.
exit codes (each command's --help says what 0 and 1 mean for it):
  0 success, 1 the work ran but the result is not what was asked for (a failed run, an
  unmatched pin, no successful records), 2 bad input (the message names it and the fix),
  130 interrupted (Ctrl-C)
"""


class _PlainHelp:
    """Mixin for every help formatter: no reST/Markdown backticks in what a terminal shows."""

    def format_help(self) -> str:
        return super().format_help().replace("``", "").replace("`", "")  # type: ignore[misc]


def _plain(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and all its subparsers a help formatter without backtick markup."""
    base = parser.formatter_class
    if not issubclass(base, _PlainHelp):
        parser.formatter_class = type("Plain" + base.__name__, (_PlainHelp, base), {})  # type: ignore[assignment]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                _plain(sub)


class Command(NamedTuple):
    """A subcommand: its name, the module under ``reprogrid.commands`` that registers it, and
    its one-line summary for ``reprogrid --help`` (a test checks it equals the parser's)."""

    name: str
    module: str
    summary: str


#: Every subcommand, in the order ``--help`` lists them.
COMMANDS = (
    Command("demo", "demo", "run a scaled-down study end to end here (the main job)"),
    Command("plan", "plan", "choose hardware (and software) environments that can move a result, from a pool"),
    Command("init", "study", "write a study spec from a preset"),
    Command("validate", "study", "check a study spec; list every problem with its fix"),
    Command("render", "study", "render a study into a DAG + submit files"),
    Command("data", "data", "fetch, verify and stage the study's data files"),
    Command("pool", "pool", "summarise a condor_status -json capture; check a study's hardware pins against it"),
    Command("submit", "submit", "submit a rendered study's DAG to HTCondor (or --print the command)"),
    Command("dryrun", "dryrun", "run (or --plan) a DAG locally with the schedd and DAGMan emulated"),
    Command("status", "status", "progress of a study: runs done / running / idle / held / failed"),
    Command("gather", "gather", "collect per-run results into one Parquet dataset, checked against the manifest"),
    Command("images", "images", "Apptainer images of the software environments: list, build, fill a spec"),
    Command("report", "report", "analyse a dataset and write an HTML report and a Markdown summary"),
    Command("export", "export", "write a gathered study as a Workflow Run RO-Crate (folder or .zip)"),
    Command("envs", "envs", "local software stacks for the containers: build, list, remove"),
    Command("import", "importdata", "import another study's published results into the result schema"),
)


def _chosen(argv: Sequence[str]) -> Optional[str]:
    """The command ``argv`` names (its first word that is not an option), if it is one."""
    names = {c.name for c in COMMANDS}
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in names else None
    return None


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command it names is loaded and given its parser
    (a module of several commands registers the named one's only, through
    ``register(subparsers, only=name)``; the other commands are left out, or listed by name
    and summary when ``argv`` names none, for ``--help`` and the error), without it every
    command's module is (tests, documentation)."""
    parser = argparse.ArgumentParser(
        prog="reprogrid",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reprogrid {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, dest="log_more",
                        help="say more on stderr (debugging detail from every stage); before the command")
    parser.add_argument("-q", "--quiet", action="count", default=0, dest="log_less",
                        help="say less on stderr (-q: warnings and errors only, -qq: errors only); before the command")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv) if argv is not None else None
    module = next((c.module for c in COMMANDS if c.name == chosen), None)
    loaded = set()
    for command in COMMANDS:
        if argv is None or command.name == chosen:
            if command.module not in loaded:
                register = importlib.import_module(f"reprogrid.commands.{command.module}").register
                if argv is None or sum(c.module == module for c in COMMANDS) == 1:
                    register(subparsers)
                else:  # a module of several commands (init, validate, render) builds the named one's parser only
                    register(subparsers, only=chosen)
                loaded.add(command.module)
        elif chosen is None and command.name not in subparsers.choices:  # listed for --help and errors
            subparsers.add_parser(command.name, help=command.summary, add_help=False)
    _plain(parser)
    return parser


def configure_logging(verbose: int = 0, quiet: int = 0) -> None:
    """Send the library's log records to stderr: ``reprogrid: message`` (``-v``: ``module: message``).

    The default shows warnings and the stages' notes (INFO); ``-q`` warnings only, ``-qq``
    errors only; ``-v`` adds DEBUG.
    """
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(max(verbose - quiet, -2), logging.DEBUG)
    logger = logging.getLogger("reprogrid")
    for handler in [h for h in logger.handlers if getattr(h, "_reprogrid_cli", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("reprogrid: %(message)s" if verbose <= 0 else "%(name)s: %(message)s"))
    handler._reprogrid_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(args.log_more, args.log_less)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(shown_block(f"reprogrid {args.command}: {err}"), file=sys.stderr)  # it may quote a log or a spec
        return 2
    except OSError as err:  # a file-system fault no stage turned into a message: still no traceback
        from reprogrid.core.errors import file_system_error

        print(shown_block(f"reprogrid {args.command}: {file_system_error(err, 'complete the command')}"), file=sys.stderr)
        return 2
    except UnicodeDecodeError as err:  # a reader no stage guarded: still exit 2, no traceback
        print(f"reprogrid {args.command}: an input file is not UTF-8 (byte {err.start}: {err.reason}); check the files "
              "the command reads and save them as UTF-8", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"reprogrid {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
