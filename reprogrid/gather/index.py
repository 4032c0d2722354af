"""The gather index: what the last gather read and wrote, split by part file (owns its format).

A gather writes, inside the dataset, a small head (``_gather_index.json``, written last)
and one entry file per part (``_gather_index/<part>.json``, e.g.
``_gather_index/workload=mnist_convnet/part-3.json``; ``_gather_index/unplaced.json``
for the runs that have no row: missing, corrupt). An entry file maps each run whose row the
part holds to ``[its record files as (path, size, mtime), problems, extra columns]``.

The head holds the manifest's digest, the part schema's digest, a digest of every record
file's name, size and mtime (``records_digest``: a gather with nothing changed compares
this one value and reads no entry file), the part files, and the size of every file of
the dataset but the head and the report. A re-gather that keeps a part (a hard link) keeps
its entry file the same way, so it writes index bytes only for the parts it rewrites.

Readers skip the index: its names start with ``_`` (pyarrow, pandas) and it holds no
``.parquet`` file (polars, DuckDB globs). An index of an older layout is not read: the
gather says so (logged) and gathers in full, writing the current layout.
"""
from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from reprogrid.gather.dataset import PARTITION, REPORT_NAME, file_sizes
from reprogrid.job.schema import COLUMNS, SCHEMA_VERSION

log = logging.getLogger(__name__)

INDEX_NAME = "_gather_index.json"
INDEX_DIR = "_gather_index"
INDEX_SCHEMA = "reprogrid.gather-index/3"
UNPLACED = f"{INDEX_DIR}/unplaced.json"

#: run id -> [record files as [path, size, mtime], part (None: no row), problems, extra columns]
Runs = Dict[str, List[Any]]


def parts_schema() -> str:
    """A digest of the part files' schema (the result columns, their types and version, less
    the partition column): parts written by another schema are not reused. From the job
    side's column list, so checking it imports no pyarrow."""
    columns = [column for column in COLUMNS if column[0] != PARTITION]
    return hashlib.sha256(repr((SCHEMA_VERSION, columns)).encode()).hexdigest()[:16]


def records_digest(stats: Dict[str, Tuple[int, int]]) -> str:
    """A digest of the record files as found (path, size, mtime in ns): equal when no record
    file came, went or changed (and the submit folder is named the same way)."""
    return hashlib.sha256(repr(sorted(stats.items())).encode()).hexdigest()


def entry_file(part: Optional[str]) -> str:
    """The entry file of a part (None: the runs with no row), relative to the dataset."""
    return UNPLACED if part is None else f"{INDEX_DIR}/{part[:-len('.parquet')]}.json"


def write(folder: Path, head: Dict[str, str], runs: Runs, placed: Optional[Dict[str, str]] = None,
          kept: Iterable[str] = (), link: Optional[Callable[[str, Path], None]] = None) -> str:
    """Write the entry files of the dataset being made in ``folder`` (its parts all there)
    and return the head's text (the caller writes it last, as ``INDEX_NAME``).

    ``head`` gives ``manifest_sha256`` and ``records_sha256``. A run's part is a path, or
    True while it came from ``placed`` (the full gather's writer), else it has no row. The
    entry files of the parts in ``kept`` are ``link``-ed from the last gather (their runs
    are the same), the others written.
    """
    groups: Dict[Optional[str], Dict[str, List[Any]]] = {}
    for stem, (sig, part, problems, extras) in runs.items():
        part = part if isinstance(part, str) else ((placed or {}).get(stem) if part else None)
        groups.setdefault(part, {})[stem] = [sig, problems, extras]
    kept = set(kept)
    for part, entries in groups.items():
        target = folder / entry_file(part)
        if part in kept and link is not None:
            link(entry_file(part), target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(entries, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    sizes = {rel: size for rel, (size, _) in file_sizes(folder, leave_out=[INDEX_NAME, REPORT_NAME]).items()}
    parts = sorted(rel for rel in sizes if rel.endswith(".parquet"))
    return json.dumps(dict(head, schema=INDEX_SCHEMA, parts_schema=parts_schema(), parts=parts, files=sizes),
                      separators=(",", ":"), sort_keys=True) + "\n"


def read_head(fd: int, digest: str) -> Optional[Dict[str, Any]]:
    """The head of the index in the dataset folder open as ``fd``, when it was made from
    the manifest of ``digest`` with this layout and part schema; None otherwise (logged)."""
    head = loads(read(fd, INDEX_NAME))
    if not isinstance(head, dict):
        raise ValueError("not an index")
    schema = head.get("schema")
    if schema != INDEX_SCHEMA:
        log.info("gather: the dataset's index is %s, not %s (an earlier reprogrid wrote it): gathering in full",
                 schema, INDEX_SCHEMA)
        return None
    if head.get("manifest_sha256") != digest or head.get("parts_schema") != parts_schema():
        log.info("gather: the dataset was gathered from another manifest, or with another part schema: gathering in full")
        return None
    for key in ("parts", "files", "records_sha256"):
        if key not in head:
            raise KeyError(key)
    return head


def read_runs(fd: int, head: Dict[str, Any]) -> Runs:
    """Every run's entry, from the entry files the head lists (parts by path)."""
    runs: Runs = {}
    prefix = INDEX_DIR + "/"
    for rel in head["files"]:
        if not rel.startswith(prefix):
            continue
        part = None if rel == UNPLACED else rel[len(prefix):-len(".json")] + ".parquet"
        for stem, (sig, problems, extras) in loads(read(fd, rel)).items():
            runs[stem] = [sig, part, problems, extras]
    return runs


def read(fd: int, rel: str) -> bytes:
    """The bytes of ``rel`` in the folder open as ``fd``."""
    with open(os.open(rel, os.O_RDONLY, dir_fd=fd), "rb") as f:
        return f.read()


def loads(data: bytes) -> Any:
    """JSON of many small objects, parsed with the cyclic garbage collector paused (it
    would run over the growing result again and again: a third of a large index's parse)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return json.loads(data)
    finally:
        if enabled:
            gc.enable()
