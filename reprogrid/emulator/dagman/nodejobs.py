"""The job ads DAGMan submits for a node: its submit description with DAGMan's macros.

As condor_dagman's ``InitVars`` builds them (dagman_submit.cpp): the node's VARS,
``JOB``, ``RETRY``, ``DAG_STATUS``, ``FAILED_COUNT``, ``DAG_PARENT_NAMES`` prepended and
``DAGManJobId`` appended — DAGMan's own macros only when the submit text (or a VARS
value) can see them, so nodes that do not use them share one parsed description. A
SUBDAG EXTERNAL node is a local job running this emulator on the nested DAG. The
executable checks of condor_submit make a submit failure, as they do for DAGMan.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Tuple

from reprogrid.condor.bindings import classad
from reprogrid.core.errors import UserError
from reprogrid.emulator.dagman.model import Dag, Node
from reprogrid.emulator.dagman.scripts import job_tag
from reprogrid.emulator.schedd.jobads import JobAdCache, references

_DAGMAN_MACROS = ("JOB", "RETRY", "DAG_STATUS", "FAILED_COUNT", "DAG_PARENT_NAMES", "DAGManJobId")


class NodeJobs:
    """Job ads per node attempt (parsed through the bindings, cached per description)."""

    def __init__(self, dag: Dag, slots: int, dag_id: int) -> None:
        self.dag, self.slots, self.dag_id = dag, slots, dag_id
        self.ads = JobAdCache()
        self._refs: Dict[str, frozenset] = {}
        self._checked: Dict[int, list] = {}  # id -> the ads (kept so the id stays theirs)
        self._sources: Dict[str, tuple] = {}  # node name -> (node, folder, submit file or inline text)

    def macros(self, node: Node, text: str, own: List[Tuple[str, str]]) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
        """(prepended, appended) submit variables; ``own`` are DAGMan's own for this attempt."""
        used = self._referenced(text)
        if node.vars:
            used = used | self._referenced("\n".join(v for _, v in node.vars))
        prepend = [(k, v) for k, v in own if k in used]
        append = [("DAGManJobId", str(self.dag_id))] if "DAGManJobId" in used else []
        for (k, v), appended in zip(node.vars, node.vars_append):
            (append if appended else prepend).append((k, v))
        return prepend, append

    def _referenced(self, text: str) -> frozenset:
        hit = self._refs.get(text)
        if hit is None:
            hit = self._refs[text] = frozenset(n for n in _DAGMAN_MACROS if references(text, n))
        return hit

    def tag(self, node: Node) -> str:
        """The job tag of the JOBSTATE_LOG's lines (the submit file's jobstate_log_tag)."""
        if node.inline is not None:
            return job_tag(node.inline)
        if node.subdag is not None or node.noop:
            return "-"
        submit = Path(node.submit_file)
        try:
            return job_tag(self.ads.text(submit if submit.is_absolute() else self.dag.node_dir(node) / submit, node.where))
        except UserError:
            return "-"

    def job_ads(self, node: Node, cluster: int, own: List[Tuple[str, str]]) -> List[classad.ClassAd]:
        """One ad per proc of the node's cluster; ``UserError`` is a submit failure."""
        if node.subdag is not None:
            return [self._subdag_ad(node, self.dag.node_dir(node))]
        folder, source = self._source(node)
        text = node.inline if isinstance(source, str) else self.ads.text(source, node.where)
        prepend, append = self.macros(node, text, own)
        ads = self.ads.node_ads(source, folder, prepend, append, cluster, node.where)
        if id(ads[0]) not in self._checked:  # cached ads are checked once
            check_executable(ads[0], folder)
            self._checked[id(ads[0])] = ads
        return ads

    def _source(self, node: Node) -> Tuple[Path, "Path | str"]:
        """(the node's folder, its submit file or inline description), worked out once per node."""
        hit = self._sources.get(node.name)
        if hit is None or hit[0] is not node:
            folder = self.dag.node_dir(node)
            if node.inline is not None:
                source: "Path | str" = node.inline
            else:
                submit = Path(node.submit_file)
                source = submit if submit.is_absolute() else folder / submit
            hit = self._sources[node.name] = (node, folder, source)
        return hit[1], hit[2]

    def _subdag_ad(self, node: Node, folder: Path) -> classad.ClassAd:
        """SUBDAG EXTERNAL: the nested DAG runs through this emulator, as a local job of the node."""
        sub = Path(node.subdag or "")
        path = sub if sub.is_absolute() else folder / sub
        if not path.is_file():
            raise UserError(f"cannot read the sub-DAG {path}", [])
        args = ["-m", "reprogrid", "dryrun", str(path), "--slots", str(self.slots)]
        return classad.ClassAd({
            "JobUniverse": 7, "Cmd": sys.executable, "Iwd": str(folder), "GetEnv": True,
            "Arguments": " ".join("'" + a.replace("'", "''") + "'" for a in args),
            "Out": str(path) + ".lib.out", "Err": str(path) + ".lib.err",
        })


def check_executable(ad: classad.ClassAd, folder: Path) -> None:
    """condor_submit's executable checks: one must be given, and exist unless it is not transferred
    (htcondor's job_dagman_submit_fails_post: a missing executable is a submit failure)."""
    cmd = ad.get("Cmd")
    container = ad.get("WantContainer") is True or "ContainerImage" in ad or ad.get("WantDocker") is True
    if not cmd:
        if not container:
            raise UserError("No 'executable' parameter was provided", [])
        return
    if ad.get("TransferExecutable", True) is False or container or "$$(" in str(cmd):
        return
    path = Path(str(cmd))
    iwd = Path(str(ad.get("Iwd", folder)))
    if not (path if path.is_absolute() else iwd / path).exists():
        raise UserError(f"Can't access executable file {cmd}: No such file or directory", [])
