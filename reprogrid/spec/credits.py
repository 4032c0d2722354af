"""The study's credits: the optional ``license`` and ``authors`` keys of a spec.

They describe the study as a research object (``reprogrid export`` writes them into the
RO-Crate); nothing else reads them. ``license`` is an SPDX identifier (``MIT``,
``CC-BY-4.0``) or an ``https://`` URL; ``authors`` is a list of names or of mappings with
``name`` and optional ``orcid`` (``0000-0002-1825-0097`` or its ``https://orcid.org/`` URL)
and ``affiliation``.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Tuple

from reprogrid.spec.definitions import Author

AUTHOR_KEYS = ["name", "orcid", "affiliation"]
_SPDX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")
_URL = re.compile(r"^https?://[^\s\"'<>\\]+$")
_ORCID = re.compile(r"^(?:https://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


def read_credits(check: Any, data: Mapping[str, Any]) -> Tuple[Optional[str], Tuple[Author, ...]]:
    """``license`` and ``authors`` from the top level of a spec; problems go to ``check``
    (the validator's collector: ``problem``, ``text``, ``mapping``)."""
    license_ = _license(check, data.get("license"))
    raw = data.get("authors")
    if raw is None:
        return license_, ()
    if not isinstance(raw, (list, tuple)):
        check.problem("authors", "expected a list of names or of mappings with name, orcid, affiliation, "
                                 "e.g. [{name: Ada Lovelace, orcid: 0000-0002-1825-0097}]")
        return license_, ()
    authors = [_author(check, f"authors[{i}]", item) for i, item in enumerate(raw)]
    return license_, tuple(a for a in authors if a is not None)


def _license(check: Any, raw: Any) -> Optional[str]:
    text = check.text(raw, "license")
    if text is None:
        return None
    if not (_SPDX.match(text) or _URL.match(text)):
        check.problem("license", f"expected an SPDX identifier (MIT, CC-BY-4.0, Apache-2.0) or an https:// URL, got {text!r}")
        return None
    return text


def _author(check: Any, where: str, raw: Any) -> Optional[Author]:
    if isinstance(raw, str):
        raw = {"name": raw}
    data = check.mapping(raw, where, AUTHOR_KEYS, ["name"])
    name = check.text(data.get("name"), f"{where}.name")
    affiliation = check.text(data.get("affiliation"), f"{where}.affiliation")
    orcid = check.text(data.get("orcid"), f"{where}.orcid")
    if orcid is not None:
        match = _ORCID.match(orcid)
        if not match:
            check.problem(f"{where}.orcid", f"expected an ORCID iD like 0000-0002-1825-0097 (or its https://orcid.org/ URL), got {orcid!r}")
            return None
        orcid = f"https://orcid.org/{match.group(1)}"
    if not name or not name.strip():
        if "name" in data:
            check.problem(f"{where}.name", "must not be empty")
        return None
    return Author(name=name.strip(), orcid=orcid, affiliation=affiliation)
