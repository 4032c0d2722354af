"""Tables of the report as HTML and Markdown: values a reader can read, and tables that fit.

One place decides how a value is shown: numbers with the precision they deserve (float
residue as an exact 0), booleans as yes / no / unknown, lists and JSON objects as
``name = value`` lists, long ones folded into ``<details>``. No raw JSON reaches a page.
"""
from __future__ import annotations

import html
import json
import math
import re
from typing import Any, List, Optional

import numpy as np
import pandas as pd

from reprogrid.core.text import markdown_text

#: a cell longer than this (characters) is folded: its start shown, the rest in <details>
FOLD_CHARS = 90
#: a list longer than this is folded
FOLD_ITEMS = 4


def is_boolean(value: Any) -> bool:
    """Python's and numpy's booleans (numpy 2 names its type ``bool``, numpy 1 ``bool_``:
    a test of the name misses one of them, and the cell then reads "True")."""
    return isinstance(value, (bool, np.bool_))


def fmt(value: Any, digits: int = 4) -> str:
    """One value as text: floats to ``digits`` significant figures (residue below 1e-12 as 0),
    lists joined, JSON objects as ``name = value`` pairs, missing as empty."""
    if value is None or value is pd.NA:
        return ""
    if is_boolean(value):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if abs(value) < 1e-12:
            return "0"
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(" | ".join(map(str, v)) if isinstance(v, (list, tuple)) else fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} = {fmt(v)}" for k, v in value.items())
    text = str(value)
    if text[:1] in "{[" and text[-1:] in "}]":
        try:
            return fmt(json.loads(text))
        except ValueError:
            return text
    return text


def _items(value: Any, text: Optional[str] = None) -> List[str]:
    """The parts of a long value, for folding (``text``: ``fmt(value)``, when already known)."""
    if isinstance(value, (list, tuple)):
        return [fmt(v) if not isinstance(v, (list, tuple)) else " | ".join(map(str, v)) for v in value]
    text = fmt(value) if text is None else text
    for sep in ("; ", ", "):
        if sep in text:
            return text.split(sep)
    return [text]


def html_cell(value: Any) -> str:
    """A ``<td>``: booleans coloured, unknown greyed, long values folded."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "<td class='na'></td>"
    if is_boolean(value):
        return f"<td class='{'yes' if value else 'no'}'>{'yes' if value else 'no'}</td>"
    text = fmt(value)
    if type(value) is float and len(text) <= 16:  # most cells: digits, a sign, an exponent; nothing to escape, fold or break
        return f"<td>{text}</td>"
    items = _items(value, text)
    if len(text) <= FOLD_CHARS and len(items) <= FOLD_ITEMS:
        return f"<td>{breakable(text)}</td>"
    head = ", ".join(items[:2])[:60]
    body = "".join(f"<li>{breakable(i)}</li>" for i in items)
    return (f"<td><details><summary>{breakable(head)}&hellip; ({len(items)})</summary>"
            f"<ul class='fold'>{body}</ul></details></td>")


def breakable(text: str) -> str:
    """Escaped text where a long word (more than 16 characters between spaces; a name joined
    by _ - / = ,) may wrap after those characters, so that a column can be narrow without
    breaking inside a number."""
    escaped = html.escape(text)
    if len(text) <= 16:  # no long word: the text escaped whole
        return escaped
    if len(escaped) == len(text):  # nothing was escaped: each long word marked in one pass
        return _LONG_WORD.sub(_mark_breaks, text)
    return " ".join(html.escape(w).translate(_BREAKS) if len(w) > 16 else html.escape(w) for w in text.split(" "))


def _mark_breaks(word: re.Match) -> str:
    return word.group().translate(_BREAKS)


#: a word longer than 16 characters (words are split at spaces only)
_LONG_WORD = re.compile(r"[^ ]{17,}")
#: where a long word may wrap: after each of these characters (escaping adds none of them)
_BREAKS = str.maketrans({c: c + "<wbr>" for c in "_/=,-"})


def html_table(df: Optional[pd.DataFrame], columns: Optional[List[str]] = None, limit: int = 300) -> str:
    """A table that fits the page (CSS wraps long words; long cells fold)."""
    if df is None or df.empty:
        return "<p><em>none</em></p>"
    df = df[[c for c in columns if c in df.columns]] if columns else df
    head = "".join(f"<th>{html.escape(str(c)).replace('_', '_<wbr>')}</th>" for c in df.columns)
    rows = ["<tr>" + "".join(map(html_cell, row)) + "</tr>" for row in df.head(limit).itertuples(index=False, name=None)]
    more = f"<p><em>{len(df) - limit} more rows not shown (all are in the DataFrames)</em></p>" if len(df) > limit else ""
    return f"<div class='tw'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"


def md_table(df: Optional[pd.DataFrame], columns: Optional[List[str]] = None, limit: int = 40) -> str:
    """A Markdown table (long cells cut with an ellipsis; the HTML report has them whole)."""
    if df is None or df.empty:
        return "_none_\n"
    df = df[[c for c in columns if c in df.columns]] if columns else df
    shown = df.head(limit)
    cells = [[_short(fmt(v)) for v in row] for row in shown.itertuples(index=False, name=None)]
    head = "| " + " | ".join(markdown_text(c) for c in shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    body = ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in cells]
    more = [f"\n_... {len(df) - limit} more rows in the HTML report_"] if len(df) > limit else []
    return "\n".join([head, rule, *body, *more]) + "\n"


def _short(text: str) -> str:
    return text if len(text) <= 2 * FOLD_CHARS else text[: 2 * FOLD_CHARS - 1] + "…"


#: the page's style: tables wrap instead of scrolling sideways
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1240px;color:#222;padding:0 16px;font-size:15px}
h1{margin:.35em 0 .2em;font-size:1.5em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em;font-size:1.25em}
.tw{max-width:100%} table{border-collapse:collapse;font-size:12.5px;margin:.5em 0;max-width:100%;table-layout:auto}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f0f0f0} tr:nth-child(even) td{background:#fafafa}
td.yes{color:#1a7f37;font-weight:600} td.no{color:#b42318;font-weight:600} td.na{background:#f4f4f4}
ul.fold{margin:.2em 0;padding-left:1.2em} img{max-width:100%;height:auto;margin:.3em 0}
details{margin:.3em 0} summary{cursor:pointer} h2+p,p.cols{color:#555;font-size:13px;margin:.2em 0}
.prov{background:#f4f6fa;border-left:5px solid #4a6fa5;padding:.5em 1em;margin:.8em 0}
.prov.warn{background:#fff4e5;border-left-color:#e08a00}
.badges{display:flex;flex-wrap:wrap;gap:6px;margin:.3em 0 .5em}
.badge{display:inline-block;margin:0;font-size:12.5px}
.badge>summary{list-style:none;padding:2px 9px;border-radius:11px;font-weight:600;letter-spacing:.02em;border:1px solid}
.badge>summary::-webkit-details-marker{display:none}
.badge.warn>summary{background:#fff4e5;color:#8a4b00;border-color:#e0a040}
.badge.bad>summary{background:#fdecea;color:#9b1c1c;border-color:#e6a0a0}
.badge.info>summary{background:#eef3fa;color:#29466e;border-color:#a9bddb}
.badge>div{position:absolute;z-index:5;max-width:760px;background:#fff;border:1px solid #bbb;padding:.5em .8em;box-shadow:0 2px 8px rgba(0,0,0,.15);font-size:13px}
ul.answers{list-style:none;padding:0;margin:.3em 0}
ul.answers li{margin:.15em 0;line-height:1.35}
.word{font-weight:700;padding:0 5px;border-radius:3px}
.word.yes{background:#dff3e4;color:#1a7f37} .word.no{background:#fde2e0;color:#b42318} .word.unknown{background:#eee;color:#444}
.why{color:#555} figure.main{margin:.2em 0} figure.main img{max-height:420px}
figure.main figcaption{font-size:12px;color:#555}
figure{margin:.3em 0} figure svg{display:block;max-width:100%;height:auto} figure.main svg{max-height:420px;width:auto}
figcaption{font-size:12px;color:#555}
"""
