"""The DAG file's lexer, as condor's ``DagLexer`` (dag_parser.cpp) reads a line.

Logical lines (comments and blanks dropped, backslash continuations joined), tokens
(whitespace separates, quotes group and are removed, a backslash inside quotes escapes
the next character) and VARS ``name="value"`` pairs (the manual: "To use a double quote
mark within a string, escape the double quote mark with the backslash character (\\").
To add the backslash character itself, use two backslashes (\\\\)").
"""
from __future__ import annotations

import re
from typing import List, Tuple

_MACRO_NAME = re.compile(r"^(?:[A-Za-z0-9_]+|\+[A-Za-z_][A-Za-z0-9_]*|My\.[A-Za-z_][A-Za-z0-9_]*)$", re.I)


def raw_lines(text: str) -> List[Tuple[int, str]]:
    """(line number, stripped line) for every line; comments and blanks kept for inline blocks."""
    return [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1)]


def skip(line: str) -> bool:
    return not line or line.startswith("#") or line.startswith("//")


def logical_lines(text: str) -> List[Tuple[int, str]]:
    """Join backslash continuations; drop comments and blank lines. Keeps first line numbers."""
    out: List[Tuple[int, str]] = []
    pending = ""
    start = 0
    for number, line in raw_lines(text):
        if skip(line):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            out.append((start, full))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def tokens(line: str) -> List[str]:
    """Split a DAG line as DAGMan's lexer does: whitespace separates, quotes group (and are removed),
    a backslash inside quotes escapes the next character."""
    out: List[str] = []
    cur: List[str] = []
    have = False
    quote = ""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            if ch == "\\" and i + 1 < n:
                cur.append(line[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
        elif ch in " \t\r":
            if have or cur:
                out.append("".join(cur))
                cur, have = [], False
        elif ch in "\"'":
            quote, have = ch, True
        else:
            cur.append(ch)
        i += 1
    if quote:
        raise ValueError("invalid quoting: no ending quote found")
    if have or cur:
        out.append("".join(cur))
    return out


def _value_token(text: str, i: int) -> Tuple[str, int]:
    """One VARS value from ``text[i:]`` (quoted or not, as DAGMan's lexer reads it)."""
    n = len(text)
    value: List[str] = []
    quote = ""
    quoted_whole = i < n and text[i] in "\"'"
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\" and i + 1 < n:
                value.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
                if quoted_whole:
                    i += 1
                    break
            else:
                value.append(ch)
        elif ch.isspace():
            break
        elif ch in "\"'":
            quote = ch
            if not quoted_whole:
                value.append(ch)
        else:
            value.append(ch)
        i += 1
    if quote:
        raise ValueError("a VARS value has no closing quote")
    return "".join(value), i


def parse_vars(text: str) -> List[Tuple[str, str]]:
    """Parse ``name="value" name2=value2`` as DAGMan's lexer does.

    Values may be quoted with ``"`` or ``'`` (inside, a backslash escapes the next
    character) or unquoted (up to the next whitespace). Raises ``ValueError`` with a
    readable message on bad syntax.
    """
    pairs: List[Tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        j = i
        while j < n and not text[j].isspace() and text[j] != "=":
            if text[j] in "\"'":
                raise ValueError(f"a VARS name may not contain quotes: {text[i:].strip()!r}")
            j += 1
        name = text[i:j]
        while j < n and text[j].isspace():
            j += 1
        if j >= n or text[j] != "=":
            raise ValueError(f'expected name="value" but found {text[i:].strip()!r}')
        j += 1
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise ValueError(f"the VARS macro {name!r} has no value")
        value, j = _value_token(text, j)
        if not name or not _MACRO_NAME.match(name):
            raise ValueError(
                f"bad macro name {name!r}: use letters, digits and underscores (or +Attr / My.Attr)"
            )
        if name.lower().startswith("queue"):
            raise ValueError(f"macro name {name!r} may not begin with 'queue'")
        pairs.append((name, value))
        i = j
    if not pairs:
        raise ValueError('VARS needs at least one name="value"')
    return pairs


def integer(word: str, what: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise ValueError(f"{what} must be an integer, not {word!r}") from None
