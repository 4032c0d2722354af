"""The per-run result record: build it with every column of ``schema.COLUMNS``, write it.

Written atomically as ``<output_dir>/<run_id>.parquet`` with pyarrow when it imports,
else as ``<output_dir>/<run_id>.json`` (a flat object with the same keys; gather converts
it). See docs/result-schema.md.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any, Dict, Optional

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


def have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except Exception:
        return False
    return True


def arrow_schema() -> Any:
    """The record's Arrow schema (pyarrow needed), with the schema version in its metadata."""
    import pyarrow as pa

    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    return pa.schema(
        [pa.field(name, types[kind], nullable=True) for name, kind in COLUMNS],
        metadata={b"reprogrid.schema_version": str(SCHEMA_VERSION).encode()},
    )


def parquet_bytes(record: Dict[str, Any]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema()
    table = pa.Table.from_pydict({name: [value] for name, value in record.items()}, schema=schema)
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
