"""Errors a user can fix: each carries every problem found, with where it is and the fix.

The CLI turns a ``UserError`` into its message on stderr and exit code 2; nothing is
written when one is raised before output starts (writers are atomic, see ``fsutil``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List


@dataclass(frozen=True)
class Problem:
    """One problem in a user's input: ``where`` is a path such as ``hardware[3].gpu.capability``."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass
class UserError(Exception):
    """Bad input from a user (spec, DAG, results folder, pool dump). Exit code 2."""

    summary: str
    problems: List[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary)

    @classmethod
    def of(cls, summary: str, problems: Iterable[Problem]) -> "UserError":
        return cls(summary, list(problems))

    def __str__(self) -> str:
        if not self.problems:
            return self.summary
        lines = [f"{self.summary} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)
