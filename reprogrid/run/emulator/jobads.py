"""Job ClassAds for DAG nodes, exactly as condor_submit would make them, cached per submit file + VARS.

Every ad comes from ``reprogrid.condor.bindings.submit_to_job_ads`` (the one adapter around the
24.x ``htcondor.Submit(...).jobs()``), run from the node's folder as DAGMan runs
condor_submit. Parsing is cached on (submit file, its mtime, VARS), so
10,000 nodes sharing one submit file cost one parse.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from reprogrid.condor import bindings
from reprogrid.condor.bindings import classad

from reprogrid.core.errors import Problem, UserError

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
            hit = (mtime, path.read_text())
            self._text[path] = hit
        return hit[1]

    def ads(self, path: Path, iwd: Path, vars: Mapping[str, str], where: str) -> List[classad.ClassAd]:
        text = self.text(path, where)
        key = (path, self._text[path][0], str(iwd), tuple(sorted(vars.items())))
        ads = self._ads.get(key)
        if ads is None:
            try:
                ads = node_job_ads(text, iwd=iwd, vars=vars, source=str(path))
            except UserError:
                raise
            except Exception as err:  # htcondor raises RuntimeError/ValueError on bad submit text
                raise UserError(f"condor_submit would reject {path}",
                                [Problem(where, f"{path}: {err}")]) from None
            if not ads:
                raise UserError(f"{path} queues no job", [Problem(where, "add a 'queue' statement")])
            self._ads[key] = ads
        return ads
