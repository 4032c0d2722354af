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


_FS_FIXES = {
    "EACCES": "no permission: choose a folder you can write, or change its permissions",
    "EPERM": "not permitted: choose a folder you can write, or change its permissions",
    "EROFS": "the file system is read-only: choose a folder on a writable disk",
    "ENOTDIR": "a part of this path is a file, not a folder: choose another path",
    "EISDIR": "this is a folder where a file was expected: choose another path",
    "ENAMETOOLONG": "the name is too long for the file system: choose a shorter name",
    "ENOSPC": "the disk is full: free some space or choose another disk",
    "EFBIG": "the file is larger than this system allows (a file size limit, `ulimit -f`): raise the limit or choose another disk",
    "EDQUOT": "the disk quota is exhausted: free some space or choose another disk",
    "ENOENT": "it does not exist: check the path",
    "EEXIST": "it exists already: remove it or choose another path",
    "ENOTEMPTY": "the folder is not empty: choose an empty or new folder",
}


def file_system_error(err: OSError, doing: str, path: object = None) -> UserError:
    """A ``UserError`` for a file-system fault: what failed, on which path, and the fix."""
    import errno as _errno

    name = _errno.errorcode.get(err.errno or 0, "")
    where = str(path if path is not None else (err.filename or ""))
    if err.filename and path is not None and str(err.filename) != str(path):
        where = str(err.filename)
    fix = _FS_FIXES.get(name, "check the path and that the disk is usable")
    return UserError(f"cannot {doing}", [Problem(where, f"{err.strerror or err}; {fix}")])
