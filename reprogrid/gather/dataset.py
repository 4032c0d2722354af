"""The gathered dataset: the one Arrow schema of a result record, its writer and readers.

``write_dataset`` writes a hive-partitioned Parquet dataset atomically: each workload's
rows, in the order given, in part files of at most ``PART_ROWS`` rows
(``workload=<name>/part-0.parquet``, ``part-1.parquet``...; a re-gather rewrites only the
parts holding a changed run, see ``regather``); ``write_part`` writes one such part; ``load_dataset``/``load_table`` read one back (a submit folder, its ``dataset/``
or a single Parquet file); ``read_report`` reads gather's report beside it. ``conform``
casts any record table onto the schema by column name, so older or newer records map.
"""
from __future__ import annotations

import functools
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from reprogrid import tree
from reprogrid.core.errors import Problem, UserError
from reprogrid.core.files import atomic_directory, write_text_atomic
from reprogrid.job import record as job_record

PathLike = Union[str, "os.PathLike[str]"]

REPORT_NAME = "_gather_report.json"
PARTITION = "workload"
PART_ROWS = 2048  # rows per part file at most: what a re-gather rewrites for one changed run


def part_folder(workload: Optional[str]) -> str:
    """The hive folder of a workload's parts (``workload=<name>``, quoted as pyarrow reads it)."""
    segment = "__HIVE_DEFAULT_PARTITION__" if workload is None else urllib.parse.quote(workload, safe="")
    return f"{PARTITION}={segment}"


def part_name(workload: Optional[str], number: int) -> str:
    """A part file's path inside the dataset: ``workload=<name>/part-<number>.parquet``."""
    return f"{part_folder(workload)}/part-{number}.parquet"


def part_number(rel: str) -> int:
    """The number of a part file named by :func:`part_name`."""
    return int(rel.rsplit("/part-", 1)[1].split(".", 1)[0])


def file_schema():
    """The schema of a part file: the result schema less the partition column (its folder)."""
    schema = arrow_schema()
    return schema.remove(schema.get_field_index(PARTITION))


@functools.lru_cache(maxsize=None)
def arrow_schema():
    """The result record as an Arrow schema: the job side's own (every column nullable,
    the schema version in its metadata), so what jobs write and what gather writes agree."""
    return job_record.arrow_schema()


def conform(table):
    """Return ``table`` with exactly the schema's columns, in order, cast by name.

    Missing columns become nulls; columns the schema does not know are left out. Raises
    ``ValueError`` naming the column when a value cannot be cast to its type.
    """
    import pyarrow as pa

    schema = arrow_schema()
    columns = []
    names = set(table.column_names)
    for fld in schema:
        if fld.name in names:
            col = table.column(fld.name)
            if col.type != fld.type:
                try:
                    if pa.types.is_dictionary(col.type):
                        col = col.cast(col.type.value_type)
                    col = col.cast(fld.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
                    raise ValueError(f"column {fld.name!r}: cannot read {col.type} as {fld.type} ({err})") from None
            columns.append(col)
        else:
            columns.append(pa.nulls(table.num_rows, fld.type))
    return pa.Table.from_arrays(columns, schema=schema)


class DatasetWriter:
    """Append conformed tables to each workload's part files under a hive layout, a new part
    every ``PART_ROWS`` rows. ``placed``, when given, receives each row's run id -> its
    part file (gather's index needs it; the importers do not)."""

    def __init__(self, root: Path, placed: Optional[Dict[str, str]] = None) -> None:
        self.root = root
        self.writers: Dict[Optional[str], List[Any]] = {}  # workload -> [writer, part name, rows, number]
        self.rows = 0
        self.placed = placed
        self.file_schema = file_schema()

    def write(self, table) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        workloads = table.column(PARTITION)
        values = workloads.unique().to_pylist()
        for value in sorted(values, key=lambda v: (v is None, v or "")):
            if value is None:
                mask = pc.is_null(workloads)
            else:
                mask = pc.fill_null(pc.equal(workloads, pa.scalar(value, pa.string())), False)
            part = table.filter(mask).drop_columns([PARTITION])
            start = 0
            while start < part.num_rows:
                state = self._writer(value)
                piece = part.slice(start, PART_ROWS - state[2])
                state[0].write_table(piece, row_group_size=max(piece.num_rows, 1))
                state[2] += piece.num_rows
                if self.placed is not None:
                    self.placed.update({r: state[1] for r in piece.column("run_id").to_pylist() if r is not None})
                start += piece.num_rows
            self.rows += part.num_rows

    def _writer(self, workload: Optional[str]) -> List[Any]:
        """The workload's open part, with room for a row (the next part once it holds PART_ROWS)."""
        import pyarrow.parquet as pq

        state = self.writers.get(workload)
        if state is not None and state[2] < PART_ROWS:
            return state
        number = 0 if state is None else state[3] + 1
        if state is not None:
            state[0].close()
        name = part_name(workload, number)
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        state = self.writers[workload] = [pq.ParquetWriter(str(self.root / name), self.file_schema), name, 0, number]
        return state

    def close(self) -> None:
        for state in self.writers.values():
            state[0].close()
        if not self.writers:
            write_empty(self.root)


def string_array(values: List[str]):
    """An Arrow string array of ``values``, built from its buffers: ``pa.array`` on a Python
    list imports pandas (pyarrow checks for pandas objects), half a second a re-gather
    never otherwise needs."""
    import array
    import sys

    import pyarrow as pa

    if sys.byteorder != "little":  # pragma: no cover - Arrow's buffers are little-endian
        return pa.array(values, pa.string())
    data = [value.encode("utf-8") for value in values]
    offsets = array.array("i", [0])
    total = 0
    for item in data:
        total += len(item)
        offsets.append(total)
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(data))])


def int_array(values: List[int]):
    """An Arrow int64 array of ``values`` (row numbers for ``take``), from its buffer: not
    ``pa.array``, which imports pandas (see :func:`string_array`)."""
    import array
    import sys

    import pyarrow as pa

    if sys.byteorder != "little":  # pragma: no cover - Arrow's buffers are little-endian
        return pa.array(values, pa.int64())
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(array.array("q", values).tobytes())])


def write_empty(root: Path) -> None:
    """The file an empty dataset holds, so its schema stays discoverable."""
    import pyarrow.parquet as pq

    pq.write_table(arrow_schema().empty_table(), str(root / "part-0.parquet"))


def write_part(root: Path, name: str, table) -> int:
    """Write conformed rows (of one workload) as the part file ``name`` under ``root``, in
    one row group; return the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = file_schema()
    rows = pa.Table.from_arrays([table.column(f.name) for f in schema], schema=schema)
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, str(root / name), row_group_size=max(rows.num_rows, 1))
    return rows.num_rows


def write_dataset(tables: Iterable[Any], output: PathLike,
                  report: Union[None, Dict[str, Any], Callable[[], Dict[str, Any]]] = None,
                  extra: Optional[Dict[str, Callable[[Path], str]]] = None,
                  placed: Optional[Dict[str, str]] = None) -> int:
    """Write result-schema tables as a hive-partitioned dataset at ``output``, atomically.

    ``tables`` are conformed (see :func:`conform`) and streamed one at a time; ``report``
    (a dict, or a function called after the last table) is stored as
    ``_gather_report.json`` inside the dataset. Returns the rows written. Gather and the
    importers both write through here, so they produce the same layout. ``extra`` maps
    more file names (``_``-prefixed, so readers skip them) to functions giving their text,
    called after the report with the folder being written (its files are all there).
    ``placed``, when given, receives each row's run id -> its part file (before ``extra``).
    """
    output = _checked_output(Path(output))
    with atomic_directory(output) as tmp:
        writer = DatasetWriter(tmp, placed)
        try:
            for table in tables:
                writer.write(conform(table))
        finally:
            writer.close()
        if report is not None:
            content = dict(report() if callable(report) else report, rows_written=writer.rows)
            write_text_atomic(tmp / REPORT_NAME, report_json(content))
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text(tmp), encoding="utf-8")
    return writer.rows


def file_sizes(root: Union[Path, int], leave_out: Iterable[str] = ()) -> Dict[str, List[int]]:
    """Relative path -> [size, mtime in ns] of every file under ``root`` (a folder, or one
    open as a descriptor) but ``leave_out``; links are not followed."""
    out: Dict[str, List[int]] = {}
    skip = set(leave_out)
    top = "." if isinstance(root, int) else str(root)
    walk = os.fwalk(".", dir_fd=root) if isinstance(root, int) else os.fwalk(top)
    for folder, _dirs, names, dir_fd in walk:
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), top).replace(os.sep, "/")
            if rel not in skip:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                out[rel] = [st.st_size, st.st_mtime_ns]
    return out


def report_json(content: Dict[str, Any]) -> str:
    """The report as JSON with one key per line and one list item (a run) per line: as
    readable as an indented dump, and written by the C encoder (an indented dump of
    100,000 runs takes seconds in pure Python)."""
    lines = []
    for key, value in content.items():
        if isinstance(value, list) and value:
            items = ",\n  ".join(json.dumps(item) for item in value)
            lines.append(f" {json.dumps(key)}: [\n  {items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _checked_output(output: Path) -> Path:
    """Refuse to replace a folder that is not a dataset (it would be deleted by the swap)."""
    if output.exists():
        if not output.is_dir():
            raise UserError.of("cannot write the dataset", [Problem(str(output), "exists and is not a folder; choose another output")])
        names = [n for n in os.listdir(output)]
        looks_like_dataset = REPORT_NAME in names or all(
            n.startswith(f"{PARTITION}=") or n in ("part-0.parquet", "_source.json") or n.startswith(".") for n in names)
        if names and not looks_like_dataset:
            raise UserError.of("cannot write the dataset", [Problem(
                str(output), "exists and is not a reprogrid dataset; choose an empty or new folder")])
    return output


def find_dataset(path: PathLike) -> Path:
    """The dataset folder (or file) for a submit folder, a dataset folder or a Parquet file."""
    path = Path(path)
    if path.is_file():
        return path
    if (path / tree.DATASET_DIR).is_dir() and tree.is_submit_dir(path):
        return path / tree.DATASET_DIR
    if path.is_dir() and tree.is_submit_dir(path):
        raise UserError.of("no dataset yet", [Problem(str(path), "this submit folder has not been gathered: run `reprogrid gather` first")])
    if path.is_dir():
        return path
    raise UserError.of("no dataset", [Problem(str(path), "not found: pass a submit folder, a dataset folder or a .parquet file")])


def load_table(path: PathLike):
    """The dataset at ``path`` (see :func:`find_dataset`) as an Arrow table in the result schema."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    target = find_dataset(path)
    partitioning = ds.partitioning(pa.schema([pa.field(PARTITION, pa.string())]), flavor="hive")
    try:
        if target.is_file():
            table = ds.dataset(str(target), format="parquet").to_table()
        else:
            files = sorted(str(p) for p in target.rglob("*.parquet") if not any(
                part.startswith((".", "_")) for part in p.relative_to(target).parts))
            if not files:
                raise UserError.of("no dataset", [Problem(str(target), "holds no .parquet files: run `reprogrid gather` or `reprogrid import` first")])
            dataset = ds.dataset(files, format="parquet", partitioning=partitioning, partition_base_dir=str(target))
            table = dataset.to_table()
    except (pa.ArrowInvalid, OSError) as err:
        raise UserError.of("unreadable dataset", [Problem(str(target), f"{err}")]) from None
    if table.column_names.count(PARTITION) > 1:  # a root-level file that kept the column
        idx = [i for i, n in enumerate(table.column_names) if n == PARTITION]
        table = table.remove_column(idx[-1])
    return conform(table)


def load_dataset(path: PathLike):
    """The dataset as a pandas DataFrame with the result schema's columns, in order.

    ``path`` is a submit folder (its ``dataset/``), a dataset folder written by gather or
    ``reprogrid import``, or one Parquet file. Integer columns are nullable (``Int64``).
    """
    import pandas as pd

    table = load_table(path)
    import pyarrow as pa

    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return table.to_pandas(types_mapper=mapping.get)


def read_report(path: PathLike) -> Optional[Dict[str, Any]]:
    """The gather report stored with a dataset (None when there is none)."""
    try:
        target = find_dataset(path)
    except UserError:
        return None
    report = (target if target.is_dir() else target.parent) / REPORT_NAME
    if not report.is_file():
        return None
    try:
        return json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable, not JSON or not UTF-8: as if there were none
        return None
