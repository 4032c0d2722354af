"""Escaping filters for everything a study puts into a submit file, a ClassAd or a DAG.

A value from a study file must never add a submit command (a newline), a macro
expansion (``$(...)``), a ClassAd clause (an unbalanced quote) or a DAG keyword. Each
filter either returns text that is inert where it is used or raises ``UnsafeValue`` with
the reason; the renderer reports that as a user error naming the spec field.
"""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DAG_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
_DAG_RESERVED = {
    "job", "parent", "child", "retry", "script", "vars", "abort-dag-on", "final", "category",
    "maxjobs", "priority", "node_status_file", "config", "splice", "subdag", "dot", "done",
    "jobstate_log", "set_job_attr", "env", "include", "save_point_file", "pre_skip",
    "service", "provisioner", "connect", "pin_in", "pin_out", "all_nodes", "reject",
}


class UnsafeValue(ValueError):
    """A value that cannot be made inert where it is to be written."""


def _refuse_control(value: str, where: str) -> None:
    match = _CONTROL.search(value)
    if match:
        raise UnsafeValue(
            f"{where} contains the control character {match.group()!r} (a newline or tab "
            "would start a new submit command); remove it"
        )


def submit_value(value: object) -> str:
    """A value for the right-hand side of a submit command, macro expansion disabled.

    ``$`` becomes ``$(DOLLAR)`` so ``$(...)`` in a study value is never expanded;
    newlines and other control characters are refused.
    """
    text = str(value)
    _refuse_control(text, "a submit value")
    return text.replace("$", "$(DOLLAR)")


def classad_string(value: object) -> str:
    """A quoted ClassAd string literal, safe inside a submit file.

    Quotes are escaped (``\\"``) and ``$`` is made literal; backslashes are refused,
    since condor_submit and the ClassAd parser do not agree on how to escape them.
    """
    text = str(value)
    _refuse_control(text, "a ClassAd string")
    if "\\" in text:
        raise UnsafeValue("a ClassAd string cannot contain a backslash here; remove it")
    return '"' + text.replace('"', '\\"').replace("$", "$(DOLLAR)") + '"'


def classad_number(value: object) -> str:
    """A ClassAd integer or real literal; anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnsafeValue(f"expected a number, got {value!r}")
    if isinstance(value, float) and value != value:  # NaN
        raise UnsafeValue("expected a number, got NaN")
    return repr(value) if isinstance(value, float) else str(int(value))


def attribute_name(value: object) -> str:
    """A ClassAd attribute name (letters, digits, underscores; not starting with a digit)."""
    text = str(value)
    if not _ATTRIBUTE_NAME.match(text):
        raise UnsafeValue(f"{text!r} is not a ClassAd attribute name (letters, digits, '_')")
    return text


def dag_name(value: object) -> str:
    """A DAG node or category name: DAGMan refuses ``.`` and ``+``, and keywords clash."""
    text = str(value)
    if not _DAG_NAME.match(text):
        raise UnsafeValue(
            f"{text!r} cannot be a DAG node name: use letters, digits, '_' and '-' only "
            "(DAGMan rejects '.', '+', spaces and '$')"
        )
    if text.lower() in _DAG_RESERVED:
        raise UnsafeValue(f"{text!r} is a DAG keyword and cannot be a node name")
    return text


def dag_vars_value(value: object) -> str:
    """A quoted VARS value: ``\\`` and ``"`` escaped as DAGMan requires, ``$`` made literal."""
    text = str(value)
    _refuse_control(text, "a DAG VARS value")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$(DOLLAR)")
    return f'"{escaped}"'


def transfer_list(items: list) -> str:
    """A comma-separated ``transfer_input_files`` list; a comma or space inside an entry is refused."""
    out = []
    for item in items:
        text = str(item)
        if "," in text or any(ch.isspace() for ch in text):
            raise UnsafeValue(f"{text!r} cannot be a transfer entry: commas and spaces separate entries")
        out.append(submit_value(text))
    return ", ".join(out)


FILTERS = {
    "submit_value": submit_value,
    "classad_string": classad_string,
    "classad_number": classad_number,
    "attribute_name": attribute_name,
    "dag_name": dag_name,
    "dag_vars_value": dag_vars_value,
    "transfer_list": transfer_list,
}
