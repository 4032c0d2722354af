"""Job ClassAds for DAG nodes, exactly as condor_submit would make them, cached per submit file + VARS.

Every ad comes from ``reprogrid.condor.bindings.submit_to_job_ads`` (the one adapter around the
24.x ``htcondor.Submit(...).jobs()``), run from the node's folder as DAGMan runs
condor_submit. Parsing is cached on (submit file, its mtime, VARS), so
10,000 nodes sharing one submit file cost one parse.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple

from reprogrid.condor import bindings
from reprogrid.condor.bindings import classad

from reprogrid.core.errors import Problem, UserError

if TYPE_CHECKING:  # the starter's type, for the annotation only
    from reprogrid.emulator.starter.executor import JobTemplate

_QUEUE = re.compile(r"^\s*queue(\s|$)", re.I)
_CLUSTER = re.compile(r"\b(cluster|clusterid)\b", re.I)
_DOLLAR2 = re.compile(r"\$\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)")


def compose_submit(text: str, prepend: Sequence[Tuple[str, str]], append: Sequence[Tuple[str, str]]) -> str:
    """The submit text DAGMan's direct submit reads: prepended macros, the file, appended macros.

    DAGMan sets prepended variables before reading the file (so the file's own assignments
    win and ``if defined`` sees them) and appended ones after the file, just before the
    queue statement (``dagman_submit.cpp``, ``DirectSubmit``).
    """
    head = "".join(f"{k} = {_unjoined(v)}\n" for k, v in prepend)
    if not append:
        return head + text
    tail = "".join(f"{k} = {_unjoined(v)}\n" for k, v in append)
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if _QUEUE.match(line) and not (i and lines[i - 1].rstrip().endswith("\\")):
            return head + "".join(lines[:i]) + tail + "".join(lines[i:])
    return head + text + ("\n" if text and not text.endswith("\n") else "") + tail


#: an undefined macro expands to nothing: after a value's trailing backslash it keeps the
#: submit language from reading the backslash as a line continuation
_NOTHING = "$(_reprogrid_nothing)"


def _unjoined(value: str) -> str:
    """A VARS value as one submit line: DAGMan sets the variable directly, so a value that
    ends in a backslash (VARS c="end\\\\") must not swallow the next line."""
    return value + _NOTHING if value.endswith("\\") else value


def references(text: str, name: str) -> bool:
    """Whether ``text`` could use the submit macro ``name`` (a whole-word, case-blind match)."""
    return re.search(r"(?<![A-Za-z0-9_.])" + re.escape(name) + r"(?![A-Za-z0-9_])", text, re.I) is not None


def uses_cluster(text: str) -> bool:
    return _CLUSTER.search(text) is not None


def expand_machine_refs(value: str, machine: classad.ClassAd, job: Optional[classad.ClassAd] = None) -> str:
    """Expand ``$$(Attr)``, ``$$(Attr:default)`` and ``$$([expression])`` at match time.

    An attribute is looked up in the matched machine ad, then in the job's own ad (where
    DAGMan's ``DAGParentNodeNames``, ``DAGManJobId``, ``DAGNodeName`` are); an expression
    is evaluated "in the context of both the job and machine ad" (HTCondor manual,
    submitting a job), the machine's attributes first. Raises ``ValueError`` naming the
    attribute when it is undefined and has no default (the schedd puts such a job on hold).
    """
    scope = machine
    if job is not None:
        scope = classad.ClassAd()
        scope.update(job)
        scope.update(machine)

    def one(m: "re.Match[str]") -> str:
        inner = m.group(1)
        if inner.startswith("[") and inner.endswith("]"):
            expr = re.sub(r"\bTARGET\.", "MY.", inner[1:-1], flags=re.I)
            result = bindings.parse_expression(expr).eval(scope)
        else:
            name, _, default = inner.partition(":")
            result = scope.eval(name.strip()) if name.strip() in scope else None
            if result is None:
                if default or ":" in inner:
                    return default
                raise ValueError(f"$$({inner}): the machine ad has no attribute {name.strip()!r}")
        if isinstance(result, classad.Value):
            raise ValueError(f"$$({inner}) is undefined on the matched machine")
        if isinstance(result, bool):
            return "true" if result else "false"
        return str(result)

    return _DOLLAR2.sub(one, value)


def expand_job_ad(ad: classad.ClassAd, machine: classad.ClassAd) -> None:
    """Replace every ``$$(...)`` in the job ad's string attributes, as the schedd does at match time."""
    for key in list(ad.keys()):
        value = ad.get(key)
        if isinstance(value, str) and "$$(" in value:
            ad[key] = expand_machine_refs(value, machine, ad)


def node_job_ads(submit_text: str, *, iwd: "str | Path", vars: Optional[Mapping[str, str]] = None,
                      count: int = 1, source: str = "<submit description>") -> List[classad.ClassAd]:
    # condor_submit resolves a relative executable against the folder it runs in (DAGMan
    # runs it in the node's folder), not against initialdir: run the parser from there.
    cwd = os.getcwd()
    os.chdir(iwd)
    try:
        return bindings.submit_to_job_ads(submit_text, iwd=iwd, vars=vars, count=count, source=source)
    finally:
        os.chdir(cwd)


class JobAdCache:
    """Job ads per (submit file, VARS); each call returns the cached list (callers must not keep edits)."""

    def __init__(self) -> None:
        self._text: Dict[Path, Tuple[float, str]] = {}
        self._ads: Dict[tuple, List[classad.ClassAd]] = {}
        self._composed: Dict[tuple, Tuple[str, bool]] = {}

    def text(self, path: Path, where: str) -> str:
        hit = self._text.get(path)
        if hit is not None:  # read once per run, as condor_submit reads it once per submission
            return hit[1]
        try:
            mtime = path.stat().st_mtime
        except OSError as err:
            raise UserError(f"cannot read submit file {path}", [Problem(where, f"{path}: {err.strerror}")]) from None
        hit = self._text.get(path)
        if hit is None or hit[0] != mtime:
            try:
                hit = (mtime, path.read_bytes().decode("utf-8"))
            except (OSError, UnicodeDecodeError) as err:
                why = (f"byte {err.start} is not UTF-8 ({err.reason}); save it as UTF-8" if isinstance(err, UnicodeDecodeError)
                       else err.strerror or str(err))
                raise UserError(f"cannot read submit file {path}", [Problem(where, f"{path}: {why}")]) from None
            self._text[path] = hit
        return hit[1]

    def ads(self, path: Path, iwd: Path, vars: Mapping[str, str], where: str) -> List[classad.ClassAd]:
        text = self.text(path, where)
        key = (path, self._text[path][0], str(iwd), tuple(sorted(vars.items())))
        return self._parse(key, text, iwd, vars, path, where, 1)

    def node_ads(self, source: "Path | str", iwd: Path, prepend: Sequence[Tuple[str, str]],
                 append: Sequence[Tuple[str, str]], cluster: int, where: str) -> List[classad.ClassAd]:
        """Job ads of one node submission: ``source`` is a submit file (Path) or inline text (str)."""
        if isinstance(source, Path):
            text, stamp, name = self.text(source, where), self._text[source][0], str(source)
        else:
            text, stamp, name = source, 0.0, "<inline submit description>"
        memo = (name, stamp, iwd, tuple(prepend), tuple(append))
        hit = self._composed.get(memo)  # nodes of one description and the same macros compose one text
        if hit is None:
            composed = compose_submit(text, prepend, append)
            hit = self._composed[memo] = (composed, uses_cluster(composed))
        composed, per_cluster = hit
        key = (name, stamp, str(iwd), composed, cluster if per_cluster else 0)
        return self._parse(key, composed, iwd, None, Path(name), where, cluster)

    def _parse(self, key: tuple, text: str, iwd: Path, vars: Optional[Mapping[str, str]], path: Path,
               where: str, cluster: int) -> List[classad.ClassAd]:
        ads = self._ads.get(key)
        if ads is None:
            try:
                cwd = os.getcwd()
                os.chdir(iwd)
                try:
                    ads = bindings.submit_to_job_ads(text, iwd=iwd, vars=vars, cluster_id=cluster, source=str(path))
                finally:
                    os.chdir(cwd)
            except UserError:
                raise
            except Exception as err:  # htcondor raises RuntimeError/ValueError on bad submit text
                raise UserError(f"condor_submit would reject {path}",
                                [Problem(where, f"{path}: {err}")]) from None
            if not ads:
                raise UserError(f"{path} queues no job", [Problem(where, "add a 'queue' statement")])
            self._ads[key] = ads
        return ads


#: what the schedd sets in each proc's ad at submission; kept beside the shared cached ad
PROC_ATTRS = ("ClusterId", "ProcId", "DAGNodeName", "DAGManJobId", "DAGParentNodeNames")
_PROC_PREFIXES = tuple(f"{name} = " for name in PROC_ATTRS)
_PLAIN = re.compile(r"[A-Za-z0-9_.+,:@/-]*")


class AdFacts:
    """What the schedd reads from one job ad, worked out once for every proc that shares it:
    its universe, requests, user log, ``$$()`` references and its text without the per-proc
    attributes (:data:`PROC_ATTRS`), which :meth:`text_for` adds for each proc."""

    __slots__ = ("ad", "local", "requests", "log", "machine_refs", "_text", "template")

    def __init__(self, ad: classad.ClassAd, local: bool, requests: Tuple[int, int, int, int]) -> None:
        self.ad, self.local, self.requests = ad, local, requests
        self.template: Optional[JobTemplate] = None  # the starter's launch template of the ad, once asked for
        self.log: Optional[Path] = Path(ad.eval("UserLog")) if "UserLog" in ad else None
        text = ad.printOld()
        self.machine_refs = "$$(" in text
        self._text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith(_PROC_PREFIXES))
        if self._text and not self._text.endswith("\n"):
            self._text += "\n"

    def text_for(self, attrs: Mapping[str, object]) -> str:
        """The ``.job.ad`` of one proc: the shared text and the proc's own attributes."""
        lines = []
        for key, value in attrs.items():
            if isinstance(value, int) and not isinstance(value, bool):
                lines.append(f"{key} = {value}\n")
            elif isinstance(value, str) and _PLAIN.fullmatch(value):  # nothing to escape: written as printOld would
                lines.append(f'{key} = "{value}"\n')
            else:
                return self._text + classad.ClassAd(dict(attrs)).printOld()
        return self._text + "".join(lines)
