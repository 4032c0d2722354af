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

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError
from reprogrid.job.schema import COLUMN_NAMES, COLUMNS, SCHEMA_VERSION, STATUS_FAILED, STATUS_OK
from reprogrid.core.progress import Progress
from reprogrid.gather.dataset import REPORT_NAME, _checked_output, arrow_schema, conform, write_dataset

PathLike = Union[str, "os.PathLike[str]"]

REPORT_SCHEMA = "reprogrid.gather-report/1"
CLASSES = ("complete", "failed", "missing", "duplicate", "corrupt")
_CHUNK = 2048


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
    extra_columns: Dict[str, int] = field(default_factory=dict)
    rows_written: int = 0

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
            "extra_columns": self.extra_columns,
        }

    def summary(self, limit: int = 10) -> str:
        """A short human summary: counts, then up to ``limit`` runs of each problem class."""
        counts = self.counts
        total = len(self.runs)
        lines = [
            f"gathered {self.rows_written} record(s) for {total} run(s) into {self.dataset_dir}",
            "  " + "  ".join(f"{name}={counts[name]}" for name in (*CLASSES, "unexpected")),
        ]
        for cls in ("failed", "missing", "duplicate", "corrupt"):
            runs = self.runs_in(cls)
            if runs:
                lines.append(f"{cls} ({len(runs)}):")
                for run in runs[:limit]:
                    lines.append(f"  {run['run_id']}: {run.get('detail') or ''}".rstrip())
                if len(runs) > limit:
                    lines.append(f"  ... and {len(runs) - limit} more (see {self.report_path})")
        if self.unexpected:
            lines.append(f"unexpected records, not in the manifest ({len(self.unexpected)}):")
            for item in self.unexpected[:limit]:
                lines.append(f"  {', '.join(item['files'])}")
        if self.corrupt_files:
            lines.append(f"unreadable or invalid files ({len(self.corrupt_files)}):")
            for item in self.corrupt_files[:limit]:
                lines.append(f"  {item['file']}: {item['error']}")
        if self.extra_columns:
            lines.append("columns not in the result schema (left out): "
                         + ", ".join(f"{k} ({v} files)" for k, v in sorted(self.extra_columns.items())))
        lines.append(f"report: {self.report_path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- manifest


# --------------------------------------------------------------------------- reading

def _read_parquet(path: str):
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read(use_threads=False)


def _read_json(path: str):
    import pyarrow as pa

    with open(path, "r", encoding="utf-8") as handle:
        record = json.load(handle)
    if isinstance(record, list) and all(isinstance(r, dict) for r in record):
        records = record
    elif isinstance(record, dict):
        records = [record]
    else:
        raise ValueError("expected a JSON object with the record's columns")
    extra = sorted({k for r in records for k in r} - set(COLUMN_NAMES))
    known = [{k: v for k, v in r.items() if k in COLUMN_NAMES} for r in records]
    for r in known:  # a JSON bool must not pass as an int column, nor an int as a bool
        for name, value in r.items():
            kind = COLUMNS_BY_NAME[name]
            if value is None:
                continue
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"column {name!r}: expected an integer, got {value!r}")
            if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"column {name!r}: expected a number, got {value!r}")
            if kind == "bool" and not isinstance(value, bool):
                raise ValueError(f"column {name!r}: expected true/false, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise ValueError(f"column {name!r}: expected a string, got {value!r}")
    table = pa.Table.from_pylist(known, schema=arrow_schema())
    return table, extra


COLUMNS_BY_NAME = dict(COLUMNS)


def _read_one(item: Tuple[str, str]) -> Tuple[Any, Optional[str], List[str]]:
    """Read one record file: (table, error, extra columns)."""
    kind, path = item
    try:
        if kind == "parquet":
            table = _read_parquet(path)
            extra = [c for c in table.column_names if c not in COLUMNS_BY_NAME]
            return table, None, extra
        table, extra = _read_json(path)
        return table, None, extra
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported, not raised
        return None, f"{type(err).__name__}: {err}".strip(), []


def _scan_parquet(paths: List[str]) -> Optional[Dict[str, Tuple[Any, Optional[str], List[str]]]]:
    """Read many record files in one pyarrow.dataset scan (C++ threads, no per-file Python).

    Returns path -> (table, None, extra columns) like :func:`_read_one`, or None when any
    file in the batch cannot be read or cast to the schema (the caller then reads the
    batch file by file, so one bad file is reported alone).
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not paths:
        return {}
    schema = arrow_schema()
    names = set(schema.names)
    try:
        dataset = ds.dataset(paths, format="parquet", schema=schema)
        batches: Dict[str, List[Any]] = {}
        extras: Dict[str, List[str]] = {}
        for tagged in dataset.scanner(batch_readahead=64, fragment_readahead=64).scan_batches():
            path = tagged.fragment.path
            batches.setdefault(path, []).append(tagged.record_batch)
            if path not in extras:
                extras[path] = [c for c in tagged.fragment.physical_schema.names if c not in names]
    except (pa.ArrowException, OSError, ValueError):
        return None
    out: Dict[str, Tuple[Any, Optional[str], List[str]]] = {}
    for path in paths:
        found = batches.get(path)
        table = pa.Table.from_batches(found, schema=schema) if found else schema.empty_table()
        out[path] = (table, None, extras.get(path, []))
    return out


def _first(table, name: str) -> Any:
    if name not in table.column_names or table.num_rows == 0:
        return None
    return table.column(name)[0].as_py()


_CHECKED = ("run_id", "schema_version", "workload", "software_env", "hardware_env")


def _check_record(table, stem: str, expected: Dict[str, Any]) -> Optional[str]:
    """Why this single file's record is not valid for run ``stem`` (None when it is)."""
    if table.num_rows == 0:
        return "the file holds no record"
    names = table.schema.names
    if "run_id" not in names:
        return "no run_id column: not a reprogrid result record"
    if table.num_rows > 1:
        run_ids = set(table.column("run_id").to_pylist())
        if run_ids != {stem}:
            shown = ", ".join(repr(r) for r in sorted(run_ids, key=str))
            return f"record's run_id {shown} does not match the file name {stem!r}"
    # One conversion of the first row's checked columns (per-column scalars cost ~40 us each).
    row = table.select([c for c in _CHECKED if c in names]).slice(0, 1).to_pylist()[0]
    if row["run_id"] != stem:
        return f"record's run_id {row['run_id']!r} does not match the file name {stem!r}"
    version = row.get("schema_version")
    if version is None:
        return "no schema_version: not a reprogrid result record"
    if isinstance(version, bool) or not isinstance(version, int):
        try:
            version = int(version)
        except (TypeError, ValueError):
            return f"schema_version {version!r} is not an integer"
    if version < 1:
        return f"schema_version {version} is not a known result schema"
    for key in ("workload", "software_env", "hardware_env"):
        want = expected.get(key)
        got = row.get(key)
        if want is not None and got is not None and got != want:
            return f"record says {key} {got!r}, the manifest says {want!r}"
    return None


def scan_results(results_dir: Path) -> Tuple[Dict[str, List[Tuple[str, str]]], List[str]]:
    """Map run id -> [(kind, path)] for every record file; and the files that are not records."""
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
            else:
                ignored.append(name)
    for files in by_stem.values():
        files.sort(key=lambda f: (f[0] != "parquet", f[1]))  # .parquet first
    ignored.sort()
    return by_stem, ignored


# --------------------------------------------------------------------------- writing


# --------------------------------------------------------------------------- gather

def gather(submit_dir: PathLike, *, output: Optional[PathLike] = None, workers: Optional[int] = None,
           progress: Optional[bool] = None) -> GatherResult:
    """Collect ``<submit_dir>/results`` into one dataset and classify every manifest run.

    Tolerates partial results: missing, failed, duplicate and corrupt runs are listed in
    the result (and in ``_gather_report.json``), never raised. Raises ``UserError`` only
    for a missing/invalid manifest or an output folder that is not a dataset.
    """
    submit = Path(submit_dir)
    if not submit.is_dir():
        raise UserError.of("cannot gather", [Problem(str(submit), "not a folder: pass the submit folder written by `reprogrid render`")])
    manifest = tree.read_manifest(submit)
    dataset_dir = Path(output) if output is not None else submit / tree.DATASET_DIR
    results_dir = submit / tree.RESULTS_DIR
    if dataset_dir.resolve() in (submit.resolve(), results_dir.resolve()):
        raise UserError.of("cannot gather", [Problem(str(dataset_dir), "the dataset cannot replace the submit or results folder; choose another output")])
    _checked_output(dataset_dir)

    expected = {run["run_id"]: run for run in manifest["runs"]}
    by_stem, ignored = scan_results(results_dir)
    rel = lambda p: os.path.relpath(p, submit)  # noqa: E731

    unexpected = [{"run_id": stem, "files": [rel(p) for _, p in by_stem[stem]]}
                  for stem in sorted(set(by_stem) - set(expected))]
    stems = sorted(set(by_stem) & set(expected))
    runs: Dict[str, Dict[str, Any]] = {}
    corrupt_files: List[Dict[str, Any]] = []
    extra_columns: Dict[str, int] = {}
    n_files = sum(len(by_stem[s]) for s in stems)
    workers = workers or min(8, (os.cpu_count() or 2) * 2)

    def tables() -> Iterable[Any]:
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                Progress(n_files, "gather", force=progress) as bar:
            chunks = [stems[start:start + _CHUNK] for start in range(0, len(stems), _CHUNK)]

            def fetch(chunk: List[str]):
                items = [item for stem in chunk for item in by_stem[stem]]
                return items, _scan_parquet([path for kind, path in items if kind == "parquet"])

            pending = pool.submit(fetch, chunks[0]) if chunks else None
            for index, chunk in enumerate(chunks):
                items, fast = pending.result()
                if index + 1 < len(chunks):  # read the next chunk while this one is checked and written
                    pending = pool.submit(fetch, chunks[index + 1])
                if fast is None:  # a bad file in this chunk: read it file by file
                    read = iter(pool.map(_read_one, items))
                else:
                    json_read = dict(zip([p for k, p in items if k == "json"],
                                         pool.map(_read_one, [i for i in items if i[0] == "json"])))
                    read = iter([fast[path] if kind == "parquet" else json_read[path] for kind, path in items])
                kept = []
                for stem in chunk:
                    valid = []
                    problems = []
                    for kind, path in by_stem[stem]:
                        table, error, extra = next(read)
                        for name in extra:
                            extra_columns[name] = extra_columns.get(name, 0) + 1
                        if error is None:
                            error = _check_record(table, stem, expected[stem])
                        if error is None:
                            valid.append((rel(path), table))
                        else:
                            problems.append({"run_id": stem, "file": rel(path), "error": error})
                    corrupt_files.extend(problems)
                    runs[stem] = _classify(stem, valid, problems)
                    if valid:
                        kept.append((stem, valid[0][1].slice(0, 1)))
                bar.update(len(items), **_progress_counts(runs))
                if kept:
                    yield _conform_chunk(kept, runs, corrupt_files)

    report_runs = []
    result = GatherResult(submit_dir=submit, dataset_dir=dataset_dir, report_path=dataset_dir / REPORT_NAME,
                          runs=report_runs, unexpected=unexpected, corrupt_files=corrupt_files,
                          ignored_files=ignored, extra_columns=extra_columns)

    def report() -> Dict[str, Any]:
        report_runs[:] = _ordered_runs(manifest["runs"], runs)
        return result.to_dict()

    # the report is built after the last table was read (write_dataset calls it last)
    result.rows_written = write_dataset(tables(), dataset_dir, report)
    report_runs[:] = _ordered_runs(manifest["runs"], runs)
    return result


def _progress_counts(runs: Dict[str, Dict[str, Any]]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for run in runs.values():
        counts[run["class"]] = counts.get(run["class"], 0) + 1
    return counts


def _classify(stem: str, valid: List[Tuple[str, Any]], problems: List[Dict[str, Any]]) -> Dict[str, Any]:
    files = [path for path, _ in valid] + [p["file"] for p in problems]
    if not valid:
        return {"run_id": stem, "class": "corrupt", "files": files,
                "detail": "; ".join(f"{p['file']}: {p['error']}" for p in problems)}
    path, table = valid[0]
    notes = [f"{p['file']} is invalid ({p['error']})" for p in problems]
    if len(valid) > 1 or table.num_rows > 1:
        n = sum(t.num_rows for _, t in valid)
        return {"run_id": stem, "class": "duplicate", "files": files,
                "detail": "; ".join([f"{n} records ({', '.join(p for p, _ in valid)}); kept the first row of {path}"] + notes)}
    status = _first(table, "status")
    if status == STATUS_OK:
        return {"run_id": stem, "class": "complete", "files": files, "detail": "; ".join(notes) or None}
    if status == STATUS_FAILED:
        error = ": ".join(str(x) for x in (_first(table, "error_type"), _first(table, "error_message")) if x)
        return {"run_id": stem, "class": "failed", "files": files,
                "detail": "; ".join([error or "failed (no error recorded)"] + notes)}
    return {"run_id": stem, "class": "corrupt", "files": files,
            "detail": "; ".join([f"{path}: status {status!r} is neither 'ok' nor 'failed'"] + notes)}


def _conform_chunk(kept: List[Tuple[str, Any]], runs: Dict[str, Dict[str, Any]], corrupt_files: List[Dict[str, Any]]):
    """Concatenate a chunk's records and conform them; fall back to file by file on a type error."""
    import pyarrow as pa

    tables = [t for _, t in kept]
    try:  # one contiguous table per chunk: the per-file buffers are released right away
        return conform(pa.concat_tables(tables, promote_options="permissive")).combine_chunks()
    except (ValueError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    good = []
    for stem, table in kept:
        try:
            good.append(conform(table))
        except ValueError as err:
            files = runs[stem]["files"]
            corrupt_files.append({"run_id": stem, "file": files[0], "error": str(err)})
            runs[stem] = {"run_id": stem, "class": "corrupt", "files": files, "detail": f"{files[0]}: {err}"}
    return pa.concat_tables(good) if good else arrow_schema().empty_table()


def _ordered_runs(manifest_runs: List[Dict[str, Any]], runs: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for run in manifest_runs:
        found = runs.get(run["run_id"])
        if found is None:
            found = {"run_id": run["run_id"], "class": "missing", "files": [],
                     "detail": f"no {run.get('result_stem', 'results/' + run['run_id'])}.parquet or .json"}
        entry = {"run_id": run["run_id"], "class": found["class"], "detail": found.get("detail"),
                 "files": found["files"]}
        for key in ("workload", "software_env", "hardware_env", "repeat"):
            if key in run:
                entry[key] = run[key]
        out.append(entry)
    return out


# --------------------------------------------------------------------------- loading


