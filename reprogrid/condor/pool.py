"""Read a pool captured with ``condor_status -json`` into machine ClassAds.

The capture is a JSON array of ads. Plain values map to ClassAd literals; expressions
appear as strings ``"/Expr(<expr>)/"`` and are parsed with the real ``classad`` library;
nested objects (``GPUs_GPU_<id>`` ads) become nested ClassAds and arrays become lists.
Attribute names are case-insensitive, as in every ClassAd. Bad input raises a
``UserError`` naming the file, the ad's index and the attribute.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, List, Union


from reprogrid.core.errors import Problem, UserError
from reprogrid.condor.bindings import classad

_EXPR = re.compile(r"^/Expr\((.*)\)/$", re.S)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class _Bad(Exception):
    pass


def _value(value: Any) -> Any:
    if isinstance(value, str):
        m = _EXPR.match(value) if value.startswith("/Expr(") else None
        if m:
            try:
                return classad.ExprTree(m.group(1))
            except Exception as err:
                raise _Bad(f"cannot parse the expression {m.group(1)!r}: {err}") from None
        return value
    if value is None:
        return classad.Value.Undefined
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return _ad(value)
    if isinstance(value, list):
        return [_value(v) for v in value]
    raise _Bad(f"unsupported JSON value {value!r}")


def _ad(obj: dict) -> classad.ClassAd:
    # Converted values are gathered first and handed to the ClassAd in one call (one
    # crossing into the bindings per ad, not one per attribute: captures hold 50,000 ads).
    values = {}
    seen = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not _NAME.match(key):
            raise _Bad(f"{key!r} is not a valid attribute name")
        low = key.lower()
        if low in seen:
            raise _Bad(f"attribute {key!r} appears twice (also as {seen[low]!r}); names are case-insensitive")
        seen[low] = key
        try:
            values[key] = _value(value)
        except _Bad as err:
            raise _Bad(f"{key}: {err}") from None
    return classad.ClassAd(values)


def ads_from_json(data: Any, source: str = "<pool>") -> List[classad.ClassAd]:
    """Convert parsed ``condor_status -json`` data (a list of dicts) into ClassAds."""
    if not isinstance(data, list):
        raise UserError(f"{source} is not a condor_status -json capture",
                        [Problem(source, "expected a JSON array of machine ads (condor_status -json > pool.json)")])
    ads: List[classad.ClassAd] = []
    problems: List[Problem] = []
    for i, obj in enumerate(data):
        if not isinstance(obj, dict):
            problems.append(Problem(f"{source}[{i}]", "each entry must be a JSON object (one machine ad)"))
            continue
        try:
            ads.append(_ad(obj))
        except _Bad as err:
            problems.append(Problem(f"{source}[{i}]", str(err)))
    if problems:
        raise UserError.of(f"the pool capture {source} has bad ads", problems)
    return ads


def load_pool(path: Union[str, Path]) -> List[classad.ClassAd]:
    """Read ``condor_status -json`` output from ``path``: one ClassAd per machine/slot ad."""
    import json  # late: validate against the built-in pool reads no capture

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise UserError(f"cannot read the pool capture {path}", [Problem(str(path), err.strerror or str(err))]) from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not valid JSON", [Problem(str(path), (
            f"byte {err.start} is not UTF-8 ({err.reason}); capture it again with condor_status -json"))]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON",
                        [Problem(f"{path}:{err.lineno}:{err.colno}", f"{err.msg}; capture it with condor_status -json")]) from None
    ads = ads_from_json(data, str(path))
    if not ads:
        raise UserError(f"the pool capture {path} is empty", [Problem(str(path), "it holds no machine ads")])
    return ads
