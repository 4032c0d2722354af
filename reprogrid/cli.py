"""The ``reprogrid`` command line: a thin layer over the package's public functions.

Each subcommand lives in ``reprogrid/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (taking the parsed
arguments, returning an exit code). Commands are discovered, so a stage adds its command
without touching this file. A ``UserError`` becomes its message on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import List, Optional

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
  reprogrid validate study.yaml
  reprogrid render study.yaml -o submit/mystudy   # DAG + submit files + job bundle
  reprogrid dryrun submit/mystudy                 # run it here, schedd emulated
  condor_submit_dag submit/mystudy/study.dag      # ...or on an OSG access point
  reprogrid gather submit/mystudy && reprogrid report submit/mystudy

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprogrid",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reprogrid {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from reprogrid import commands

    modules = []
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            modules.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(subparsers)
    _plain(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
