"""Escaping of values taken from data for where they are written: terminal, Markdown, CSV.

A CPU model, a title or an error message comes from a record or a spec a user (or a job
on a remote machine) wrote; printed or written raw it can move the cursor, hide text,
run inline HTML in a Markdown viewer or a formula in a spreadsheet. HTML markup is
escaped where the report builds it; :func:`document` makes a whole written page (HTML,
Markdown) free of control characters, and the other helpers cover the other destinations.
"""
from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def _escape_control(match: "re.Match[str]") -> str:
    ch = match.group(0)
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: Any) -> str:
    """``value`` as text safe for a terminal: control characters (ESC, CR, BEL, bidi
    overrides, ...) are written as visible ``\\xNN`` escapes; tabs and newlines too."""
    text = str(value)
    return _CONTROL.sub(_escape_control, text).replace("\t", "\\t").replace("\n", "\\n")


def markdown_text(value: Any) -> str:
    """``value`` as literal Markdown inline text: every character Markdown or inline HTML
    would interpret is backslash-escaped (an underscore inside a word cannot start
    emphasis, so ``mnist_convnet`` stays readable), control characters made visible, newlines
    become spaces (a table cell is one line)."""
    text = shown(str(value).replace("\r\n", " ").replace("\n", " "))
    return _MD_SPECIAL.sub(r"\\\1", text)


def csv_cell(value: Any) -> Any:
    """A value safe for a CSV cell opened in a spreadsheet: text starting with ``=``, ``+``,
    ``-``, ``@``, tab or CR is prefixed with ``'`` so it is not run as a formula. Numbers
    and non-text values pass unchanged."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
            return value  # a negative number written as text
        except ValueError:
            return "'" + value
    return value


def shown_block(value: Any) -> str:
    """Several lines of text safe for a terminal: like :func:`shown`, newlines kept."""
    return "\n".join(shown(line) for line in str(value).split("\n"))


_DOCUMENT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def document(text: str) -> str:
    """A whole page (HTML, Markdown) with every control character but newline, tab and CR made
    a visible ``\\xNN`` escape: a page never holds a character a terminal (``cat``) or a
    viewer would act on, whatever record text reached it."""
    return _DOCUMENT_CONTROL.sub(_escape_control, text)
