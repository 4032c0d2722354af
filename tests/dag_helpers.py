"""Helpers shared by the DAGMan tests: write a DAG's files into a folder, dry-run it."""
from __future__ import annotations

import textwrap
from pathlib import Path

from reprogrid.emulator import dryrun

#: the submit-file head of a local-universe job writing its events to nodes.log
LOCAL = "universe = local\nlog = nodes.log\n"


def write(folder: Path, files: dict) -> None:
    """Write ``{name: text}`` under ``folder`` (text dedented; ``*.sh`` made executable)."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        if name.endswith(".sh"):
            path.chmod(0o755)


def run(folder: Path, dag: str, **kw):
    """Dry-run ``folder/dag``; returns the result and the DAG's dagman.out text."""
    result = dryrun(folder / dag, slots=kw.pop("slots", 2), progress=False, **kw)
    return result, (folder / (dag + ".dagman.out")).read_text()
