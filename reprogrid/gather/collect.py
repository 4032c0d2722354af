"""Gather: per-run result records -> one Parquet dataset, checked against the manifest.

``gather(submit_dir)`` reads ``manifest.json`` and every record under ``results/``
(``<run_id>.parquet``, or the job side's ``<run_id>.json`` fallback), validates each one
against the result schema (``reprogrid.job.schema``; older or newer schema versions are
mapped by column name, missing columns become null) and classifies every run of the
manifest as

- ``complete``  one valid record with status ``ok``
- ``failed``    one valid record with status ``failed`` (the recorded error is kept)
- ``missing``   no record
- ``duplicate`` more than one valid record (``.parquet`` and ``.json``, or several rows);
                the ``.parquet`` (first row) is kept in the dataset, all files are listed
- ``corrupt``   only unreadable records, or records whose run id, schema version or
                workload / environments disagree with the manifest

Records whose run id is not in the manifest are listed as ``unexpected``. Nothing is
dropped silently: every file and every run appears in the gather report.

The dataset (default ``<submit_dir>/dataset/``) is hive-partitioned by workload
(``workload=<name>/part-0.parquet``), readable directly by pandas, pyarrow, DuckDB and
polars; ``_gather_report.json`` inside it lists every run's class. It is built beside the
destination and swapped in (``fsutil.atomic_directory``), so a reader never sees half a
dataset; gathering twice gives the same bytes. Source files are only ever read.

Reading is streaming: records are read in chunks by a thread pool, concatenated per
chunk and appended to one Parquet writer per workload, so memory stays bounded by the
chunk size whatever the number of runs.
"""
from __future__ import annotations

import functools
import json
import os
import shlex
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError, file_system_error
from reprogrid.core.files import check_name_length, not_regular
from reprogrid.core.text import shown
from reprogrid.job.schema import SCHEMA_VERSION, STATUS_FAILED, STATUS_OK
from reprogrid.core.progress import Progress
from reprogrid.gather.records import Found, Rows, check_record, read_items
from reprogrid.gather.dataset import (PARTITION, REPORT_NAME, _checked_output, arrow_schema, conform, file_sizes,
                                      write_dataset)

PathLike = Union[str, "os.PathLike[str]"]

REPORT_SCHEMA = "reprogrid.gather-report/1"
CLASSES = ("complete", "failed", "missing", "duplicate", "corrupt")
_CHUNK = 4096


# --------------------------------------------------------------------------- schema


# --------------------------------------------------------------------------- results

@dataclass
class GatherResult:
    """What a gather found and wrote. ``runs`` has one entry per manifest run."""

    submit_dir: Path
    dataset_dir: Path
    report_path: Path
    runs: List[Dict[str, Any]]
    unexpected: List[Dict[str, Any]] = field(default_factory=list)
    corrupt_files: List[Dict[str, Any]] = field(default_factory=list)
    ignored_files: List[str] = field(default_factory=list)
    skipped_files: Dict[str, str] = field(default_factory=dict)  # results/ name -> why it is not read (a FIFO...)
    extra_columns: Dict[str, int] = field(default_factory=dict)
    rows_written: int = 0
    files_read: int = 0  # record files read this time (the rest were unchanged since the last gather)

    @property
    def counts(self) -> Dict[str, int]:
        counts = {name: 0 for name in CLASSES}
        for run in self.runs:
            counts[run["class"]] += 1
        counts["unexpected"] = len(self.unexpected)
        return counts

    @property
    def ok(self) -> bool:
        """True when every manifest run is complete and nothing unexpected was found."""
        counts = self.counts
        return counts["complete"] == len(self.runs) and not self.unexpected and not self.corrupt_files

    def runs_in(self, cls: str) -> List[Dict[str, Any]]:
        return [run for run in self.runs if run["class"] == cls]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "result_schema_version": SCHEMA_VERSION,
            "submit_dir": str(self.submit_dir),
            "dataset_dir": str(self.dataset_dir),
            "counts": self.counts,
            "rows_written": self.rows_written,
            "runs": self.runs,
            "unexpected": self.unexpected,
            "corrupt_files": self.corrupt_files,
            "ignored_files": self.ignored_files,
            "skipped_files": self.skipped_files,
            "extra_columns": self.extra_columns,
        }

    def summary(self, limit: int = 10) -> str:
        """A short human summary: counts, then up to ``limit`` runs of each problem class."""
        counts = self.counts
        total = len(self.runs)
        lines = [
            f"gathered {self.rows_written} record(s) for {total} run(s) into {shown(self.dataset_dir)}"
            + (f" ({self.files_read} file(s) read, the rest unchanged since the last gather)"
               if self.files_read < sum(len(r["files"]) for r in self.runs) else ""),
            "  " + "  ".join(f"{name}={counts[name]}" for name in (*CLASSES, "unexpected")),
        ]
        for cls in ("failed", "missing", "duplicate", "corrupt"):
            runs = self.runs_in(cls)
            if runs:
                lines.append(f"{cls} ({len(runs)}):")
                for run in runs[:limit]:
                    lines.append(f"  {shown(run['run_id'])}: {shown(run.get('detail') or '')}".rstrip())
                if len(runs) > limit:
                    lines.append(f"  ... and {len(runs) - limit} more (see {self.report_path})")
        if self.unexpected:
            lines.append(f"unexpected records, not in the manifest ({len(self.unexpected)}):")
            for item in self.unexpected[:limit]:
                lines.append(f"  {shown(', '.join(item['files']))}")
        if self.corrupt_files:
            lines.append(f"unreadable or invalid files ({len(self.corrupt_files)}):")
            for item in self.corrupt_files[:limit]:
                lines.append(f"  {shown(item['file'])}: {shown(item['error'])}")
        if self.skipped_files:
            lines.append(f"skipped, not regular files ({len(self.skipped_files)}):")
            lines += [f"  {tree.RESULTS_DIR}/{shown(name)}: {shown(why)}" for name, why in sorted(self.skipped_files.items())[:limit]]
        others = [name for name in self.ignored_files if name not in self.skipped_files]
        if others:
            lines.append(f"not records, left alone ({len(others)}): " + ", ".join(shown(n) for n in others[:limit])
                         + (" ..." if len(others) > limit else ""))
        if self.extra_columns:
            lines.append("columns not in the result schema (left out): "
                         + ", ".join(f"{shown(k)} ({v} files)" for k, v in sorted(self.extra_columns.items())))
        lines.append(f"report: {self.report_path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- manifest


# --------------------------------------------------------------------------- reading

def scan_results(results_dir: Path, stats: Optional[Dict[str, Tuple[int, int]]] = None
                 ) -> Tuple[Dict[str, List[Tuple[str, str]]], List[str]]:
    """Map run id -> [(kind, path)] for every record file; and the files that are not records.

    ``stats``, when given, receives path -> (size, mtime in ns) of every record file.
    """
    by_stem: Dict[str, List[Tuple[str, str]]] = {}
    ignored: List[str] = []
    if not results_dir.is_dir():
        return by_stem, ignored
    with os.scandir(results_dir) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.endswith(".tmp"):
                continue  # a writer's temporary file, not a record
            if not entry.is_file():
                ignored.append(name)
                continue
            stem, dot, ext = name.rpartition(".")
            if dot and ext in ("parquet", "json") and stem:
                by_stem.setdefault(stem, []).append((ext, entry.path))
                if stats is not None:
                    st = entry.stat()
                    stats[entry.path] = (st.st_size, st.st_mtime_ns)
            else:
                ignored.append(name)
    for files in by_stem.values():
        files.sort(key=lambda f: (f[0] != "parquet", f[1]))  # .parquet first
    ignored.sort()
    return by_stem, ignored


# --------------------------------------------------------------------------- writing


# --------------------------------------------------------------------------- gather

INDEX_NAME = "_gather_index.json"
INDEX_SCHEMA = "reprogrid.gather-index/1"


@dataclass
class _Gathering:
    """The state of one gather: what was found, what each run is, what was read."""

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
        return [[self.rel(p), *self.stats.get(p, (-1, -1))] for _, p in self.by_stem[stem]]


def gather(submit_dir: PathLike, *, output: Optional[PathLike] = None, workers: Optional[int] = None,
           progress: Optional[bool] = None, incremental: bool = True) -> GatherResult:
    """Collect ``<submit_dir>/results`` into one dataset and classify every manifest run.

    Tolerates partial results: missing, failed, duplicate and corrupt runs are listed in
    the result (and in ``_gather_report.json``), never raised. Raises ``UserError`` only
    for a missing/invalid manifest or an output folder that cannot be written. With
    ``incremental`` (the default) a run whose files are unchanged since the last gather
    into the same dataset is taken from that dataset instead of being read again; the
    dataset written is the same, byte for byte, as a full gather's. When nothing changed
    at all (every record file, and the dataset's own files, as the index recorded them),
    nothing is read or written and the last gather's result is returned.
    """
    submit, manifest, dataset_dir = _locate(submit_dir, output)
    stats: Dict[str, Tuple[int, int]] = {}
    by_stem, ignored = scan_results(submit / tree.RESULTS_DIR, stats)
    g = _Gathering(submit, {run["run_id"]: run for run in manifest["runs"]}, by_stem, stats)
    unexpected = [{"run_id": stem, "files": [g.rel(p) for _, p in by_stem[stem]]}
                  for stem in sorted(set(by_stem) - set(g.expected))]
    digest = _manifest_digest(submit)
    previous = _previous(dataset_dir, digest) if incremental else None
    report_runs: List[Dict[str, Any]] = []
    skipped = {name: f"{what}, not a record file: skipped; replace it with the job's record" for name in ignored
               if (what := not_regular(os.path.join(submit, tree.RESULTS_DIR, name)))}
    result = GatherResult(submit_dir=submit, dataset_dir=dataset_dir, report_path=dataset_dir / REPORT_NAME,
                          runs=report_runs, unexpected=unexpected, corrupt_files=g.corrupt_files,
                          ignored_files=ignored, skipped_files=skipped, extra_columns=g.extra_columns)

    def report() -> Dict[str, Any]:  # called by write_dataset after the last table was read
        report_runs[:] = _ordered_runs(manifest["runs"], g.runs, skipped)
        return result.to_dict()

    def index(written: Path) -> str:  # the dataset's own files' sizes too: a re-gather checks them
        sizes = {rel: size for rel, (size, _) in file_sizes(written, leave_out=[INDEX_NAME, REPORT_NAME]).items()}
        return json.dumps({"schema": INDEX_SCHEMA, "manifest_sha256": digest, "runs": g.index, "files": sizes},
                          separators=(",", ":"), sort_keys=True) + "\n"

    if previous is not None and _unchanged(g, previous, dataset_dir, result):
        return result  # nothing changed since the last gather: nothing is read or written
    previous = _old_rows(dataset_dir, previous)

    try:
        tables = _tables(g, sorted(set(by_stem) & set(g.expected)), previous, workers, progress)
        result.rows_written = write_dataset(tables, dataset_dir, report, extra={INDEX_NAME: index})
    except OSError as err:
        raise file_system_error(err, f"write the dataset {dataset_dir}", dataset_dir) from None
    finally:
        if previous is not None:
            previous[1].close()
    if not report_runs:  # write_dataset calls report(); this is for a study of no runs
        report_runs[:] = _ordered_runs(manifest["runs"], g.runs, skipped)
    result.files_read = g.files_read
    return result


def _locate(submit_dir: PathLike, output: Optional[PathLike]) -> Tuple[Path, Dict[str, Any], Path]:
    """The submit folder, its manifest and the dataset folder; refuse what cannot work."""
    submit = Path(submit_dir)
    if not submit.is_dir():
        raise UserError.of("cannot gather", [Problem(str(submit), "not a folder: pass the submit folder written by `reprogrid render`")])
    manifest = tree.read_manifest(submit)
    dataset_dir = Path(output) if output is not None else submit / tree.DATASET_DIR
    results_dir = submit / tree.RESULTS_DIR
    if dataset_dir.resolve() in (submit.resolve(), results_dir.resolve()):
        raise UserError.of("cannot gather", [Problem(str(dataset_dir), "the dataset cannot replace the submit or results folder; choose another output")])
    _check_writable(dataset_dir)
    _checked_output(dataset_dir)
    _check_hidden_results(submit)
    return submit, manifest, dataset_dir


def _check_hidden_results(submit: Path) -> None:
    """Refuse to gather an empty results/ while a killed ``render --force`` of an earlier
    version left the records in its hidden temporary folder (``.NAME.<random>.tmp/results``):
    the gather would replace a good dataset with an empty one."""
    import re

    results = submit / tree.RESULTS_DIR
    if results.is_dir() and any(not n.startswith(".") for n in os.listdir(results)):
        return
    pattern = re.compile(rf"^\.{re.escape(submit.name)}\.[A-Za-z0-9_]{{8}}\.tmp$")
    try:
        names = os.listdir(submit.absolute().parent)
    except OSError:
        return
    for name in names:
        hidden = submit.absolute().parent / name / tree.RESULTS_DIR
        if pattern.match(name) and hidden.is_dir() and any(not n.startswith(".") for n in os.listdir(hidden)):
            raise UserError.of("cannot gather", [Problem(str(hidden), (
                f"holds the records of {submit} (an interrupted `render --force` of an earlier reprogrid left them "
                f"there) while {results} is empty; move them back first: mv {shlex.quote(str(hidden))}/* "
                f"{shlex.quote(str(results))}/"))])


def _check_writable(dataset_dir: Path) -> None:
    """Refuse up front a dataset folder that cannot be created (exit 2, nothing written)."""
    why = check_name_length(dataset_dir)
    if why:
        raise UserError.of("cannot gather", [Problem(str(dataset_dir), f"{why} (-o)")])
    for parent in dataset_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError.of("cannot gather", [Problem(str(parent), "is a file, not a folder; choose another -o")])
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError.of("cannot gather", [Problem(str(parent), "is not writable by you; pass -o with a folder you can write, or change its permissions")])
            return


def _manifest_digest(submit: Path) -> str:
    import hashlib

    return hashlib.sha256((submit / tree.MANIFEST_FILE).read_bytes()).hexdigest()


def _previous(dataset_dir: Path, digest: str) -> Optional[Dict[str, Any]]:
    """The last gather's index and report, when it was made from the same manifest."""
    try:
        index = json.loads((dataset_dir / INDEX_NAME).read_text(encoding="utf-8"))
        report = json.loads((dataset_dir / REPORT_NAME).read_text(encoding="utf-8"))
        if index.get("schema") != INDEX_SCHEMA or index.get("manifest_sha256") != digest:
            return None
        runs = {run["run_id"]: run for run in report.get("runs", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {"index": index.get("runs", {}), "runs": runs, "files": index.get("files"), "report": report}


def _old_rows(dataset_dir: Path, info: Optional[Dict[str, Any]]) -> Optional[Tuple[Dict[str, Any], "_OldRows"]]:
    """The last gather's index with a reader of its rows; None when they cannot be read."""
    if info is None:
        return None
    try:
        return info, _OldRows(dataset_dir)
    except Exception:  # noqa: BLE001 - an unreadable old dataset: gather everything again
        return None


def _unchanged(g: _Gathering, previous: Dict[str, Any], dataset_dir: Path, result: GatherResult) -> bool:
    """Whether nothing the last gather read or wrote has changed since (by stat); if so
    ``result`` is filled from its report.

    Then a re-gather writes nothing: every record file has the size and mtime the index
    recorded, no record came or went, the files that were not records are the same, and
    the dataset's own files are those gather wrote (same names and sizes, none modified
    after the index, which is written last).
    """
    old = previous["report"]
    written = previous.get("files")
    try:  # the dataset as gather left it: the same files and sizes, none written after the index
        index_time = (dataset_dir / INDEX_NAME).stat().st_mtime_ns
        now = file_sizes(dataset_dir, leave_out=[INDEX_NAME])
    except OSError:
        return False
    if written is None or {rel: size for rel, (size, _) in now.items() if rel != REPORT_NAME} != written \
            or any(mtime > index_time for _, mtime in now.values()):
        return False
    if (old.get("submit_dir"), old.get("dataset_dir")) != (str(result.submit_dir), str(result.dataset_dir)):
        return False
    if old.get("unexpected") != result.unexpected or old.get("ignored_files") != result.ignored_files:
        return False
    index = previous["index"]
    stems = set(g.by_stem) & set(g.expected)
    if len(stems) != len(index) or any(index.get(stem, [None])[0] != g.signature(stem) for stem in stems):
        return False
    result.runs[:] = old["runs"]
    result.corrupt_files[:] = old.get("corrupt_files", [])
    result.extra_columns.update(old.get("extra_columns", {}))
    result.rows_written = int(old.get("rows_written", 0))
    result.files_read = 0
    return True


class _OldRows:
    """Rows of the previous dataset by run id, read one row group at a time (bounded memory)."""

    def __init__(self, dataset_dir: Path) -> None:
        import pyarrow.parquet as pq

        self.parts: List[Tuple[Optional[str], Any, List[int]]] = []
        self.where: Dict[str, Tuple[int, int]] = {}
        self.cache: Dict[int, Tuple[int, Any]] = {}
        for folder in sorted(dataset_dir.glob(f"{PARTITION}=*")):
            pf = pq.ParquetFile(str(folder / "part-0.parquet"))
            segment = folder.name.split("=", 1)[1]
            value = None if segment == "__HIVE_DEFAULT_PARTITION__" else urllib.parse.unquote(segment)
            offsets = [0]
            for i in range(pf.metadata.num_row_groups):
                offsets.append(offsets[-1] + pf.metadata.row_group(i).num_rows)
            part = len(self.parts)
            self.parts.append((value, pf, offsets))
            for row, run_id in enumerate(pf.read(columns=["run_id"]).column("run_id").to_pylist()):
                self.where[run_id] = (part, row)

    def row(self, stem: str):
        import bisect

        import pyarrow as pa

        part, row = self.where[stem]
        value, pf, offsets = self.parts[part]
        group = bisect.bisect_right(offsets, row) - 1
        cached = self.cache.get(part)
        if cached is None or cached[0] != group:
            table = pf.read_row_group(group)
            table = table.append_column(PARTITION, pa.array([value] * table.num_rows, pa.string()))
            cached = self.cache[part] = (group, Rows(conform(table), conformed=True))
        return Found(cached[1], row - offsets[group], 1, None, [])

    def close(self) -> None:
        for _, pf, _ in self.parts:
            close = getattr(pf, "close", None)
            if close:
                close()
        self.cache.clear()


def _tables(g: _Gathering, stems: List[str], previous, workers: Optional[int], progress: Optional[bool]) -> Iterable[Any]:
    """Conformed tables, one per chunk of runs in run-id order (what the dataset holds)."""
    n_files = sum(len(g.by_stem[s]) for s in stems)
    workers = workers or min(8, (os.cpu_count() or 2) * 2)
    chunks = [stems[start:start + _CHUNK] for start in range(0, len(stems), _CHUNK)]
    with ThreadPoolExecutor(max_workers=workers) as pool, Progress(n_files, "gather", force=progress) as bar:
        def fetch(chunk: List[str]):
            todo = [s for s in chunk if not _reusable(g, s, previous)]
            items = [item for stem in todo for item in g.by_stem[stem]]
            return todo, items, read_items(items, pool)

        pending = pool.submit(fetch, chunks[0]) if chunks else None
        for index, chunk in enumerate(chunks):
            todo, items, read = pending.result()
            if index + 1 < len(chunks):  # read the next chunk while this one is checked and written
                pending = pool.submit(fetch, chunks[index + 1])
            g.files_read += len(items)
            kept = _classify_chunk(g, chunk, set(todo), iter(read), previous)
            bar.update(sum(len(g.by_stem[s]) for s in chunk), **_progress_counts(g.runs))
            if kept:
                yield _chunk_table(kept, g)


def _reusable(g: _Gathering, stem: str, previous) -> bool:
    if previous is None:
        return False
    entry = previous[0]["index"].get(stem)
    if entry is None or entry[0] != g.signature(stem) or stem not in previous[0]["runs"]:
        return False
    return not entry[1] or stem in previous[1].where


def _classify_chunk(g: _Gathering, chunk: List[str], todo: set, read, previous) -> List[Tuple[str, Found]]:
    """Classify every run of a chunk (from what was read, or the last gather); return the rows to keep."""
    kept = []
    for stem in chunk:
        if stem not in todo:
            found = _reuse(g, stem, previous)
            if found is not None:
                kept.append((stem, found))
            continue
        valid, problems, extras = [], [], []
        for kind, path in g.by_stem[stem]:
            found = next(read)
            extras.extend(found.extra)
            error = found.error if found.error is not None else check_record(found, stem, g.expected[stem])
            if error is None:
                valid.append((g.rel(path), found))
            else:
                problems.append({"run_id": stem, "file": g.rel(path), "error": error})
        for name in extras:
            g.extra_columns[name] = g.extra_columns.get(name, 0) + 1
        g.corrupt_files.extend(problems)
        g.runs[stem] = _classify(stem, valid, problems)
        g.index[stem] = [g.signature(stem), bool(valid), problems, extras]
        if valid:
            kept.append((stem, valid[0][1]))
    return kept


def _reuse(g: _Gathering, stem: str, previous) -> Optional[Found]:
    """A run unchanged since the last gather: its class, problems and row as they were."""
    _sig, has_row, problems, extra = previous[0]["index"][stem]
    old = previous[0]["runs"][stem]
    g.runs[stem] = {"run_id": stem, "class": old["class"], "files": old["files"], "detail": old.get("detail")}
    g.corrupt_files.extend(problems)
    for name in extra:
        g.extra_columns[name] = g.extra_columns.get(name, 0) + 1
    g.index[stem] = [g.signature(stem), has_row, problems, extra]
    return previous[1].row(stem) if has_row else None


def _progress_counts(runs: Dict[str, Dict[str, Any]]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for run in runs.values():
        counts[run["class"]] = counts.get(run["class"], 0) + 1
    return counts


def _classify(stem: str, valid: List[Tuple[str, Found]], problems: List[Dict[str, Any]]) -> Dict[str, Any]:
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


def _chunk_table(kept: List[Tuple[str, Found]], g: "_Gathering"):
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
            pieces.append(rows.table.take([f.start for _, f in kept[i:j]]))
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


def _conform_failed(g: "_Gathering", stem: str, error: str) -> None:
    files = g.runs[stem]["files"]
    problem = {"run_id": stem, "file": files[0], "error": error}
    g.corrupt_files.append(problem)
    g.index[stem][2] = g.index[stem][2] + [problem]
    g.runs[stem] = {"run_id": stem, "class": "corrupt", "files": files, "detail": f"{files[0]}: {error}"}
    g.index[stem][1] = False


def _ordered_runs(manifest_runs: List[Dict[str, Any]], runs: Dict[str, Dict[str, Any]],
                  skipped: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
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


# --------------------------------------------------------------------------- loading


