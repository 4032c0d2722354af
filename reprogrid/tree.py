"""The submit tree: its file and folder names, and the manifest (the one writer and reader).

A rendered study is a folder that render writes and every later stage reads::

    SUBMIT/study.dag            the DAG (DAGMan's input)
    SUBMIT/study.dag.status     DAGMan's node status file
    SUBMIT/study.dag.config     DAGMan configuration (throttles)
    SUBMIT/cells/<cell>.sub     one submit description per cell
    SUBMIT/gather.sub           the FINAL node
    SUBMIT/bundle/              the job zipapp and its wrapper
    SUBMIT/manifest.json        every expected run (schema ``reprogrid.manifest/1``)
    SUBMIT/logs/study.log       the job event log
    SUBMIT/results/             one record per run, as the jobs return them
    SUBMIT/dataset/             what gather made of them

Every name above is spelled here only; the templates get them from the renderer. The
manifest is read through :func:`read_manifest`, which checks its schema tag and shape and
names the file and the fix when it is not a manifest this version understands.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from reprogrid.core.errors import Problem, UserError

PathLike = Union[str, "os.PathLike[str]"]

DAG_FILE = "study.dag"
NODE_STATUS_FILE = "study.dag.status"
DAG_CONFIG_FILE = "study.dag.config"
MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = "reprogrid.manifest/1"
LOGS_DIR = "logs"
LOG_FILE = "logs/study.log"
RESULTS_DIR = "results"
DATASET_DIR = "dataset"
CELLS_DIR = "cells"
BUNDLE_DIR = "bundle"
JOB_BUNDLE = "bundle/reprogrid-job.pyz"
JOB_WRAPPER = "bundle/run_job.sh"
GATHER_SUBMIT = "gather.sub"
STUDY_FILE = "study.yaml"
WORKLOADS_DIR = "workloads"
#: Folders a run fills in; a forced re-render carries them over instead of deleting them.
RUN_OUTPUTS = (RESULTS_DIR, LOGS_DIR, DATASET_DIR)


def cell_submit_file(cell: str) -> str:
    """The submit description of ``cell``, relative to the submit folder."""
    return f"{CELLS_DIR}/{cell}.sub"


def workload_dir(workload_id: str) -> str:
    """Where render puts a user workload's files and description (shipped as its contents)."""
    return f"{WORKLOADS_DIR}/{workload_id}"


def result_stem(run_id: str) -> str:
    """Where a run's record lands (without its ``.parquet``/``.json`` suffix)."""
    return f"{RESULTS_DIR}/{run_id}"


def manifest_json(head: Mapping[str, Any], run_lines: Iterable[str]) -> str:
    """The manifest text: ``head`` as indented JSON, then one run object per line.

    ``run_lines`` are JSON objects already serialised (render formats them per cell for
    speed); the result is valid JSON equal to ``dict(head, runs=[...])``.
    """
    import json  # late, here and in read_manifest: the names above cost a command nothing

    text = json.dumps({"schema": MANIFEST_SCHEMA, **head}, indent=1)
    return text[:-2] + ',\n "runs": [\n  ' + ",\n  ".join(run_lines) + "\n ]\n}\n"


def is_submit_dir(path: PathLike) -> bool:
    """Whether ``path`` is a folder holding a manifest (a rendered study)."""
    return (Path(path) / MANIFEST_FILE).is_file()


def read_manifest(submit_dir: PathLike) -> Dict[str, Any]:
    """Read and check ``<submit_dir>/manifest.json``; ``UserError`` naming the file and the fix."""
    import json

    path = Path(submit_dir) / MANIFEST_FILE
    if not path.is_file():
        raise UserError.of(f"no manifest in {submit_dir}", [Problem(
            str(path), "file not found: pass the submit folder written by `reprogrid render`")])
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError.of("unreadable manifest", [Problem(str(path), f"not valid JSON ({err}); re-render the study")]) from None
    if not isinstance(manifest, dict):
        raise UserError.of("invalid manifest", [Problem(str(path), "not a JSON object; re-render the study")])
    schema = manifest.get("schema")
    if schema != MANIFEST_SCHEMA:
        raise UserError.of("unsupported manifest", [Problem(
            f"{path}: schema", f"is {schema!r}, this reprogrid reads {MANIFEST_SCHEMA!r}: re-render the study "
            "with this version (reprogrid render STUDY.yaml -o DIR --force keeps results/ and logs/)")])
    runs = manifest.get("runs")
    if not isinstance(runs, list):
        raise UserError.of("invalid manifest", [Problem(f"{path}: runs", "expected a list of runs; re-render the study")])
    problems = []
    seen = set()
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or not isinstance(run.get("run_id"), str) or not run["run_id"]:
            problems.append(Problem(f"{path}: runs[{i}]", "each run needs a string run_id; re-render the study"))
            continue
        if run["run_id"] in seen:
            problems.append(Problem(f"{path}: runs[{i}].run_id", f"{run['run_id']!r} appears twice; re-render the study"))
        seen.add(run["run_id"])
    if problems:
        raise UserError.of("invalid manifest", problems)
    return manifest


def study_name(manifest: Mapping[str, Any]) -> Optional[str]:
    """The study's name as the manifest records it."""
    study = manifest.get("study")
    return str(study["name"]) if isinstance(study, dict) and study.get("name") else None


def local_pythons(manifest: Mapping[str, Any]) -> Dict[str, str]:
    """Software environment -> local interpreter, where the study named one."""
    out: Dict[str, str] = {}
    for name, sw in (manifest.get("software") or {}).items():
        if isinstance(sw, dict) and sw.get("local_python"):
            out[name] = str(sw["local_python"])
    return out
