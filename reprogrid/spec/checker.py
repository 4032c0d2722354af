"""The spec checker: typed checks of one field at a time, every problem collected with its path.

:class:`Checker` turns plain data into values or records a :class:`Problem` (the path in
the spec, what was expected, the fix) and goes on, so a spec's every mistake is reported
at once. Also the shared patterns (names, locations, flags, attributes) and the small
helpers every part of the validator uses. The parts are ``validate_workloads``,
``validate_environments`` and ``validate`` (the study).
"""
from __future__ import annotations

import re
import reprlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from reprogrid.core import naming
from reprogrid.core.errors import Problem
from reprogrid.core.text import shown

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


_SAFE_LOCATION = re.compile(r"^[A-Za-z0-9_.:/@%=~+-]+$")


FLAG = re.compile(r"^[a-z0-9_]{1,32}$")


ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|[KMGT]?B?)?\s*$", re.IGNORECASE)


_SIZE_FACTORS_MB = {"": 1, "B": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


class Checker:
    """Collects problems while reading a mapping; each read names its path in the spec."""

    def __init__(self) -> None:
        self.problems: List[Problem] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def mapping(self, value: Any, where: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.problem(where or "(top level)", f"expected a mapping with keys {', '.join(allowed)}, got {show(value)}")
            return {}
        for key in value:
            if key not in allowed:
                from difflib import get_close_matches  # late: only a misspelt key needs it

                close = get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"
                self.problem(join(where, str(key)), f"unknown key{hint}")
        for key in required:
            if key not in value or value[key] is None:
                self.problem(join(where, key), "is required")
        return dict(value)

    def integer(self, value: Any, where: str, minimum: Optional[int] = None, example: str = "4",
                maximum: Optional[int] = 10**9) -> Optional[int]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            else:
                self.problem(where, f"expected a whole number like {example}, got {show(value)}")
                return None
        if minimum is not None and value < minimum:
            self.problem(where, f"must be at least {minimum}, got {show(value)}")
            return None
        if maximum is not None and value > maximum:
            self.problem(where, f"must be at most {maximum:,}, got {show(value)}")
            return None
        return value

    def number(self, value: Any, where: str, example: str = "8.0") -> Optional[float]:
        if value is None:
            return None
        if isinstance(value, bool):
            self.problem(where, f"expected a number like {example}, got {show(value)}")
            return None
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        self.problem(where, f"expected a number like {example}, got {show(value)}")
        return None

    def boolean(self, value: Any, where: str) -> Optional[bool]:
        if value is None or isinstance(value, bool):
            return value
        self.problem(where, f"expected true or false, got {show(value)}")
        return None

    def text(self, value: Any, where: str, pattern: Optional[re.Pattern] = None, rule: str = "", free: bool = False) -> Optional[str]:
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.problem(where, f"expected a string, got {show(value)}")
            return None
        if any(ord(ch) < 32 for ch in value) and not free:
            self.problem(where, "must not contain newlines, tabs or other control characters (they could inject submit commands)")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(where, f"{rule}, got {show(value)}")
            return None
        if "\\" in value and not free:
            self.problem(where, "must not contain a backslash")
            return None
        return value

    def name(self, value: Any, where: str) -> Optional[str]:
        text = self.text(value, where, _NAME, "expected a name of letters, digits, '_', '.', '-' (1-63 characters, starting with a letter or digit)")
        problem = naming.name_problem(text) if text is not None else None
        if problem:
            self.problem(where, f"{problem}, got {show(text)}")
            return None
        return text

    def size_mb(self, value: Any, where: str) -> Optional[int]:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if value <= 0:
                self.problem(where, f"must be positive, got {value}")
                return None
            return value
        match = _SIZE.match(str(value)) if isinstance(value, (str, float)) else None
        if not match:
            self.problem(where, f"expected a size like 8GB, 512MB or a number of megabytes, got {show(value)}")
            return None
        unit = (match.group(2) or "").upper().rstrip("B").rstrip("I")
        megabytes = float(match.group(1)) * _SIZE_FACTORS_MB.get(unit, 1)
        if megabytes < 1:
            self.problem(where, f"is too small ({value}); give at least 1MB")
            return None
        return int(round(megabytes))

    def string_list(self, value: Any, where: str, pattern: re.Pattern, rule: str) -> Tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            self.problem(where, f"expected a list, got {show(value)}")
            return ()
        out = []
        for i, item in enumerate(value):
            text = self.text(item, f"{where}[{i}]", pattern, rule)
            if text is not None:
                out.append(text)
        return tuple(out)

    def entries(self, value: Any, where: str) -> List[Tuple[str, Any]]:
        """A list of entries (each a mapping or, for shorthand, a bare name)."""
        if value is None:
            self.problem(where, "is required: give a list")
            return []
        if not isinstance(value, (list, tuple)):
            self.problem(where, f"expected a list, got {show(value)}")
            return []
        if not value:
            self.problem(where, "must list at least one entry")
        return [(f"{where}[{i}]", item) for i, item in enumerate(value)]


def given(data: Mapping[str, Any], key: str, default: Any) -> Any:
    """``data[key]``, or ``default`` when it is missing or null (``repeats:`` with no value)."""
    value = data.get(key)
    return default if value is None else value


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 60, 60


def show(value: Any) -> str:
    """A short, safe rendering of a user's value (bounded even for huge or shared structures)."""
    if isinstance(value, str):
        text = '"' + (value[:80] if len(value) > 80 else value).replace("\n", "\\n") + '"'
    else:
        text = _REPR.repr(value)
    text = shown(text)
    return text if len(text) <= 60 else text[:57] + "..."


def location(check: Checker, value: Any, where: str, what: str) -> Optional[str]:
    text = check.text(
        value, where, _SAFE_LOCATION,
        f"expected a {what} of letters, digits and . _ - / : @ % = ~ + (no spaces, quotes, commas or '$')",
    )
    return text


def as_list(check: Checker, value: Any, where: str) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        check.problem(where, f"expected a list of paths or URLs, got {show(value)}")
        return []
    return list(value)


def data_input(check: Checker, item: Any, where: str) -> Optional[str]:
    """A data input: a safe local path or a URL of a scheme HTCondor can transfer."""
    text = location(check, item, where, "path or URL")
    if text is None:
        return None
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme and scheme not in ("osdf", "https", "http", "pelican", "file"):
        check.problem(where, f"unsupported URL scheme {scheme!r}; use osdf://, https:// or a local path")
        return None
    return text
