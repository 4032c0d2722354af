"""Reading per-run record files, many at once, and the checks on each file's record.

``read_items`` reads one chunk of record files (``(kind, path)`` pairs): all Parquet
files in one ``polars.scan_parquet`` (Rust, all cores, many footers at once; measured at
over 10x a pandas ``read_parquet`` loop, see docs/performance.md), JSON files by a thread
pool. A chunk holding a file polars cannot read into the schema (unreadable, a column of
another type, a column the schema does not know) is read file by file with pyarrow, so
that file is reported alone and the others still count. Without polars,
``pyarrow.dataset`` does the scan.

A file's record is a span of a :class:`Rows` table; :func:`check_record` reads plain
Python values of a few columns, once per table, not per file.
"""
from __future__ import annotations

import functools
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from reprogrid.gather.dataset import arrow_schema, conform
from reprogrid.job.schema import COLUMN_NAMES, COLUMNS

COLUMNS_BY_NAME = dict(COLUMNS)
_CHECKED = ("run_id", "schema_version", "workload", "software_env", "hardware_env")
_VALUES = _CHECKED + ("status", "error_type", "error_message", "primary_value")


class Rows:
    """Records of one or many files in one Arrow table (``conformed``: in the result schema)."""

    __slots__ = ("table", "conformed", "_cols")

    def __init__(self, table: Any, conformed: bool) -> None:
        self.table = table
        self.conformed = conformed
        self._cols: Optional[Dict[str, List[Any]]] = None

    def cols(self) -> Dict[str, List[Any]]:
        if self._cols is None:
            names = [c for c in _VALUES if c in self.table.column_names]
            self._cols = self.table.select(names).to_pydict()
        return self._cols

    def value(self, name: str, i: int) -> Any:
        col = self.cols().get(name)
        return None if col is None else col[i]


class Found(NamedTuple):
    """What reading one file gave: its rows ``start:start+n`` of ``rows``, or an error."""

    rows: Optional[Rows]
    start: int
    n: int
    error: Optional[str]
    extra: List[str]


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
            _check_json_value(name, value)
    table = pa.Table.from_pylist(known, schema=arrow_schema())
    return table, extra


def _check_json_value(name: str, value: Any) -> None:
    kind = COLUMNS_BY_NAME[name]
    if value is None:
        return
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"column {name!r}: expected an integer, got {value!r}")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"column {name!r}: expected a number, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"column {name!r}: expected true/false, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise ValueError(f"column {name!r}: expected a string, got {value!r}")


def read_one(item: Tuple[str, str]) -> Found:
    """Read one record file (``(kind, path)``) on its own."""
    kind, path = item
    try:
        if kind == "parquet":
            table = _read_parquet(path)
            extra = [c for c in table.column_names if c not in COLUMNS_BY_NAME]
        else:
            table, extra = _read_json(path)
        return Found(Rows(table, conformed=False), 0, table.num_rows, None, extra)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported, not raised
        return Found(None, 0, 0, f"{type(err).__name__}: {err}".strip(), [])


@functools.lru_cache(maxsize=1)
def _polars():
    """polars, when installed and new enough for the scan options used here (else None)."""
    try:
        import inspect

        import polars

        params = inspect.signature(polars.scan_parquet).parameters
    except (ImportError, TypeError, ValueError):  # pragma: no cover - pyarrow.dataset is the fallback
        return None
    if not {"missing_columns", "extra_columns", "include_file_paths"} <= set(params):
        return None  # pragma: no cover - an old polars
    return polars


@functools.lru_cache(maxsize=1)
def _polars_schema():
    import pyarrow as pa

    schema = arrow_schema()  # an empty table of nulls: Schema.empty_table() would import pandas
    return _polars().from_arrow(pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)).schema


def _spans(rows: Rows, paths: List[str], files: List[str], counts: List[int]) -> Dict[str, Found]:
    out: Dict[str, Found] = {}
    offset = 0
    for path, n in zip(files, counts):
        out[path] = Found(rows, offset, n, None, [])
        offset += n
    return {path: out.get(path, Found(rows, 0, 0, None, [])) for path in paths}


def scan_polars(paths: List[str]) -> Optional[Dict[str, Found]]:
    """Read many Parquet record files in one ``polars.scan_parquet``; None when any file
    cannot be read into the schema exactly (the caller then reads file by file)."""
    pl = _polars()
    if pl is None:
        return None
    if not paths:
        return {}
    try:
        frame = pl.scan_parquet(paths, schema=_polars_schema(), include_file_paths="__file",
                                missing_columns="insert", extra_columns="raise").collect()
        counts = frame.group_by("__file", maintain_order=True).len()
        table = conform(frame.drop("__file").to_arrow(compat_level=pl.CompatLevel.oldest()))
    except Exception:  # noqa: BLE001 - polars raises several kinds; the slow path names the file
        return None
    return _spans(Rows(table, conformed=True), paths, counts["__file"].to_list(), counts["len"].to_list())


def scan_pyarrow(paths: List[str]) -> Optional[Dict[str, Found]]:
    """The same with ``pyarrow.dataset`` (used when polars is not installed)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not paths:
        return {}
    schema = arrow_schema()
    names = set(schema.names)
    batches: Dict[str, List[Any]] = {}
    extras: Dict[str, List[str]] = {}
    try:
        dataset = ds.dataset(paths, format="parquet", schema=schema)
        for tagged in dataset.scanner(batch_readahead=64, fragment_readahead=64).scan_batches():
            path = tagged.fragment.path
            batches.setdefault(path, []).append(tagged.record_batch)
            if path not in extras:
                extras[path] = [c for c in tagged.fragment.physical_schema.names if c not in names]
    except (pa.ArrowException, OSError, ValueError):
        return None
    if any(extras.values()):
        return None  # report the extra columns per file: read file by file
    files = [p for p in paths if p in batches]
    table = pa.Table.from_batches([b for p in files for b in batches[p]], schema=schema)
    counts = [sum(b.num_rows for b in batches[p]) for p in files]
    return _spans(Rows(table, conformed=True), paths, files, counts)


def reader_threads(workers: Optional[int] = None) -> int:
    """The reader pool's size: ``workers`` when given, else two per core, at most 8."""
    return workers or min(8, (os.cpu_count() or 2) * 2)


def read_items(items: List[Tuple[str, str]], pool: ThreadPoolExecutor) -> List[Found]:
    """Read a chunk of record files, in the order given (see the module's docstring)."""
    parquet = [p for k, p in items if k == "parquet"]
    fast = scan_polars(parquet) if _polars() is not None else scan_pyarrow(parquet)
    if fast is None:
        return list(pool.map(read_one, items))
    json_items = [i for i in items if i[0] == "json"]
    json_read = dict(zip([p for _, p in json_items], pool.map(read_one, json_items)))
    return [fast[path] if kind == "parquet" else json_read[path] for kind, path in items]


def check_record(found: Found, stem: str, expected: Dict[str, Any]) -> Optional[str]:
    """Why this file's record is not valid for run ``stem`` (None when it is)."""
    if found.n == 0:
        return "the file holds no record"
    rows, start = found.rows, found.start
    assert rows is not None
    cols = rows.cols()
    run_ids = cols.get("run_id")
    if run_ids is None or all(r is None for r in run_ids[start:start + found.n]):
        return "no run_id column: not a reprogrid result record"
    if found.n > 1:
        ids = set(run_ids[start:start + found.n])
        if ids != {stem}:
            shown = ", ".join(repr(r) for r in sorted(ids, key=str))
            return f"record's run_id {shown} does not match the file name {stem!r}"
    if run_ids[start] != stem:
        return f"record's run_id {run_ids[start]!r} does not match the file name {stem!r}"
    version = rows.value("schema_version", start)
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
        want, got = expected.get(key), rows.value(key, start)
        if want is not None and got is not None and got != want:
            return f"record says {key} {got!r}, the manifest says {want!r}"
    value = rows.value("primary_value", start)
    if isinstance(value, float) and not math.isfinite(value):  # the analysis never sees NaN or inf
        return f"primary_value is {value}, not a finite number (a job before MetricNotFinite); rerun the run"
    return None
