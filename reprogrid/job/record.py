"""The per-run result record: build it with every column of ``schema.COLUMNS``, write it.

Written atomically as ``<output_dir>/<run_id>.parquet`` with pyarrow when it imports,
else as ``<output_dir>/<run_id>.json`` (a flat object with the same keys; gather converts
it). See docs/result-schema.md.
"""
from __future__ import annotations

import json
import math
import os
import struct
import sys
import tempfile
from typing import Any, Dict, Optional, Tuple

from .schema import COLUMN_NAMES, COLUMN_TYPES, COLUMNS, SCHEMA_VERSION

JSON_FORMAT = "reprogrid.record/%d" % SCHEMA_VERSION
ERROR_MESSAGE_LIMIT = 4000


def empty_record() -> Dict[str, Any]:
    """Every column set to None, except ``schema_version``."""
    record = {name: None for name in COLUMN_NAMES}  # type: Dict[str, Any]
    record["schema_version"] = SCHEMA_VERSION
    return record


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = COLUMN_TYPES[name]
    if kind == "int":
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def normalise(record: Dict[str, Any]) -> Dict[str, Any]:
    """The record with exactly the schema's columns, in order, values coerced to their types.

    Unknown keys raise ValueError: a new column is a schema change (schema.py).
    """
    unknown = sorted(set(record) - set(COLUMN_NAMES))
    if unknown:
        raise ValueError("not in the result schema: %s" % ", ".join(unknown))
    out = {}
    for name in COLUMN_NAMES:
        out[name] = _coerce(name, record.get(name))
    if len(out.get("error_message") or "") > ERROR_MESSAGE_LIMIT:
        out["error_message"] = out["error_message"][:ERROR_MESSAGE_LIMIT] + "... [truncated]"
    return out


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


#: Set by the job program (``job/cli.py``) only: in that short-lived process pyarrow may be
#: imported without numpy. Never in the toolkit: a pyarrow loaded without its numpy support
#: crashes (SIGSEGV) the first time it converts a table for pandas, which loads numpy later.
LEAN_PROCESS = False


def lean_process() -> None:
    """Declare this process the job program: :func:`_import_pyarrow` may leave numpy out."""
    global LEAN_PROCESS
    LEAN_PROCESS = True


def _import_pyarrow() -> Tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``; ImportError (or whatever the import raises) when absent.

    In the job program (:func:`lean_process`), when the workload never loaded numpy (a
    command workload), pyarrow is imported without its optional numpy, half of pyarrow's
    import time: ``import numpy`` is made to fail while pyarrow loads, then numpy is
    importable again. A pyarrow that needs numpy (before 16) is not tried that way; should
    one fail anyway, it is imported the ordinary way.
    """
    hide = LEAN_PROCESS and "numpy" not in sys.modules and "pyarrow" not in sys.modules and _pyarrow_without_numpy()
    if hide:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # ``import numpy`` raises ImportError
        try:
            import pyarrow.parquet  # noqa: F401
        except Exception:
            for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
                del sys.modules[name]  # a pyarrow that needs numpy: start again below, with it
        finally:
            if "numpy" in sys.modules and sys.modules["numpy"] is None:
                del sys.modules["numpy"]
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


def _pyarrow_without_numpy() -> bool:
    """Whether the installed pyarrow runs without numpy (16 and later), read without importing it."""
    try:
        from importlib import metadata

        return int(metadata.version("pyarrow").split(".")[0]) >= 16
    except Exception:  # not installed, or an odd version string: import it the ordinary way
        return False


def have_pyarrow() -> bool:
    try:
        _import_pyarrow()
    except Exception:
        return False
    return True


def arrow_schema() -> Any:
    """The record's Arrow schema (pyarrow needed), with the schema version in its metadata."""
    pa, _ = _import_pyarrow()

    return pa.schema(
        [pa.field(name, _ARROW_TYPES[kind](pa), nullable=True) for name, kind in COLUMNS],
        metadata={b"reprogrid.schema_version": str(SCHEMA_VERSION).encode()},
    )


def _one_value_array(pa: Any, kind: str, value: Any) -> Any:
    """A one-row Arrow array from its buffers: ``pa.array`` on a Python list imports pandas
    (pyarrow checks for pandas objects), which would be a third of a trivial run."""
    arrow_type = _ARROW_TYPES[kind](pa)
    if value is None:
        return pa.nulls(1, arrow_type)
    if kind == "str":
        data = value.encode("utf-8")
        return pa.Array.from_buffers(arrow_type, 1, [None, pa.py_buffer(struct.pack("<ii", 0, len(data))),
                                                      pa.py_buffer(data)])
    packed = {"int": lambda: struct.pack("<q", value), "float": lambda: struct.pack("<d", value),
              "bool": lambda: struct.pack("<B", 1 if value else 0)}[kind]()
    return pa.Array.from_buffers(arrow_type, 1, [None, pa.py_buffer(packed)])


_ARROW_TYPES = {"int": lambda pa: pa.int64(), "float": lambda pa: pa.float64(), "str": lambda pa: pa.string(),
                "bool": lambda pa: pa.bool_()}


def parquet_bytes(record: Dict[str, Any]) -> bytes:
    """The normalised record as a one-row Parquet file (pyarrow's own arrays; no pandas)."""
    pa, pq = _import_pyarrow()

    schema = arrow_schema()
    arrays = [_one_value_array(pa, kind, record.get(name)) for name, kind in COLUMNS]
    table = pa.Table.from_arrays(arrays, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def json_bytes(record: Dict[str, Any]) -> bytes:
    """The JSON fallback: one flat object, the schema's columns in order plus ``_format``."""
    body = {"_format": JSON_FORMAT}
    body.update(record)
    return (json.dumps(body, indent=1) + "\n").encode("utf-8")


def write_record(record: Dict[str, Any], output_dir: str, run_id: str, fmt: Optional[str] = None) -> str:
    """Write the record atomically; ``fmt`` is "parquet", "json" or None (parquet when pyarrow imports).

    A stale record of the other format for the same run is removed, so a run has one record.
    """
    record = normalise(record)
    if fmt is None:
        fmt = "parquet" if have_pyarrow() else "json"
    if fmt not in ("parquet", "json"):
        raise ValueError("record format must be parquet or json, not %r" % fmt)
    path = os.path.join(output_dir, run_id + "." + fmt)
    data = parquet_bytes(record) if fmt == "parquet" else json_bytes(record)
    _atomic_write(path, data)
    other = os.path.join(output_dir, run_id + (".json" if fmt == "parquet" else ".parquet"))
    if os.path.exists(other):
        os.unlink(other)
    return path


def read_record(path: str) -> Dict[str, Any]:
    """Read one record back (Parquet or the JSON fallback) as a dict of the schema's columns."""
    if path.endswith(".json"):
        with open(path, "r", encoding="utf-8") as handle:
            body = json.load(handle)
        body.pop("_format", None)
        return normalise(body)
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    if len(rows) != 1:
        raise ValueError("%s holds %d rows, expected 1" % (path, len(rows)))
    return rows[0]
