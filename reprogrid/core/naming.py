"""Run ids, cell names and slugs: the one place their format is decided.

A cell is ``<workload>--<software>--<hardware>`` (each part the slug of the spec's name),
a run is ``<cell>--r<repeat>``. The same text names the DAG node, the record file and the
dataset row, so it must survive DAGMan: node names may not contain ``.`` (slugs turn it
into ``_``) or ``+``, and ``--`` separates the parts, so no part may contain it or start
or end with ``-``. :func:`run_id` refuses any name :func:`parse_run_id` could not read back
(as ``htcondor2.dags``' formatter refuses node names it cannot parse), so
``parse_run_id(run_id(*x)) == x`` for every name it accepts.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Optional, Tuple

SEPARATOR = "--"
REPEAT_PREFIX = "r"
#: The run id of a cell's repeat as a %-template (``%(r)d`` the repeat): renderers that
#: write 100,000 runs format it once per cell and once per run.
RUN_ID_SUFFIX_TEMPLATE = f"{SEPARATOR}{REPEAT_PREFIX}%(r)d"

_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\Z")
_REPEAT = re.compile(rf"{REPEAT_PREFIX}(0|[1-9][0-9]*)\Z")


class RunName(NamedTuple):
    """The parts of a run id (slugs, as they appear in the id)."""

    workload: str
    software: str
    hardware: str
    repeat: int


def slug(name: str) -> str:
    """The id form of a name: ``.`` becomes ``_`` (DAGMan refuses dots in node names)."""
    return name.replace(".", "_")


def name_problem(name: str) -> Optional[str]:
    """Why the slug of ``name`` cannot be a part of a run id (None when it can)."""
    part = slug(name)
    if SEPARATOR in part:
        return f"must not contain '{SEPARATOR}' (it separates the parts of run ids)"
    if not _PART.match(part):
        return ("must be letters, digits, '_', '.' and '-', neither starting nor ending with '-' "
                f"('{SEPARATOR}' separates the parts of run ids; DAG node names refuse '+')")
    return None


def _check_part(part: str, what: str) -> str:
    problem = name_problem(part)
    if problem or part != slug(part):
        raise ValueError(f"{what} {part!r} cannot be part of a run id: it {problem or 'must be a slug (no .)'}")
    return part


def cell_name(workload: str, software: str, hardware: str) -> str:
    """The cell of three spec names (each slugged); ``ValueError`` if one cannot be read back."""
    parts = [_check_part(slug(name), what) for name, what in
             ((workload, "workload"), (software, "software environment"), (hardware, "hardware environment"))]
    return SEPARATOR.join(parts)


def run_id(cell: str, repeat: int) -> str:
    """The run id of ``cell``'s repeat ``repeat``; ``ValueError`` for a cell or repeat that cannot be parsed back."""
    parse_cell(cell)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 0:
        raise ValueError(f"a repeat is a whole number >= 0, got {repeat!r}")
    return f"{cell}{SEPARATOR}{REPEAT_PREFIX}{repeat}"


def format_run_id(name: RunName) -> str:
    """The run id of ``name`` (the inverse of :func:`parse_run_id`)."""
    return run_id(cell_name(name.workload, name.software, name.hardware), name.repeat)


def parse_cell(cell: str) -> Tuple[str, str, str]:
    """(workload, software, hardware) slugs of a cell name; ``ValueError`` if it is not one."""
    parts = cell.split(SEPARATOR)
    if len(parts) != 3:
        raise ValueError(f"{cell!r} is not a cell name (<workload>{SEPARATOR}<software>{SEPARATOR}<hardware>)")
    for part, what in zip(parts, ("workload", "software environment", "hardware environment")):
        _check_part(part, what)
    return parts[0], parts[1], parts[2]


def parse_run_id(text: str) -> RunName:
    """The parts of a run id; ``ValueError`` when ``text`` is not one."""
    cell, sep, repeat = text.rpartition(SEPARATOR)
    match = _REPEAT.match(repeat)
    if not sep or not match:
        raise ValueError(f"{text!r} is not a run id (<cell>{SEPARATOR}{REPEAT_PREFIX}<repeat>)")
    return RunName(*parse_cell(cell), int(match.group(1)))


def cell_of(text: str) -> str:
    """The cell a run id belongs to."""
    name = parse_run_id(text)
    return SEPARATOR.join(name[:3])
