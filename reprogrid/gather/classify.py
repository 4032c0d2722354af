"""A run's class from its record files, and the state of one gather.

``Gathering`` holds what a gather found (record files by run, their stats), what each
run is (``runs``), its index entries and the files read. ``classify_chunk`` turns the
records read for some runs into their classes (complete / failed / duplicate / corrupt;
``ordered_runs`` adds the missing ones in manifest order) and returns the rows to keep;
``chunk_table`` makes them one table in the result schema. Shared by the full gather
(``collect``) and the part-wise re-gather (``regather``), so both decide alike.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from reprogrid.gather.dataset import arrow_schema, conform, int_array
from reprogrid.gather.records import Found, check_record
from reprogrid.job.schema import STATUS_FAILED, STATUS_OK


@dataclass
class Gathering:
    """The state of one gather: what was found, what each run is, what was read.

    ``index`` maps a run id to ``[signature, part, problems, extra columns]``: ``part`` is
    True while its row waits to be written, then the part file that holds it (None: no row).
    """

    submit: Path
    expected: Dict[str, Dict[str, Any]]
    by_stem: Dict[str, List[Tuple[str, str]]]
    stats: Dict[str, Tuple[int, int]]
    runs: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    corrupt_files: List[Dict[str, Any]] = field(default_factory=list)
    extra_columns: Dict[str, int] = field(default_factory=dict)
    index: Dict[str, List[Any]] = field(default_factory=dict)
    files_read: int = 0

    def rel(self, path: str) -> str:
        prefix = self._prefix
        return path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, self.submit)

    @functools.cached_property
    def _prefix(self) -> str:
        return os.path.join(str(self.submit), "")

    def signature(self, stem: str) -> List[List[Any]]:
        """The files of a run as (path, size, mtime): a re-gather reads a run again only when they change."""
        sig = self._signatures.get(stem)
        if sig is None:
            sig = self._signatures[stem] = [[self.rel(p), *self.stats.get(p, (-1, -1))] for _, p in self.by_stem[stem]]
        return sig

    @functools.cached_property
    def _signatures(self) -> Dict[str, List[List[Any]]]:
        return {}

    def count_extras(self, names: List[str]) -> None:
        for name in names:
            self.extra_columns[name] = self.extra_columns.get(name, 0) + 1


def classify_chunk(g: Gathering, chunk: List[str], read: Iterator[Found]) -> List[Tuple[str, Found]]:
    """Classify the runs of ``chunk`` from their files' records (``read``, in file order);
    return the rows to keep, one per run with a valid record, in chunk order."""
    kept = []
    for stem in chunk:
        valid, problems, extras = [], [], []
        for _kind, path in g.by_stem[stem]:
            found = next(read)
            extras.extend(found.extra)
            error = found.error if found.error is not None else check_record(found, stem, g.expected[stem])
            if error is None:
                valid.append((g.rel(path), found))
            else:
                problems.append({"run_id": stem, "file": g.rel(path), "error": error})
        g.count_extras(extras)
        g.corrupt_files.extend(problems)
        g.runs[stem] = classify(stem, valid, problems)
        g.index[stem] = [g.signature(stem), bool(valid), problems, extras]
        if valid:
            kept.append((stem, valid[0][1]))
    return kept


def reuse(g: Gathering, stem: str, entry: List[Any], old: Dict[str, Any]) -> None:
    """A run unchanged since the last gather: its class, problems and part as they were."""
    _sig, part, problems, extra = entry
    g.runs[stem] = {"run_id": stem, "class": old["class"], "files": old["files"], "detail": old.get("detail")}
    g.corrupt_files.extend(problems)
    g.count_extras(extra)
    g.index[stem] = [g.signature(stem), part, problems, extra]


def progress_counts(runs: Dict[str, Dict[str, Any]]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for run in runs.values():
        counts[run["class"]] = counts.get(run["class"], 0) + 1
    return counts


def classify(stem: str, valid: List[Tuple[str, Found]], problems: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A run's class from its valid records and its files' problems."""
    files = [path for path, _ in valid] + [p["file"] for p in problems]
    if not valid:
        return {"run_id": stem, "class": "corrupt", "files": files,
                "detail": "; ".join(f"{p['file']}: {p['error']}" for p in problems)}
    path, first = valid[0]
    notes = [f"{p['file']} is invalid ({p['error']})" for p in problems]
    if len(valid) > 1 or first.n > 1:
        n = sum(f.n for _, f in valid)
        return {"run_id": stem, "class": "duplicate", "files": files,
                "detail": "; ".join([f"{n} records ({', '.join(p for p, _ in valid)}); kept the first row of {path}"] + notes)}
    status = first.rows.value("status", first.start)
    if status == STATUS_OK:
        return {"run_id": stem, "class": "complete", "files": files, "detail": "; ".join(notes) or None}
    if status == STATUS_FAILED:
        error = ": ".join(str(x) for x in (first.rows.value("error_type", first.start),
                                           first.rows.value("error_message", first.start)) if x)
        return {"run_id": stem, "class": "failed", "files": files,
                "detail": "; ".join([error or "failed (no error recorded)"] + notes)}
    return {"run_id": stem, "class": "corrupt", "files": files,
            "detail": "; ".join([f"{path}: status {status!r} is neither 'ok' nor 'failed'"] + notes)}


def chunk_table(kept: List[Tuple[str, Found]], g: Gathering):
    """The kept rows of a chunk, in run order, as one table in the schema.

    Rows of one scanned table are taken in one call; a file read on its own is conformed
    on its own, and one whose values cannot be cast is reported corrupt, not raised.
    """
    import pyarrow as pa

    pieces = []
    i = 0
    while i < len(kept):
        rows = kept[i][1].rows
        j = i
        while j < len(kept) and kept[j][1].rows is rows:
            j += 1
        if rows.conformed:
            pieces.append(rows.table.take(int_array([f.start for _, f in kept[i:j]])))
        else:
            for stem, found in kept[i:j]:
                try:
                    pieces.append(conform(rows.table.slice(found.start, 1)))
                except ValueError as err:
                    _conform_failed(g, stem, str(err))
        i = j
    if not pieces:
        return arrow_schema().empty_table()
    return pa.concat_tables(pieces).combine_chunks()


def _conform_failed(g: Gathering, stem: str, error: str) -> None:
    files = g.runs[stem]["files"]
    problem = {"run_id": stem, "file": files[0], "error": error}
    g.corrupt_files.append(problem)
    g.index[stem][2] = g.index[stem][2] + [problem]
    g.runs[stem] = {"run_id": stem, "class": "corrupt", "files": files, "detail": f"{files[0]}: {error}"}
    g.index[stem][1] = False


def ordered_runs(manifest_runs: List[Dict[str, Any]], runs: Dict[str, Dict[str, Any]],
                 skipped: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    """Every manifest run's report entry, in manifest order; a run with no record is missing."""
    out = []
    for run in manifest_runs:
        found = runs.get(run["run_id"])
        if found is None:
            stem = run.get("result_stem", "results/" + run["run_id"])
            why = [f"{stem}.{ext} is {(skipped or {})[name]}" for ext in ("parquet", "json")
                   if (name := f"{stem.rsplit('/', 1)[-1]}.{ext}") in (skipped or {})]
            found = {"run_id": run["run_id"], "class": "missing", "files": [],
                     "detail": "; ".join(why) or f"no {stem}.parquet or .json"}
        entry = {"run_id": run["run_id"], "class": found["class"], "detail": found.get("detail"),
                 "files": found["files"]}
        for key in ("workload", "software_env", "hardware_env", "repeat"):
            if key in run:
                entry[key] = run[key]
        out.append(entry)
    return out
