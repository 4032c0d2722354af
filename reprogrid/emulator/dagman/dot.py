"""The DOT file DAGMan draws a DAG into (the manual's "Visualizing DAGs"; dag.cpp, DumpDotFile).

``digraph DAG``, a label with the time, the INCLUDE file's lines, one line per node shaped
and labelled by its status, one line per arc. Written when the DAG starts and, with
UPDATE, whenever the node counts change; with DONT-OVERWRITE each write goes to the next
unused ``<file>.<n>``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, List, Optional

from reprogrid.condor.dagcodes import (STATUS_DONE, STATUS_ERROR, STATUS_POSTRUN, STATUS_PRERUN, STATUS_READY,
                                       STATUS_SUBMITTED)
from reprogrid.core.files import write_text_atomic
from reprogrid.emulator.dagman.model import DotSpec, Node

_LOOK = {STATUS_READY: 'shape=ellipse label="{n} (I)"', STATUS_PRERUN: 'shape=ellipse label="{n} (Pre)" style=dotted',
         STATUS_SUBMITTED: 'shape=ellipse label="{n} (R)" peripheries=2',
         STATUS_POSTRUN: 'shape=ellipse label="{n} (Post)" style=dotted',
         STATUS_DONE: 'shape=ellipse label="{n} (Done)" style=bold', STATUS_ERROR: 'shape=box label="{n} (E)"'}
_OTHER = 'shape=ellipse label="{n} (I)"'


class DotFile:
    """Writes the DAG's DOT file(s)."""

    def __init__(self, spec: DotSpec, folder: Path) -> None:
        self.spec = spec
        path = Path(spec.path)
        self.path = path if path.is_absolute() else folder / path
        include = Path(spec.include) if spec.include else None
        self.include = None if include is None else (include if include.is_absolute() else folder / include)
        self.suffix = 0
        self.seen: Optional[tuple] = None

    def update(self, signature: tuple, nodes: Iterable[Node], status_of) -> None:  # noqa: ANN001
        """With UPDATE: draw again when ``signature`` (the node counts) changed."""
        if self.spec.update and signature != self.seen:
            self.seen = signature
            self.write(nodes, status_of)

    def _target(self) -> Path:
        if self.spec.overwrite:
            return self.path
        while Path(f"{self.path}.{self.suffix}").exists():
            self.suffix += 1
        target = Path(f"{self.path}.{self.suffix}")
        self.suffix += 1
        return target

    def write(self, nodes: Iterable[Node], status_of) -> Optional[Path]:  # noqa: ANN001 - name -> status
        """Draw the nodes (with their current status) and their arcs."""
        nodes = list(nodes)
        lines: List[str] = ["digraph DAG {", f'    label="DAGMan Job status at {time.ctime()}";', ""]
        if self.include is not None:
            try:
                extra = self.include.read_text()
            except OSError:
                extra = None
            if extra is not None:
                lines += [f"// Beginning of commands included from {self.spec.include}."]
                lines += extra.splitlines()
                lines += [f"// End of commands included from {self.spec.include}.", ""]
        for node in nodes:
            lines.append(f'    "{node.name}" [' + _LOOK.get(status_of(node.name), _OTHER).format(n=node.name) + "];")
        lines.append("")
        for node in nodes:
            lines += [f'    "{node.name}" -> "{child}";' for child in node.children]
        lines.append("}")
        target = self._target()
        try:
            write_text_atomic(target, "\n".join(lines) + "\n")
        except OSError:
            return None
        return target
